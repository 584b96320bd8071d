//! `imds bench metadata`: the metadata service against a baseline measured in the same run.
//!
//! The baseline is a minimal hyper server that answers every request with a fixed body and
//! closes the connection, as the metadata service does (one request per connection), so both
//! pay the same TCP costs. A load generator in the same process keeps N connections busy
//! (connect, send, read to EOF) for a fixed time against each; the result is requests per
//! second, latency percentiles, and the ratio to the baseline, for GETs of
//! `/latest/meta-data/instance-id` with a token and for token PUTs.

use bytes::Bytes;
use clap::Args;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure (only `metadata` for now).
    #[arg(default_value = "metadata")]
    pub what: String,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 3)]
    pub seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Also write the results, as Markdown, to this file.
    #[arg(long)]
    pub write: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Measure {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// Keep `connections` clients sending `request` to `addr` for `seconds`: as fast as they can
/// (`rate` None: saturation), or paced to `rate` requests per second in all, latency counted
/// from each request's scheduled time (no coordinated omission).
async fn load(
    addr: SocketAddr,
    request: Arc<Vec<u8>>,
    connections: usize,
    seconds: u64,
    rate: Option<f64>,
) -> Measure {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut buf = Vec::with_capacity(1024);
            // Each connection's share of the rate, staggered.
            let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
            let mut next = start
                + interval.map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / connections as f64));
            while Instant::now() < deadline {
                let t = match interval {
                    Some(i) => {
                        tokio::time::sleep_until(next.into()).await;
                        let scheduled = next;
                        next += i;
                        scheduled
                    }
                    None => Instant::now(),
                };
                let ok = async {
                    let mut s = TcpStream::connect(addr).await?;
                    s.set_nodelay(true)?;
                    s.write_all(&request).await?;
                    buf.clear();
                    s.read_to_end(&mut buf).await?;
                    Ok::<bool, std::io::Error>(buf.starts_with(b"HTTP/1.1 200"))
                }
                .await;
                match ok {
                    Ok(true) => lat.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    Measure {
        rps: all.len() as f64 / start.elapsed().as_secs_f64().max(seconds as f64),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    }
}

/// The baseline: hyper, one fixed body, one request per connection.
async fn baseline(listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            _ = stop.changed() => return,
        };
        tokio::spawn(async move {
            let svc = service_fn(|_req| async {
                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                    b"i-0123456789abcdef0",
                ))))
            });
            let _ = http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn request(method: &str, path: &str, header: &str) -> Arc<Vec<u8>> {
    Arc::new(
        format!("{method} {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n{header}\r\n").into_bytes(),
    )
}

pub async fn run(args: BenchArgs) -> Result<String, String> {
    if args.what != "metadata" {
        return Err(format!("unknown benchmark {:?} (try: metadata)", args.what));
    }
    // A throw-away store with one instance, and a metadata host serving it.
    let dir = std::env::temp_dir().join(format!("imds-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let store: Arc<dyn store::Store> = Arc::new(
        store::sqlite::SqliteStore::open(
            &dir.join("imds.sqlite"),
            store::sqlite::Durability::Volatile,
        )
        .await
        .map_err(|e| e.to_string())?,
    );
    let api = ec2api::Api {
        store: store.clone(),
        config: ec2api::ApiConfig::default(),
        iam: None,
        instance_credentials: None,
    };
    ec2api::actions::launch_first_instance(&api)
        .await
        .map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let signer =
        metadata::identity::IdentitySigner::load_or_create(None).map_err(|e| e.to_string())?;
    let host = metadata::Host::new(store.clone(), Duration::from_millis(10), Arc::new(signer));
    tokio::spawn(host.clone().run(stop_rx.clone()));
    while host
        .lookup("127.0.0.1".parse().map_err(|_| "addr")?)
        .is_none()
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let md = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let md_addr = md.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(metadata::server::serve(
        md,
        host.clone(),
        metadata::server::Caller::BySource,
        stop_rx.clone(),
    ));
    let base = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let base_addr = base.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(baseline(base, stop_rx.clone()));

    // A token for the GETs.
    let mut s = TcpStream::connect(md_addr)
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(&request(
        "PUT",
        "/latest/api/token",
        "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n",
    ))
    .await
    .map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .await
        .map_err(|e| e.to_string())?;
    let token = resp
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    if token.len() != 56 {
        return Err(format!("no token from the metadata service: {resp}"));
    }

    let get = request(
        "GET",
        "/latest/meta-data/instance-id",
        &format!("X-aws-ec2-metadata-token: {token}\r\n"),
    );
    let put = request(
        "PUT",
        "/latest/api/token",
        "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n",
    );
    let (c, secs) = (args.connections, args.seconds);
    let mut rows = Vec::new();
    let mut paced = Vec::new();
    for (name, req) in [("GET instance-id with a token", get), ("PUT token", put)] {
        let b = load(base_addr, req.clone(), c, secs, None).await;
        let m = load(md_addr, req.clone(), c, secs, None).await;
        // Latency under a steady load: half of what the baseline sustains.
        let rate = (b.rps / 2.0).max(100.0);
        let bp = load(base_addr, req.clone(), c, secs, Some(rate)).await;
        let mp = load(md_addr, req, c, secs, Some(rate)).await;
        paced.push((name, rate, bp, mp));
        rows.push((name, b, m));
    }
    let _ = stop_tx.send(true);
    let _ = std::fs::remove_dir_all(&dir);

    let mut out = format!(
        "## imds bench metadata\n\n{} connections, {} s per measurement, loopback, one request per connection (as EC2's service), load generator in the same process. Ratio = metadata service / baseline (a minimal hyper server returning a fixed body). Target: ratio ≥ 0.8, p99 < 2 ms.\n\n| request | baseline req/s | baseline p99 ms | metadata req/s | metadata p50 ms | metadata p99 ms | ratio | errors |\n|---|---|---|---|---|---|---|---|\n",
        c, secs
    );
    for (name, b, m) in &rows {
        out.push_str(&format!(
            "| {name} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {} |\n",
            b.rps,
            b.p99_ms,
            m.rps,
            m.p50_ms,
            m.p99_ms,
            m.rps / b.rps,
            b.errors + m.errors
        ));
    }
    out.push_str(&format!(
        "\nLatency under a steady load (open loop, {c} connections sharing a fixed rate of half the baseline's saturation throughput; latency from each request's scheduled time):\n\n| request | rate req/s | baseline p50 ms | baseline p99 ms | metadata p50 ms | metadata p99 ms | errors |\n|---|---|---|---|---|---|---|\n"
    ));
    for (name, rate, b, m) in &paced {
        out.push_str(&format!(
            "| {name} | {rate:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |\n",
            b.p50_ms,
            b.p99_ms,
            m.p50_ms,
            m.p99_ms,
            b.errors + m.errors
        ));
    }
    Ok(out)
}
