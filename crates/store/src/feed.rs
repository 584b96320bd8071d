//! The change feed: an ordered log of what happened to instances, kept in the database so
//! that every metadata host (in this process or another) can follow it and catch up after a
//! restart ([`Feed`]).
//!
//! Each change is read with what a metadata host keeps of the instance
//! ([`ServedRecord`]) as it is when the change is read (not as the change wrote it: the feed
//! would hold every instance's document again, a million of them, and every write would
//! write its document twice). A follower needs nothing else, so a backend reads the
//! record's compact columns and no document: a modification is read twice by the follower
//! (its change, then the host's acknowledgement), and decoding each instance's document
//! there cost more than the rest of following. A follower that applies the changes in
//! order converges on the store's state: a later change of the same instance reads the same
//! or a newer instance. The feed is trimmed: a follower whose cursor is older than
//! [`Feed::oldest_change`] has missed changes and reloads every instance instead.

use crate::instances::ServedRecord;
use crate::Result;
use async_trait::async_trait;
pub use model::change::ChangeKind;
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
    /// What a metadata host keeps of the instance as it is when the change is read (the
    /// change's write or a later one); `None` once purged.
    pub served: Option<ServedRecord>,
}

/// How much of the feed a backend keeps, by two policies: a count (the last
/// [`Retention::changes`], trimmed every [`Retention::trim_every`]) and an age (an hour of
/// history is plenty for any follower; trimmed at each lifecycle step). Both keep the latest
/// change, so the feed always says where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub changes: u64,
    pub age_ms: i64,
    pub trim_every: std::time::Duration,
}

/// What every backend keeps: a follower further behind reloads its instances from the store
/// instead of replaying the feed (the metadata hosts do so on start anyway).
pub const RETENTION: Retention = Retention {
    changes: 1_000_000,
    age_ms: 3_600_000,
    trim_every: std::time::Duration::from_secs(30),
};

/// The changes a trim removes: those numbered below `below_seq` and written before
/// `before_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub below_seq: u64,
    pub before_ms: i64,
}

impl Trim {
    pub fn removes(&self, seq: u64, at_ms: i64) -> bool {
        seq < self.below_seq && at_ms < self.before_ms
    }
}

impl Retention {
    /// The trim by count, given the latest change (`None`: an empty feed, nothing to trim):
    /// every change but the last [`Retention::changes`], whatever its age.
    pub fn by_count(&self, latest: Option<u64>) -> Option<Trim> {
        latest.map(|latest| Trim {
            below_seq: (latest + 1).saturating_sub(self.changes),
            before_ms: i64::MAX,
        })
    }

    /// The trim by age at `now_ms`, given the latest change: every change older than
    /// [`Retention::age_ms`] but the latest.
    pub fn by_age(&self, latest: Option<u64>, now_ms: i64) -> Option<Trim> {
        latest.map(|latest| Trim {
            below_seq: latest,
            before_ms: now_ms - self.age_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Retention = Retention {
        changes: 3,
        age_ms: 100,
        trim_every: std::time::Duration::from_secs(1),
    };

    fn kept(trim: Option<Trim>, feed: &[(u64, i64)]) -> Vec<u64> {
        feed.iter()
            .filter(|(seq, at)| !trim.is_some_and(|t| t.removes(*seq, *at)))
            .map(|(seq, _)| *seq)
            .collect()
    }

    #[test]
    fn by_count_keeps_the_last_changes_whatever_their_age() {
        let feed: Vec<(u64, i64)> = (1..=5).map(|s| (s, 0)).collect();
        assert_eq!(kept(R.by_count(Some(5)), &feed), vec![3, 4, 5]);
        assert_eq!(kept(R.by_count(Some(3)), &feed[..3]), vec![1, 2, 3]);
        assert_eq!(kept(R.by_count(Some(1)), &feed[..1]), vec![1]);
        assert_eq!(R.by_count(None), None, "an empty feed has nothing to trim");
        assert_eq!(RETENTION.by_count(Some(1_000_000)).unwrap().below_seq, 1);
    }

    #[test]
    fn by_age_keeps_recent_changes_and_always_the_latest() {
        let feed = [(1, 0), (2, 50), (3, 120), (4, 130)];
        assert_eq!(kept(R.by_age(Some(4), 200), &feed), vec![3, 4]);
        assert_eq!(kept(R.by_age(Some(4), 150), &feed), vec![2, 3, 4]);
        assert_eq!(
            kept(R.by_age(Some(4), 10_000), &feed),
            vec![4],
            "the latest stays, however old"
        );
        assert_eq!(R.by_age(None, 10_000), None);
    }
}
