//! The single writer: group commit of queued writes, and the translation of each write into
//! rows, one module per concern of the store.
//!
//! Each [`Job`] runs inside the batch's transaction in its own savepoint, so a write that
//! fails is rolled back alone while the others in the batch commit; or, when only SQLite can
//! fail it (a group of updates the model decided, acknowledgements), in none, and its failure
//! undoes the transaction ([`lead`]). Callers are answered after the one `COMMIT` (and its
//! fsync) that covers the whole batch.
//!
//! The jobs read rows, hand them to the model or to a policy of the store's core (the
//! addresses a launch takes, the feed's retention, the lifecycle's next step), and write the
//! rows that result: nothing here decides.
//! - [`instances`]: launches, instance writes and their feed entries, acknowledgements.
//! - [`lifecycle`]: the transitions that fall due, on the instances' columns, and the purge.
//! - [`events`]: instance event steps that fall due, written as the model's writes are.
//! - [`defaults`], [`images`], [`templates`], [`network`], [`iam`]: the other records.
//! - [`documents`]: the rows of documents kept per scope by id, and of tags.
//! - [`service_docs`]: other services' documents (`crate::documents`).
//! - [`rows`]: multi-row INSERTs, so that a launch of many instances runs few statements.
//! - [`trips`]: the writer's round trips to SQLite, counted for the tests.
//! - [`lead`]: the statements between jobs, sent with the next job's first round trip.
//!
//! Updates of instances queued one after another (ModifyInstanceMetadataOptions from many
//! clients) run as one group ([`instances::run_updates`]): one read of all the instances
//! they name, one send of all their writes, no savepoint.

pub(super) mod defaults;
mod documents;
pub(super) mod events;
pub(super) mod iam;
pub(super) mod images;
pub(super) mod instances;
mod lead;
pub(super) mod lifecycle;
pub(super) mod network;
mod rows;
pub(super) mod service_docs;
pub(super) mod templates;
pub(super) mod trips;

use super::checkpoint::{self, Checkpoints};
use super::reads;
use crate::feed::{Trim, RETENTION};
use crate::{Result, StoreError};
use lead::{Ended, Lead, Next, Owed, Savepoint};
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
pub type Write =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection, i64) -> BoxFut<'c, (bool, Finish)> + Send>;

/// What the writer is asked to do: a write of its own, or an update of instances, which
/// runs with the updates queued next to it.
pub enum Job {
    Write(Write),
    Led(Savepoint, Led),
    Update(instances::Update),
}

/// A write that sends the writer's [`Lead`] in front of its first statement (see [`lead`]).
pub type Led = Box<
    dyn for<'c> FnOnce(&'c mut SqliteConnection, i64, Lead) -> BoxFut<'c, (Ended, Vec<Finish>)>
        + Send,
>;

/// A [`Job::Led`] answering `reply`, in `savepoint`: `f` returns its result and how it
/// ended.
fn led<T, F>(savepoint: Savepoint, reply: oneshot::Sender<Result<T>>, f: F) -> Job
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection, i64, Lead) -> BoxFut<'c, (Result<T>, Ended)>
        + Send
        + 'static,
{
    Job::Led(
        savepoint,
        Box::new(move |conn, now, lead| {
            Box::pin(async move {
                let (r, ended) = f(conn, now, lead).await;
                (ended, vec![answer(reply, r)])
            })
        }),
    )
}

pub enum Msg {
    Job(Job),
    Close(oneshot::Sender<()>),
}

fn job<T, F>(reply: oneshot::Sender<Result<T>>, f: F) -> Job
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection, i64) -> BoxFut<'c, Result<T>> + Send + 'static,
{
    Job::Write(Box::new(move |conn, now| {
        Box::pin(async move {
            let r = f(conn, now).await;
            let ok = r.is_ok();
            (ok, answer(reply, r))
        })
    }))
}

/// An error of SQLite that fails a write (or several: each is answered with its text).
fn failed(e: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(e.to_string()))
}

/// Answer `reply` once the commit's fate is known: `r`, unless `r` succeeded and the commit
/// failed.
fn answer<T: Send + 'static>(reply: oneshot::Sender<Result<T>>, r: Result<T>) -> Finish {
    Box::new(move |commit_error| {
        let r = match (r, commit_error) {
            (Ok(_), Some(e)) => Err(failed(&e)),
            (r, _) => r,
        };
        let _ = reply.send(r);
    })
}

pub async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Msg>,
    seq: watch::Sender<u64>,
    checkpoints: Checkpoints,
) {
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
            checkpoints.committed();
            if checkpoints.over_cap() {
                if let Err(e) = exec(&mut conn, "PRAGMA wal_checkpoint(RESTART)").await {
                    tracing::warn!(error = %e, "cannot restart the store's WAL");
                }
            }
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
    checkpoints.stop().await;
    // A clean stop leaves everything in the main file (and an empty WAL), so that the file
    // alone is the store: what a backup copies and what the integrity check at start reads.
    match checkpoint::truncate(&mut conn).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "cannot empty the store's WAL at close: another connection keeps checkpointing"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot checkpoint the store at close"),
    }
    let _ = conn.close().await;
    if let Some(tx) = closing {
        let _ = tx.send(());
    }
}

