//! DescribeTags on PostgreSQL ([`TagStore`]), and the `tags` rows every resource's writes
//! keep ([`insert_tags`], [`sync_tags`], [`delete_tags`]), as SQLite's backend keeps them
//! (`sqlite::tag_pages`, `sqlite::writer::documents`).
//!
//! A page reads the scope's tags in `pos` order after the cursor, a chunk at a time, and
//! keeps those every filter matches (EC2's wildcards, by `model::filter::matches`) until it
//! has the page and one more: `next` is then the page's last position, as SQLite's.

use super::store::PgStore;
use crate::paging::page;
use crate::tags::{TagPage, TagQuery, TagRow, TagStore};
use crate::Result;
use model::filter::{self, Filter};
use model::tags::Tag;
use model::Scope;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use std::collections::HashMap;

/// Tags read per statement while filling a page.
const CHUNK: i64 = 1000;

/// Rows per multi-row INSERT (6 parameters each, far below PostgreSQL's 65,535).
const INSERT_ROWS: usize = 500;

/// A tag's row: its position, resource id and type, key and value.
type Row = (i64, String, String, String, String);

/// Whether one tag row passes one filter (unknown names are refused beforehand).
fn passes(f: &Filter, (_, id, kind, key, value): &Row) -> bool {
    let any = |text: &str| f.values.iter().any(|p| filter::matches(p, text));
    match f.name.as_str() {
        "key" => any(key),
        "value" => any(value),
        "resource-id" => any(id),
        "resource-type" => any(kind),
        name => name.strip_prefix("tag:") == Some(key.as_str()) && any(value),
    }
}

#[async_trait::async_trait]
impl TagStore for PgStore {
    async fn describe_tags(&self, scope: &Scope, q: &TagQuery) -> Result<TagPage> {
        // Unknown filter names are refused whatever the store holds.
        for f in &q.filters {
            if !matches!(
                f.name.as_str(),
                "key" | "value" | "resource-id" | "resource-type"
            ) && !f.name.starts_with("tag:")
            {
                return Err(filter::invalid_filter(&f.name).into());
            }
        }
        let wanted = q.limit.map(|l| l as usize + 1);
        let mut found: Vec<Row> = Vec::new();
        let mut after = q.after.unwrap_or(0);
        loop {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT pos, resource_id, resource_type, key, value FROM tags
                 WHERE account = $1 AND region = $2 AND pos > $3 ORDER BY pos LIMIT $4",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(after)
            .bind(CHUNK)
            .fetch_all(self.pool())
            .await?;
            let last = rows.len() < CHUNK as usize;
            if let Some(r) = rows.last() {
                after = r.0;
            }
            for r in rows {
                if wanted.is_some_and(|w| found.len() >= w) {
                    break;
                }
                if q.filters.iter().all(|f| passes(f, &r)) {
                    found.push(r);
                }
            }
            if last || wanted.is_some_and(|w| found.len() >= w) {
                break;
            }
        }
        // The page, and the position after which the next starts when more match.
        let (found, next) = page(found, q.limit, |r| r.0);
        let tags = found
            .into_iter()
            .map(|(_, resource_id, resource_type, key, value)| TagRow {
                resource_id,
                resource_type,
                key,
                value,
            })
            .collect();
        Ok(TagPage { tags, next })
    }
}

/// The tags of new resources of one type, each `(resource id, scope, tag)`, in order; a key
/// given twice for one resource keeps its first position and takes its last value (as
/// SQLite's upsert, which PostgreSQL refuses within one statement).
pub(super) async fn insert_tags(
    conn: &mut PgConnection,
    resource_type: &str,
    tags: &[(&str, &Scope, &Tag)],
) -> Result<()> {
    let mut rows: Vec<(&str, &Scope, &str, &str)> = Vec::with_capacity(tags.len());
    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    for (id, scope, t) in tags {
        match seen.get(&(*id, t.key.as_str())) {
            Some(&n) => rows[n].3 = &t.value,
            None => {
                seen.insert((id, &t.key), rows.len());
                rows.push((id, scope, &t.key, &t.value));
            }
        }
    }
    for chunk in rows.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Postgres>::new(
            "INSERT INTO tags (resource_id, resource_type, account, region, key, value) ",
        );
        qb.push_values(chunk, |mut b, (id, scope, key, value)| {
            b.push_bind(*id)
                .push_bind(resource_type)
                .push_bind(&scope.account)
                .push_bind(&scope.region)
                .push_bind(*key)
                .push_bind(*value);
        });
        qb.push(" ON CONFLICT (resource_id, key) DO UPDATE SET value = EXCLUDED.value");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The tags rows of a resource, from its tags `before` to `after`: keys gone are deleted,
/// new keys appended, and a changed value keeps its row (and so its position).
pub(super) async fn sync_tags(
    conn: &mut PgConnection,
    resource_id: &str,
    resource_type: &str,
    scope: &Scope,
    before: &[Tag],
    after: &[Tag],
) -> Result<()> {
    for t in before {
        if !after.iter().any(|a| a.key == t.key) {
            sqlx::query("DELETE FROM tags WHERE resource_id = $1 AND key = $2")
                .bind(resource_id)
                .bind(&t.key)
                .execute(&mut *conn)
                .await?;
        }
    }
    for t in after {
        if !before.contains(t) {
            sqlx::query(
                "INSERT INTO tags (resource_id, resource_type, account, region, key, value)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (resource_id, key) DO UPDATE SET value = EXCLUDED.value",
            )
            .bind(resource_id)
            .bind(resource_type)
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(&t.key)
            .bind(&t.value)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Every tag of a resource (it is gone).
pub(super) async fn delete_tags(conn: &mut PgConnection, resource_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM tags WHERE resource_id = $1")
        .bind(resource_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
