//! `imds bench nodes`: what issue 14 asks of the PostgreSQL store, beside SQLite, measured in
//! the same run on the same machine.
//!
//! Two layouts, one after the other (never at once, so that neither takes the other's cores):
//! - SQLite, one node: `imds serve` (role `all`) on a durable data dir;
//! - PostgreSQL: a database of the bench's own (`imds_bench_<pid>`) created on the server of
//!   `--database-url` and dropped at the end (on error too), an API node A (`--role api`) and
//!   one metadata host H (`--role metadata --host-id bench-host`) on it. With one live host,
//!   H owns every instance: every change A accepts is applied and enforced by H.
//!
//! Every node is `imds serve` as a child process (see `server`), with `--iam-config` (every
//! request is SigV4-signed and verified) and `--apply-delay 0s`, for the whole run: the
//! default delay (400 ms, EC2's `pending` made visible) would be most of the propagation
//! measured below, and would say nothing about the store. In each layout, through its API node:
//! 1. launch (`launch`): `--instances` through RunInstances, as `imds bench fleet` launches
//!    them: instances per second;
//! 2. pages (`pages`): DescribeInstances filtered on `metadata-options.http-tokens=required`,
//!    a thousand a page, along `NextToken`: p50 and p99 of the server's time (`Server-Timing`)
//!    and of the client's round trip;
//! 3. modify (`modify`): ModifyInstanceMetadataOptions from 32 keep-alive clients for
//!    `--seconds`: accepted changes per second;
//! 4. propagation ([`propagation`]): `--samples` ModifyInstanceMetadataOptions one after the
//!    other, each toggling `HttpTokens` on one instance, each timed from just before it is sent
//!    until the node that enforces it (H; the one node on SQLite) answers a tokenless GET on the
//!    instance's own metadata endpoint as the new setting says (401 for `required`, 200 for
//!    `optional`), polled on a new connection every [`POLL_PAUSE`] (the service closes each
//!    connection after one answer). This is the path a change takes between nodes: A's commit,
//!    the feed's notification, H's read of the change, its switch.
//!
//! The report gives both layouts and the ratio PostgreSQL / SQLite; `--write FILE` appends it
//! to FILE and the figures, as one JSON line, to FILE with the extension `.jsonl`.

use super::http::{Client, Signer};
use super::pages::{quantile, IMDS_QUERY};
use super::server::{Server, Workdir};
use super::{append, launch, modify, pages};
use sqlx::{Connection, Executor, PgConnection};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What `imds bench nodes` takes (from `imds bench`'s arguments).
pub struct NodesArgs {
    pub instances: usize,
    pub seconds: u64,
    pub pages: usize,
    /// Propagation samples (sequential modifications) per layout.
    pub samples: usize,
    /// The PostgreSQL server the bench makes its database on.
    pub database_url: Option<String>,
    pub write: Option<PathBuf>,
}

/// Every node's apply delay: none, so that propagation is the store's and the nodes' own time.
const APPLY_DELAY: &str = "0s";
/// The one metadata host's id in the PostgreSQL layout.
const HOST_ID: &str = "bench-host";
/// The pause between two polls of the enforcing node (each poll is a new connection and one
/// request, about a tenth of a millisecond on loopback).
const POLL_PAUSE: Duration = Duration::from_micros(500);
/// Toggles before the timed ones, not counted: the enforcing node may still be applying what
/// the launch and the modify phase made pending (it follows the feed in order, so the first
/// toggle it enforces comes after all of that), and the instance may still be starting.
const WARM_UP: usize = 2;
/// How long a warm-up toggle may take to be enforced.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a timed toggle may take to be enforced before the bench gives up.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One layout's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayoutFigures {
    pub launch_per_s: f64,
    pub page_p50_ms: f64,
    pub page_p99_ms: f64,
    pub page_client_p50_ms: f64,
    pub page_client_p99_ms: f64,
    pub pages: usize,
    pub described: usize,
    pub modify_per_s: f64,
    pub modify_errors: u64,
    pub propagation_p50_ms: f64,
    pub propagation_p99_ms: f64,
    pub propagation_max_ms: f64,
    pub propagation_samples: usize,
    /// Polls of the enforcing node over the timed samples, and their mean interval.
    pub polls: u64,
    pub poll_interval_ms: f64,
}

/// The figures of one run: the JSON line `--write` appends.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    pub date: String,
    pub build: &'static str,
    pub instances: usize,
    pub samples: usize,
    pub apply_delay_ms: u64,
    pub postgres_version: String,
    pub sqlite: LayoutFigures,
    pub postgres: LayoutFigures,
}

