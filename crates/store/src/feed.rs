//! The change feed: an ordered log of what happened to instances, kept in the database so
//! that every metadata host (in this process or another) can follow it and catch up after a
//! restart ([`Feed`]).
//!
//! Each change carries the instance as its write left it, so a follower serves it without
//! reading the instance again. The feed is trimmed: a follower whose cursor is older than
//! [`Feed::oldest_change`] has missed changes and reloads every instance instead.

use crate::Result;
use async_trait::async_trait;
pub use model::change::ChangeKind;
use model::Instance;
use tokio::sync::watch;

#[async_trait]
pub trait Feed: Send + Sync {
    /// Changes with a sequence number above `after`, oldest first, at most `limit`.
    async fn changes_after(&self, after: u64, limit: u32) -> Result<Vec<Change>>;
    /// The sequence number of the oldest change the feed still holds (`None` when it holds
    /// none). A follower that has not seen every change before it reloads from the store.
    async fn oldest_change(&self) -> Result<Option<u64>>;
    /// The latest committed sequence number; changes whenever a write commits.
    fn watch(&self) -> watch::Receiver<u64>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: u64,
    pub instance_id: String,
    pub kind: ChangeKind,
    /// The options generation after the change.
    pub generation: u64,
    pub at_ms: i64,
    /// The instance as this change wrote it; `None` once purged (and in rows written before
    /// changes carried it, which a follower treats as missed changes).
    pub instance: Option<Instance>,
}
