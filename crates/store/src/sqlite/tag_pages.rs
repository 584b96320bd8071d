//! DescribeTags' pages, driven by an index like DescribeInstances' (`sqlite::pages`): a tag
//! is one row, so a page is one statement whose *driver* is the most selective filter's
//! index ranges in `pos` order, each range checking every filter, merged by SQLite and read
//! no further than the page and one more.
//!
//! Drivers, most selective first: `resource-id` (the resources named: `UNIQUE(resource_id,
//! key)`, their few tags sorted), `tag:KEY` (the key's range in `tags_key`), `key` and
//! `resource-type` (one range per value in `tags_key` / `tags_type`; a wildcard value's
//! distinct values are looked up from its literal prefix, one index seek each), else the
//! scope's tags in order (`tags_scope`): a `value` filter alone, or a wildcard matching too
//! many distinct keys to list, reads the scope's tags until the page is full.

use super::reads::{page, push_values};
use crate::tags::{TagPage, TagQuery, TagRow};
use crate::Result;
use model::filter::{self, Filter, Token};
use model::Scope;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

/// At most this many distinct values of one filter are merged as ranges.
const MAX_RANGES: usize = 64;
/// A wildcard value's distinct values are looked up at most this many seeks.
const MAX_SEEKS: usize = 256;

/// The column a page's ranges are read on, and their values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Driver {
    /// The resources named (exact ids).
    Resources(Vec<String>),
    /// One range per value of this indexed column (`key`, `resource_type`).
    Ranges {
        column: &'static str,
        values: Vec<String>,
    },
    /// The scope's tags.
    Scope,
}

fn exact(values: &[String]) -> Option<Vec<String>> {
    values
        .iter()
        .all(|v| !filter::has_wildcards(v))
        .then(|| values.iter().map(|v| filter::literal(v)).collect())
}

/// The distinct values of `column` in the scope that `values` match, looked up one index
/// seek per distinct value from each wildcard's literal prefix; `None` when too many.
async fn matching(
    conn: &mut SqliteConnection,
    scope: &Scope,
    column: &'static str,
    values: &[String],
) -> Result<Option<Vec<String>>> {
    let mut out = Vec::new();
    for v in values {
        if !filter::has_wildcards(v) {
            out.push(filter::literal(v));
            continue;
        }
        let prefix: String = filter::tokens(v)
            .iter()
            .map_while(|t| match t {
                Token::Literal(c) => Some(*c),
                _ => None,
            })
            .collect();
        let (mut bound, mut op) = (prefix.clone(), ">=");
        for seek in 0.. {
            if seek == MAX_SEEKS {
                return Ok(None);
            }
            let next: Option<String> = sqlx::query_scalar(&format!(
                "SELECT {column} FROM tags WHERE account = ? AND region = ? AND {column} {op} ? ORDER BY {column} LIMIT 1"
            ))
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(&bound)
            .fetch_optional(&mut *conn)
            .await?;
            match next {
                Some(value) if value.starts_with(&prefix) => {
                    if filter::matches(v, &value) {
                        out.push(value.clone());
                    }
                    (bound, op) = (value, ">");
                }
                _ => break,
            }
        }
    }
    out.sort();
    out.dedup();
    Ok((out.len() <= MAX_RANGES).then_some(out))
}

/// The page's driver (`None`: a filter matches nothing in the scope).
async fn choose(
    conn: &mut SqliteConnection,
    scope: &Scope,
    filters: &[Filter],
) -> Result<Option<Driver>> {
    fn named<'f>(filters: &'f [Filter], name: &'static str) -> impl Iterator<Item = &'f Filter> {
        filters.iter().filter(move |f| f.name == name)
    }
    if let Some(ids) = named(filters, "resource-id").find_map(|f| exact(&f.values)) {
        return Ok(Some(Driver::Resources(ids)));
    }
    if let Some(key) = filters.iter().find_map(|f| f.name.strip_prefix("tag:")) {
        return Ok(Some(Driver::Ranges {
            column: "key",
            values: vec![key.to_string()],
        }));
    }
    for (name, column) in [("key", "key"), ("resource-type", "resource_type")] {
        for f in named(filters, name) {
            match matching(conn, scope, column, &f.values).await? {
                Some(values) if values.is_empty() => return Ok(None),
                Some(values) => return Ok(Some(Driver::Ranges { column, values })),
                None => {}
            }
        }
    }
    Ok(Some(Driver::Scope))
}

/// Every filter, as conditions on a tag's row.
fn push_filters(qb: &mut QueryBuilder<'_, Sqlite>, filters: &[Filter]) -> Result<()> {
    for f in filters {
        qb.push(" AND ");
        match f.name.as_str() {
            "key" => push_values(qb, "key", &f.values),
            "value" => push_values(qb, "value", &f.values),
            "resource-id" => push_values(qb, "resource_id", &f.values),
            "resource-type" => push_values(qb, "resource_type", &f.values),
            name => match name.strip_prefix("tag:") {
                Some(key) => {
                    qb.push("(key = ").push_bind(key.to_string()).push(" AND ");
                    push_values(qb, "value", &f.values);
                    qb.push(")");
                }
                None => return Err(filter::invalid_filter(name).into()),
            },
        }
    }
    Ok(())
}

/// Which rows one arm of a page reads.
enum Arm<'d> {
    /// The scope's tags (`tags_scope`).
    Scope,
    /// The scope's tags with this value of an indexed column.
    Range(&'static str, &'d str),
    /// The tags of the resources named, by their own index (`UNIQUE(resource_id, key)`);
    /// `+` keeps SQLite from walking the scope's tags in `pos` order instead to spare the
    /// sort of those few rows.
    Resources(&'d [String]),
}

