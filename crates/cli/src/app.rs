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

use crate::config::{Connections, Role, Settings as ServeSettings, StoreLocation};
use ec2api::{Api, ApiConfig};
use metadata::ownership::Ownership;
use sqlx::PgPool;
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
    #[error("--iam-config: {0}")]
    Declarative(ec2api::principals::DeclarativeError),
    #[error("cannot create {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("session key {0}: {1}")]
    SessionKey(PathBuf, std::io::Error),
    #[error("cannot open the store: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot open the PostgreSQL store: {0}")]
    Postgres(String),
    #[error("PostgreSQL: {0}")]
    Shared(#[from] sqlx::Error),
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
    first_launch: ec2api::actions::FirstLaunch,
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
            role: Role::All,
            host_id: None,
            host_lease: Duration::from_secs(10),
            apply_delay: Duration::from_millis(10),
            transition_delay: Duration::from_millis(10),
            terminated_retention: Duration::from_secs(3600),
            spot_notice: Duration::from_secs(120),
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

    /// How the first instance is launched (`imds aemm`: Spot, IMDSv2 only).
    pub fn first_launch(mut self, how: ec2api::actions::FirstLaunch) -> Builder {
        self.first_launch = how;
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
    first_instance: Option<String>,
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
            first_launch: Default::default(),
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

    /// The instance this start created (a new store's first one), if it did.
    pub fn first_instance(&self) -> Option<&str> {
        self.first_instance.as_deref()
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
        let (store, first_start, check, pool): (
            Arc<dyn Store>,
            bool,
            Option<IntegrityCheck>,
            Option<PgPool>,
        ) = match &settings.database_url {
            Some(url) => {
                let pg = PgStore::open(url)
                    .await
                    .map_err(|e| AppError::Postgres(e.to_string()))?;
                let created = pg.created();
                let pool = pg.pool().clone();
                (Arc::new(pg), created, None, Some(pool))
            }
            None => {
                let (sqlite, check) =
                    SqliteStore::open_checking(&dir.join("imds.sqlite"), durability).await?;
                let created = sqlite.created();
                (Arc::new(sqlite), created, Some(check), None)
            }
        };
        let keys = match &pool {
            Some(pool) => Keys::shared(pool).await?,
            None => Keys::beside(durable.then_some(&*dir))?,
        };
        let sessions = keys.sessions.clone();
        // Which instances this node's metadata host applies (see `metadata::ownership`).
        let membership = match (&pool, settings.role) {
            (None, _) => None,
            (Some(_), Role::Api) => None,
            (Some(pool), Role::All | Role::Metadata) => Some(
                Membership::join(
                    pool.clone(),
                    settings.host_id.clone().unwrap_or_else(host_id),
                    settings.host_lease,
                )
                .await?,
            ),
        };
        let ownership = match (&membership, settings.role) {
            (Some(m), _) => m.ownership(),
            (None, Role::Api) => Ownership::Nothing,
            (None, _) => Ownership::Every,
        };
        let host = metadata::Host::new(
            store.clone(),
            settings.apply_delay,
            keys.identity,
            sessions.clone(),
            keys.tokens,
            ownership,
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
                spot_notice: settings.spot_notice,
            },
            principals,
            metrics: Arc::new(HostMetrics(host.clone())),
        });
        let mut first_instance = None;
        if first_start && b.first_instance == FirstInstance::WhenNew {
            let id = ec2api::actions::launch_first_instance(&api, &b.first_launch)
                .await
                .map_err(AppError::FirstInstance)?;
            tracing::info!(instance = %id, "created the first instance");
            first_instance = Some(id);
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
        let mut tasks = Vec::new();
        // Every API node drives the lifecycle: its steps are writes, one at a time across
        // the nodes, each reading what is due when it runs, so two nodes never step an
        // instance twice.
        if settings.role.serves_api() {
            tasks.push(tokio::spawn(ec2api::lifecycle::drive_lifecycle(
                api.clone(),
                stop_rx.clone(),
            )));
        }
        if let Some(m) = membership {
            tasks.push(tokio::spawn(m.run(host.clone(), stop_rx.clone())));
        }
        if pool.is_some() {
            tasks.push(tokio::spawn(refresh_iam(api.clone(), stop_rx.clone())));
        }
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
        // The web console: static files; the browser signs its own EC2 requests to `/`. A
        // metadata host's API port answers its admin routes and /metrics alone.
        let router = if settings.role.serves_api() {
            ec2api::router(api.clone())
                .merge(admin)
                .merge(console::router())
        } else {
            admin
        };
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
            first_instance,
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

/// CloudWatch's reads answer from the metadata host's counted minutes (this node's own).
struct HostMetrics(Arc<metadata::Host>);

impl ec2api::cloudwatch::MetricSource for HostMetrics {
    fn instance_minutes(&self) -> Vec<model::metrics::InstanceMinutes> {
        self.0.metric_minutes()
    }
}

/// The keys of a server: the identity documents' signer, the session credentials' key and
/// the IMDSv2 tokens' key.
struct Keys {
    identity: Arc<metadata::identity::IdentitySigner>,
    sessions: Arc<iam::session::SessionKey>,
    tokens: metadata::token::TokenKey,
}

impl Keys {
    /// The keys beside a durable SQLite store (in `dir`), or throw-away ones; tokens are
    /// this process's alone (a token does not outlive a restart, as on EC2 a token does not
    /// outlive the instance's stop).
    fn beside(dir: Option<&std::path::Path>) -> Result<Keys, AppError> {
        let key_path = dir.map(|d| d.join(IDENTITY_KEY));
        let identity = metadata::identity::IdentitySigner::load_or_create(key_path.as_deref())?;
        let sessions = match dir {
            Some(d) => {
                let p = d.join(SESSION_KEY);
                iam::session::SessionKey::load_or_create(&p)
                    .map_err(|e| AppError::SessionKey(p, e))?
            }
            None => iam::session::SessionKey::random(),
        };
        Ok(Keys {
            identity: Arc::new(identity),
            sessions: Arc::new(sessions),
            tokens: metadata::token::TokenKey::random(),
        })
    }

    /// The keys every node of one PostgreSQL database holds alike (`postgres::secrets`), so
    /// that any node verifies what another issued: a role's credentials, an identity
    /// document's signature, a token.
    async fn shared(pool: &PgPool) -> Result<Keys, AppError> {
        use store::postgres::secrets::shared;
        let pem = shared(pool, "identity-key.pem", || {
            metadata::identity::IdentitySigner::generate_pem()
                .map(String::into_bytes)
                .unwrap_or_default()
        })
        .await?;
        let pem = String::from_utf8(pem).map_err(|_| {
            metadata::identity::IdentityError::Key("the shared identity key is not PEM".into())
        })?;
        let identity = metadata::identity::IdentitySigner::from_pem(&pem)?;
        let sessions = shared(pool, "session.key", iam::session::SessionKey::random_bytes).await?;
        let tokens = shared(pool, "token.key", iam::session::SessionKey::random_bytes).await?;
        let key32 = |v: Vec<u8>, what: &str| -> Result<[u8; 32], AppError> {
            v.try_into()
                .map_err(|_| AppError::Postgres(format!("the shared {what} is not a 32-byte key")))
        };
        Ok(Keys {
            identity: Arc::new(identity),
            sessions: Arc::new(iam::session::SessionKey::from_bytes(key32(
                sessions,
                "session key",
            )?)),
            tokens: metadata::token::TokenKey::from_bytes(key32(tokens, "token key")?),
        })
    }
}

/// The identity documents' signer the nodes of the PostgreSQL database at `url` share
/// (`imds certificate --database-url`).
pub async fn shared_identity(
    url: &str,
) -> Result<Arc<metadata::identity::IdentitySigner>, AppError> {
    let pg = PgStore::open(url)
        .await
        .map_err(|e| AppError::Postgres(e.to_string()))?;
    let keys = Keys::shared(pg.pool()).await;
    pg.pool().close().await;
    Ok(keys?.identity)
}

/// A name for this node among the metadata hosts: its host name, process id and a random
/// suffix (two nodes on one machine differ; a restarted node is a new host).
fn host_id() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "imds".into());
    format!(
        "{name}-{}-{:04x}",
        std::process::id(),
        rand_suffix() & 0xffff
    )
}

