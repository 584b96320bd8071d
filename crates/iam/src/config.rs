//! `--iam-config FILE`: the accounts imds knows, their root access keys and their SCPs.
//!
//! ```toml
//! [[accounts]]
//! id = "111122223333"
//! root_access_key_id = "AKIA…"
//! root_secret_access_key = "…"
//! scps = ["scp/require-imdsv2.json"]   # relative to this file; every principal of the account
//! # or, for an organization's levels root → OUs → account (each level must allow):
//! # scp_levels = [["scp/full-access.json"], ["scp/ou-describe-only.json"]]
//! # management_account = true          # the organization's management account: no SCPs apply
//! declarative_policies = ["dp/imdsv2.json"]  # EC2 declarative policies (instance metadata
//! # defaults), or by level root → OUs → account: declarative_policy_levels = [[…], […]]
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamConfig {
    pub accounts: Vec<AccountConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub id: String,
    pub root_access_key_id: String,
    pub root_secret_access_key: String,
    #[serde(default)]
    pub scps: Vec<PathBuf>,
    #[serde(default)]
    pub scp_levels: Vec<Vec<PathBuf>>,
    #[serde(default)]
    pub management_account: bool,
    #[serde(default)]
    pub declarative_policies: Vec<PathBuf>,
    #[serde(default)]
    pub declarative_policy_levels: Vec<Vec<PathBuf>>,
}

/// A loaded account: its SCP documents read (their evaluation comes with the policy engine).
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub root_access_key_id: String,
    pub root_secret_access_key: String,
    /// SCP documents by level (root → OUs → account); `scps` is one level.
    pub scp_levels: Vec<Vec<(PathBuf, serde_json::Value)>>,
    pub management_account: bool,
    /// EC2 declarative policy documents by level (root → OUs → account), read as JSON (what
    /// they mean is the EC2 domain's: `model::declarative`); `declarative_policies` is one
    /// level.
    pub declarative_levels: Vec<Vec<(PathBuf, serde_json::Value)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Toml(PathBuf, toml::de::Error),
    #[error("{0}: account id {1:?} is not 12 digits")]
    AccountId(PathBuf, String),
    #[error("{0}: access key {1} is given twice")]
    DuplicateKey(PathBuf, String),
    #[error("{0}: account {1} is given twice")]
    DuplicateAccount(PathBuf, String),
    #[error("{0}: access key id {1:?} is not 16 to 128 letters and digits")]
    AccessKey(PathBuf, String),
    #[error("SCP {0}: {1}")]
    Scp(PathBuf, String),
    #[error("declarative policy {0}: {1}")]
    Declarative(PathBuf, String),
}

impl IamConfig {
    /// Read and check the file, and the SCP documents it names.
    pub fn load(path: &Path) -> Result<Vec<Account>, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
        let cfg: IamConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Toml(path.to_path_buf(), e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut out: Vec<Account> = Vec::new();
        for a in cfg.accounts {
            let p = path.to_path_buf();
            if a.id.len() != 12 || !a.id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::AccountId(p, a.id));
            }
            let key_ok = (16..=128).contains(&a.root_access_key_id.len())
                && a.root_access_key_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric());
            if !key_ok {
                return Err(ConfigError::AccessKey(p, a.root_access_key_id));
            }
            if out.iter().any(|o| o.id == a.id) {
                return Err(ConfigError::DuplicateAccount(p, a.id));
            }
            if out
                .iter()
                .any(|o| o.root_access_key_id == a.root_access_key_id)
            {
                return Err(ConfigError::DuplicateKey(p, a.root_access_key_id));
            }
            let read = |rel: &PathBuf| -> Result<(PathBuf, serde_json::Value), ConfigError> {
                let full = base.join(rel);
                let doc = std::fs::read_to_string(&full)
                    .map_err(|e| ConfigError::Scp(full.clone(), e.to_string()))?;
                let json: serde_json::Value = serde_json::from_str(&doc)
                    .map_err(|e| ConfigError::Scp(full.clone(), e.to_string()))?;
                // A malformed SCP stops the start rather than being ignored.
                crate::policy::Policy::parse(&json)
                    .map_err(|e| ConfigError::Scp(full.clone(), e.to_string()))?;
                Ok((full, json))
            };
            let mut scp_levels = Vec::new();
            for level in a
                .scp_levels
                .iter()
                .chain(Some(&a.scps).filter(|l| !l.is_empty()))
            {
                scp_levels.push(level.iter().map(read).collect::<Result<Vec<_>, _>>()?);
            }
            let read_declarative =
                |rel: &PathBuf| -> Result<(PathBuf, serde_json::Value), ConfigError> {
                    let full = base.join(rel);
                    let doc = std::fs::read_to_string(&full)
                        .map_err(|e| ConfigError::Declarative(full.clone(), e.to_string()))?;
                    let json = serde_json::from_str(&doc)
                        .map_err(|e| ConfigError::Declarative(full.clone(), e.to_string()))?;
                    Ok((full, json))
                };
            let mut declarative_levels = Vec::new();
            for level in a
                .declarative_policy_levels
                .iter()
                .chain(Some(&a.declarative_policies).filter(|l| !l.is_empty()))
            {
                declarative_levels.push(
                    level
                        .iter()
                        .map(read_declarative)
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            out.push(Account {
                id: a.id,
                root_access_key_id: a.root_access_key_id,
                root_secret_access_key: a.root_secret_access_key,
                scp_levels,
                management_account: a.management_account,
                declarative_levels,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn loads_accounts_and_scps_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("imds-iam-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("scp")).unwrap();
        write(
            &dir,
            "scp/deny.json",
            r#"{"Version": "2012-10-17", "Statement": []}"#,
        );
        let f = write(
            &dir,
            "iam.toml",
            "[[accounts]]\nid = \"111122223333\"\nroot_access_key_id = \"AKIAIOSFODNN7EXAMPLE\"\nroot_secret_access_key = \"s\"\nscps = [\"scp/deny.json\"]\n",
        );
        let accounts = IamConfig::load(&f).unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].scp_levels.len(), 1);
        assert_eq!(accounts[0].scp_levels[0].len(), 1);
        let bad = write(&dir, "bad.toml", "[[accounts]]\nid = \"1234\"\nroot_access_key_id = \"AKIAIOSFODNN7EXAMPLE\"\nroot_secret_access_key = \"s\"\n");
        assert!(matches!(
            IamConfig::load(&bad),
            Err(ConfigError::AccountId(..))
        ));
        let missing = write(&dir, "missing.toml", "[[accounts]]\nid = \"111122223333\"\nroot_access_key_id = \"AKIAIOSFODNN7EXAMPLE\"\nroot_secret_access_key = \"s\"\nscps = [\"nope.json\"]\n");
        assert!(matches!(
            IamConfig::load(&missing),
            Err(ConfigError::Scp(..))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
