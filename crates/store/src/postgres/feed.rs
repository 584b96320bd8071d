//! The change feed's rows in PostgreSQL: appended in the writing transaction, read in order
//! from a follower's last position, with a notification as the wake-up.
//!
//! A follower reads the changes above the last sequence number it saw, so the numbers must
//! become visible in their order. An identity is drawn when a row is inserted, not when
//! its transaction commits: two writers drawing 7 and 8 may commit 8 first, and a follower
//! reading then would move past 7 before 7 exists. So a writer takes the feed's
//! transaction-scoped advisory lock ([`FEED_LOCK`]) before it draws its numbers and keeps
//! it until its commit: numbers are drawn in the order of commits, and whatever a follower
//! sees below its position is all there will ever be. The lock is taken by the append,
//! which a write makes last, so writers wait on each other only for a commit.
//!
//! The notification ([`CHANNEL`], sent in the same transaction, so delivered at its commit)
//! only wakes followers; they poll as well, so the feed works where `NOTIFY` does not
//! arrive (poolers, PostgreSQL-protocol engines without it).

use crate::ChangeKind;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool, QueryBuilder};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// `pg_advisory_xact_lock`'s key for appending to the feed ("imds", then 2).
pub const FEED_LOCK: i64 = 0x696d_6473_0000_0002;

/// The channel a commit that appended changes notifies, with its newest sequence number.
pub const CHANNEL: &str = "imds_changes";

/// A change as a write appends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    pub instance_id: String,
    pub kind: ChangeKind,
    pub generation: u64,
    pub at_ms: i64,
}

/// A change as the feed holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub seq: u64,
    pub instance_id: String,
    pub kind: ChangeKind,
    pub generation: u64,
    pub at_ms: i64,
}

/// Append `changes` in the transaction on `conn`, in their order, after taking the feed's
/// lock (held until the transaction ends), and notify [`CHANNEL`] at its commit. Returns
/// their sequence numbers. The write's last statements: the lock makes other writers wait
/// until this one commits.
pub async fn append(conn: &mut PgConnection, changes: &[NewChange]) -> sqlx::Result<Vec<u64>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(FEED_LOCK)
        .execute(&mut *conn)
        .await?;
    let mut seqs = Vec::with_capacity(changes.len());
    // 4 parameters a row, well under PostgreSQL's 65,535 a statement.
    for chunk in changes.chunks(10_000) {
        let mut q =
            QueryBuilder::new("INSERT INTO changes (instance_id, kind, generation, at_ms) ");
        q.push_values(chunk, |mut b, c| {
            b.push_bind(c.instance_id.as_str())
                .push_bind(c.kind.as_str())
                .push_bind(c.generation as i64)
                .push_bind(c.at_ms);
        });
        q.push(" RETURNING seq");
        let drawn: Vec<i64> = q.build_query_scalar().fetch_all(&mut *conn).await?;
        seqs.extend(drawn.into_iter().map(|s| s as u64));
    }
    let newest = seqs.iter().max().copied().unwrap_or(0);
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(newest.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(seqs)
}

/// The changes above `after`, oldest first, at most `limit`.
pub async fn after(pool: &PgPool, after: u64, limit: u32) -> sqlx::Result<Vec<ChangeRow>> {
    let rows: Vec<(i64, String, String, i64, i64)> = sqlx::query_as(
        "SELECT seq, instance_id, kind, generation, at_ms FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after as i64)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(seq, instance_id, kind, generation, at_ms)| {
            let kind = ChangeKind::parse(&kind).ok_or_else(|| {
                sqlx::Error::Decode(format!("change {seq}: unknown kind {kind:?}").into())
            })?;
            Ok(ChangeRow {
                seq: seq as u64,
                instance_id,
                kind,
                generation: generation as u64,
                at_ms,
            })
        })
        .collect()
}

/// The oldest sequence number the feed holds.
pub async fn oldest(pool: &PgPool) -> sqlx::Result<Option<u64>> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT min(seq) FROM changes")
        .fetch_one(pool)
        .await?;
    Ok(seq.map(|s| s as u64))
}

/// The newest sequence number the feed holds (0 when empty).
pub async fn newest(pool: &PgPool) -> sqlx::Result<u64> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM changes")
        .fetch_one(pool)
        .await?;
    Ok(seq.unwrap_or(0) as u64)
}

/// How a node learns of other nodes' commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wakeup {
    /// Listen on [`CHANNEL`] (off where notifications do not arrive: poolers, engines
    /// without `NOTIFY`).
    pub listen: bool,
    /// Look at the feed's newest number this often, whatever arrives.
    pub poll: Duration,
}

/// Move `position` forward to `seq` (never back: a notification may arrive after this
/// node has read a newer position itself).
pub fn advance_to(position: &watch::Sender<u64>, seq: u64) {
    position.send_if_modified(|s| {
        let newer = seq > *s;
        if newer {
            *s = seq;
        }
        newer
    });
}

/// The feed's newest committed sequence number, kept current in `position` for this node's
/// followers (`Feed::watch`): looked up at each notification and at each poll. The task
/// ends when every receiver is gone or the pool is closed. (This node's own writes move the
/// position themselves when they commit.)
pub fn watch(pool: PgPool, wakeup: Wakeup, position: Arc<watch::Sender<u64>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut listener = None;
        loop {
            if wakeup.listen && listener.is_none() {
                listener = listen(&pool).await;
            }
            match newest(&pool).await {
                Ok(n) => advance_to(&position, n),
                Err(_) if pool.is_closed() => return,
                Err(e) => tracing::warn!(error = %e, "cannot read the change feed's position"),
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = position.closed() => return,
                r = notified => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "the change feed's notifications stopped; polling");
                        listener = None;
                    }
                }
                _ = tokio::time::sleep(wakeup.poll) => {}
            }
        }
    })
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut l = match PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for the change feed's notifications; polling");
            return None;
        }
    };
    match l.listen(CHANNEL).await {
        Ok(()) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for the change feed's notifications; polling");
            None
        }
    }
}
