//! Multi-row INSERTs: many rows written by one statement, so that a write of a thousand
//! instances (and their tens of thousands of attribute, tag and feed rows) costs a number of
//! statements that grows with the rows' size in parameters, not one statement per row.

use super::trips::counted;
use crate::Result;
use sqlx::query_builder::Separated;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// SQLite binds at most 32,766 parameters in one statement (`SQLITE_MAX_VARIABLE_NUMBER`).
const MAX_PARAMETERS: usize = 32_766;

/// Rows per statement at most: a statement's text and plan stay small, and the writer's
/// statement cache holds one statement per chunk size (the full one and the last).
const MAX_ROWS: usize = 500;

/// How many rows of `columns` parameters one statement carries.
pub(super) fn per_statement(columns: usize) -> usize {
    MAX_ROWS.min(MAX_PARAMETERS / columns.max(1))
}

/// `head` (`INSERT INTO t (a, b) `) then `VALUES (…), (…)` for `rows`, `tail` after
/// (`ON CONFLICT …`), `bind` pushing one row's `columns` values; as many statements as the
/// parameters need.
pub(super) async fn insert<'r, R: 'r>(
    conn: &mut SqliteConnection,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &'r [R],
    mut bind: impl FnMut(Separated<'_, 'r, Sqlite, &'static str>, &'r R),
) -> Result<()> {
    for chunk in rows.chunks(per_statement(columns)) {
        let mut q = QueryBuilder::<Sqlite>::new(head);
        q.push_values(chunk, &mut bind);
        q.push(tail);
        q.build().execute(counted(conn)).await?;
    }
    Ok(())
}
