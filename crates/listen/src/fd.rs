//! File descriptors: the budget the connection caps come from.
//!
//! Each connection costs one descriptor. The rest of the process (the SQLite store and its
//! WAL files, the listeners, the namespaces `imds exec` attaches, the runtime) keeps
//! `RESERVED`; what remains is shared by the services.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors kept for everything but connections.
pub(crate) const RESERVED: u64 = 128;

/// The most connections one service holds whatever the fd limit (memory: hyper's buffers).
pub(crate) const MAX_CONNECTIONS: usize = 10_000;

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force after.
pub fn raise_limit() -> u64 {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::warn!(error = %e, soft, hard, "cannot raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit");
            1024
        }
    }
}

/// The connections each of `services` may hold under an fd limit of `nofile`.
pub fn connection_budget(nofile: u64, services: u64) -> usize {
    let each = nofile.saturating_sub(RESERVED) / services.max(1);
    usize::try_from(each)
        .unwrap_or(usize::MAX)
        .clamp(1, MAX_CONNECTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_the_reserve_and_is_capped() {
        assert_eq!(connection_budget(1024, 2), 448);
        assert_eq!(connection_budget(1 << 20, 2), MAX_CONNECTIONS);
        assert_eq!(connection_budget(10, 2), 1);
    }

    #[test]
    fn raise_reaches_the_hard_limit() {
        let after = raise_limit();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(after, soft);
        assert_eq!(soft, hard);
    }
}
