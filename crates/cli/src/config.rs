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
    /// How long a change of metadata options stays `pending` before it is `applied`.
    #[arg(long, env = "IMDS_APPLY_DELAY", value_parser = humantime::parse_duration)]
    pub apply_delay: Option<Duration>,
    /// How long pending→running, stopping→stopped and shutting-down→terminated take.
    #[arg(long, env = "IMDS_TRANSITION_DELAY", value_parser = humantime::parse_duration)]
    pub transition_delay: Option<Duration>,
    /// How long terminated instances stay visible.
    #[arg(long, env = "IMDS_TERMINATED_RETENTION", value_parser = humantime::parse_duration)]
    pub terminated_retention: Option<Duration>,
    /// Accounts, access keys and SCPs (TOML): every request must then be signed by a known key.
    #[arg(long, env = "IMDS_IAM_CONFIG")]
    pub iam_config: Option<PathBuf>,
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
    apply_delay: Option<String>,
    transition_delay: Option<String>,
    terminated_retention: Option<String>,
    iam_config: Option<PathBuf>,
}

/// The settings `imds serve` runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_listen: SocketAddr,
    pub imds_listen: SocketAddr,
    pub store: StoreLocation,
    pub apply_delay: Duration,
    pub transition_delay: Duration,
    pub terminated_retention: Duration,
    pub iam_config: Option<PathBuf>,
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
            iam_config: self.iam_config.clone().or(file.iam_config),
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
            "api_listen = \"127.0.0.1:9999\"\napply_delay = \"2s\"\nephemeral = true\n",
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
