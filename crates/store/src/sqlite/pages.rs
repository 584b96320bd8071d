//! DescribeInstances' pages on SQLite: the plan's statements (`crate::pages`) run on one
//! read-only connection, in one read transaction.

use crate::instances::{InstancePage, InstanceQuery};
use crate::pages::sql::{Bind, Dialect, Stmt};
use crate::pages::Reads;
use crate::Result;
use async_trait::async_trait;
use model::Scope;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool};
use std::sync::atomic::AtomicU64;

/// A statement with its values bound.
pub(super) fn query(s: &Stmt) -> sqlx::query::Query<'_, Sqlite, SqliteArguments<'_>> {
    let mut q = sqlx::query(&s.sql);
    for b in &s.binds {
        q = match b {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
        };
    }
    q
}

/// A page's reads on one connection.
struct Connection<'c>(&'c mut SqliteConnection);

#[async_trait]
impl Reads for Connection<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn ints(&mut self, s: &Stmt) -> Result<Vec<i64>> {
        let rows = query(s).fetch_all(&mut *self.0).await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, sqlx::Error>>()?)
    }

    async fn texts(&mut self, s: &Stmt) -> Result<Vec<String>> {
        let rows = query(s).fetch_all(&mut *self.0).await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, sqlx::Error>>()?)
    }

    async fn docs(&mut self, s: &Stmt) -> Result<Vec<(i64, String)>> {
        let rows = query(s).fetch_all(&mut *self.0).await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<_, sqlx::Error>>()?)
    }
}

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
