//! DescribeTags' pages, driven by an index like DescribeInstances' ([`super`]), one plan for
//! both backends: a tag is one row, so a page is one statement whose *driver* is the most
//! selective filter's index ranges in `pos` order, each range checking every filter, merged
//! and read no further than the page and one more.
//!
//! Drivers, most selective first: `resource-id` (the resources named: `UNIQUE(resource_id,
//! key)`, their few tags sorted), `tag:KEY` (the key's range in `tags_key`), `key` and
//! `resource-type` (one range per value in `tags_key` / `tags_type`; a wildcard value's
//! distinct values are looked up from its literal prefix, one index seek each: the columns
//! are ordered by their bytes, SQLite's `BINARY`, PostgreSQL's `COLLATE "C"`), else the
//! scope's tags in order (`tags_scope`): a `value` filter alone, or a wildcard matching too
//! many distinct keys to list, reads the scope's tags until the page is full.

use super::sql::{Dialect, Stmt};
use super::{literal_prefix, Reads};
use crate::tags::{TagPage, TagQuery, TagRow};
use crate::Result;
use model::filter::{self, Filter};
use model::Scope;

/// At most this many distinct values of one filter are merged as ranges.
const MAX_RANGES: usize = 64;
/// A wildcard value's distinct values are looked up at most this many seeks.
const MAX_SEEKS: usize = 256;

/// A tag's row: its position, resource id and type, key and value.
pub type Row = (i64, String, String, String, String);

/// The column a page's ranges are read on, and their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Driver {
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
async fn matching<R: Reads>(
    r: &mut R,
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
        let prefix = literal_prefix(v);
        let (mut bound, mut op) = (prefix.clone(), ">=");
        for seek in 0.. {
            if seek == MAX_SEEKS {
                return Ok(None);
            }
            let mut s = Stmt::new(
                r.dialect(),
                &format!("SELECT {column} FROM tags WHERE account = "),
            );
            s.bind(scope.account.as_str())
                .push(" AND region = ")
                .bind(scope.region.as_str())
                .push(&format!(" AND {column} {op} "))
                .bind(bound.as_str())
                .push(&format!(" ORDER BY {column} LIMIT 1"));
            match r.texts(&s).await?.into_iter().next() {
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
async fn choose<R: Reads>(r: &mut R, scope: &Scope, filters: &[Filter]) -> Result<Option<Driver>> {
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
            match matching(r, scope, column, &f.values).await? {
                Some(values) if values.is_empty() => return Ok(None),
                Some(values) => return Ok(Some(Driver::Ranges { column, values })),
                None => {}
            }
        }
    }
    Ok(Some(Driver::Scope))
}

/// Every filter, as conditions on a tag's row.
pub(crate) fn push_filters(s: &mut Stmt, filters: &[Filter]) -> Result<()> {
    for f in filters {
        s.push(" AND ");
        match f.name.as_str() {
            "key" => s.values("key", &f.values),
            "value" => s.values("value", &f.values),
            "resource-id" => s.values("resource_id", &f.values),
            "resource-type" => s.values("resource_type", &f.values),
            name => match name.strip_prefix("tag:") {
                Some(key) => s
                    .push("(key = ")
                    .bind(key)
                    .push(" AND ")
                    .values("value", &f.values)
                    .push(")"),
                None => return Err(filter::invalid_filter(name).into()),
            },
        };
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
    /// on SQLite `+` keeps it from walking the scope's tags in `pos` order instead to spare
    /// the sort of those few rows.
    Resources(&'d [String]),
}

/// One arm: the scope's tags after the cursor, in the arm's rows, that pass every filter.
fn push_arm(s: &mut Stmt, scope: &Scope, q: &TagQuery, arm: Arm<'_>) -> Result<()> {
    let plus = if matches!(arm, Arm::Resources(_)) && s.dialect == Dialect::Sqlite {
        "+"
    } else {
        ""
    };
    s.push(&format!(
        "SELECT pos, resource_id, resource_type, key, value FROM tags WHERE {plus}account = "
    ))
    .bind(scope.account.as_str())
    .push(&format!(" AND {plus}region = "))
    .bind(scope.region.as_str())
    .push(&format!(" AND {plus}pos > "))
    .bind(q.after.unwrap_or(0));
    match arm {
        Arm::Scope => {}
        Arm::Range(column, value) => {
            s.push(&format!(" AND {column} = ")).bind(value);
        }
        Arm::Resources(ids) => {
            s.push(" AND resource_id IN (")
                .list(ids.iter().map(String::as_str))
                .push(")");
        }
    }
    push_filters(s, &q.filters)
}

/// The page's statement.
///
/// SQLite merges the ranges of a compound `UNION ALL`, each in `pos` order, and stops at the
/// `LIMIT`; on PostgreSQL each range of several is read no further than the page and one
/// more (a parenthesized arm with its own `LIMIT`) before the few rows are merged.
pub(crate) fn push_page(s: &mut Stmt, scope: &Scope, q: &TagQuery, driver: &Driver) -> Result<()> {
    let limit = q.limit.map(|l| l as i64 + 1);
    match driver {
        Driver::Resources(ids) => push_arm(s, scope, q, Arm::Resources(ids))?,
        Driver::Ranges { column, values } => {
            let bounded = s.dialect == Dialect::Postgres && values.len() > 1 && limit.is_some();
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    // A tag has one value of the column: the ranges are disjoint.
                    s.push(" UNION ALL ");
                }
                if bounded {
                    s.push("(");
                }
                push_arm(s, scope, q, Arm::Range(column, v))?;
                if let (true, Some(l)) = (bounded, limit) {
                    s.push(" ORDER BY pos LIMIT ").bind(l).push(")");
                }
            }
        }
        Driver::Scope => push_arm(s, scope, q, Arm::Scope)?,
    }
    s.push(" ORDER BY pos");
    if let Some(l) = limit {
        s.push(" LIMIT ").bind(l);
    }
    Ok(())
}

/// One page of DescribeTags, read through `r`.
pub async fn describe_tags<R: Reads>(r: &mut R, scope: &Scope, q: &TagQuery) -> Result<TagPage> {
    // Unknown filter names are refused whatever the store holds.
    push_filters(&mut Stmt::new(r.dialect(), ""), &q.filters)?;
    let Some(driver) = choose(r, scope, &q.filters).await? else {
        return Ok(TagPage {
            tags: vec![],
            next: None,
        });
    };
    let mut s = Stmt::new(r.dialect(), "");
    push_page(&mut s, scope, q, &driver)?;
    let rows = r.tags(&s).await?;
    let (rows, next) = crate::paging::page(rows, q.limit, |r| r.0);
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
