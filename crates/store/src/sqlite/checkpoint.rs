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

use sqlx::SqliteConnection;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// The WAL's size above which the writer restarts it itself.
pub const WAL_CAP: u64 = 64 << 20;

/// How long after a commit the checkpoint runs (commits in between share it).
const PAUSE: Duration = Duration::from_millis(50);

/// The writer's side: tell the checkpointer about commits; see whether the WAL is over its
/// cap. Dropping it stops the checkpointer.
pub struct Checkpoints {
    wake: mpsc::Sender<()>,
    wal: PathBuf,
}

impl Checkpoints {
    /// Start the checkpointer on `conn` (a connection of its own to the store at `path`), on
    /// the current runtime.
    pub fn spawn(conn: SqliteConnection, path: &Path) -> Checkpoints {
        let (wake, rx) = mpsc::channel(1);
        tokio::spawn(run(conn, rx));
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Checkpoints {
            wake,
            wal: wal.into(),
        }
    }

    /// A batch was committed: a checkpoint is due soon.
    pub fn committed(&self) {
        let _ = self.wake.try_send(());
    }

    /// Whether the WAL has grown past [`WAL_CAP`].
    pub fn over_cap(&self) -> bool {
        std::fs::metadata(&self.wal).is_ok_and(|m| m.len() > WAL_CAP)
    }
}

async fn run(mut conn: SqliteConnection, mut wake: mpsc::Receiver<()>) {
    while wake.recv().await.is_some() {
        tokio::time::sleep(PAUSE).await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "cannot checkpoint the store's WAL");
        }
    }
    let _ = sqlx::Connection::close(conn).await;
}
