//! The documents of the services beside EC2 (`crate::documents`), written by the writer as
//! every write is (durable when answered). A document is kept as the text its service
//! wrote; its row's `pos` (an AUTOINCREMENT key, never reused) is its place in the order
//! first written, which an upsert keeps.

use super::trips::counted;
use super::{job, Job};
use crate::{DocumentKey, Result};
use sqlx::query::Query;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use tokio::sync::oneshot;

/// `sql` with `key` bound first: kind, account, region and id as `?1` to `?4`.
fn keyed<'q>(sql: &'q str, key: &'q DocumentKey) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    sqlx::query(sql)
        .bind(&key.kind)
        .bind(&key.scope.account)
        .bind(&key.scope.region)
        .bind(&key.id)
}

/// Write `doc` under `key`: a new key gets the next position, an existing one keeps its own.
pub fn put(key: DocumentKey, doc: String, reply: oneshot::Sender<Result<()>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            keyed(
                "INSERT INTO documents (kind, account, region, id, doc) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (kind, account, region, id) DO UPDATE SET doc = excluded.doc",
                &key,
            )
            .bind(&doc)
            .execute(counted(conn))
            .await?;
            Ok(())
        })
    })
}

/// Write `doc` under `key` unless it has one; answers the document the key then has. The
/// insert and the read run in the one job, so no other write comes between them.
pub fn put_if_absent(key: DocumentKey, doc: String, reply: oneshot::Sender<Result<String>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            keyed(
                "INSERT INTO documents (kind, account, region, id, doc) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (kind, account, region, id) DO NOTHING",
                &key,
            )
            .bind(&doc)
            .execute(counted(conn))
            .await?;
            let row = keyed(
                "SELECT doc FROM documents WHERE kind = ?1 AND account = ?2 AND region = ?3 AND id = ?4",
                &key,
            )
            .fetch_one(counted(conn))
            .await?;
            Ok(sqlx::Row::try_get(&row, 0)?)
        })
    })
}

/// Write `doc` under `key` if it still has `was`; answers whether it did.
pub fn replace(
    key: DocumentKey,
    was: String,
    doc: String,
    reply: oneshot::Sender<Result<bool>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let done = keyed(
                "UPDATE documents SET doc = ?5 \
                 WHERE kind = ?1 AND account = ?2 AND region = ?3 AND id = ?4 AND doc = ?6",
                &key,
            )
            .bind(&doc)
            .bind(&was)
            .execute(counted(conn))
            .await?;
            Ok(done.rows_affected() > 0)
        })
    })
}

/// Remove the document under `key`; answers whether there was one.
pub fn delete(key: DocumentKey, reply: oneshot::Sender<Result<bool>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let done = keyed(
                "DELETE FROM documents WHERE kind = ?1 AND account = ?2 AND region = ?3 AND id = ?4",
                &key,
            )
            .execute(counted(conn))
            .await?;
            Ok(done.rows_affected() > 0)
        })
    })
}
