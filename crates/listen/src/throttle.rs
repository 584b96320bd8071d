//! A warning that cannot flood the log: a loop that fails thousands of times a second (fd
//! exhaustion) says so once per period, with the count of what it held back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A warning logged at most once per `period`.
#[derive(Debug)]
pub struct Throttled {
    period: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    last: Option<Instant>,
    held_back: u64,
}

impl Throttled {
    pub const fn new(period: Duration) -> Self {
        Throttled {
            period,
            state: Mutex::new(State {
                last: None,
                held_back: 0,
            }),
        }
    }

    /// Log `what` (with `error`) unless it was logged less than a period ago; returns
    /// whether it was logged.
    pub fn warn(&self, what: &str, error: &dyn std::fmt::Display) -> bool {
        let held_back = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if s.last.is_some_and(|t| now.duration_since(t) < self.period) {
                s.held_back += 1;
                return false;
            }
            s.last = Some(now);
            std::mem::take(&mut s.held_back)
        };
        tracing::warn!(%error, more_since_last = held_back, "{what}");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_once_per_period() {
        let t = Throttled::new(Duration::from_secs(60));
        assert!(t.warn("x", &"e"));
        assert!(!t.warn("x", &"e"));
        assert!(!t.warn("x", &"e"));
        let t = Throttled::new(Duration::ZERO);
        assert!(t.warn("x", &"e"));
        assert!(t.warn("x", &"e"));
    }
}
