//! `imds bench fleet`: imds at a fleet's scale, as the issue "Fleet scale on one node"
//! measures it, and moto 5.2.x beside it when it is installed.
//!
//! The server is `imds serve` run as a child process (see `server`) on a durable data dir with
//! `--iam-config`, so every request below is SigV4-signed and verified. In order:
//! 1. launch (`launch`): `--instances` through RunInstances, a thousand a call, four calls at a
//!    time, half of them with `HttpTokens=required`: instances per second over the phase;
//! 2. pages (`pages`): DescribeInstances filtered on `metadata-options.http-tokens=required`,
//!    a thousand results a page, walked along `NextToken`: p50 and p99 of the server's time
//!    (its `Server-Timing` header) and of the client's round trip;
//! 3. resident memory, steady: the server's `VmRSS` (after the launch and the pages) / N;
//! 4. modify (`modify`): ModifyInstanceMetadataOptions from 32 keep-alive clients for
//!    `--seconds`: accepted changes per second;
//! 5. restart: SIGTERM, then the server again on the same data dir and ports, until both ports
//!    answer; then its `VmRSS` / N, right after the restart.
//!
//! With `--moto`, moto is measured at ten thousand instances in the same run (`moto`), and
//! the report gives the ratio imds / moto. `--write FILE` appends the report to FILE and the
//! figures, as one JSON line, to FILE with the extension `.jsonl` (`tools/plot_fleet.py` draws
//! them).
//!
//! `imds bench nodes` (`nodes`) runs the same launch, pages and modifications on SQLite and on
//! PostgreSQL with several nodes, and times a change's way from the API to its enforcement.

mod http;
mod launch;
mod modify;
mod moto;
pub mod nodes;
mod pages;
mod server;

use moto::MotoFigures;
use pages::{quantile, IMDS_QUERY};
use server::{Server, Workdir};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `imds bench fleet` takes (from `imds bench`'s arguments).
pub struct FleetArgs {
    pub instances: usize,
    pub seconds: u64,
    pub pages: usize,
    pub moto: bool,
    pub moto_python: Option<PathBuf>,
    pub write: Option<PathBuf>,
    /// Keep the fleet in this new directory (see [`IDS_FILE`]).
    pub keep: Option<PathBuf>,
    /// Measure the fleet a `--keep` run left in this directory instead of launching one.
    pub reuse: Option<PathBuf>,
}

/// The launched instances' ids, one a line, in a kept fleet's directory; the first line is
/// how many were launched with `HttpTokens=required` and how many the filter selected before.
const IDS_FILE: &str = "ids.txt";

/// The figures of one run: the JSON line `--write` appends.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    pub date: String,
    pub build: &'static str,
    pub instances: usize,
    pub launch_per_s: f64,
    pub rss_bytes_steady: u64,
    pub rss_bytes_restart: u64,
    pub rss_bytes_per_instance_steady: f64,
    pub rss_bytes_per_instance_restart: f64,
    pub page_p50_ms: f64,
    pub page_p99_ms: f64,
    pub page_client_p50_ms: f64,
    pub page_client_p99_ms: f64,
    pub pages: usize,
    pub described: usize,
    pub stop_s: f64,
    pub start_s: f64,
    pub restart_s: f64,
    pub modify_per_s: f64,
    pub modify_errors: u64,
    pub moto: Option<MotoFigures>,
}