/// One arm: the scope's tags after the cursor, in the arm's rows, that pass every filter.
fn push_arm(
    qb: &mut QueryBuilder<'_, Sqlite>,
    scope: &Scope,
    q: &TagQuery,
    arm: Arm<'_>,
) -> Result<()> {
    let plus = if matches!(arm, Arm::Resources(_)) {
        "+"
    } else {
        ""
    };
    qb.push(format!(
        "SELECT pos, resource_id, resource_type, key, value FROM tags WHERE {plus}account = "
    ))
    .push_bind(scope.account.clone())
    .push(format!(" AND {plus}region = "))
    .push_bind(scope.region.clone())
    .push(format!(" AND {plus}pos > "))
    .push_bind(q.after.unwrap_or(0));
    match arm {
        Arm::Scope => {}
        Arm::Range(column, value) => {
            qb.push(format!(" AND {column} = "))
                .push_bind(value.to_string());
        }
        Arm::Resources(ids) => {
            qb.push(" AND resource_id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id.clone());
            }
            qb.push(")");
        }
    }
    push_filters(qb, &q.filters)
}

/// The page's statement.
fn push_page(
    qb: &mut QueryBuilder<'_, Sqlite>,
    scope: &Scope,
    q: &TagQuery,
    driver: &Driver,
) -> Result<()> {
    match driver {
        Driver::Resources(ids) => push_arm(qb, scope, q, Arm::Resources(ids))?,
        Driver::Ranges { column, values } => {
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    // A tag has one value of the column: the ranges are disjoint.
                    qb.push(" UNION ALL ");
                }
                push_arm(qb, scope, q, Arm::Range(column, v))?;
            }
        }
        Driver::Scope => push_arm(qb, scope, q, Arm::Scope)?,
    }
    qb.push(" ORDER BY pos");
    if let Some(limit) = q.limit {
        qb.push(" LIMIT ").push_bind(limit as i64 + 1);
    }
    Ok(())
}

pub async fn describe_tags(pool: &SqlitePool, scope: &Scope, q: &TagQuery) -> Result<TagPage> {
    // Unknown filter names are refused whatever the store holds.
    push_filters(&mut QueryBuilder::new(""), &q.filters)?;
    let mut conn = pool.acquire().await?;
    let Some(driver) = choose(&mut conn, scope, &q.filters).await? else {
        return Ok(TagPage {
            tags: vec![],
            next: None,
        });
    };
    let mut qb = QueryBuilder::<Sqlite>::new("");
    push_page(&mut qb, scope, q, &driver)?;
    let rows: Vec<(i64, String, String, String, String)> =
        qb.build_query_as().fetch_all(&mut *conn).await?;
    let (rows, next) = page(rows, q.limit, |r| r.0);
    let tags = rows
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

#[cfg(test)]
mod tests {
    //! SQLite held to the indexes for every DescribeTags filter as the page's driver.
    use super::*;
    use sqlx::Connection;

    async fn plan(conn: &mut SqliteConnection, q: &TagQuery, driver: &Driver) -> Vec<String> {
        let mut qb = QueryBuilder::<Sqlite>::new("EXPLAIN QUERY PLAN ");
        push_page(&mut qb, &Scope::new("123456789012", "us-east-1"), q, driver).unwrap();
        let rows: Vec<(i64, i64, i64, String)> =
            qb.build_query_as().fetch_all(&mut *conn).await.unwrap();
        rows.into_iter().map(|r| r.3).collect()
    }

    fn f(name: &str, values: &[&str]) -> Filter {
        Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn every_driver_reads_an_index_range_and_ranges_are_merged() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        crate::sqlite::schema::migrate(&mut conn).await.unwrap();
        let extra = f("value", &["a*"]);
        for (filter, column) in [
            (f("key", &["Name"]), "key"),
            (f("key", &["Name", "env", "team"]), "key"),
            (f("tag:Name", &["web"]), "key"),
            (f("resource-type", &["instance"]), "resource_type"),
            (f("resource-type", &["instance", "vpc"]), "resource_type"),
        ] {
            let q = TagQuery {
                filters: vec![filter.clone(), extra.clone()],
                after: Some(3),
                limit: Some(5),
            };
            let values = match filter.name.strip_prefix("tag:") {
                Some(key) => vec![key.to_string()],
                None => filter.values.clone(),
            };
            let driver = Driver::Ranges { column, values };
            let plan = plan(&mut conn, &q, &driver).await;
            assert!(
                plan.iter()
                    .all(|l| !l.starts_with("SCAN") && !l.contains("TEMP B-TREE")),
                "{filter:?}: {plan:?}"
            );
            assert!(
                plan.iter()
                    .filter(|l| l.starts_with("SEARCH"))
                    .all(|l| l.contains(&format!("{column}=? AND pos>?"))),
                "{filter:?}: one range per value, after the cursor: {plan:?}"
            );
        }
        let q = TagQuery {
            filters: vec![f("resource-id", &["i-1", "vpc-2"])],
            after: None,
            limit: Some(5),
        };
        let plan = plan(
            &mut conn,
            &q,
            &Driver::Resources(vec!["i-1".into(), "vpc-2".into()]),
        )
        .await;
        assert!(plan.iter().all(|l| !l.starts_with("SCAN")), "{plan:?}");
        assert!(plan.iter().any(|l| l.contains("resource_id=?")), "{plan:?}");
    }
}
