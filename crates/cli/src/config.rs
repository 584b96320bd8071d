//! Configuration of `imds serve`: flags win over `IMDS_…` environment variables, which win
//! over the TOML file (`--config`), which wins over the defaults.

use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address of the EC2 API.
    #[arg(long, env = "IMDS_API_LISTEN")]
    pub api_listen: Option<SocketAddr>,
    /// Address of the Instance Metadata Service (on loopback; `imds exec` gives instances
    /// the real address).
    #[arg(long, env = "IMDS_IMDS_LISTEN")]
    pub imds_listen: Option<SocketAddr>,
    /// Directory of the SQLite store (default: the platform's data directory for imds).
    #[arg(long, env = "IMDS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep state in a throw-away store (removed on exit).
    #[arg(long, env = "IMDS_EPHEMERAL")]
    pub ephemeral: bool,
    /// Keep the store in PostgreSQL (`postgres://user@host:port/database`) instead of the
    /// embedded SQLite file; the data directory still holds the signing keys.
    #[arg(long, env = "IMDS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// What this node does (several nodes share one `--database-url`): `all` (the default),
    /// `api` (the EC2 API, the console and the lifecycle; it applies no options), or
    /// `metadata` (a metadata host: applies the options of the instances it owns among the
    /// live hosts; its API port answers only the admin routes and /metrics).
    #[arg(long, env = "IMDS_ROLE", value_enum)]
    pub role: Option<Role>,
    /// This node's name among the metadata hosts (default: host name, process id and a
    /// random suffix).
    #[arg(long, env = "IMDS_HOST_ID")]
    pub host_id: Option<String>,
    /// How long a metadata host stays alive without renewing its lease (default 10s; it
    /// renews every third of it). Its instances go to the other hosts when it runs out.
    #[arg(long, env = "IMDS_HOST_LEASE", value_parser = humantime::parse_duration)]
    pub host_lease: Option<Duration>,
    /// How long a change of metadata options stays `pending` before it is `applied`.
    #[arg(long, env = "IMDS_APPLY_DELAY", value_parser = humantime::parse_duration)]
    pub apply_delay: Option<Duration>,
    /// How long pending→running, stopping→stopped and shutting-down→terminated take.
    #[arg(long, env = "IMDS_TRANSITION_DELAY", value_parser = humantime::parse_duration)]
    pub transition_delay: Option<Duration>,
    /// How long terminated instances stay visible.
    #[arg(long, env = "IMDS_TERMINATED_RETENTION", value_parser = humantime::parse_duration)]
    pub terminated_retention: Option<Duration>,
    /// How long a Spot interruption notice lasts before its action (EC2: 2m). Shorter makes
    /// tests quick: a FIS experiment's `durationBeforeInterruption` scales with it (with 6s,
    /// `PT4M` gives the notice after 6s and acts after 12s).
    #[arg(long, env = "IMDS_SPOT_NOTICE", value_parser = humantime::parse_duration)]
    pub spot_notice: Option<Duration>,
    /// Accounts, access keys and SCPs (TOML): every request must then be signed by a known key.
    #[arg(long, env = "IMDS_IAM_CONFIG")]
    pub iam_config: Option<PathBuf>,
    /// Connections each server (the EC2 API, the metadata service) holds at once; at the cap
    /// the oldest idle one is closed. Default: what the open-file limit allows (raised to its
    /// hard limit at start), at most 10,000.
    #[arg(long, env = "IMDS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// How long a connection may take to send a request's line and headers (default 10s).
    #[arg(long, env = "IMDS_HEADER_READ_TIMEOUT", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Option<Duration>,
    /// How long a keep-alive connection of the EC2 API may wait for its next request
    /// (default 60s, as an Application Load Balancer).
    #[arg(long, env = "IMDS_IDLE_TIMEOUT", value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// How long an EC2 API request body may take to arrive after its headers (default 30s;
    /// then 408).
    #[arg(long, env = "IMDS_BODY_TIMEOUT", value_parser = humantime::parse_duration)]
    pub body_timeout: Option<Duration>,
    /// Request headers at most (default 100; more: 431).
    #[arg(long, env = "IMDS_MAX_HEADERS")]
    pub max_headers: Option<usize>,
    /// Bytes of request line and headers at most (default 65536, as an Application Load
    /// Balancer; more: 431).
    #[arg(long, env = "IMDS_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
    /// On SIGTERM/SIGINT, how long requests in flight get to finish (default 5s).
    #[arg(long, env = "IMDS_DRAIN_TIMEOUT", value_parser = humantime::parse_duration)]
    pub drain_timeout: Option<Duration>,
    /// A TOML file with any of the settings above (`api_listen = "…"`, `apply_delay = "300ms"`, …).
    #[arg(long, env = "IMDS_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    api_listen: Option<SocketAddr>,
    imds_listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    ephemeral: Option<bool>,
    database_url: Option<String>,
    role: Option<Role>,
    host_id: Option<String>,
    host_lease: Option<String>,
    apply_delay: Option<String>,
    transition_delay: Option<String>,
    terminated_retention: Option<String>,
    spot_notice: Option<String>,
    iam_config: Option<PathBuf>,
    max_connections: Option<usize>,
    header_read_timeout: Option<String>,
    idle_timeout: Option<String>,
    body_timeout: Option<String>,
    max_headers: Option<usize>,
    max_header_bytes: Option<usize>,
    drain_timeout: Option<String>,
}

