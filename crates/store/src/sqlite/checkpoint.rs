//! WAL checkpoints beside the one writer, not in its way.
//!
//! By default the connection that commits runs a checkpoint once the WAL holds 1,000 pages:
//! the store's single writer then copies those pages into the main file and syncs it
//! (10–20 ms on the 2-core machine of `docs/BENCHMARKS.md`) while every queued write waits.
//! Random ModifyInstanceMetadataOptions over a fleet dirty several pages each, so that
//! happened every few batches. Instead the writer's connection has `wal_autocheckpoint=0`,
//! and a connection of its own checkpoints (`PASSIVE`: it never waits for the writer or the
//! readers) shortly after commits.
//!
//! A `PASSIVE` checkpoint does not restart the WAL: the next write does, once every frame is
//! in the main file, which a steady stream of writes may never allow. So when the WAL passes
//! [`WAL_CAP`] the writer checkpoints with `RESTART` itself, between batches: the WAL stays
//! bounded, and what that checkpoint copies is mostly done already.
//!
//! A restarted WAL is written again from its start, but SQLite leaves the file as long as it
//! was unless `journal_size_limit` is set: the writer's connection sets it to the cap, so the
//! first commit after a restart cuts the file back and its size says again how much the WAL
//! holds. (Without it, once past the cap, the writer restarted the WAL after every batch:
//! ~4 ms each, a third of its time under ModifyInstanceMetadataOptions at 10,000 instances.)
//!
//! At close the writer stops the checkpointer, waits for it, and empties the WAL into the
//! main file ([`truncate`]). SQLite answers a checkpoint that finds another one running (this
//! store's checkpointer, or another program's connection) with "busy" in its result row, not
//! with an error: the close reads that row and tries again, for as long as a write would
//! wait. A WAL left full would cost the next open its check of the whole file
//! (`sqlite::clean`).

use sqlx::SqliteConnection;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The WAL's size above which the writer restarts it itself.
pub const WAL_CAP: u64 = 64 << 20;

/// How long after a commit the checkpoint runs (commits in between share it).
const PAUSE: Duration = Duration::from_millis(50);

/// How long the close tries to empty the WAL while another connection checkpoints: as long
/// as the store's connections wait for a lock (`busy_timeout`).
const CLOSE_WAITS: Duration = Duration::from_secs(10);

/// How often the close tries again meanwhile.
const CLOSE_RETRY: Duration = Duration::from_millis(10);

/// Settle the writer's connection: no checkpoints of its own but the restarts past `cap`,
/// and a WAL file cut back to `cap` when it restarts.
pub async fn prepare_writer(conn: &mut SqliteConnection, cap: u64) -> sqlx::Result<()> {
    sqlx::raw_sql(&format!(
        "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {cap}"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// The writer's side: tell the checkpointer about commits; see whether the WAL is over its
/// cap. Dropping it stops the checkpointer; [`Checkpoints::stop`] also waits for it.
pub struct Checkpoints {
    wake: mpsc::Sender<()>,
    task: JoinHandle<()>,
    wal: PathBuf,
    cap: u64,
}

impl Checkpoints {
    /// Start the checkpointer on `conn` (a connection of its own to the store at `path`), on
    /// the current runtime; the writer's connection was prepared with `cap`.
    pub fn spawn(conn: SqliteConnection, path: &Path, cap: u64) -> Checkpoints {
        let (wake, rx) = mpsc::channel(1);
        let task = tokio::spawn(run(conn, rx));
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Checkpoints {
            wake,
            task,
            wal: wal.into(),
            cap,
        }
    }

    /// A batch was committed: a checkpoint is due soon.
    pub fn committed(&self) {
        let _ = self.wake.try_send(());
    }

    /// Whether the WAL has grown past its cap.
    pub fn over_cap(&self) -> bool {
        std::fs::metadata(&self.wal).is_ok_and(|m| m.len() > self.cap)
    }

    /// Stop the checkpointer and wait until its connection is closed: no checkpoint of its
    /// own is running then. One that was due is skipped (the close's copies everything).
    pub async fn stop(self) {
        drop(self.wake);
        let _ = self.task.await;
    }
}

async fn run(mut conn: SqliteConnection, mut wake: mpsc::Receiver<()>) {
    'wakes: while wake.recv().await.is_some() {
        let due = tokio::time::Instant::now() + PAUSE;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => break,
                more = wake.recv() => if more.is_none() { break 'wakes },
            }
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "cannot checkpoint the store's WAL");
        }
    }
    let _ = sqlx::Connection::close(conn).await;
}

/// Copy the whole WAL into the main file and empty it, trying again while another
/// connection's checkpoint runs, for [`CLOSE_WAITS`] at most. Whether it was emptied.
pub async fn truncate(conn: &mut SqliteConnection) -> sqlx::Result<bool> {
    let until = tokio::time::Instant::now() + CLOSE_WAITS;
    loop {
        // The row: whether it was busy, the WAL's frames, and how many were copied.
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await?;
        if busy == 0 {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(CLOSE_RETRY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::ConnectOptions;

    /// Once the writer has restarted a WAL that passed its cap, the next commit brings the
    /// file back under it: the cap is not seen as passed again after every batch.
    #[tokio::test]
    async fn a_restarted_wal_is_back_under_its_cap_after_the_next_commit() {
        let dir = crate::conformance::TempDir::new("wal-cap");
        let path = dir.0.join("db");
        let base = SqliteConnectOptions::new()
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .create_if_missing(true);
        let mut writer = base.clone().connect().await.unwrap();
        let cap = 256 << 10;
        prepare_writer(&mut writer, cap).await.unwrap();
        let checkpoints = Checkpoints::spawn(base.connect().await.unwrap(), &path, cap);
        let run = |sql: &'static str| sqlx::raw_sql(sql);
        run("CREATE TABLE t (v BLOB)")
            .execute(&mut writer)
            .await
            .unwrap();
        for _ in 0..4 {
            run(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) \
                 INSERT INTO t SELECT randomblob(4000) FROM n",
            )
            .execute(&mut writer)
            .await
            .unwrap();
        }
        assert!(
            checkpoints.over_cap(),
            "200 pages of 4 KiB passed a cap of 256 KiB"
        );
        run("PRAGMA wal_checkpoint(RESTART)")
            .execute(&mut writer)
            .await
            .unwrap();
        run("INSERT INTO t VALUES (randomblob(10))")
            .execute(&mut writer)
            .await
            .unwrap();
        assert!(
            !checkpoints.over_cap(),
            "the restarted WAL is cut back to its cap"
        );
    }
}
