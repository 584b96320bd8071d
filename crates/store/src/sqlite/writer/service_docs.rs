//! The documents of the services beside EC2 (`crate::documents`), written by the writer as
//! every write is (durable when answered). A document is kept as the text its service
//! wrote; its row's `pos` (an AUTOINCREMENT key, never reused) is its place in the order
//! first written, which an upsert keeps.

use super::trips::counted;
use super::{job, Job};
use crate::{DocumentKey, Result};
use tokio::sync::oneshot;

/// Write `doc` under `key`: a new key gets the next position, an existing one keeps its own.
pub fn put(key: DocumentKey, doc: String, reply: oneshot::Sender<Result<()>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO documents (kind, account, region, id, doc) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (kind, account, region, id) DO UPDATE SET doc = excluded.doc",
            )
            .bind(&key.kind)
            .bind(&key.scope.account)
            .bind(&key.scope.region)
            .bind(&key.id)
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
            sqlx::query(
                "INSERT INTO documents (kind, account, region, id, doc) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (kind, account, region, id) DO NOTHING",
            )
            .bind(&key.kind)
            .bind(&key.scope.account)
            .bind(&key.scope.region)
            .bind(&key.id)
            .bind(&doc)
            .execute(counted(conn))
            .await?;
            Ok(sqlx::query_scalar(
                "SELECT doc FROM documents WHERE kind = ? AND account = ? AND region = ? AND id = ?",
            )
            .bind(&key.kind)
            .bind(&key.scope.account)
            .bind(&key.scope.region)
            .bind(&key.id)
            .fetch_one(counted(conn))
            .await?)
        })
    })
}

/// Remove the document under `key`; answers whether there was one.
pub fn delete(key: DocumentKey, reply: oneshot::Sender<Result<bool>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let done = sqlx::query(
                "DELETE FROM documents WHERE kind = ? AND account = ? AND region = ? AND id = ?",
            )
            .bind(&key.kind)
            .bind(&key.scope.account)
            .bind(&key.scope.region)
            .bind(&key.id)
            .execute(counted(conn))
            .await?;
            Ok(done.rows_affected() > 0)
        })
    })
}
