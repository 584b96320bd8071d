//! `imds bench metadata`: the metadata service against a baseline measured in the same run.
//!
//! The baseline is a minimal hyper server that answers every request with a fixed body and
//! closes the connection, as the metadata service does (one request per connection), so both
//! pay the same TCP costs. A load generator keeps N connections busy (connect, send, read to
//! EOF) for a fixed time against each; the result is requests per second, latency
//! percentiles, and the ratio to the baseline, for GETs of `/latest/meta-data/instance-id`
//! with a token and for token PUTs.
//!
//! Layout: the servers run on a runtime of one worker pinned to the first core, the load
//! generator on its own thread pinned to the second, so that the generator's own work does not
//! land in the servers' latency (on a 2-core machine, sharing the cores doubled the measured
//! p50). Paced load is scheduled by a task that yields until each request is due rather than
//! by tokio's millisecond timer wheel, and latency is counted from each request's scheduled
//! time, so a server that falls behind is charged for the wait (no coordinated omission).

mod authz;
mod fleet;
mod latency;

use bytes::Bytes;
use clap::Args;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use latency::{gather, quantile};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure: `metadata` (the metadata service), `authz` (authorization), `fleet`
    /// (the API at a fleet's scale: launch, pages, memory, restart, modifications) or `nodes`
    /// (PostgreSQL with an API node and a metadata host beside SQLite on one node: launch,
    /// pages, modifications, propagation from a modify to its enforcement).
    #[arg(default_value = "metadata")]
    pub what: String,
    /// `fleet`, `nodes`: the instances to launch (`nodes`: on each store).
    #[arg(long, default_value_t = 10_000)]
    pub instances: usize,
    /// `fleet`, `nodes`: the filtered pages to time (at least; every walk is whole).
    #[arg(long, default_value_t = 50)]
    pub pages: usize,
    /// `nodes`: the modifications timed from the modify to its enforcement, one after the
    /// other, on each store.
    #[arg(long, default_value_t = 200)]
    pub samples: usize,
    /// `nodes`: the PostgreSQL server to measure (`postgres://user@host:port/database`); the
    /// bench makes a database of its own there and drops it at the end. Its own variable, not
    /// `IMDS_DATABASE_URL`, so that a server's setting does not send the bench to its database.
    #[arg(long, env = "IMDS_BENCH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// `fleet`: also measure moto at 10,000 instances (`moto_server` on the PATH, or the Python
    /// of `--moto-python`).
    #[arg(long)]
    pub moto: bool,
    /// `fleet`: the Python that has moto (`PYTHON -m moto.server`); implies `--moto`.
    #[arg(long)]
    pub moto_python: Option<std::path::PathBuf>,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 3)]
    pub seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Also write the results, as Markdown, to this file (`fleet`, `nodes`: append them, and
    /// the figures as a JSON line to the same name with the extension `.jsonl`).
    #[arg(long)]
    pub write: Option<std::path::PathBuf>,
    /// `fleet`: keep the launched fleet in this new directory (data dir, IAM config, the
    /// instances' ids) instead of removing it, for `--reuse`.
    #[arg(long, conflicts_with = "reuse")]
    pub keep: Option<std::path::PathBuf>,
    /// `fleet`: measure the fleet kept by `--keep` in this directory instead of launching one
    /// (pages, memory, modifications, restart; no launch rate, so not with `--write`).
    #[arg(long, conflicts_with = "write")]
    pub reuse: Option<std::path::PathBuf>,
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
    // Paced: a thread hands each scheduled time to the connections in turn.
    let mut schedules = Vec::new();
    let pacer = rate.map(|r| {
        let mut senders = Vec::new();
        for _ in 0..connections {
            let (tx, rx) = mpsc::unbounded_channel::<Instant>();
            senders.push(tx);
            schedules.push(Some(rx));
        }
        let interval = Duration::from_secs_f64(1.0 / r);
        // The pacer is a task of the load generator's own runtime (on the load core): a
        // thread of its own would share that core and wait out the scheduler's time slices.
        // It sleeps on the timer wheel while the next request is far, and otherwise yields
        // (letting the connections run) until it is due.
        tokio::spawn(async move {
            let mut k: u32 = 0;
            loop {
                let t = start + interval * k;
                if t >= deadline {
                    return;
                }
                while let Some(wait) = t.checked_duration_since(Instant::now()) {
                    if wait > Duration::from_millis(3) {
                        tokio::time::sleep(wait - Duration::from_millis(2)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
                if senders[k as usize % senders.len()].send(t).is_err() {
                    return;
                }
                k += 1;
            }
        })
    });
    let mut tasks = Vec::new();
    for c in 0..connections {
        let request = request.clone();
        let mut schedule = schedules.get_mut(c).and_then(Option::take);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut buf = Vec::with_capacity(1024);
            let mut sent = 0usize;
            loop {
                let t = match schedule.as_mut() {
                    Some(rx) => match rx.recv().await {
                        Some(t) => t,
                        None => break,
                    },
                    None if Instant::now() < deadline => Instant::now(),
                    None => break,
                };
                let ok = async {
                    let mut s = connect_from(addr, c, sent).await?;
                    s.set_nodelay(true)?;
                    s.write_all(&request).await?;
                    buf.clear();
                    s.read_to_end(&mut buf).await?;
                    Ok::<bool, std::io::Error>(buf.starts_with(b"HTTP/1.1 200"))
                }
                .await;
                sent += 1;
                match ok {
                    Ok(true) => lat.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (all, errors) = gather(tasks).await;
    if let Some(p) = pacer {
        let _ = p.await;
    }
    Measure {
        rps: all.len() as f64 / start.elapsed().as_secs_f64().max(seconds as f64),
        p50_ms: quantile(&all, 0.50) * 1e3,
        p99_ms: quantile(&all, 0.99) * 1e3,
        errors,
    }
}

/// Connect to `addr` from one of many loopback source addresses (127.1.<connection>.<1..=8>).
/// A run opens a few hundred thousand connections, each leaving a port in TIME_WAIT for a
/// minute; from one source address the kernel soon searches a nearly exhausted port range on
/// every connect, which showed as multi-millisecond tails in both servers. Every address of
/// 127/8 is the host itself (the metadata service serves an address of no instance as the
/// default instance, which the benchmark's token belongs to).
async fn connect_from(
    addr: SocketAddr,
    connection: usize,
    sent: usize,
) -> std::io::Result<TcpStream> {
    let source = std::net::Ipv4Addr::new(127, 1, (connection % 256) as u8, (sent % 8 + 1) as u8);
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(addr).await
}

/// Rounds of each paced measurement.
const PACED_ROUNDS: usize = 3;

/// Repeated measurements: the round with the median p99, the worst p99, all errors.
struct Rounds {
    median: Measure,
    worst_p99_ms: f64,
    errors: u64,
}

impl Rounds {
    fn of(mut rounds: Vec<Measure>) -> Rounds {
        rounds.sort_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
        let errors = rounds.iter().map(|r| r.errors).sum();
        let worst_p99_ms = rounds.last().map_or(f64::NAN, |r| r.p99_ms);
        let median = rounds.swap_remove(rounds.len() / 2);
        Rounds {
            median,
            worst_p99_ms,
            errors,
        }
    }
}

/// The core the servers run on, and the one the load generator runs on.
const SERVER_CORE: usize = 0;
const LOAD_CORE: usize = 1;

/// Pin the calling thread to `core` when the machine has it (on one core, both share it).
fn pin_to(core: usize) {
    use nix::sched::{sched_setaffinity, CpuSet};
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut set = CpuSet::new();
    if cores > core && set.set(core).is_ok() {
        let _ = sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
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

/// What the measurements run against; dropping it stops the baseline, and the app's tasks end
/// with the runtime (its throw-away store is removed with it).
struct Servers {
    metadata: SocketAddr,
    baseline: SocketAddr,
    token: String,
    _stop: watch::Sender<bool>,
    _app: crate::app::App,
}

/// Start the metadata service (on a throw-away store of one instance) and the baseline on the
/// runtime that drives this, and get a token for the GETs.
async fn start_servers() -> Result<Servers, String> {
    // imds as `imds serve` assembles it, on a throw-away store with its first instance.
    let app = crate::app::App::builder(crate::app::Settings::ephemeral_on_port_zero())
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let md_addr = app.imds_addr();
    let (stop_tx, stop_rx) = watch::channel(false);
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
    Ok(Servers {
        metadata: md_addr,
        baseline: base_addr,
        token,
        _stop: stop_tx,
        _app: app,
    })
}

/// Run the benchmark: servers on a one-worker runtime pinned to one core, load from this
/// thread, pinned to the other.
pub fn run(args: BenchArgs) -> Result<String, String> {
    match args.what.as_str() {
        "metadata" => {}
        "fleet" => {
            return fleet::run(fleet::FleetArgs {
                instances: args.instances,
                seconds: args.seconds,
                pages: args.pages,
                moto: args.moto || args.moto_python.is_some(),
                moto_python: args.moto_python,
                write: args.write,
                keep: args.keep,
                reuse: args.reuse,
            })
        }
        "nodes" => {
            return fleet::nodes::run(fleet::nodes::NodesArgs {
                instances: args.instances,
                seconds: args.seconds,
                pages: args.pages,
                samples: args.samples,
                database_url: args.database_url,
                write: args.write,
            })
        }
        "authz" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            return rt.block_on(authz::run(args.seconds, 8));
        }
        other => {
            return Err(format!(
                "unknown benchmark {other:?} (try: metadata, authz, fleet, nodes)"
            ))
        }
    }
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(|| pin_to(SERVER_CORE))
        .build()
        .map_err(|e| e.to_string())?;
    pin_to(LOAD_CORE);
    let load_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let servers = server_rt.block_on(start_servers())?;
    let (md_addr, base_addr) = (servers.metadata, servers.baseline);
    let get = request(
        "GET",
        "/latest/meta-data/instance-id",
        &format!("X-aws-ec2-metadata-token: {}\r\n", servers.token),
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
        let b = load_rt.block_on(load(base_addr, req.clone(), c, secs, None));
        let m = load_rt.block_on(load(md_addr, req.clone(), c, secs, None));
        // Latency under a steady load: half of what the baseline sustains.
        // Three rounds, alternating, so that one stall of the machine (a virtual machine's
        // neighbours) shows as the worst round rather than as the result.
        let rate = (b.rps / 2.0).max(100.0);
        let (mut bp, mut mp) = (Vec::new(), Vec::new());
        for _ in 0..PACED_ROUNDS {
            bp.push(load_rt.block_on(load(base_addr, req.clone(), c, secs, Some(rate))));
            mp.push(load_rt.block_on(load(md_addr, req.clone(), c, secs, Some(rate))));
        }
        paced.push((name, rate, Rounds::of(bp), Rounds::of(mp)));
        rows.push((name, b, m));
    }
    drop(servers);
    server_rt.shutdown_timeout(Duration::from_secs(1));

    let mut out = format!(
        "## imds bench metadata\n\n{} connections, {} s per measurement, loopback, one request per connection (as EC2's service), servers on one core and the load generator on the other. Ratio = metadata service / baseline (a minimal hyper server returning a fixed body). Target: ratio ≥ 0.8, p99 < 2 ms.\n\n| request | baseline req/s | baseline p99 ms | metadata req/s | metadata p50 ms | metadata p99 ms | ratio | errors |\n|---|---|---|---|---|---|---|---|\n",
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
        "\nLatency under a steady load (open loop, {c} connections sharing a fixed rate of half the baseline's saturation throughput; latency from each request's scheduled time; {PACED_ROUNDS} rounds each, the median round's p99 and the worst round's):\n\n| request | rate req/s | baseline p50 ms | baseline p99 ms (median; worst) | metadata p50 ms | metadata p99 ms (median; worst) | errors |\n|---|---|---|---|---|---|---|\n"
    ));
    for (name, rate, b, m) in &paced {
        out.push_str(&format!(
            "| {name} | {rate:.0} | {:.2} | {:.2}; {:.2} | {:.2} | {:.2}; {:.2} | {} |\n",
            b.median.p50_ms,
            b.median.p99_ms,
            b.worst_p99_ms,
            m.median.p50_ms,
            m.median.p99_ms,
            m.worst_p99_ms,
            b.errors + m.errors
        ));
    }
    Ok(out)
}