pub fn run(args: FleetArgs) -> Result<String, String> {
    if args.instances == 0 {
        return Err("--instances must be at least 1".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (figures, moto_note) = rt.block_on(measure(&args))?;
    let report = report(&figures, moto_note, &args);
    if let Some(path) = &args.write {
        append(path, &format!("{report}\n"))?;
        let line = serde_json::to_string(&figures).map_err(|e| e.to_string())?;
        append(&path.with_extension("jsonl"), &format!("{line}\n"))?;
    }
    Ok(report)
}

fn write_ids(dir: &Path, before: usize, launched: &launch::Launched) -> Result<(), String> {
    let mut text = format!("{} {before}\n", launched.required);
    for id in &launched.ids {
        text.push_str(id);
        text.push('\n');
    }
    std::fs::write(dir.join(IDS_FILE), text).map_err(|e| format!("{}: {e}", dir.display()))
}

/// The fleet a `--keep` run left, and what the filter selected before its launch (its launch
/// time unknown: zero).
fn read_ids(dir: &Path) -> Result<(usize, launch::Launched), String> {
    let path = dir.join(IDS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let counts: Vec<usize> = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .filter_map(|n| n.parse().ok())
        .collect();
    let [required, before] = counts[..] else {
        return Err(format!("{} does not start with two counts", path.display()));
    };
    let launched = launch::Launched {
        ids: lines.map(str::to_string).collect(),
        required,
        elapsed: std::time::Duration::ZERO,
    };
    Ok((before, launched))
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

async fn measure(args: &FleetArgs) -> Result<(Figures, Option<&'static str>), String> {
    let signer = Server::signer();
    let (dir, mut server, before, launched) = match &args.reuse {
        Some(path) => {
            let dir = Workdir::reused(path);
            let (server, _) = Server::start_kept(&dir.0).await?;
            let (before, launched) = read_ids(&dir.0)?;
            (dir, server, before, launched)
        }
        None => {
            let dir = match &args.keep {
                Some(path) => Workdir::kept(path)?,
                None => Workdir::create("fleet")?,
            };
            let (server, _) = Server::start_new(&dir.0).await?;
            // What the filter selects before the launch (a new store has one instance).
            let before = pages::walk(server.api, &signer, &IMDS_QUERY, 1)
                .await?
                .described;
            let n = args.instances;
            let subnets = launch::subnets_for(server.api, &signer, n).await?;
            let launched =
                launch::launch(server.api, &signer, n, "imds: RunInstances", &subnets).await?;
            if args.keep.is_some() {
                write_ids(&dir.0, before, &launched)?;
            }
            (dir, server, before, launched)
        }
    };
    let n = launched.ids.len();
    let pages = pages::walk(server.api, &signer, &IMDS_QUERY, args.pages).await?;
    // (A kept fleet's options were changed by its run's modifications.)
    if args.reuse.is_none() && pages.described != before + launched.required {
        return Err(format!(
            "the filter described {} instances; {} were launched with HttpTokens=required (and {before} were there before)",
            pages.described, launched.required
        ));
    }
    if pages.largest_page > IMDS_QUERY.max_results {
        return Err(format!("a page held {} results", pages.largest_page));
    }
    if pages.server_ms.len() != pages.client_ms.len() {
        return Err("a page came without Server-Timing".into());
    }
    let rss_steady = server.rss_bytes()?;

    let ids = Arc::new(launched.ids.clone());
    let modified = modify::modify(server.api, &signer, ids, args.seconds).await?;
    if let Some(e) = modified
        .first_error
        .as_ref()
        .filter(|_| modified.accepted == 0)
    {
        return Err(format!("no modification was accepted: {e}"));
    }
    server.check_alive()?;

    let (mut server, stopped, started) = server.restart().await?;
    let rss_restart = server.rss_bytes()?;
    drop(server);
    drop(dir);

    let (moto, moto_note) = if args.moto {
        match moto::measure(args.moto_python.as_deref()).await? {
            Some(m) => (Some(m), None),
            None => (None, Some(moto::NOT_INSTALLED)),
        }
    } else {
        (None, Some("moto: not measured (add --moto)"))
    };

    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok((
        Figures {
            date,
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            instances: launched.ids.len(),
            launch_per_s: launched.per_second(),
            rss_bytes_steady: rss_steady,
            rss_bytes_restart: rss_restart,
            rss_bytes_per_instance_steady: rss_steady as f64 / n as f64,
            rss_bytes_per_instance_restart: rss_restart as f64 / n as f64,
            page_p50_ms: quantile(&pages.server_ms, 0.5),
            page_p99_ms: quantile(&pages.server_ms, 0.99),
            page_client_p50_ms: quantile(&pages.client_ms, 0.5),
            page_client_p99_ms: quantile(&pages.client_ms, 0.99),
            pages: pages.client_ms.len(),
            described: pages.described,
            stop_s: stopped.as_secs_f64(),
            start_s: started.as_secs_f64(),
            restart_s: (stopped + started).as_secs_f64(),
            modify_per_s: modified.per_second,
            modify_errors: modified.errors,
            moto,
        },
        moto_note,
    ))
}

/// The report: a Markdown table (imds, moto, imds / moto) and how it was run.
fn report(f: &Figures, moto_note: Option<&str>, args: &FleetArgs) -> String {
    let m = f.moto.as_ref();
    let cell =
        |v: Option<f64>, digits: usize| v.map_or("–".to_string(), |v| format!("{v:.digits$}"));
    let ratio = |imds: f64, moto: Option<f64>| cell(moto.map(|m| imds / m), 2);
    let moto_header = m.map_or("moto".to_string(), |m| {
        format!("moto {} ({} instances)", m.version, m.instances)
    });
    let mut out = format!(
        "## imds bench fleet: {} instances ({} build, {})\n\n| figure | imds | {moto_header} | imds / moto |\n|---|---|---|---|\n",
        f.instances, f.build, f.date
    );
    let mut row = |name: &str, imds: f64, digits: usize, moto: Option<f64>| {
        out.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            cell(Some(imds), digits),
            cell(moto, digits),
            ratio(imds, moto)
        ));
    };
    row(
        "launch, instances/s (RunInstances, 1,000 a call)",
        f.launch_per_s,
        0,
        m.map(|m| m.launch_per_s),
    );
    row(
        "RSS per instance, steady, bytes",
        f.rss_bytes_per_instance_steady,
        0,
        None,
    );
    row(
        "RSS per instance, right after a restart, bytes",
        f.rss_bytes_per_instance_restart,
        0,
        None,
    );
    row(
        "filtered page p50, ms (server-side)",
        f.page_p50_ms,
        2,
        None,
    );
    row(
        "filtered page p99, ms (server-side)",
        f.page_p99_ms,
        2,
        None,
    );
    row(
        "filtered page p50, ms (client round trip)",
        f.page_client_p50_ms,
        2,
        m.map(|m| m.page_p50_ms),
    );
    row(
        "filtered page p99, ms (client round trip)",
        f.page_client_p99_ms,
        2,
        m.map(|m| m.page_p99_ms),
    );
    row(
        "restart, s (stop, then start until both ports answer)",
        f.restart_s,
        2,
        None,
    );
    row(
        "Modify, changes/s (SigV4-verified, durable, 32 clients)",
        f.modify_per_s,
        0,
        None,
    );
    if let Some(dir) = &args.reuse {
        out.push_str(&format!(
            "\nA kept fleet, reused (`--reuse {}`): no launch was measured.\n",
            dir.display()
        ));
    }
    out.push_str(&format!(
        "\nHow: `imds bench fleet --instances {n} --seconds {s} --pages {p}{moto_flag}`. The server is `imds serve` as a child process on a durable data dir with `--iam-config` (every request SigV4-signed and verified). Launch: RunInstances of 1,000 instances a call, {calls} calls at a time, half with `HttpTokens=required`. Pages: DescribeInstances filtered on `metadata-options.http-tokens=required`, `MaxResults=1000`, walked along `NextToken`, {pages} pages timed; {described} instances described in a walk; server-side time is the `Server-Timing: app;dur=` header (head received to body ready). RSS: `VmRSS` / {n}, steady = after the launch and the pages; after a restart = as soon as both ports answer. Restart: stop {stop:.2} s + start {start:.2} s. Modify: ModifyInstanceMetadataOptions toggling `HttpTokens` on random instances from 32 keep-alive clients for {s} s ({errors} errors).\n",
        n = f.instances,
        s = args.seconds,
        p = args.pages,
        moto_flag = if args.moto { " --moto" } else { "" },
        calls = launch::CONCURRENT_CALLS,
        pages = f.pages,
        described = f.described,
        stop = f.stop_s,
        start = f.start_s,
        errors = f.modify_errors,
    ));
    match (m, moto_note) {
        (Some(m), _) => out.push_str(&format!(
            "\nmoto {} in the same run, at {} instances, launched the same way: it keeps its fleet in memory (no durable store) and enforces no IAM. It has no `metadata-options.http-tokens` filter and pages by reservation, so its pages filter on `instance-type` (the same half of the fleet), one reservation of 1,000 instances a page (`MaxResults=1`), {} pages timed by the client (moto sends no `Server-Timing`). Ratio = imds / moto.\n",
            m.version, m.instances, m.pages
        )),
        (None, Some(note)) => out.push_str(&format!("\n{note}\n")),
        (None, None) => {}
    }
    out
}