pub fn run(args: NodesArgs) -> Result<String, String> {
    let Some(server_url) = args.database_url.clone().filter(|u| !u.is_empty()) else {
        return Err("imds bench nodes measures PostgreSQL beside SQLite: pass --database-url URL of a PostgreSQL server (or set IMDS_BENCH_DATABASE_URL); the bench makes a database of its own there and drops it at the end. `scripts/postgres start DIR` starts a throw-away server and prints its URL".into());
    };
    if args.instances == 0 {
        return Err("--instances must be at least 1".into());
    }
    if args.samples == 0 {
        return Err("--samples must be at least 1".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let figures = rt.block_on(measure(&args, &server_url))?;
    let report = report(&figures, &args);
    if let Some(path) = &args.write {
        append(path, &format!("{report}\n"))?;
        let line = serde_json::to_string(&figures).map_err(|e| e.to_string())?;
        append(&path.with_extension("jsonl"), &format!("{line}\n"))?;
    }
    Ok(report)
}

async fn measure(args: &NodesArgs, server_url: &str) -> Result<Figures, String> {
    let dir = Workdir::create("nodes")?;
    let node_dir = |name: &str| {
        let d = dir.0.join(name);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        Ok::<_, String>(d)
    };
    let apply_delay = vec!["--apply-delay".to_string(), APPLY_DELAY.to_string()];

    let sqlite = {
        let (mut node, _) = Server::start_node(&node_dir("sqlite")?, apply_delay.clone()).await?;
        let (api, host) = (node.api, node.api);
        measure_layout("SQLite", api, host, &mut [("the node", &mut node)], args).await?
    };

    let db = BenchDatabase::create(server_url).await?;
    let postgres = async {
        let shared = |role: &str| {
            let mut a = vec![
                "--database-url".to_string(),
                db.url.clone(),
                "--role".to_string(),
                role.to_string(),
            ];
            a.extend(apply_delay.iter().cloned());
            a
        };
        // A first: it makes the new database's schema and first instance.
        let (mut a, _) = Server::start_node(&node_dir("api")?, shared("api")).await?;
        let mut host_args = shared("metadata");
        host_args.extend(["--host-id".to_string(), HOST_ID.to_string()]);
        let (mut h, _) = Server::start_node(&node_dir("host")?, host_args).await?;
        let (api, host) = (a.api, h.api);
        let mut nodes = [("API node A", &mut a), ("metadata host H", &mut h)];
        measure_layout("PostgreSQL", api, host, &mut nodes, args).await
        // The nodes stop here, before their database is dropped.
    }
    .await;
    let postgres_version = db.version.clone();
    db.drop_now().await;
    let postgres = postgres?;
    drop(dir);

    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(Figures {
        date,
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        instances: args.instances,
        samples: args.samples,
        apply_delay_ms: 0,
        postgres_version,
        sqlite,
        postgres,
    })
}

/// One layout's phases: every EC2 request to `api`; the instance's endpoint that enforces a
/// change is `host`'s (the API port of the node that owns it). `nodes` are checked to be still
/// running after each phase.
async fn measure_layout(
    name: &str,
    api: SocketAddr,
    host: SocketAddr,
    nodes: &mut [(&str, &mut Server)],
    args: &NodesArgs,
) -> Result<LayoutFigures, String> {
    let in_layout = |e: String| format!("{name}: {e}");
    let alive = |nodes: &mut [(&str, &mut Server)]| {
        nodes
            .iter_mut()
            .try_for_each(|(node, server)| server.check_alive().map_err(|e| format!("{node}: {e}")))
            .map_err(in_layout)
    };
    let signer = Server::signer();
    // What the filter selects before the launch (a new store has one instance, optional).
    let before = pages::walk(api, &signer, &IMDS_QUERY, 1)
        .await
        .map_err(in_layout)?
        .described;
    let n = args.instances;
    let subnets = launch::subnets_for(api, &signer, n)
        .await
        .map_err(in_layout)?;
    let launched = launch::launch(api, &signer, n, &format!("{name}: RunInstances"), &subnets)
        .await
        .map_err(in_layout)?;
    alive(nodes)?;

    let pages = pages::walk(api, &signer, &IMDS_QUERY, args.pages)
        .await
        .map_err(in_layout)?;
    if pages.described != before + launched.required {
        return Err(in_layout(format!(
            "the filter described {} instances; {} were launched with HttpTokens=required (and {before} were there before)",
            pages.described, launched.required
        )));
    }
    if pages.server_ms.len() != pages.client_ms.len() {
        return Err(in_layout("a page came without Server-Timing".into()));
    }
    alive(nodes)?;

    let ids = Arc::new(launched.ids.clone());
    let modified = modify::modify(api, &signer, ids.clone(), args.seconds)
        .await
        .map_err(in_layout)?;
    if let Some(e) = modified
        .first_error
        .as_ref()
        .filter(|_| modified.accepted == 0)
    {
        return Err(in_layout(format!("no modification was accepted: {e}")));
    }
    alive(nodes)?;

    let propagated = propagation(api, host, &signer, &ids[0], args.samples)
        .await
        .map_err(in_layout)?;
    alive(nodes)?;

    Ok(LayoutFigures {
        launch_per_s: launched.per_second(),
        page_p50_ms: quantile(&pages.server_ms, 0.5),
        page_p99_ms: quantile(&pages.server_ms, 0.99),
        page_client_p50_ms: quantile(&pages.client_ms, 0.5),
        page_client_p99_ms: quantile(&pages.client_ms, 0.99),
        pages: pages.client_ms.len(),
        described: pages.described,
        modify_per_s: modified.per_second,
        modify_errors: modified.errors,
        propagation_p50_ms: quantile(&propagated.ms, 0.5),
        propagation_p99_ms: quantile(&propagated.ms, 0.99),
        propagation_max_ms: propagated.ms.last().copied().unwrap_or(f64::NAN),
        propagation_samples: propagated.ms.len(),
        polls: propagated.polls,
        poll_interval_ms: propagated.polling.as_secs_f64() * 1e3 / propagated.polls.max(1) as f64,
    })
}

/// The timed toggles: each one's time from the modify to its enforcement, in ms, sorted; the
/// polls they took and the time spent polling.
struct Propagated {
    ms: Vec<f64>,
    polls: u64,
    polling: Duration,
}

/// Toggle `HttpTokens` on instance `id` through `api`, `samples` times one after the other
/// (after [`WARM_UP`] toggles not counted), each timed until `host` enforces it.
async fn propagation(
    api: SocketAddr,
    host: SocketAddr,
    signer: &Signer,
    id: &str,
    samples: usize,
) -> Result<Propagated, String> {
    let endpoint = enforcing_endpoint(host, signer, id).await?;
    let required = match tokenless_status(endpoint).await? {
        401 => true,
        200 => false,
        other => {
            return Err(format!(
                "{id}'s metadata endpoint answered a tokenless GET with {other}"
            ))
        }
    };
    let mut client = Client::new(api);
    let mut toggle = Toggle {
        client: &mut client,
        signer,
        id,
        endpoint,
        required,
    };
    for _ in 0..WARM_UP {
        toggle.once(WARM_UP_TIMEOUT).await?;
    }
    let mut out = Propagated {
        ms: Vec::with_capacity(samples),
        polls: 0,
        polling: Duration::ZERO,
    };
    for _ in 0..samples {
        let sample = toggle.once(SAMPLE_TIMEOUT).await?;
        out.ms.push(sample.elapsed.as_secs_f64() * 1e3);
        out.polls += sample.polls;
        out.polling += sample.elapsed;
    }
    out.ms.sort_by(f64::total_cmp);
    Ok(out)
}

/// One instance's `HttpTokens`, toggled through the API and watched where it is enforced.
struct Toggle<'a> {
    client: &'a mut Client,
    signer: &'a Signer,
    id: &'a str,
    /// The instance's own metadata endpoint on the node that enforces its options.
    endpoint: SocketAddr,
    /// Whether `required` is in force now.
    required: bool,
}

/// One toggle: from just before the modify was sent until the enforcing node's answer said
/// it is in force (the polls ran all that time); how many polls that took.
struct Sample {
    elapsed: Duration,
    polls: u64,
}

impl Toggle<'_> {
    async fn once(&mut self, timeout: Duration) -> Result<Sample, String> {
        let required = !self.required;
        let tokens = if required { "required" } else { "optional" };
        let want = if required { 401 } else { 200 };
        let body = format!(
            "Action=ModifyInstanceMetadataOptions&InstanceId={}&HttpTokens={tokens}",
            self.id
        );
        // The poller runs from before the modify is sent (it sees the old setting until the
        // new one is in force): on one node the switch may come before the modify's answer.
        let endpoint = self.endpoint;
        let stop = Arc::new(AtomicBool::new(false));
        let (go, ready) = std::sync::mpsc::channel::<Instant>();
        let poller = {
            let stop = stop.clone();
            tokio::task::spawn_blocking(move || {
                let t0 = ready
                    .recv()
                    .map_err(|_| "the modify was not sent".to_string())?;
                poll_until(endpoint, want, t0 + timeout, &stop).map(|(t1, polls)| (t0, t1, polls))
            })
        };
        let t0 = Instant::now();
        let _ = go.send(t0);
        let answer = self.client.ec2(self.signer, &body).await;
        let refused = match answer {
            Ok(a) if a.status == 200 => None,
            Ok(a) => Some(format!(
                "ModifyInstanceMetadataOptions HttpTokens={tokens} answered {}: {}",
                a.status,
                a.body.chars().take(300).collect::<String>()
            )),
            Err(e) => Some(format!("ModifyInstanceMetadataOptions: {e}")),
        };
        if refused.is_some() {
            stop.store(true, Ordering::Relaxed);
        }
        let polled = poller.await.map_err(|e| e.to_string())?;
        if let Some(e) = refused {
            return Err(e);
        }
        let (t0, t1, polls) =
            polled.map_err(|e| format!("{}: HttpTokens={tokens} not enforced: {e}", self.id))?;
        self.required = required;
        Ok(Sample {
            elapsed: t1.saturating_duration_since(t0),
            polls,
        })
    }
}

