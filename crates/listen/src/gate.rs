//! The connections of one service: capped, the oldest idle one shed to make room.

use crate::throttle::Throttled;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What one service allows its callers.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections held at once (all listeners of the service together).
    pub max_connections: usize,
    /// A new connection must deliver a whole request head within this; so must a
    /// keep-alive connection once the next request has begun.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request begun is closed after this.
    pub idle_timeout: Duration,
    /// A request body must arrive whole within this of its head (`None`: no limit; the
    /// metadata service reads no body).
    pub body_timeout: Option<Duration>,
    /// Request headers at most (more: `431`).
    pub max_headers: usize,
    /// Bytes of the request line and headers at most (more: `431`).
    pub max_header_bytes: usize,
    /// On shutdown, requests in flight get this long to finish.
    pub drain_timeout: Duration,
}

/// How often a warning of one kind may be logged.
const WARN_PERIOD: Duration = Duration::from_secs(5);

/// The live connections of one service.
#[derive(Debug)]
pub struct Gate {
    name: &'static str,
    pub(crate) limits: Limits,
    epoch: Instant,
    next: AtomicU64,
    live: Mutex<BTreeMap<u64, Arc<Activity>>>,
    pub(crate) refused: Throttled,
    pub(crate) accept_failed: Throttled,
}

impl Gate {
    pub fn new(name: &'static str, limits: Limits) -> Arc<Self> {
        Arc::new(Gate {
            name,
            limits,
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            live: Mutex::new(BTreeMap::new()),
            refused: Throttled::new(WARN_PERIOD),
            accept_failed: Throttled::new(WARN_PERIOD),
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Connections held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Activity>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Room for one more connection: at the cap the oldest idle one is shed; `None` when
    /// every connection is busy (the new one is refused).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut live = self.lock();
        if live.len() >= self.limits.max_connections && !shed_oldest_idle(&mut live) {
            return None;
        }
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new(self.epoch));
        live.insert(seq, activity.clone());
        Some(Admitted {
            gate: self.clone(),
            seq,
            activity,
        })
    }

    /// Shed the oldest idle connection (when descriptors run out); returns whether one was.
    pub(crate) fn shed_one(&self) -> bool {
        shed_oldest_idle(&mut self.lock())
    }
}

fn shed_oldest_idle(live: &mut BTreeMap<u64, Arc<Activity>>) -> bool {
    let Some(seq) = live
        .iter()
        .find(|(_, a)| a.in_flight.load(Ordering::Acquire) == 0)
        .map(|(seq, _)| *seq)
    else {
        return false;
    };
    if let Some(a) = live.remove(&seq) {
        a.shed.store(true, Ordering::Release);
        a.nudge.notify_one();
    }
    true
}

/// A connection's place in its gate, given up when dropped.
pub(crate) struct Admitted {
    gate: Arc<Gate>,
    seq: u64,
    pub(crate) activity: Arc<Activity>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.gate.lock().remove(&self.seq);
    }
}

/// What a connection is doing, for the timeouts and for shedding. Times are milliseconds
/// since the gate's epoch.
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    /// Requests handed to the service whose reply is not written yet.
    in_flight: AtomicU32,
    /// A reply has been written (idle now means kept alive, not new).
    answered: AtomicBool,
    /// When the connection last became idle (accepted, or a reply written).
    idle_since: AtomicU64,
    /// When the first byte after `idle_since` was read, plus one (0: none yet).
    first_byte: AtomicU64,
    /// Shed by the gate: close if idle.
    pub(crate) shed: AtomicBool,
    /// Wakes the connection's task to look again (shed, or a reply written).
    pub(crate) nudge: Notify,
}

impl Activity {
    fn new(epoch: Instant) -> Self {
        Activity {
            epoch,
            in_flight: AtomicU32::new(0),
            answered: AtomicBool::new(false),
            idle_since: AtomicU64::new(ms_since(epoch)),
            first_byte: AtomicU64::new(0),
            shed: AtomicBool::new(false),
            nudge: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        ms_since(self.epoch)
    }

    fn at(&self, ms: u64) -> tokio::time::Instant {
        (self.epoch + Duration::from_millis(ms)).into()
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Bytes arrived (called on every read that returned some).
    pub(crate) fn read_some(&self) {
        if self.first_byte.load(Ordering::Relaxed) == 0 {
            let _ = self.first_byte.compare_exchange(
                0,
                self.now() + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// A request was handed to the service; idle again when the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// When an idle connection is to be closed (`None` while a request is in flight).
    pub(crate) fn deadline(&self, limits: &Limits) -> Option<tokio::time::Instant> {
        if !self.is_idle() {
            return None;
        }
        let idle_since = self.idle_since.load(Ordering::Acquire);
        let first_byte = self.first_byte.load(Ordering::Relaxed);
        let header = limits.header_read_timeout.as_millis() as u64;
        let ms = if !self.answered.load(Ordering::Acquire) {
            idle_since + header
        } else if first_byte != 0 {
            first_byte - 1 + header
        } else {
            idle_since + limits.idle_timeout.as_millis() as u64
        };
        Some(self.at(ms))
    }
}

fn ms_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}

/// A request in flight on its connection; its reply is written when this drops.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since.store(a.now(), Ordering::Release);
        a.first_byte.store(0, Ordering::Relaxed);
        a.answered.store(true, Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
        a.nudge.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> Limits {
        Limits {
            max_connections: max,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: None,
            max_headers: 100,
            max_header_bytes: 16 << 10,
            drain_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn at_the_cap_the_oldest_idle_is_shed_and_busy_ones_are_kept() {
        let gate = Gate::new("test", limits(2));
        let a = gate.admit().unwrap();
        let b = gate.admit().unwrap();
        let _busy = a.activity.begin();
        // a is busy: b (idle) is shed for c.
        let c = gate.admit().unwrap();
        assert!(!a.activity.shed.load(Ordering::Acquire));
        assert!(b.activity.shed.load(Ordering::Acquire));
        assert_eq!(gate.len(), 2);
        let _busy_c = c.activity.begin();
        // Everything busy: refused.
        assert!(gate.admit().is_none());
        drop(_busy);
        assert!(gate.admit().is_some());
        assert!(a.activity.shed.load(Ordering::Acquire));
    }

    #[test]
    fn deadlines_follow_the_phase() {
        let l = limits(1);
        let a = Arc::new(Activity::new(Instant::now()));
        let t0 = a.at(a.idle_since.load(Ordering::Relaxed));
        // New: the header-read timeout from accept, bytes or not.
        assert_eq!(a.deadline(&l), Some(t0 + l.header_read_timeout));
        a.read_some();
        assert_eq!(a.deadline(&l), Some(t0 + l.header_read_timeout));
        let busy = a.begin();
        assert_eq!(a.deadline(&l), None);
        drop(busy);
        // Kept alive: the idle timeout, then the header-read timeout once bytes come.
        let t1 = a.at(a.idle_since.load(Ordering::Relaxed));
        assert_eq!(a.deadline(&l), Some(t1 + l.idle_timeout));
        a.read_some();
        let d = a.deadline(&l).unwrap();
        assert!(d >= t1 + l.header_read_timeout && d < t1 + l.idle_timeout);
    }
}
