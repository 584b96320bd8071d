//! The change feed: an ordered log of what happened to instances, kept in the database so
//! that every metadata host (in this process or another) can follow it and catch up after a
//! restart.
//!
//! Each change carries the instance as its write left it, so a follower serves it without
//! reading the instance again. The feed is trimmed: a follower whose cursor is older than
//! [`crate::Store::oldest_change`] has missed changes and reloads every instance instead.

pub use model::change::ChangeKind;
use model::Instance;

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
