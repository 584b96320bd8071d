//! DescribeTags on PostgreSQL ([`TagStore`]), and the `tags` rows every resource's writes
//! keep ([`insert_tags`], [`sync_tags`], [`delete_tags`]), as SQLite's backend keeps them
//! (`sqlite::tag_pages`, `sqlite::writer::documents`).
//!
//! A page follows SQLite's plan (`crate::pages::tags`): the most selective filter's index
//! ranges in `pos` order, every filter checked in the statement, read no further than the
//! page and one more.

use super::store::PgStore;

use crate::tags::{TagPage, TagQuery, TagStore};
use crate::Result;
use model::tags::Tag;
use model::Scope;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use std::collections::HashMap;

/// Rows per multi-row INSERT (6 parameters each, far below PostgreSQL's 65,535).
const INSERT_ROWS: usize = 500;

#[async_trait::async_trait]
impl TagStore for PgStore {
    async fn describe_tags(&self, scope: &Scope, q: &TagQuery) -> Result<TagPage> {
        let mut conn = self.pool().acquire().await?;
        crate::pages::tags::describe_tags(&mut super::pages::Connection(&mut conn), scope, q).await
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
