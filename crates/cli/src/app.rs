//! The composition root: the one place that assembles imds from its parts — the store, the
//! IAM principals, the EC2 API with its lifecycle driver, the metadata host with its feed
//! follower, the loopback metadata service and the per-instance endpoints, the admin routes
//! and the console — and takes them down again. `imds serve`, both benchmarks and the Rust
//! integration tests start the same [`App`], so what they measure or test is what runs.
//!
//! ```no_run
//! # async fn f() -> Result<(), imds::app::AppError> {
//! let app = imds::app::App::builder(imds::app::Settings::ephemeral_on_port_zero()).start().await?;
//! println!("EC2 API on http://{}", app.api_addr());
//! app.stop().await;
//! # Ok(()) }
//! ```

use crate::config::{Connections, Settings as ServeSettings, StoreLocation};
use ec2api::{Api, ApiConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::postgres::PgStore;
use store::sqlite::{Durability, IntegrityCheck, SqliteStore};
use store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::config::Settings;

/// The file, in the data dir, of the key that signs instance identity documents.
pub const IDENTITY_KEY: &str = "identity-key.pem";

/// The file, in the data dir, of the key that authenticates session credentials (AssumeRole
/// and instance role credentials), so that credentials handed out survive a restart.
pub const SESSION_KEY: &str = "session.key";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Identity(#[from] metadata::identity::IdentityError),
    #[error("--iam-config: {0}")]
    Iam(#[from] iam::ConfigError),
    #[error("cannot create {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("session key {0}: {1}")]
    SessionKey(PathBuf, std::io::Error),
    #[error("cannot open the store: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot open the PostgreSQL store: {0}")]
    Postgres(String),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("cannot create the first instance: {0}")]
    FirstInstance(model::Ec2Error),
}

/// When to create the first instance (`Name=imds-default`, so that `curl` works at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstInstance {
    /// Only in a new store (what `imds serve` does).
    WhenNew,
    /// Never.
    Never,
}

/// How to assemble an [`App`].
pub struct Builder {
    settings: ServeSettings,
    directory: Option<Arc<iam::Directory>>,
    first_instance: FirstInstance,
}

impl Settings {
    /// A throw-away store, both servers on loopback port 0 (the OS picks), short delays: what
    /// tests and benchmarks start.
    pub fn ephemeral_on_port_zero() -> Settings {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Settings {
            api_listen: any,
            imds_listen: any,
            store: StoreLocation::Ephemeral,
            database_url: None,
            apply_delay: Duration::from_millis(10),
            transition_delay: Duration::from_millis(10),
            terminated_retention: Duration::from_secs(3600),
            iam_config: None,
            connections: Connections::default(),
        }
    }
}

impl Builder {
    /// IAM from accounts given here rather than from the settings' `--iam-config` file.
    pub fn iam_directory(mut self, directory: Arc<iam::Directory>) -> Builder {
        self.directory = Some(directory);
        self
    }

    pub fn first_instance(mut self, when: FirstInstance) -> Builder {
        self.first_instance = when;
        self
    }

    /// Open the store, bind both servers, start every task; ready when this returns (every
    /// instance of the store is known to the metadata host).
    pub async fn start(self) -> Result<App, AppError> {
        App::start(self).await
    }
}

/// A running imds. Dropping it without [`App::stop`] leaves its tasks to the runtime.
pub struct App {
    api: Arc<Api>,
    host: Arc<metadata::Host>,
    store: Arc<dyn Store>,
    api_addr: SocketAddr,
    imds_addr: SocketAddr,
    /// Where the store is (`None`: ephemeral).
    data_dir: Option<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The per-instance endpoints and namespace attachments: their listeners are awaited
    /// at stop too.
    endpoints: Arc<metadata::endpoints::Endpoints>,
    attachments: Arc<metadata::netns::Attachments>,
    _temp: Option<TempDir>,
}

/// A throw-away directory for an ephemeral store, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

impl App {
    pub fn builder(settings: ServeSettings) -> Builder {
        Builder {
            settings,
            directory: None,
            first_instance: FirstInstance::WhenNew,
        }
    }

    /// The EC2 API (with the admin routes and the console) as clients reach it.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The loopback metadata service (an unknown source address is the default instance).
    pub fn imds_addr(&self) -> SocketAddr {
        self.imds_addr
    }

    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    pub fn host(&self) -> &Arc<metadata::Host> {
        &self.host
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The data dir of a durable store; `None` when ephemeral.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.data_dir.as_deref()
    }