/// Poll `endpoint` with tokenless GETs, a new connection each, [`POLL_PAUSE`] apart, until
/// one answers `want` (or `stop` is set): when that answer arrived, and how many polls it
/// took. Blocking (a thread's sleep is finer than the runtime's millisecond timer).
fn poll_until(
    endpoint: SocketAddr,
    want: u16,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<(Instant, u64), String> {
    let mut polls = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err("stopped".into());
        }
        let status = tokenless_status_blocking(endpoint)
            .map_err(|e| format!("a tokenless GET on {endpoint}: {e}"))?;
        polls += 1;
        let at = Instant::now();
        if status == want {
            return Ok((at, polls));
        }
        if at > deadline {
            return Err(format!(
                "{endpoint} still answers {status} (not {want}) after {polls} polls"
            ));
        }
        std::thread::sleep(POLL_PAUSE);
    }
}

/// The request an instance makes without a token (IMDSv1).
const TOKENLESS_GET: &[u8] =
    b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n";

/// The status of a tokenless GET on an instance's endpoint (one connection, closed by the
/// service after its answer).
fn tokenless_status_blocking(endpoint: SocketAddr) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(endpoint)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(TOKENLESS_GET)?;
    let mut answer = Vec::with_capacity(512);
    s.read_to_end(&mut answer)?;
    Ok(status_of(&answer))
}

