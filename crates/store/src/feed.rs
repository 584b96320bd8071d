//! The change feed: an ordered log of what happened to instances, kept in the database so
//! that every metadata host (in this process or another) can follow it and catch up after a
//! restart.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The instance was launched (its options have generation 1).
    Launched,
    /// The desired metadata options changed (a new generation).
    OptionsChanged,
    /// The instance reached `running` (pending options can now be applied).
    Started,
    /// The instance stopped, or started shutting down.
    Stopped,
    /// Any other change of lifecycle state (pending after a start, stopped, terminated, …).
    StateChanged,
    /// The options' generation was applied by the serving metadata host.
    Applied,
    /// Tags changed (the metadata service exposes them when tags in metadata are on).
    TagsChanged,
    /// The instance's IAM instance profile association changed (made, replaced, removed, or
    /// settled by the metadata host).
    ProfileChanged,
    /// The instance is gone from the store.
    Purged,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Launched => "launched",
            ChangeKind::OptionsChanged => "options-changed",
            ChangeKind::Started => "started",
            ChangeKind::Stopped => "stopped",
            ChangeKind::StateChanged => "state-changed",
            ChangeKind::Applied => "applied",
            ChangeKind::TagsChanged => "tags-changed",
            ChangeKind::ProfileChanged => "profile-changed",
            ChangeKind::Purged => "purged",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "launched" => ChangeKind::Launched,
            "options-changed" => ChangeKind::OptionsChanged,
            "started" => ChangeKind::Started,
            "stopped" => ChangeKind::Stopped,
            "state-changed" => ChangeKind::StateChanged,
            "applied" => ChangeKind::Applied,
            "tags-changed" => ChangeKind::TagsChanged,
            "profile-changed" => ChangeKind::ProfileChanged,
            "purged" => ChangeKind::Purged,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: u64,
    pub instance_id: String,
    pub kind: ChangeKind,
    /// The options generation after the change.
    pub generation: u64,
    pub at_ms: i64,
}
