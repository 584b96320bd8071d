//! [`PgStore`]: the store's traits on PostgreSQL, one module per concern (`instances`,
//! `records`, `network`, `tags`, `documents`), over one pool.
//!
//! Writes take the store's write lock first ([`PgStore::begin_write`]: a transaction-scoped
//! advisory lock), so that one write runs at a time across every node, as the SQLite
//! backend's one writer does. The mutations the traits hand over are `FnOnce`, run inside
//! the write on what it read; under the lock, at `READ COMMITTED`, no other imds write can
//! make PostgreSQL roll a write back (no serialization failure, no deadlock), so a mutation
//! never has to run twice. Reads take no lock. Documents are `jsonb`, written from and read
//! back as JSON text ([`encode`], [`decode`]).

use super::feed::{self, Wakeup};
use super::updates::{self, Update, Work};
use super::{MigrateError, PgDatabase};
use crate::{Result, StoreError};
use sqlx::{PgPool, Postgres, Transaction};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;

/// `pg_advisory_xact_lock`'s key for writes ("imds", then 3).
pub const WRITE_LOCK: i64 = 0x696d_6473_0000_0003;

/// How often a node looks at the feed's position when no notification comes.
const POLL: Duration = Duration::from_millis(500);

pub struct PgStore {
    db: PgDatabase,
    /// The feed's newest committed position, as this node knows it (`Feed::watch`).
    position: Arc<watch::Sender<u64>>,
    latest: watch::Receiver<u64>,
    watcher: Mutex<Option<JoinHandle<()>>>,
    /// Rows DescribeInstances pages have read (see [`PgStore::rows_read`]).
    rows_read: AtomicU64,
    /// Instance updates, run in groups (`updates`).
    updates: mpsc::Sender<Update>,
    updater: Mutex<Option<JoinHandle<()>>>,
    update_groups: Arc<AtomicU64>,
}

impl PgStore {
    /// Connect to `url`, bring the schema current, and follow the feed's position.
    pub async fn open(url: &str) -> std::result::Result<PgStore, MigrateError> {
        let db = PgDatabase::open(url).await?;
        let (position, latest) = watch::channel(feed::newest(db.pool()).await?);
        let position = Arc::new(position);
        let watcher = feed::watch(
            db.pool().clone(),
            Wakeup {
                listen: true,
                poll: POLL,
            },
            position.clone(),
        );
        let updates = updates::spawn(db.pool().clone(), position.clone());
        Ok(PgStore {
            db,
            position,
            latest,
            watcher: Mutex::new(Some(watcher)),
            rows_read: AtomicU64::new(0),
            updates: updates.queue,
            updater: Mutex::new(Some(updates.task)),
            update_groups: updates.groups,
        })
    }

    pub fn pool(&self) -> &PgPool {
        self.db.pool()
    }

    /// What the open's migration found and did.
    pub fn migrated(&self) -> super::Migrated {
        self.db.migrated()
    }

    /// The rows DescribeInstances pages have read from the database since the store opened
    /// (candidates, documents, and those read to choose a page's driver): what the tests
    /// hold a page's cost to, as `SqliteStore::rows_read`.
    pub fn rows_read(&self) -> u64 {
        self.rows_read.load(Ordering::Relaxed)
    }

    pub(super) fn rows_read_counter(&self) -> &AtomicU64 {
        &self.rows_read
    }

    /// The groups of instance updates committed since the store opened (`updates`): what
    /// the tests hold the grouping to.
    pub fn update_groups(&self) -> u64 {
        self.update_groups.load(Ordering::Relaxed)
    }

    /// Queue an update for the next group, and wait for its answer.
    pub(super) async fn update(
        &self,
        work: Work,
    ) -> Result<Vec<(model::Instance, model::Instance)>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.updates
            .send(Update { work, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Whether this open made the store's tables (a new store: the caller creates the first
    /// instance). Of nodes starting together on a new database, one says so.
    pub fn created(&self) -> bool {
        self.db.migrated().from == 0
    }

    pub(super) fn latest(&self) -> watch::Receiver<u64> {
        self.latest.clone()
    }

    /// A write's transaction, once it holds the store's write lock (until it commits or
    /// rolls back), at `READ COMMITTED` whatever the server's default: under `REPEATABLE
    /// READ` or `SERIALIZABLE` its snapshot would be taken before it waited for the lock, and
    /// PostgreSQL would roll it back (`40001`) for a write committed meanwhile; at `READ
    /// COMMITTED` each statement sees every write committed before it, and under the lock
    /// no other write runs, so no write is ever rolled back for another's sake (nor could
    /// one be run again: the traits' mutations are `FnOnce`).
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        begin_write(self.pool()).await
    }

    /// A write committed the changes numbered `seqs`: the feed's position moves to them
    /// before the write returns, as a write on SQLite moves it (other nodes' later
    /// commits arrive through the watcher).
    pub(super) fn committed(&self, seqs: &[u64]) {
        committed(&self.position, seqs);
    }

    /// Stop following the feed and close the pool.
    pub(super) async fn shut(&self) {
        if let Some(u) = self.updater.lock().await.take() {
            u.abort();
            let _ = u.await;
        }
        self.db.close().await;
        if let Some(w) = self.watcher.lock().await.take() {
            w.abort();
            let _ = w.await;
        }
    }
}

/// A write's transaction on `pool`, once it holds the write lock ([`PgStore::begin_write`]).
pub(super) async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>> {
    Ok(super::schema::begin_locked(pool, WRITE_LOCK).await?)
}

/// The feed's `position` moves to the newest of `seqs` ([`PgStore::committed`]).
pub(super) fn committed(position: &watch::Sender<u64>, seqs: &[u64]) {
    if let Some(newest) = seqs.iter().max() {
        feed::advance_to(position, *newest);
    }
}

/// A record as the JSON text a `jsonb` column is written from (`$n::jsonb`).
pub(super) fn encode<T: serde::Serialize>(record: &T) -> Result<String> {
    Ok(serde_json::to_string(record)?)
}

/// A record from the JSON text of a `jsonb` column (read as `doc::text`).
pub(super) fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(StoreError::Corrupt)
}