async fn tokenless_status(endpoint: SocketAddr) -> Result<u16, String> {
    tokio::task::spawn_blocking(move || tokenless_status_blocking(endpoint))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("a tokenless GET on {endpoint}: {e}"))
}

/// The status code of an HTTP/1.x answer (0 if it is none).
fn status_of(answer: &[u8]) -> u16 {
    answer
        .get(9..12)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The instance's own metadata endpoint on the node whose API port is `node` (`GET
/// /_imds/instances/{id}/endpoint`, signed as the account's root), asked until that node
/// knows the instance (a metadata host learns of it from the feed).
async fn enforcing_endpoint(
    node: SocketAddr,
    signer: &Signer,
    id: &str,
) -> Result<SocketAddr, String> {
    let started = Instant::now();
    loop {
        let (status, body) = signed_get(node, signer, &format!("/_imds/instances/{id}/endpoint"))
            .await
            .map_err(|e| format!("{id}'s endpoint on {node}: {e}"))?;
        if status == 200 {
            let url = body.trim();
            return url
                .strip_prefix("http://")
                .and_then(|a| a.trim_end_matches('/').parse().ok())
                .ok_or_else(|| format!("{id}'s endpoint on {node} is {url:?}"));
        }
        if status != 404 || started.elapsed() > WARM_UP_TIMEOUT {
            return Err(format!(
                "{id}'s endpoint on {node} answered {status}: {body}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A GET on one of the node's own routes, SigV4-signed for `ec2` as imds's own clients sign
/// them (`exec::client`): the status and the body.
async fn signed_get(
    node: SocketAddr,
    signer: &Signer,
    path: &str,
) -> std::io::Result<(u16, String)> {
    let host = node.to_string();
    let own = sigv4::OwnRequest {
        method: "GET",
        host: &host,
        path,
        raw_query: "",
        headers: Vec::new(),
        body: b"",
    };
    let (amz, auth) = sigv4::sign_request(
        &signer.key,
        &signer.secret,
        model::DEFAULT_REGION,
        "ec2",
        &own,
    );
    let mut s = TcpStream::connect(node).await?;
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nhost: {host}\r\nx-amz-date: {amz}\r\nauthorization: {auth}\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    let text = String::from_utf8_lossy(&answer);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status_of(&answer), body))
}

/// The bench's own database on the given server: made new at the start, dropped at the end
/// ([`BenchDatabase::drop_now`], after the nodes on it have stopped; or, should the bench
/// panic, when dropped).
struct BenchDatabase {
    server: String,
    name: String,
    /// The database's URL: the server's, with the bench's database.
    url: String,
    /// `SHOW server_version`.
    version: String,
    dropped: bool,
}

impl BenchDatabase {
    async fn create(server: &str) -> Result<BenchDatabase, String> {
        let name = format!("imds_bench_{}", std::process::id());
        let url = with_database(server, &name)?;
        let mut admin = PgConnection::connect(server).await.map_err(|e| {
            format!("cannot connect to the PostgreSQL server of --database-url: {e}")
        })?;
        // A database of this name is a crashed run's with this process id. (Asked first: a
        // `DROP DATABASE IF EXISTS` of none draws a notice, which would be logged.)
        let stale: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
        let drop_stale = stale.then(|| format!("DROP DATABASE {name} WITH (FORCE)"));
        for sql in drop_stale
            .into_iter()
            .chain([format!("CREATE DATABASE {name}")])
        {
            admin
                .execute(sql.as_str())
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
        }
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut admin)
            .await
            .unwrap_or_default();
        let _ = admin.close().await;
        Ok(BenchDatabase {
            server: server.to_string(),
            name,
            url,
            version,
            dropped: false,
        })
    }

    /// Drop the database; a failure is said on stderr (the figures stand).
    async fn drop_now(mut self) {
        self.dropped = true;
        if let Err(e) = drop_database(&self.server, &self.name).await {
            eprintln!(
                "imds bench nodes: cannot drop the database {}: {e}",
                self.name
            );
        }
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        // A runtime of its own on a thread of its own: this may run while the bench's
        // runtime unwinds.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(drop_database(&server, &name))
        })
        .join();
    }
}

async fn drop_database(server: &str, name: &str) -> Result<(), String> {
    let mut admin = PgConnection::connect(server)
        .await
        .map_err(|e| e.to_string())?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .map_err(|e| e.to_string())?;
    let _ = admin.close().await;
    Ok(())
}

/// `url` with its database (the path) replaced by `name`, its parameters kept.
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base
        .find("://")
        .map(|i| i + 3)
        .ok_or("--database-url is no URL (postgres://user@host:port/database)")?;
    let server = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    })
}

