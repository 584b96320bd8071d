//! The writer's round trips to SQLite, counted.
//!
//! Every statement (or group of statements sent together) the writer sends waits for
//! sqlx's connection thread to answer, about 50 µs each under load: past the fsync, those
//! waits are what a write costs. Tests hold the writes of many instances to a few of them
//! ([`crate::sqlite::SqliteStore::write_round_trips`]); every send in [`super`] counts
//! itself with [`trip`].

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

thread_local! {
    /// The counter of the store whose writer runs on this thread (each store's writer has a
    /// thread of its own).
    static TRIPS: RefCell<Option<Arc<AtomicU64>>> = const { RefCell::new(None) };
}

/// Count this thread's round trips into `counter` (called once, by the writer's thread).
pub(in crate::sqlite) fn count_into(counter: Arc<AtomicU64>) {
    TRIPS.with(|t| *t.borrow_mut() = Some(counter));
}

/// One round trip is about to be made.
pub(super) fn trip() {
    TRIPS.with(|t| {
        if let Some(c) = &*t.borrow() {
            c.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// `conn`, for one round trip: counts it (`query.execute(counted(conn))`).
pub(super) fn counted(conn: &mut sqlx::SqliteConnection) -> &mut sqlx::SqliteConnection {
    trip();
    conn
}
