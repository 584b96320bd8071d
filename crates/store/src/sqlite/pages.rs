//! DescribeInstances' pages on SQLite: the plan's statements (`crate::pages`) run on one
//! read-only connection, in one read transaction.

use crate::instances::{InstancePage, InstanceQuery};
use crate::Result;
use model::Scope;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use std::sync::atomic::AtomicU64;

crate::pages::page_reads!(
    SqliteConnection,
    Sqlite,
    SqliteArguments<'_>,
    crate::pages::sql::Dialect::Sqlite
);

/// One page of DescribeInstances (`crate::pages`). `read` counts the rows the page read.
pub async fn describe_instances(
    pool: &SqlitePool,
    read: &AtomicU64,
    scope: &Scope,
    q: &InstanceQuery,
) -> Result<InstancePage> {
    // One read transaction: the page sees one state of the store.
    let mut tx = pool.begin().await?;
    let rows = crate::pages::page_rows(&mut Connection(&mut tx), read, scope, q).await?;
    tx.commit().await?;
    crate::pages::finish(rows, q)
}

#[cfg(test)]
mod tests;