/// The report: a Markdown table (SQLite, PostgreSQL, PostgreSQL / SQLite) and how it was run.
fn report(f: &Figures, args: &NodesArgs) -> String {
    let (s, p) = (&f.sqlite, &f.postgres);
    let mut out = format!(
        "## imds bench nodes: {} instances ({} build, {})\n\n| figure | SQLite, one node | PostgreSQL, api + metadata host | PostgreSQL / SQLite |\n|---|---|---|---|\n",
        f.instances, f.build, f.date
    );
    let mut row = |name: &str, sqlite: f64, postgres: f64, digits: usize| {
        out.push_str(&format!(
            "| {name} | {sqlite:.digits$} | {postgres:.digits$} | {:.2} |\n",
            postgres / sqlite
        ));
    };
    row(
        "launch, instances/s (RunInstances, 1,000 a call)",
        s.launch_per_s,
        p.launch_per_s,
        0,
    );
    row(
        "filtered page p50, ms (server-side)",
        s.page_p50_ms,
        p.page_p50_ms,
        2,
    );
    row(
        "filtered page p99, ms (server-side)",
        s.page_p99_ms,
        p.page_p99_ms,
        2,
    );
    row(
        "filtered page p50, ms (client round trip)",
        s.page_client_p50_ms,
        p.page_client_p50_ms,
        2,
    );
    row(
        "filtered page p99, ms (client round trip)",
        s.page_client_p99_ms,
        p.page_client_p99_ms,
        2,
    );
    row(
        "Modify, changes/s (SigV4-verified, durable, 32 clients)",
        s.modify_per_s,
        p.modify_per_s,
        0,
    );
    row(
        "propagation p50, ms (modify → enforced)",
        s.propagation_p50_ms,
        p.propagation_p50_ms,
        2,
    );
    row(
        "propagation p99, ms (modify → enforced)",
        s.propagation_p99_ms,
        p.propagation_p99_ms,
        2,
    );
    let verdict = |p99: f64, target: f64| {
        if p99 < target {
            "met"
        } else {
            "not met"
        }
    };
    out.push_str(&format!(
        "\nTargets (issue 14), on the p99: propagation < {ONE_NODE_TARGET_MS} ms on one node ({}), < {ACROSS_NODES_TARGET_MS} ms across nodes ({}).\n",
        verdict(s.propagation_p99_ms, ONE_NODE_TARGET_MS),
        verdict(p.propagation_p99_ms, ACROSS_NODES_TARGET_MS),
    ));
    out.push_str(&format!(
        "\nHow: `imds bench nodes --instances {n} --seconds {secs} --pages {pages} --samples {k} --database-url …`. Two layouts, one after the other, each node `imds serve` as a child process with its own data dir and `--iam-config` (every request SigV4-signed and verified), every node started with `--apply-delay {APPLY_DELAY}` and kept so for the whole run (launch, pages and Modify included; the default delay, 400 ms, would otherwise be most of the propagation). SQLite: one node (role `all`) on a durable data dir. PostgreSQL: the server given by `--database-url`, PostgreSQL {version} on this machine (loopback), in a database made for the run and dropped after it; node A `--role api` takes every EC2 request, metadata host H `--role metadata --host-id {HOST_ID}` (the only live host, so the owner of every instance) applies and enforces. Launch: RunInstances of 1,000 instances a call, {calls} calls at a time, half with `HttpTokens=required`. Pages: DescribeInstances filtered on `metadata-options.http-tokens=required`, `MaxResults=1000`, along `NextToken` (SQLite {sp} pages, PostgreSQL {pp}; {described} instances a walk); server-side = `Server-Timing: app;dur=`. Modify: ModifyInstanceMetadataOptions toggling `HttpTokens` on random instances from 32 keep-alive clients for {secs} s (errors: SQLite {se}, PostgreSQL {pe}). Propagation: {k} ModifyInstanceMetadataOptions one after the other (after {WARM_UP} not counted), toggling `HttpTokens` on one instance through the API node; t0 just before the request is sent; then the instance's own metadata endpoint on the enforcing node (H; the one node on SQLite) answers a tokenless `GET /latest/meta-data/instance-id`, a new connection each, {pause} ms between polls (one poll every {si:.2} ms on SQLite, {pi:.2} ms on PostgreSQL, on average), until it answers 401 for `required` or 200 for `optional`: propagation = that answer's arrival − t0 (the Modify's own round trip included). Max: SQLite {smax:.2} ms, PostgreSQL {pmax:.2} ms.\n",
        n = f.instances,
        secs = args.seconds,
        pages = args.pages,
        k = f.samples,
        version = if f.postgres_version.is_empty() { "(version unknown)" } else { &f.postgres_version },
        calls = launch::CONCURRENT_CALLS,
        sp = s.pages,
        pp = p.pages,
        described = s.described,
        se = s.modify_errors,
        pe = p.modify_errors,
        pause = POLL_PAUSE.as_secs_f64() * 1e3,
        si = s.poll_interval_ms,
        pi = p.poll_interval_ms,
        smax = s.propagation_max_ms,
        pmax = p.propagation_max_ms,
    ));
    out
}

/// Issue 14's targets for the propagation from a modify to its enforcement.
const ONE_NODE_TARGET_MS: f64 = 20.0;
const ACROSS_NODES_TARGET_MS: f64 = 500.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_database_replaces_the_urls_own() {
        assert_eq!(
            with_database("postgres://imds@127.0.0.1:5432/postgres", "imds_bench_7").unwrap(),
            "postgres://imds@127.0.0.1:5432/imds_bench_7"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h:1/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:1", "b").unwrap(),
            "postgres://h:1/b"
        );
        assert!(with_database("h:1/db", "b").is_err());
    }

    #[test]
    fn reads_the_status_of_an_answer() {
        assert_eq!(status_of(b"HTTP/1.1 401 Unauthorized\r\n\r\n"), 401);
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\n\r\ni-1"), 200);
        assert_eq!(status_of(b""), 0);
    }
}