/// The settings `imds serve` runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_listen: SocketAddr,
    pub imds_listen: SocketAddr,
    pub store: StoreLocation,
    /// The PostgreSQL database the store is kept in; `None`: SQLite, in the data directory.
    pub database_url: Option<String>,
    pub role: Role,
    /// This node's name among the metadata hosts (`None`: made up at start).
    pub host_id: Option<String>,
    pub host_lease: Duration,
    pub apply_delay: Duration,
    pub transition_delay: Duration,
    pub terminated_retention: Duration,
    pub spot_notice: Duration,
    pub iam_config: Option<PathBuf>,
    pub connections: Connections,
}

/// What each server allows a connection (see `listen::Limits`).
#[derive(Debug, Clone)]
pub struct Connections {
    /// `None`: derived from the open-file limit.
    pub max_connections: Option<usize>,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub max_headers: usize,
    pub max_header_bytes: usize,
    pub drain_timeout: Duration,
}

impl Default for Connections {
    fn default() -> Self {
        Connections {
            max_connections: None,
            header_read_timeout: Duration::from_secs(10),
            // An Application Load Balancer's default idle timeout.
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            // hyper's default. UNCONFIRMED for EC2's endpoints.
            max_headers: 100,
            // An Application Load Balancer's "entire request header" quota (64K).
            max_header_bytes: 64 << 10,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// What a node does (`--role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The EC2 API and a metadata host: one node does everything.
    #[default]
    All,
    /// The EC2 API, the console and the lifecycle; serves metadata as the hosts applied it.
    Api,
    /// A metadata host: applies and acknowledges the options of the instances it owns.
    Metadata,
}

impl Role {
    pub fn serves_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }

    pub fn hosts_metadata(self) -> bool {
        matches!(self, Role::All | Role::Metadata)
    }
}

#[derive(Debug, Clone)]
pub enum StoreLocation {
    Dir(PathBuf),
    Ephemeral,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("{0}: {1} is not a duration ({2})")]
    Duration(PathBuf, &'static str, humantime::DurationError),
    #[error("no data directory could be found for this user; give --data-dir")]
    NoDataDir,
    #[error("--role {0:?} shares a fleet with other nodes: it needs --database-url")]
    RoleNeedsDatabase(Role),
}

pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8773";
pub const DEFAULT_IMDS_LISTEN: &str = "127.0.0.1:1338";

pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "imds").map(|d| d.data_dir().to_path_buf())
}

