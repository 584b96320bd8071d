//! Tags of every resource type in a scope, as DescribeTags lists them ([`TagStore`]). Each
//! resource's writes keep its tags; this is the listing across them.

use crate::Result;
use async_trait::async_trait;
use model::filter::Filter;
use model::Scope;

#[async_trait]
pub trait TagStore: Send + Sync {
    /// Tags of every resource type in the scope (DescribeTags), filtered.
    async fn describe_tags(&self, scope: &Scope, q: &TagQuery) -> Result<TagPage>;
}

#[derive(Debug, Clone, Default)]
pub struct TagQuery {
    pub filters: Vec<Filter>,
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    pub resource_id: String,
    pub resource_type: String,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct TagPage {
    pub tags: Vec<TagRow>,
    pub next: Option<i64>,
}
