//! Documents of the services beside EC2 that imds keeps whole ([`DocumentStore`]): AWS Fault
//! Injection Service's experiment templates and experiments, each an opaque JSON document
//! under its key. The service decides; the store only keeps them, in the order first
//! written (a listing's order and its pages' positions).

use crate::Result;
use async_trait::async_trait;
use model::Scope;

/// A document's key: its kind (e.g. `fis-template`, `fis-experiment`), the account and
/// Region it belongs to, and its id within them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentKey {
    pub kind: String,
    pub scope: Scope,
    pub id: String,
}

impl DocumentKey {
    pub fn new(kind: &str, scope: &Scope, id: &str) -> DocumentKey {
        DocumentKey {
            kind: kind.to_string(),
            scope: scope.clone(),
            id: id.to_string(),
        }
    }
}

/// A page of documents of one kind and scope: `(id, document)` in the order first written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentPage {
    pub documents: Vec<(String, String)>,
    /// Where the next page starts, when there is one.
    pub next: Option<i64>,
}

impl DocumentPage {
    /// The page of `rows` (`(pos, id, document)` in position order, up to `limit + 1` of
    /// them, as a backend's keyset query reads them): the first `limit`, and `next` when
    /// there was one more.
    pub(crate) fn of_rows(rows: Vec<(i64, String, String)>, limit: u32) -> DocumentPage {
        let (rows, next) = crate::paging::page(rows, Some(limit), |r| r.0);
        DocumentPage {
            documents: rows.into_iter().map(|(_, id, doc)| (id, doc)).collect(),
            next,
        }
    }
}

#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Write `doc` under `key`, durably: a new key goes last in its kind's order; an
    /// existing one keeps its place and gets the new document.
    async fn put_document(&self, key: &DocumentKey, doc: &str) -> Result<()>;
    /// Write `doc` under `key` only if the key has no document; returns the document the key
    /// then has (`doc`, or the one already there), so that two writers racing on one key
    /// both get the first one's (idempotency tokens).
    async fn put_document_if_absent(&self, key: &DocumentKey, doc: &str) -> Result<String>;
    /// Write `doc` under `key` only if the key still has `was` (the document the caller read
    /// and changed); returns whether it did. A document changed or removed since is left as
    /// it is, and the caller reads it again: writing over it would undo that write (an
    /// update of another member, a delete), which was acknowledged.
    async fn replace_document(&self, key: &DocumentKey, was: &str, doc: &str) -> Result<bool>;
    async fn document(&self, key: &DocumentKey) -> Result<Option<String>>;
    /// Remove the document under `key`; returns whether there was one.
    async fn delete_document(&self, key: &DocumentKey) -> Result<bool>;
    /// Up to `limit` documents of `kind` in `scope` after position `after` (from the previous
    /// page's `next`), in the order first written.
    async fn documents(
        &self,
        kind: &str,
        scope: &Scope,
        after: Option<i64>,
        limit: u32,
    ) -> Result<DocumentPage>;
}
