//! [`DocumentStore`] on PostgreSQL: the services' documents (schema V4's `documents`), as
//! the SQLite backend keeps them. A document is `text`, not `jsonb`: it is handed back
//! byte for byte as its service wrote it (`jsonb` would reorder its keys and drop its
//! spacing). Writes take the store's write lock as every write does; each is data, so one
//! PostgreSQL rolls back for another's sake is run again (`retry`).

use super::retry::retrying_store;
use super::store::PgStore;
use crate::{DocumentKey, DocumentPage, DocumentStore, Result, StoreError};
use async_trait::async_trait;
use model::Scope;
use sqlx::PgExecutor;

/// The document under `key`, if any.
async fn find<'e>(conn: impl PgExecutor<'e>, key: &DocumentKey) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT doc FROM documents WHERE kind = $1 AND account = $2 AND region = $3 AND id = $4",
    )
    .bind(&key.kind)
    .bind(&key.scope.account)
    .bind(&key.scope.region)
    .bind(&key.id)
    .fetch_optional(conn)
    .await?)
}

/// `INSERT` of `key`'s row, then `ON CONFLICT …` as `on_conflict` says.
async fn insert<'e>(
    conn: impl PgExecutor<'e>,
    key: &DocumentKey,
    doc: &str,
    on_conflict: &str,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO documents (kind, account, region, id, doc) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (kind, account, region, id) {on_conflict}"
    );
    sqlx::query(&sql)
        .bind(&key.kind)
        .bind(&key.scope.account)
        .bind(&key.scope.region)
        .bind(&key.id)
        .bind(doc)
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl DocumentStore for PgStore {
    /// An existing key keeps its row, so its `pos` (its place in the order first written).
    async fn put_document(&self, key: &DocumentKey, doc: &str) -> Result<()> {
        retrying_store(|| async {
            let mut tx = self.begin_write().await?;
            insert(&mut *tx, key, doc, "DO UPDATE SET doc = excluded.doc").await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// The insert and the read back in one transaction under the write lock: no other
    /// write comes between them.
    async fn put_document_if_absent(&self, key: &DocumentKey, doc: &str) -> Result<String> {
        retrying_store(|| async {
            let mut tx = self.begin_write().await?;
            insert(&mut *tx, key, doc, "DO NOTHING").await?;
            // The row was there or was just written, under the lock.
            let now = find(&mut *tx, key)
                .await?
                .ok_or(StoreError::Db(sqlx::Error::RowNotFound))?;
            tx.commit().await?;
            Ok(now)
        })
        .await
    }

    /// Under the write lock: no other write comes between the comparison and the write.
    async fn replace_document(&self, key: &DocumentKey, was: &str, doc: &str) -> Result<bool> {
        retrying_store(|| async {
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(
                "UPDATE documents SET doc = $1 \
                 WHERE kind = $2 AND account = $3 AND region = $4 AND id = $5 AND doc = $6",
            )
            .bind(doc)
            .bind(&key.kind)
            .bind(&key.scope.account)
            .bind(&key.scope.region)
            .bind(&key.id)
            .bind(was)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn document(&self, key: &DocumentKey) -> Result<Option<String>> {
        find(self.pool(), key).await
    }

    async fn delete_document(&self, key: &DocumentKey) -> Result<bool> {
        retrying_store(|| async {
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(
                "DELETE FROM documents WHERE kind = $1 AND account = $2 AND region = $3 AND id = $4",
            )
            .bind(&key.kind)
            .bind(&key.scope.account)
            .bind(&key.scope.region)
            .bind(&key.id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    /// A keyset page on `documents_scope` (kind, account, region, pos).
    async fn documents(
        &self,
        kind: &str,
        scope: &Scope,
        after: Option<i64>,
        limit: u32,
    ) -> Result<DocumentPage> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT pos, id, doc FROM documents WHERE kind = $1 AND account = $2 AND region = $3 \
             AND pos > $4 ORDER BY pos LIMIT $5",
        )
        .bind(kind)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        Ok(DocumentPage::of_rows(rows, limit))
    }
}
