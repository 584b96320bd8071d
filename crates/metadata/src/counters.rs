//! Per-instance counters, as EC2's CloudWatch metrics count them: `MetadataNoToken`
//! (successful IMDSv1 accesses) and `MetadataNoTokenRejected` (IMDSv1 accesses refused because
//! tokens are required), plus all requests and tokens issued.
//!
//! Besides the totals, each instance keeps what it counted per UTC minute ([`Minute`]), from
//! which the CloudWatch API derives the two metrics' samples (`model::metrics`, spec wave2.md
//! §1.5).

/// What [`crate::Host::metric_minutes`] gives per instance (the domain's type: the CloudWatch
/// API reads it without depending on this crate).
pub use model::metrics::InstanceMinutes;
use model::metrics::Minute;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// How many active minutes (minutes with at least one request) an instance keeps: 24 hours of
/// them. AWS keeps 1-minute data 15 days (spec wave2.md §1.9); imds keeps less so that the
/// memory of an instance stays bounded (about 1,440 × 32 bytes) however long it is called.
/// The oldest minute is dropped first.
pub const KEPT_MINUTES: usize = 1440;

const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub no_token: AtomicU64,
    pub no_token_rejected: AtomicU64,
    pub tokens_issued: AtomicU64,
    /// The recent active minutes, ascending, at most [`KEPT_MINUTES`].
    minutes: Mutex<VecDeque<Minute>>,
    /// The calls attributed to their process (inside `imds exec`'s namespaces).
    pub calls: crate::callers::CallLog,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub requests: u64,
    pub no_token: u64,
    pub no_token_rejected: u64,
    pub tokens_issued: u64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A request at `now_ms` (every request, whatever its answer).
    pub(crate) fn request(&self, now_ms: i64) {
        Counters::bump(&self.requests);
        self.in_minute(now_ms, |m| m.requests += 1);
    }

    /// A tokenless request answered 200 at `now_ms` (`MetadataNoToken`).
    pub(crate) fn no_token(&self, now_ms: i64) {
        Counters::bump(&self.no_token);
        self.in_minute(now_ms, |m| m.no_token += 1);
    }

    /// A tokenless request refused at `now_ms` because tokens are required
    /// (`MetadataNoTokenRejected`).
    pub(crate) fn no_token_rejected(&self, now_ms: i64) {
        Counters::bump(&self.no_token_rejected);
        self.in_minute(now_ms, |m| m.no_token_rejected += 1);
    }

    /// Count into the minute of `now_ms`. Usually the newest, but a request that read the
    /// clock just before a minute's end may get here after one of the next minute: its minute
    /// is then found (or put) in order.
    fn in_minute(&self, now_ms: i64, count: impl FnOnce(&mut Minute)) {
        let start_ms = now_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let mut minutes = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        let at = minutes
            .iter()
            .rposition(|m| m.start_ms <= start_ms)
            .map_or(0, |i| i + 1);
        let i = match at.checked_sub(1) {
            Some(i) if minutes[i].start_ms == start_ms => i,
            _ => {
                minutes.insert(
                    at,
                    Minute {
                        start_ms,
                        ..Minute::default()
                    },
                );
                at
            }
        };
        count(&mut minutes[i]);
        while minutes.len() > KEPT_MINUTES {
            minutes.pop_front();
        }
    }

    /// The recent active minutes, ascending.
    pub fn minutes(&self) -> Vec<Minute> {
        let minutes = self.minutes.lock().unwrap_or_else(|e| e.into_inner());
        minutes.iter().copied().collect()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            requests: self.requests.load(Ordering::Relaxed),
            no_token: self.no_token.load(Ordering::Relaxed),
            no_token_rejected: self.no_token_rejected.load(Ordering::Relaxed),
            tokens_issued: self.tokens_issued.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-15T11:00:00Z.
    const T11: i64 = 1_768_474_800_000;

    #[test]
    fn minutes_are_counted_per_utc_minute_in_order() {
        let c = Counters::default();
        c.request(T11);
        c.no_token(T11 + 59_999);
        c.request(T11 + 60_000);
        c.no_token_rejected(T11 + 61_000);
        // Late for its minute, after the next one's: counted in its own.
        c.request(T11 + 30_000);
        // A minute without calls in between is not kept.
        c.request(T11 + 180_000);
        let m = |start_ms, requests, no_token, no_token_rejected| Minute {
            start_ms,
            requests,
            no_token,
            no_token_rejected,
        };
        assert_eq!(
            c.minutes(),
            vec![
                m(T11, 2, 1, 0),
                m(T11 + 60_000, 1, 0, 1),
                m(T11 + 180_000, 1, 0, 0),
            ]
        );
        let s = c.snapshot();
        assert_eq!(
            (s.requests, s.no_token, s.no_token_rejected),
            (4, 1, 1),
            "the totals count alike"
        );
        // Before the epoch, the minute is still floored.
        let c = Counters::default();
        c.request(-1);
        assert_eq!(c.minutes()[0].start_ms, -60_000);
    }

    #[test]
    fn at_most_kept_minutes_the_oldest_dropped() {
        let c = Counters::default();
        let n = KEPT_MINUTES as i64 + 10;
        for i in 0..n {
            c.request(T11 + i * MINUTE_MS + 5);
        }
        let minutes = c.minutes();
        assert_eq!(minutes.len(), KEPT_MINUTES);
        assert_eq!(minutes[0].start_ms, T11 + 10 * MINUTE_MS);
        assert_eq!(minutes.last().unwrap().start_ms, T11 + (n - 1) * MINUTE_MS);
        assert!(minutes.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
        // A call older than every minute kept, when full, is not kept.
        c.request(T11);
        assert_eq!(c.minutes(), minutes);
    }
}
