//! The documents the `iam` registry writes ([`IamStore`]): users, keys, roles, policies and
//! instance profiles, each an opaque document under its key. The registry decides; the store
//! only keeps them.

use crate::Result;
use async_trait::async_trait;

/// An IAM record's key: (account, kind, name).
pub type IamKey = (String, String, String);
/// IAM records by key.
pub type IamRecords = std::collections::BTreeMap<IamKey, String>;

/// How a write of IAM records ended ([`IamStore::write_iam`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamWritten {
    /// Written: the revision it made, where there are revisions.
    At(Option<u64>),
    /// Not written: another process wrote IAM after the revision the records were made from.
    Stale,
}

#[async_trait]
pub trait IamStore: Send + Sync {
    /// Every IAM record: (account, kind, name) → document.
    async fn iam_records(&self) -> Result<IamRecords>;
    /// Write and delete IAM records in one transaction: records made from the registry as
    /// it was at revision `from` ([`IamStore::iam_revision`]). Where another process has
    /// written IAM since, nothing is written ([`IamWritten::Stale`]): each record is a whole
    /// entity, so these would put back what that write changed in them (a policy another
    /// node attached, a user it deleted), which that node had acknowledged.
    async fn write_iam(
        &self,
        puts: IamRecords,
        deletes: Vec<IamKey>,
        from: Option<u64>,
    ) -> Result<IamWritten>;
    /// A number every IAM write changes, where other processes may write IAM too (several
    /// nodes on one PostgreSQL database): a node whose registry was loaded at another
    /// revision loads it again. `None` where this process is the only writer (SQLite).
    async fn iam_revision(&self) -> Result<Option<u64>> {
        Ok(None)
    }
}
