//! [`DocumentStore`] on SQLite: the services' documents (schema 10's `documents`), written
//! through the writer ([`super::writer::service_docs`]), read on the pool of readers.

use super::{writer, SqliteStore};
use crate::{DocumentKey, DocumentPage, DocumentStore, Result};
use async_trait::async_trait;
use model::Scope;

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn put_document(&self, key: &DocumentKey, doc: &str) -> Result<()> {
        let (key, doc) = (key.clone(), doc.to_string());
        self.write(move |reply| writer::service_docs::put(key, doc, reply))
            .await
    }

    async fn put_document_if_absent(&self, key: &DocumentKey, doc: &str) -> Result<String> {
        let (key, doc) = (key.clone(), doc.to_string());
        self.write(move |reply| writer::service_docs::put_if_absent(key, doc, reply))
            .await
    }

    async fn replace_document(&self, key: &DocumentKey, was: &str, doc: &str) -> Result<bool> {
        let (key, was, doc) = (key.clone(), was.to_string(), doc.to_string());
        self.write(move |reply| writer::service_docs::replace(key, was, doc, reply))
            .await
    }

    async fn document(&self, key: &DocumentKey) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT doc FROM documents WHERE kind = ? AND account = ? AND region = ? AND id = ?",
        )
        .bind(&key.kind)
        .bind(&key.scope.account)
        .bind(&key.scope.region)
        .bind(&key.id)
        .fetch_optional(&self.read)
        .await?)
    }

    async fn delete_document(&self, key: &DocumentKey) -> Result<bool> {
        let key = key.clone();
        self.write(move |reply| writer::service_docs::delete(key, reply))
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
            "SELECT pos, id, doc FROM documents WHERE kind = ? AND account = ? AND region = ? \
             AND pos > ? ORDER BY pos LIMIT ?",
        )
        .bind(kind)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.read)
        .await?;
        Ok(DocumentPage::of_rows(rows, limit))
    }
}