/// One statement, or several sent together (`;`-separated), without parameters.
fn exec<'a>(conn: &'a mut SqliteConnection, sql: &'a str) -> BoxFut<'a, sqlx::Result<()>> {
    Box::pin(async move {
        trips::trip();
        sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
    })
}

fn run_batch<'a>(
    conn: &'a mut SqliteConnection,
    batch: Vec<Job>,
    seq: &'a watch::Sender<u64>,
) -> BoxFut<'a, ()> {
    Box::pin(run_batch_inner(conn, batch, seq))
}

async fn run_batch_inner(conn: &mut SqliteConnection, batch: Vec<Job>, seq: &watch::Sender<u64>) {
    let now = model::time::now_ms();
    // The finishes of the jobs in the open transaction.
    let mut finishes = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    // Each job runs in its own savepoint, or none ([`Savepoint::None`]: see [`lead`]). The
    // statements between two jobs (and the transaction's start) go to SQLite with the next
    // job's first statement where the job takes them ([`Lead`]), or alone before a job that
    // does not. Updates of instances queued one after another run as one group.
    let mut owed = Owed::Begin;
    let mut jobs = batch.into_iter().peekable();
    while let Some(j) = jobs.next() {
        let (lead, (ended, done)) = match j {
            Job::Write(w) => {
                let lead = owed.then(Savepoint::Own);
                if let Err(e) = exec(conn, lead.sql()).await {
                    broken = Some(e.to_string());
                    break; // dropping the job answers its caller with `Closed`
                }
                let (ok, finish) = w(conn, now).await;
                (lead, (Ended::of(ok), vec![finish]))
            }
            Job::Led(savepoint, w) => {
                let lead = owed.then(savepoint);
                (lead, w(conn, now, lead).await)
            }
            Job::Update(u) => {
                let mut group = vec![u];
                while let Some(Job::Update(_)) = jobs.peek() {
                    if let Some(Job::Update(u)) = jobs.next() {
                        group.push(u);
                    }
                }
                let lead = owed.then(Savepoint::None);
                (lead, instances::run_updates(conn, now, lead, group).await)
            }
        };
        finishes.extend(done);
        owed = match lead.after(&ended) {
            Next::Go(Owed::Begin) if ended != Ended::Wrote => {
                // The job was the first: whether the transaction began (and what the job
                // wrote in it) is unknown; make sure none of it stays.
                let _ = exec(conn, "ROLLBACK").await;
                Owed::Begin
            }
            Next::Go(next) => next,
            Next::Lost => {
                let e = match &ended {
                    Ended::Unsure(e) => e.clone(),
                    _ => "a write of the batch failed; its transaction was rolled back".into(),
                };
                tracing::error!(error = %e, "write batch failed; rolled back");
                let _ = exec(conn, "ROLLBACK").await;
                for f in finishes.drain(..) {
                    f(Some(e.clone()));
                }
                Owed::Begin
            }
        };
    }
    let outcome = match (broken, owed.commit()) {
        (Some(e), _) => Err(e),
        // Every job failed before its transaction started: nothing to commit.
        (None, None) => Ok(None),
        (None, Some(end)) => commit(conn, end).await.map(Some),
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "write batch failed; rolled back");
        let _ = exec(conn, "ROLLBACK").await;
    }
    if let Ok(Some(latest)) = outcome {
        seq.send_if_modified(|s| {
            let changed = *s != latest;
            *s = latest;
            changed
        });
    }
    let err = outcome.err();
    for f in finishes {
        f(err.clone());
    }
}

/// `end` (the last job's boundary and `COMMIT`), and the feed's newest position read once
/// committed, in one round trip.
async fn commit(conn: &mut SqliteConnection, end: &str) -> std::result::Result<u64, String> {
    trips::trip();
    let sql = format!("{end}{}", reads::NEWEST_CHANGE);
    let latest: Option<i64> = sqlx::query_scalar(&sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(latest.unwrap_or(0) as u64)
}

/// Trim the feed as `policy` decides, given its latest change.
fn trim_feed<'a>(
    conn: &'a mut SqliteConnection,
    policy: impl FnOnce(Option<u64>) -> Option<Trim> + Send + 'a,
) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        trips::trip();
        let Some(trim) = policy(reads::newest_change(conn).await?) else {
            return Ok(());
        };
        trips::trip();
        sqlx::query("DELETE FROM changes WHERE seq < ? AND at_ms < ?")
            .bind(trim.below_seq as i64)
            .bind(trim.before_ms)
            .execute(&mut *conn)
            .await?;
        Ok(())
    })
}
