//! The change feed: an ordered log of what happened to instances, kept in the database so
//! that every metadata host (in this process or another) can follow it and catch up after a
//! restart.

pub use model::change::ChangeKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: u64,
    pub instance_id: String,
    pub kind: ChangeKind,
    /// The options generation after the change.
    pub generation: u64,
    pub at_ms: i64,
}
