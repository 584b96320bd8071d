//! The documents the `iam` registry writes ([`IamStore`]): users, keys, roles, policies and
//! instance profiles, each an opaque document under its key. The registry decides; the store
//! only keeps them.

use crate::Result;
use async_trait::async_trait;

/// An IAM record's key: (account, kind, name).
pub type IamKey = (String, String, String);
/// IAM records by key.
pub type IamRecords = std::collections::BTreeMap<IamKey, String>;

#[async_trait]
pub trait IamStore: Send + Sync {
    /// Every IAM record: (account, kind, name) → document.
    async fn iam_records(&self) -> Result<IamRecords>;
    /// Write and delete IAM records in one transaction.
    async fn write_iam(&self, puts: IamRecords, deletes: Vec<IamKey>) -> Result<()>;
    /// A number every IAM write changes, where other processes may write IAM too (several
    /// nodes on one PostgreSQL database): a node whose registry was loaded at another
    /// revision loads it again. `None` where this process is the only writer (SQLite).
    async fn iam_revision(&self) -> Result<Option<u64>> {
        Ok(None)
    }
}
