//! Refusing a damaged store at start.
//!
//! SQLite opens a file with corrupted pages without complaint and fails only when a query
//! touches them, so a damaged store would start and then answer 500s; a file that is not a
//! database at all fails on the first statement with a bare "file is not a database". At
//! start imds runs `PRAGMA quick_check` (every page and record checked, indexes not matched
//! against their tables: linear in the size of the store) and turns either failure into
//! [`StoreError::Damaged`], which names the file and what to do.

use crate::StoreError;
use sqlx::SqliteConnection;
use std::path::Path;

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
