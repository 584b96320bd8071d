//! Refusing a damaged store at start.
//!
//! SQLite opens a file with corrupted pages without complaint and fails only when a query
//! touches them, so a damaged store would start and then answer 500s; a file that is not a
//! database at all fails on the first statement with a bare "file is not a database". At
//! start imds runs `PRAGMA quick_check` (every page and record checked, indexes not matched
//! against their tables: linear in the size of the store) and turns either failure into
//! [`StoreError::Damaged`], which names the file and what to do.
//!
//! The check reads the whole file (about 10 GB at a million instances, most of a restart),
//! so a store that needs no migration runs it *beside* the start instead of before it
//! ([`spawn`]): on a connection of its own that maps the file rather than copying each page,
//! while the metadata host loads. Nothing is written before it has passed (the writer waits
//! for it, [`IntegrityCheck::passed`]), and the server answers on neither port before it has
//! passed, so a damaged store is still refused at start, with the same error. A store that
//! needs a migration is checked first, as before: a migration writes.

use crate::StoreError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// How much of the file the check's connection maps (SQLite caps it at its compile-time
/// maximum): pages read in place, not copied into SQLite's cache one `pread` at a time.
const CHECK_MMAP_BYTES: u64 = 1 << 40;

/// How a check that did not pass failed.
#[derive(Debug, Clone)]
enum Failed {
    /// The file is bad: what SQLite said.
    Damaged(String),
    /// The check could not run (e.g. the file could not be opened).
    Other(String),
}

/// The outcome of a check running beside the start: `None` while it runs.
type Outcome = Option<Result<(), Failed>>;

/// A check of the store's pages, running or done.
#[derive(Clone)]
pub struct IntegrityCheck {
    path: PathBuf,
    /// Whether the pages are checked at all (see [`IntegrityCheck::runs`]).
    runs: bool,
    outcome: watch::Receiver<Outcome>,
}

impl IntegrityCheck {
    /// A check already passed (a new store, one checked before its migration, or one
    /// untouched since its last clean close).
    pub(super) fn passed_already(path: &Path) -> IntegrityCheck {
        IntegrityCheck {
            path: path.to_path_buf(),
            runs: false,
            outcome: watch::Sender::new(Some(Ok(()))).subscribe(),
        }
    }

    /// Whether this open checks the file's pages beside the start: not for a new store, one
    /// checked before its migration, or one as its last clean close left it (`sqlite::clean`).
    pub fn runs(&self) -> bool {
        self.runs
    }

    /// Whether the check has passed by now (not running, not failed).
    pub(super) fn has_passed(&self) -> bool {
        matches!(*self.outcome.borrow(), Some(Ok(())))
    }

    /// Wait for the check: `Err(Damaged)` naming the file when it found the file bad (or
    /// could not run).
    pub async fn passed(mut self) -> Result<(), StoreError> {
        let outcome = match self.outcome.wait_for(Option::is_some).await {
            Ok(o) => o.clone(),
            Err(_) => None,
        };
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(Failed::Damaged(detail))) => Err(StoreError::Damaged {
                path: self.path,
                detail,
            }),
            Some(Err(Failed::Other(e))) => Err(StoreError::Db(sqlx::Error::Protocol(format!(
                "checking {}: {e}",
                self.path.display()
            )))),
            None => Err(StoreError::Closed),
        }
    }
}

/// Run `PRAGMA quick_check` on a connection of its own (opened with `options`), beside
/// whatever the caller does next.
pub(super) fn spawn(path: &Path, options: SqliteConnectOptions) -> IntegrityCheck {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let outcome = async {
            let mut conn = options
                .read_only(true)
                .pragma("mmap_size", CHECK_MMAP_BYTES.to_string())
                .connect()
                .await?;
            let checked = quick_check(&mut conn).await;
            // Closed before the outcome is told: its mapping of the file is not the
            // server's memory once it answers.
            let _ = conn.close().await;
            checked
        }
        .await;
        let _ = tx.send(Some(outcome.map_err(|e| match damaged(Path::new(""), e) {
            StoreError::Damaged { detail, .. } => Failed::Damaged(detail),
            other => Failed::Other(other.to_string()),
        })));
    });
    IntegrityCheck {
        path: path.to_path_buf(),
        runs: true,
        outcome: rx,
    }
}

/// SQLite's primary result codes that mean the file itself is bad (`SQLITE_CORRUPT`,
/// `SQLITE_NOTADB`; extended codes carry the primary one in their low byte).
const CORRUPT: i64 = 11;
const NOT_A_DATABASE: i64 = 26;

/// `PRAGMA quick_check`: `Err(Damaged)` with the first problem SQLite reports.
pub async fn quick_check(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(1)")
        .fetch_all(&mut *conn)
        .await?;
    match rows.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        problems => Err(StoreError::Damaged {
            path: Default::default(),
            detail: problems.join("; "),
        }),
    }
}

/// `e` as [`StoreError::Damaged`] naming `path` when it says the file is bad; else `e`.
pub fn damaged(path: &Path, e: StoreError) -> StoreError {
    let detail = match e {
        StoreError::Damaged { detail, .. } => detail,
        StoreError::Db(sqlx::Error::Database(db)) if is_bad_file(db.code().as_deref()) => {
            db.message().to_string()
        }
        other => return other,
    };
    StoreError::Damaged {
        path: path.to_path_buf(),
        detail,
    }
}

fn is_bad_file(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|c| matches!(c & 0xff, CORRUPT | NOT_A_DATABASE))
}