impl ServeArgs {
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let file = match &self.config {
            Some(p) => load(p)?,
            None => FileConfig::default(),
        };
        let path = self.config.clone().unwrap_or_default();
        let dur = |flag: Option<Duration>,
                   file: &Option<String>,
                   name: &'static str,
                   default: Duration| {
            match (flag, file) {
                (Some(d), _) => Ok(d),
                (None, Some(s)) => humantime::parse_duration(s)
                    .map_err(|e| ConfigError::Duration(path.clone(), name, e)),
                (None, None) => Ok(default),
            }
        };
        let defaults = Connections::default();
        let database_url = self.database_url.clone().or(file.database_url);
        let role = self.role.or(file.role).unwrap_or_default();
        if role != Role::All && database_url.is_none() {
            return Err(ConfigError::RoleNeedsDatabase(role));
        }
        let ephemeral = self.ephemeral || file.ephemeral.unwrap_or(false);
        let store = if ephemeral {
            StoreLocation::Ephemeral
        } else {
            StoreLocation::Dir(
                self.data_dir
                    .clone()
                    .or(file.data_dir)
                    .or_else(default_data_dir)
                    .ok_or(ConfigError::NoDataDir)?,
            )
        };
        Ok(Settings {
            api_listen: self
                .api_listen
                .or(file.api_listen)
                .unwrap_or_else(|| DEFAULT_API_LISTEN.parse().expect("valid default address")),
            imds_listen: self
                .imds_listen
                .or(file.imds_listen)
                .unwrap_or_else(|| DEFAULT_IMDS_LISTEN.parse().expect("valid default address")),
            store,
            database_url: database_url.clone(),
            role,
            host_id: self.host_id.clone().or(file.host_id),
            host_lease: dur(
                self.host_lease,
                &file.host_lease,
                "host_lease",
                Duration::from_secs(10),
            )?,
            apply_delay: dur(
                self.apply_delay,
                &file.apply_delay,
                "apply_delay",
                Duration::from_millis(400),
            )?,
            transition_delay: dur(
                self.transition_delay,
                &file.transition_delay,
                "transition_delay",
                Duration::from_millis(500),
            )?,
            terminated_retention: dur(
                self.terminated_retention,
                &file.terminated_retention,
                "terminated_retention",
                Duration::from_secs(3600),
            )?,
            spot_notice: dur(
                self.spot_notice,
                &file.spot_notice,
                "spot_notice",
                Duration::from_secs(120),
            )?,
            iam_config: self.iam_config.clone().or(file.iam_config),
            connections: Connections {
                max_connections: self.max_connections.or(file.max_connections),
                header_read_timeout: dur(
                    self.header_read_timeout,
                    &file.header_read_timeout,
                    "header_read_timeout",
                    defaults.header_read_timeout,
                )?,
                idle_timeout: dur(
                    self.idle_timeout,
                    &file.idle_timeout,
                    "idle_timeout",
                    defaults.idle_timeout,
                )?,
                body_timeout: dur(
                    self.body_timeout,
                    &file.body_timeout,
                    "body_timeout",
                    defaults.body_timeout,
                )?,
                max_headers: self
                    .max_headers
                    .or(file.max_headers)
                    .unwrap_or(defaults.max_headers),
                max_header_bytes: self
                    .max_header_bytes
                    .or(file.max_header_bytes)
                    .unwrap_or(defaults.max_header_bytes),
                drain_timeout: dur(
                    self.drain_timeout,
                    &file.drain_timeout,
                    "drain_timeout",
                    defaults.drain_timeout,
                )?,
            },
        })
    }
}

fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_path_buf(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_defaults_fill_in() {
        let dir = std::env::temp_dir().join(format!("imds-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("imds.toml");
        std::fs::write(
            &f,
            "api_listen = \"127.0.0.1:9999\"\napply_delay = \"2s\"\nephemeral = true\n\
             idle_timeout = \"2s\"\nmax_headers = 20\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(f.clone()),
            apply_delay: Some(Duration::from_millis(5)),
            ..Default::default()
        };
        let s = args.settings().unwrap();
        assert_eq!(s.api_listen.port(), 9999);
        assert_eq!(s.apply_delay, Duration::from_millis(5));
        assert_eq!(s.transition_delay, Duration::from_millis(500));
        assert!(matches!(s.store, StoreLocation::Ephemeral));
        assert_eq!(s.database_url, None, "SQLite unless a database is given");
        assert_eq!(s.connections.idle_timeout, Duration::from_secs(2));
        assert_eq!(s.connections.max_headers, 20);
        assert_eq!(s.connections.header_read_timeout, Duration::from_secs(10));
        assert_eq!(s.connections.max_connections, None);
        // The PostgreSQL database: from the file, and the flag over it.
        std::fs::write(&f, "database_url = \"postgres://imds@db/file\"\n").unwrap();
        let from_file = ServeArgs {
            config: Some(f.clone()),
            ..Default::default()
        };
        assert_eq!(
            from_file.settings().unwrap().database_url.as_deref(),
            Some("postgres://imds@db/file")
        );
        let from_flag = ServeArgs {
            config: Some(f.clone()),
            database_url: Some("postgres://imds@db/flag".into()),
            ..Default::default()
        };
        assert_eq!(
            from_flag.settings().unwrap().database_url.as_deref(),
            Some("postgres://imds@db/flag")
        );
        // Roles: all by default; another needs a database to share.
        assert_eq!(from_flag.settings().unwrap().role, Role::All);
        std::fs::write(&f, "role = \"metadata\"\nhost_lease = \"2s\"\n").unwrap();
        assert!(matches!(
            ServeArgs {
                config: Some(f.clone()),
                ..Default::default()
            }
            .settings(),
            Err(ConfigError::RoleNeedsDatabase(Role::Metadata))
        ));
        let host = ServeArgs {
            config: Some(f.clone()),
            database_url: Some("postgres://imds@db/flag".into()),
            ..Default::default()
        }
        .settings()
        .unwrap();
        assert_eq!(host.role, Role::Metadata);
        assert_eq!(host.host_lease, Duration::from_secs(2));
        std::fs::write(&f, "bogus = 1\n").unwrap();
        assert!(ServeArgs {
            config: Some(f),
            ..Default::default()
        }
        .settings()
        .is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
