//! The single writer: group commit of queued writes, and the translation of each write into
//! rows, one module per concern of the store.
//!
//! Each [`Job`] runs inside the batch's transaction in its own savepoint, so a write that the
//! model refuses is rolled back alone while the others in the batch commit. Callers are
//! answered after the one `COMMIT` (and its fsync) that covers the whole batch.
//!
//! The jobs read rows, hand them to the model or to a policy of the store's core (the
//! addresses a launch takes, the feed's retention, the lifecycle's next step), and write the
//! rows that result: nothing here decides.
//! - [`instances`]: launches, instance writes and their feed entries, the lifecycle.
//! - [`defaults`], [`images`], [`templates`], [`network`], [`iam`]: the other records.
//! - [`documents`]: the rows of documents kept per scope by id, and of tags.
//! - [`rows`]: multi-row INSERTs, so that a launch of many instances runs few statements.

pub(super) mod defaults;
mod documents;
pub(super) mod iam;
pub(super) mod images;
pub(super) mod instances;
pub(super) mod network;
mod rows;
pub(super) mod templates;

use super::reads;
use crate::feed::{Trim, RETENTION};
use crate::{Result, StoreError};
use sqlx::{Connection, SqliteConnection};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot, watch};

/// Writes committed together at most (bounds the latency of the first one).
const MAX_BATCH: usize = 512;

pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Called once the commit's fate is known (`Some(error)` when it failed).
type Finish = Box<dyn FnOnce(Option<String>) + Send>;

/// A write: runs in the transaction, says whether it succeeded, and how to answer.
pub type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection, i64) -> BoxFut<'c, (bool, Finish)> + Send>;

pub enum Msg {
    Job(Job),
    Close(oneshot::Sender<()>),
}

fn job<T, F>(reply: oneshot::Sender<Result<T>>, f: F) -> Job
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection, i64) -> BoxFut<'c, Result<T>> + Send + 'static,
{
    Box::new(move |conn, now| {
        Box::pin(async move {
            let r = f(conn, now).await;
            let ok = r.is_ok();
            let finish: Finish = Box::new(move |commit_error| {
                let answer = match (r, commit_error) {
                    (Ok(_), Some(e)) => Err(StoreError::Db(sqlx::Error::Protocol(e))),
                    (r, _) => r,
                };
                let _ = reply.send(answer);
            });
            (ok, finish)
        })
    })
}

pub async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Msg>, seq: watch::Sender<u64>) {
    let mut closing = None;
    let mut trimmed = std::time::Instant::now();
    while closing.is_none() {
        let Some(first) = rx.recv().await else { break };
        let mut batch = Vec::new();
        match first {
            Msg::Job(j) => batch.push(j),
            Msg::Close(tx) => closing = Some(tx),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(j)) => batch.push(j),
                Ok(Msg::Close(tx)) => closing = Some(tx),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            run_batch(&mut conn, batch, &seq).await;
        }
        if trimmed.elapsed() >= RETENTION.trim_every {
            trimmed = std::time::Instant::now();
            let trim = trim_feed(&mut conn, |latest| RETENTION.by_count(latest));
            if let Err(e) = trim.await {
                tracing::warn!(error = %e, "cannot trim the change feed");
            }
        }
    }
    rx.close();
    // A clean stop leaves everything in the main file (and an empty WAL), so that the file
    // alone is the store: what a backup copies and what the integrity check at start reads.
    if let Err(e) = exec(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)").await {
        tracing::warn!(error = %e, "cannot checkpoint the store at close");
    }
    let _ = conn.close().await;
    if let Some(tx) = closing {
        let _ = tx.send(());
    }
}

/// One statement, or several sent together (`;`-separated), without parameters.
fn exec<'a>(conn: &'a mut SqliteConnection, sql: &'a str) -> BoxFut<'a, sqlx::Result<()>> {
    Box::pin(async move { sqlx::query(sql).execute(&mut *conn).await.map(|_| ()) })
}

fn run_batch<'a>(
    conn: &'a mut SqliteConnection,
    batch: Vec<Job>,
    seq: &'a watch::Sender<u64>,
) -> BoxFut<'a, ()> {
    Box::pin(run_batch_inner(conn, batch, seq))
}

async fn run_batch_inner(conn: &mut SqliteConnection, batch: Vec<Job>, seq: &watch::Sender<u64>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        tracing::error!(error = %e, "cannot begin a write transaction");
        return; // dropping the jobs answers their callers with `Closed`
    }
    let now = model::time::now_ms();
    let mut finishes = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    // Each job runs in its own savepoint; the end of one and the start of the next go to
    // SQLite together (one round trip between jobs, not two).
    let mut boundary = "SAVEPOINT job";
    for j in batch {
        if let Err(e) = exec(conn, boundary).await {
            broken = Some(e.to_string());
            break;
        }
        let (ok, finish) = j(conn, now).await;
        finishes.push(finish);
        boundary = if ok {
            "RELEASE job; SAVEPOINT job"
        } else {
            "ROLLBACK TO job; RELEASE job; SAVEPOINT job"
        };
    }
    if broken.is_none() && !finishes.is_empty() {
        let last = boundary.trim_end_matches("; SAVEPOINT job");
        if let Err(e) = exec(conn, last).await {
            broken = Some(e.to_string());
        }
    }
    let outcome = match broken {
        Some(e) => Err(e),
        None => exec(conn, "COMMIT").await.map_err(|e| e.to_string()),
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "write batch failed; rolled back");
        let _ = exec(conn, "ROLLBACK").await;
    }
    let err = outcome.err();
    if err.is_none() {
        let latest: BoxFut<'_, Result<u64>> = Box::pin(reads::latest_seq(conn));
        if let Ok(latest) = latest.await {
            seq.send_if_modified(|s| {
                let changed = *s != latest;
                *s = latest;
                changed
            });
        }
    }
    for f in finishes {
        f(err.clone());
    }
}

/// Trim the feed as `policy` decides, given its latest change.
fn trim_feed<'a>(
    conn: &'a mut SqliteConnection,
    policy: impl FnOnce(Option<u64>) -> Option<Trim> + Send + 'a,
) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let Some(trim) = policy(reads::newest_change(conn).await?) else {
            return Ok(());
        };
        sqlx::query("DELETE FROM changes WHERE seq < ? AND at_ms < ?")
            .bind(trim.below_seq as i64)
            .bind(trim.before_ms)
            .execute(&mut *conn)
            .await?;
        Ok(())
    })
}
