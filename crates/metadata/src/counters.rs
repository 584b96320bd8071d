//! Per-instance counters, as EC2's CloudWatch metrics count them: `MetadataNoToken`
//! (successful IMDSv1 accesses) and `MetadataNoTokenRejected` (IMDSv1 accesses refused because
//! tokens are required), plus all requests and tokens issued.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub no_token: AtomicU64,
    pub no_token_rejected: AtomicU64,
    pub tokens_issued: AtomicU64,
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

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            requests: self.requests.load(Ordering::Relaxed),
            no_token: self.no_token.load(Ordering::Relaxed),
            no_token_rejected: self.no_token_rejected.load(Ordering::Relaxed),
            tokens_issued: self.tokens_issued.load(Ordering::Relaxed),
        }
    }
}
