//! `imds serve`: the [`App`](crate::app::App) of the configured settings, announced on stdout
//! and recorded in the data dir (see `discovery`), until SIGINT or SIGTERM.

use crate::app::{App, AppError};
use crate::config::{ServeArgs, Settings, StoreLocation};
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    App(#[from] AppError),
}

pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    let settings = args.settings()?;
    let app = App::builder(settings.clone()).start().await?;
    until_signal(app, &settings, &[]).await;
    Ok(())
}

/// A started app, recorded and announced (its two ready lines, then `more`), until SIGINT or
/// SIGTERM; then stopped: what `imds serve` and `imds aemm` do once the app is up.
pub(crate) async fn until_signal(app: App, settings: &Settings, more: &[String]) {
    let location = match (&settings.database_url, app.data_dir()) {
        (Some(_), _) => "store: PostgreSQL".to_string(),
        (None, Some(d)) => format!("store: {}", d.join("imds.sqlite").display()),
        (None, None) => "store: ephemeral".to_string(),
    };
    // So that `imds exec`, `imds endpoint` and `imds events` find this server on any port
    // (removed on a clean stop; see `discovery`). Recorded before the announcement: whoever
    // waits for "listening" on stdout may run `imds exec` at once.
    let record_dir = match &settings.store {
        StoreLocation::Dir(d) => Some(d.clone()),
        StoreLocation::Ephemeral => crate::config::default_data_dir(),
    };
    let recorded = record_dir.and_then(|d| {
        crate::discovery::record(&d, app.api_addr(), app.imds_addr())
            .map_err(|e| tracing::warn!(dir = %d.display(), error = %e, "cannot record where this server listens; imds exec will need --endpoint"))
            .ok()
    });
    println!(
        "imds: Instance Metadata Service listening on http://{}",
        app.imds_addr()
    );
    println!(
        "imds: EC2 API listening on http://{} ({location})",
        app.api_addr()
    );
    for line in more {
        println!("{line}");
    }
    let _ = std::io::stdout().flush();
    shutdown_signal().await;
    tracing::info!("stopping: draining requests in flight");
    drop(recorded);
    app.stop().await;
    tracing::info!("stopped");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
