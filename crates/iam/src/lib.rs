//! Identity for imds: the accounts of `--iam-config`, their access keys, and the principal
//! each key stands for. Policy evaluation (identity policies, SCPs, the `ec2:Metadata*`
//! condition keys) builds on this.
//!
//! - [`config`]: the TOML file (`[[accounts]]` with root keys and SCP files).
//! - [`directory`]: access key id → principal and secret, for the signature check.

pub mod config;
pub mod directory;

pub use config::{ConfigError, IamConfig};
pub use directory::{Directory, Principal};
