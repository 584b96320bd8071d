//! The comparison: moto 5.2.x's server (`moto_server`, or `python -m moto.server` of the
//! Python given by `--moto-python`), started on a free loopback port, a fleet of
//! `MOTO_INSTANCES` launched as imds's is, and `MOTO_PAGES` pages timed. moto keeps its fleet
//! in memory (no durable store) and enforces no IAM; it has no `metadata-options.http-tokens`
//! filter and pages by reservation, so its pages filter on instance type, one reservation of a
//! thousand instances a page (see `pages::MOTO_QUERY`), timed by the client (moto sends no
//! `Server-Timing`).

use super::http::Signer;
use super::launch::launch;
use super::pages::{quantile, walk, MOTO_QUERY};
use super::server::{free_port, wait_until_answering, ChildProcess, Workdir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fleet moto is measured at.
pub const MOTO_INSTANCES: usize = 10_000;
/// Pages timed.
const MOTO_PAGES: usize = 20;

/// What to say when moto cannot be found.
pub const NOT_INSTALLED: &str = "moto: not installed (pip install 'moto[server]==5.2.*')";

#[derive(Debug, Clone, serde::Serialize)]
pub struct MotoFigures {
    pub version: String,
    pub instances: usize,
    pub launch_per_s: f64,
    pub page_p50_ms: f64,
    pub page_p99_ms: f64,
    pub pages: usize,
}

/// How to start moto's server, and the Python it runs on.
struct Moto {
    python: PathBuf,
    server: Vec<PathBuf>,
}

/// `--moto-python`, else `moto_server` on the PATH (its Python from its `#!` line).
fn find(python: Option<&Path>) -> Option<Moto> {
    if let Some(p) = python {
        return Some(Moto {
            python: p.to_path_buf(),
            server: vec![p.to_path_buf(), "-m".into(), "moto.server".into()],
        });
    }
    let script = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    })?;
    let first = std::fs::read_to_string(&script).ok()?;
    let python = first.lines().next()?.strip_prefix("#!")?.trim().to_string();
    Some(Moto {
        python: python.into(),
        server: vec![script],
    })
}

fn version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Measure moto, or `Ok(None)` when it is not installed.
pub async fn measure(python: Option<&Path>) -> Result<Option<MotoFigures>, String> {
    let Some(moto) = find(python) else {
        return Ok(None);
    };
    let Some(version) = version(&moto.python) else {
        return Ok(None);
    };
    let dir = Workdir::create("moto")?;
    let addr = free_port()?;
    let mut command = Command::new(&moto.server[0]);
    command
        .args(&moto.server[1..])
        .args(["-H", "127.0.0.1", "-p"])
        .arg(addr.port().to_string());
    let mut process = ChildProcess::spawn(command, &dir.0.join("moto.log"))?;
    wait_until_answering(&mut process, &[(addr, "/")]).await?;
    let signer = Signer {
        key: "AKIAMOTOANYKEY000000".into(),
        secret: "any".into(),
    };
    let launched = launch(addr, &signer, MOTO_INSTANCES, "moto: RunInstances", &[]).await?;
    let pages = walk(addr, &signer, &MOTO_QUERY, MOTO_PAGES).await?;
    if pages.described != launched.required {
        return Err(format!(
            "moto described {} instances of the {} its filter selects",
            pages.described, launched.required
        ));
    }
    process.stop()?;
    Ok(Some(MotoFigures {
        version,
        instances: launched.ids.len(),
        launch_per_s: launched.per_second(),
        page_p50_ms: quantile(&pages.client_ms, 0.5),
        page_p99_ms: quantile(&pages.client_ms, 0.99),
        pages: pages.client_ms.len(),
    }))
}