/// A metadata host among others on one database: it renews its lease every third of it,
/// reads the live set, and gives its host the instances rendezvous hashing gives it.
struct Membership {
    pool: PgPool,
    me: String,
    lease: Duration,
    live: Vec<String>,
}

impl Membership {
    /// Register (the first lease) and read the live set.
    async fn join(pool: PgPool, me: String, lease: Duration) -> Result<Membership, AppError> {
        store::postgres::hosts::renew(&pool, &me, lease).await?;
        let live = store::postgres::hosts::live(&pool).await?;
        tracing::info!(host = %me, live = ?live, "joined the metadata hosts");
        Ok(Membership {
            pool,
            me,
            lease,
            live,
        })
    }

    fn ownership(&self) -> Ownership {
        Ownership::Among {
            me: self.me.clone(),
            live: self.live.clone(),
        }
    }

    /// Heartbeat until `stop`, then leave (the others take this host's instances at once).
    /// A heartbeat the database does not answer is tried again at the next; meanwhile the
    /// host keeps what it owned (should its lease run out, the others take over, and two
    /// hosts may both apply a change: the acknowledgements are the same).
    async fn run(mut self, host: Arc<metadata::Host>, mut stop: watch::Receiver<bool>) {
        use store::postgres::hosts;
        let every = self.lease / 3;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => break,
            }
            let beat = async {
                hosts::renew(&self.pool, &self.me, self.lease).await?;
                hosts::live(&self.pool).await
            };
            match beat.await {
                Ok(live) => {
                    if live != self.live {
                        tracing::info!(host = %self.me, live = ?live, "the live metadata hosts changed");
                        self.live = live;
                    }
                    host.set_ownership(self.ownership());
                }
                Err(e) => {
                    tracing::warn!(host = %self.me, error = %e, "cannot renew this host's lease; trying again")
                }
            }
        }
        if let Err(e) = hosts::leave(&self.pool, &self.me).await {
            tracing::warn!(host = %self.me, error = %e, "cannot leave the metadata hosts; the lease will run out");
        }
    }
}

/// Where other nodes change IAM too: load the registry again when they have, every second.
async fn refresh_iam(api: Arc<Api>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = api.principals.refresh().await {
            tracing::warn!(error = %e, "cannot read the IAM revision");
        }
    }
}

impl From<ec2api::principals::LoadError> for AppError {
    fn from(e: ec2api::principals::LoadError) -> AppError {
        match e {
            ec2api::principals::LoadError::Store(e) => AppError::Store(e),
            ec2api::principals::LoadError::Declarative(e) => AppError::Declarative(e),
        }
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
