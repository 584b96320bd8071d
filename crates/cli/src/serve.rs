//! `imds serve`: open the store, create the first instance of a new data dir, and run the
//! EC2 API with the lifecycle driver and the applier until SIGINT or SIGTERM.

use crate::config::{Connections, ServeArgs, StoreLocation};
use ec2api::{Api, ApiConfig};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use store::sqlite::{Durability, SqliteStore};
use store::Store;
use tokio::sync::watch;

/// The file, in the data dir, of the key that signs instance identity documents.
pub const IDENTITY_KEY: &str = "identity-key.pem";

/// The file, in the data dir, of the key that authenticates session credentials (AssumeRole
/// and instance role credentials), so that credentials handed out survive a restart.
pub const SESSION_KEY: &str = "session.key";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Identity(#[from] metadata::identity::IdentityError),
    #[error("--iam-config: {0}")]
    Iam(#[from] iam::ConfigError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot create {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("session key {0}: {1}")]
    SessionKey(PathBuf, std::io::Error),
    #[error("cannot open the store: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, std::io::Error),
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("cannot create the first instance: {0}")]
    FirstInstance(model::Ec2Error),
}

/// A throw-away directory for `--ephemeral`, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    let settings = args.settings()?;
    let gates = gates(&settings.connections);
    let (dir, durability, _temp) = match &settings.store {
        StoreLocation::Dir(d) => (d.clone(), Durability::Durable, None),
        StoreLocation::Ephemeral => {
            let d = std::env::temp_dir().join(format!(
                "imds-ephemeral-{}-{}",
                std::process::id(),
                rand_suffix()
            ));
            (d.clone(), Durability::Volatile, Some(TempDir(d)))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| ServeError::DataDir(dir.clone(), e))?;
    let db = dir.join("imds.sqlite");
    let sqlite = SqliteStore::open(&db, durability).await?;
    // A new store (no file, or an empty one) gets the first instance.
    let first_start = sqlite.created();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    // The key that signs identity documents lives beside the store (a throw-away one when
    // the store is ephemeral).
    let key_path = matches!(settings.store, StoreLocation::Dir(_)).then(|| dir.join(IDENTITY_KEY));
    let signer = metadata::identity::IdentitySigner::load_or_create(key_path.as_deref())?;
    let sessions = Arc::new(match &settings.store {
        StoreLocation::Dir(_) => {
            let p = dir.join(SESSION_KEY);
            iam::session::SessionKey::load_or_create(&p)
                .map_err(|e| ServeError::SessionKey(p, e))?
        }
        StoreLocation::Ephemeral => iam::session::SessionKey::random(),
    });
    let host = metadata::Host::new(
        store.clone(),
        settings.apply_delay,
        Arc::new(signer),
        sessions.clone(),
    );
    let directory = match &settings.iam_config {
        Some(path) => Some(Arc::new(iam::Directory::new(iam::IamConfig::load(path)?))),
        None => None,
    };
    let principals =
        Arc::new(ec2api::principals::Principals::load(directory, sessions, store.clone()).await?);
    let api = Arc::new(Api {
        store: store.clone(),
        config: ApiConfig {
            transition_delay: settings.transition_delay,
            terminated_retention: settings.terminated_retention,
        },
        principals,
    });
    if first_start {
        let id = ec2api::actions::launch_first_instance(&api)
            .await
            .map_err(ServeError::FirstInstance)?;
        tracing::info!(instance = %id, "created the first instance");
    }
    let listener = tokio::net::TcpListener::bind(settings.api_listen)
        .await
        .map_err(|e| ServeError::Listen(settings.api_listen, e))?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let imds_listener = tokio::net::TcpListener::bind(settings.imds_listen)
        .await
        .map_err(|e| ServeError::Listen(settings.imds_listen, e))?;
    let imds_addr = imds_listener.local_addr().map_err(ServeError::Serve)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let lifecycle = tokio::spawn(ec2api::lifecycle::drive_lifecycle(
        api.clone(),
        stop_rx.clone(),
    ));
    // The metadata host: serves every instance from memory and applies changed options.

    let following = tokio::spawn(host.clone().run(stop_rx.clone()));
    // Serve (and say so) once every instance is known by its address.
    host.loaded().await;
    let imds = tokio::spawn(metadata::server::serve(
        imds_listener,
        host.clone(),
        metadata::server::Caller::BySource,
        gates.metadata.clone(),
        stop_rx.clone(),
    ));
    let location = match &settings.store {
        StoreLocation::Dir(_) => format!("store: {}", db.display()),
        StoreLocation::Ephemeral => "store: ephemeral".to_string(),
    };
    println!("imds: Instance Metadata Service listening on http://{imds_addr}");
    println!("imds: EC2 API listening on http://{addr} ({location})");
    let _ = std::io::stdout().flush();
    // So that `imds exec` and `imds endpoint` find this server on any port (removed on a
    // clean stop; see `discovery`).
    let record_dir = match &settings.store {
        StoreLocation::Dir(d) => Some(d.clone()),
        StoreLocation::Ephemeral => crate::config::default_data_dir(),
    };
    let _recorded = record_dir.and_then(|d| {
        crate::discovery::record(&d, addr, imds_addr)
            .map_err(|e| tracing::warn!(dir = %d.display(), error = %e, "cannot record where this server listens; imds exec will need --endpoint"))
            .ok()
    });
    let endpoints = Arc::new(metadata::endpoints::Endpoints::new(
        host.clone(),
        gates.metadata.clone(),
        stop_rx.clone(),
    ));
    let attachments = Arc::new(metadata::netns::Attachments::new(gates.metadata));
    let admin = crate::admin::router(crate::admin::Admin {
        api: api.clone(),
        host: host.clone(),
        attachments,
        endpoints,
        stop: stop_rx.clone(),
        api_on_loopback: addr.ip().is_loopback(),
    });
    // The web console: static files; the browser signs its own EC2 requests to `/`.
    let app = ec2api::router(api.clone())
        .merge(admin)
        .merge(console::router());
    let served = tokio::spawn(serve_api(listener, app, gates.api, stop_rx.clone()));
    shutdown_signal().await;
    tracing::info!("stopping: draining requests in flight");
    let _ = stop_tx.send(true);
    let _ = lifecycle.await;
    let _ = following.await;
    let _ = imds.await;
    let _ = served.await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The connections of the two servers.
pub struct Gates {
    pub api: Arc<listen::Gate>,
    pub metadata: Arc<listen::Gate>,
}

/// The gates of the EC2 API and the metadata service. The open-file limit is raised to its
/// hard limit first; a cap not given is what the limit then allows each server.
pub fn gates(c: &Connections) -> Gates {
    let nofile = listen::fd::raise_limit();
    let budget = listen::fd::connection_budget(nofile, 2);
    let max_connections = match c.max_connections {
        Some(n) if n > budget => {
            tracing::warn!(
                asked = n,
                allowed = budget,
                open_file_limit = nofile,
                "--max-connections is more than the open-file limit allows; using what it allows"
            );
            budget
        }
        Some(n) => n.max(1),
        None => budget,
    };
    let api = listen::Limits {
        max_connections,
        header_read_timeout: c.header_read_timeout,
        idle_timeout: c.idle_timeout,
        body_timeout: Some(c.body_timeout),
        max_headers: c.max_headers,
        max_header_bytes: c.max_header_bytes,
        drain_timeout: c.drain_timeout,
    };
    // The metadata service reads no body and keeps no connection alive.
    let metadata = listen::Limits {
        body_timeout: None,
        ..api.clone()
    };
    tracing::debug!(max_connections, open_file_limit = nofile, "connection caps");
    Gates {
        api: listen::Gate::new("EC2 API", api),
        metadata: listen::Gate::new("metadata service", metadata),
    }
}

/// Serve the EC2 API (with the console and admin routes) until `stop`; handlers find the
/// caller's address in `ConnectInfo`, as `axum::serve` would give it.
async fn serve_api(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    gate: Arc<listen::Gate>,
    stop: watch::Receiver<bool>,
) {
    let http = hyper::server::conn::http1::Builder::new();
    listen::serve(listener, gate, http, stop, move |accepted| {
        let app = app.clone();
        let peer = accepted.peer;
        hyper::service::service_fn(move |mut req: http::Request<listen::RequestBody>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let mut app = app.clone();
            async move { tower_service::Service::call(&mut app, req).await }
        })
    })
    .await
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
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