    async fn start(b: Builder) -> Result<App, AppError> {
        let settings = b.settings;
        let gates = gates(&settings.connections);
        let (dir, durability, temp) = match &settings.store {
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
        let durable = temp.is_none();
        std::fs::create_dir_all(&dir).map_err(|e| AppError::DataDir(dir.clone(), e))?;
        let t_start = std::time::Instant::now();
        // A new store (no file, an empty one, a database without imds's tables) gets the
        // first instance. The check of a SQLite store's pages runs while the metadata host
        // loads (see below).
        let (store, first_start, check): (Arc<dyn Store>, bool, Option<IntegrityCheck>) =
            match &settings.database_url {
                Some(url) => {
                    let pg = PgStore::open(url)
                        .await
                        .map_err(|e| AppError::Postgres(e.to_string()))?;
                    let created = pg.created();
                    (Arc::new(pg), created, None)
                }
                None => {
                    let (sqlite, check) =
                        SqliteStore::open_checking(&dir.join("imds.sqlite"), durability).await?;
                    let created = sqlite.created();
                    (Arc::new(sqlite), created, Some(check))
                }
            };
        // The keys live beside a durable store; an ephemeral one gets throw-away keys.
        let key_path = durable.then(|| dir.join(IDENTITY_KEY));
        let signer = metadata::identity::IdentitySigner::load_or_create(key_path.as_deref())?;
        let sessions = Arc::new(if durable {
            let p = dir.join(SESSION_KEY);
            iam::session::SessionKey::load_or_create(&p).map_err(|e| AppError::SessionKey(p, e))?
        } else {
            iam::session::SessionKey::random()
        });
        let host = metadata::Host::new(
            store.clone(),
            settings.apply_delay,
            Arc::new(signer),
            sessions.clone(),
        );
        let directory = match (b.directory, &settings.iam_config) {
            (Some(d), _) => Some(d),
            (None, Some(path)) => Some(Arc::new(iam::Directory::new(iam::IamConfig::load(path)?))),
            (None, None) => None,
        };
        let principals = Arc::new(
            ec2api::principals::Principals::load(directory, sessions, store.clone()).await?,
        );
        let api = Arc::new(Api {
            store: store.clone(),
            config: ApiConfig {
                transition_delay: settings.transition_delay,
                terminated_retention: settings.terminated_retention,
            },
            principals,
        });
        if first_start && b.first_instance == FirstInstance::WhenNew {
            let id = ec2api::actions::launch_first_instance(&api)
                .await
                .map_err(AppError::FirstInstance)?;
            tracing::info!(instance = %id, "created the first instance");
        }
        let listener = tokio::net::TcpListener::bind(settings.api_listen)
            .await
            .map_err(|e| AppError::Listen(settings.api_listen, e))?;
        let api_addr = listener.local_addr().map_err(AppError::Serve)?;
        let imds_listener = tokio::net::TcpListener::bind(settings.imds_listen)
            .await
            .map_err(|e| AppError::Listen(settings.imds_listen, e))?;
        let imds_addr = imds_listener.local_addr().map_err(AppError::Serve)?;
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(ec2api::lifecycle::drive_lifecycle(
            api.clone(),
            stop_rx.clone(),
        ))];
        // The metadata host: serves every instance from memory and applies changed options.
        tasks.push(tokio::spawn(host.clone().run(stop_rx.clone())));
        // Serve once every instance is known by its address and the store has passed its
        // check (a damaged store is refused here, before either port answers).
        let since_open = || t_start.elapsed().as_millis() as u64;
        let (checked_ms, loaded_ms) = tokio::try_join!(
            async {
                match check {
                    Some(check) => check.passed().await.map(|()| since_open()),
                    None => Ok(since_open()),
                }
            },
            async {
                host.loaded().await;
                Ok(since_open())
            },
        )?;
        // Where a start's time goes (issue 13: a million instances in seconds).
        tracing::info!(
            checked_ms,
            loaded_ms,
            "store checked, every instance loaded"
        );
        tasks.push(tokio::spawn(metadata::server::serve(
            imds_listener,
            host.clone(),
            metadata::server::Caller::BySource,
            gates.metadata.clone(),
            stop_rx.clone(),
        )));
        let endpoints = Arc::new(metadata::endpoints::Endpoints::new(
            host.clone(),
            gates.metadata.clone(),
            stop_rx.clone(),
        ));
        let attachments = Arc::new(metadata::netns::Attachments::new(gates.metadata));
        let admin = crate::admin::router(crate::admin::Admin {
            api: api.clone(),
            host: host.clone(),
            attachments: attachments.clone(),
            endpoints: endpoints.clone(),
            stop: stop_rx.clone(),
            api_on_loopback: api_addr.ip().is_loopback(),
        });
        // The web console: static files; the browser signs its own EC2 requests to `/`.
        let router = ec2api::router(api.clone())
            .merge(admin)
            .merge(console::router());
        tasks.push(tokio::spawn(serve_api(
            listener, router, gates.api, stop_rx,
        )));
        Ok(App {
            api,
            host,
            store,
            api_addr,
            imds_addr,
            data_dir: durable.then_some(dir),
            stop,
            tasks,
            endpoints,
            attachments,
            _temp: temp,
        })
    }

    /// Stop: requests in flight drain (within the drain timeout), every task ends, the store
    /// checkpoints and closes; an ephemeral store's directory is removed.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.endpoints.closed().await;
        self.attachments.closed().await;
        self.store.close().await;
    }
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
