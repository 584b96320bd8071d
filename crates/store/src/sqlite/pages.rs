//! DescribeInstances' pages, driven by an index, so that a page costs about what it returns,
//! whatever the fleet's size and however selective its filters.
//!
//! A page first picks its *driver*, the cheapest ordered source of candidates
//! ([`Driver`]): the instances it names, else the most selective filter's index ranges
//! (`instance_attrs(scope, name, value, pk)`: one range per value, each already in launch
//! order, merged by SQLite), else the scope's instances (`instances(account, region, pk)`).
//! It reads candidate positions from the driver after the page's cursor, a chunk at a time,
//! and keeps those that pass the other filters (each an `EXISTS` probe on the instance's own
//! attributes by primary key), until it holds the page and one more. The scope is the first
//! column of every index a driver reads, so another account's instances are never read.
//!
//! What stays proportional to more than the page: candidates the *other* filters refuse
//! (two broad filters whose intersection is small read the smaller one's rows until the
//! page is full), and a wildcard value that matches too many distinct values to list
//! ([`Driver::Scan`]).
//!
//! Filters answered from a column of `instances` (`column_filters`) drive through the
//! column's index by scope (`metadata-options.state`, [`Driver::Column`]) or, for a field of
//! the packed options, through the ranges of the packed values the scope holds that the
//! filter matches ([`Driver::Packed`]: a scope holds few, looked up one index seek each);
//! either is probed on the instance's row. `instance-id` is the row's own
//! id: exact values drive as the ids a request names ([`Driver::Ids`], the unique index);
//! a wildcard value is probed on the row (a page with no other filter to drive reads the
//! scope until it is full).

use super::column_filters::{self, ColumnFilter};
use super::reads::{decode, push_values};
use crate::instances::{InstancePage, InstanceQuery};
use crate::Result;
use model::filter::{self, Filter, Token};
use model::{Ec2Error, Instance, Scope};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use std::sync::atomic::{AtomicU64, Ordering};

/// At most this many distinct values of one filter are merged as ranges; more are scanned.
const MAX_RANGES: usize = 64;
/// A wildcard value's distinct values are looked up one index seek at a time, at most this
/// many before the filter is taken as too broad to list.
const MAX_SEEKS: usize = 256;
/// Choosing among filters counts each one's rows up to this many pages (and a little).
const CHOICE_PAGES: usize = 2;
/// The largest chunk of candidates read at once.
const MAX_CHUNK: usize = 4096;
/// The chunk of a listing that has no page size (it still reads the store in steps).
const UNPAGED_CHUNK: usize = 1000;

/// How a page finds its candidates, in launch order (`pk`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Driver<'q> {
    /// The instances the request names (the unique index on `instance_id`): at most as many
    /// rows as ids.
    Ids(&'q [String]),
    /// One filter (`filters[index]`) through the rows of its exact values: one index range
    /// `(scope, name, value)` per value, each in `pk` order, merged by SQLite (`MERGE
    /// (UNION)`) and read no further than the chunk.
    Ranges {
        index: usize,
        name: &'q str,
        values: Vec<String>,
    },
    /// One filter whose values match too many distinct values to merge (e.g. `instance-id`
    /// = `*7`): every row of the attribute in the scope is read from the index and the
    /// matching ones sorted by `pk`. An index scan of one attribute, never of the documents.
    Scan { index: usize, name: &'q str },
    /// A filter answered from a column (`filters[index]`): the scope's instances whose
    /// column holds one of these values, in launch order (for `pending`, the partial index
    /// `instances_pending_scope`).
    Column {
        index: usize,
        column: &'static ColumnFilter,
        values: Vec<i64>,
    },
    /// A filter of a field of the packed options (`filters[index]`): the scope's instances
    /// whose packed options are one of these values (those of the scope's the filter
    /// matches), one range of `instances_options_scope` each, merged by SQLite.
    Packed { index: usize, values: Vec<i64> },
    /// No filter: the scope's instances in launch order.
    Scope,
}

/// The distinct packed options the scope's instances hold, in order, one index seek each;
/// `None` past [`MAX_SEEKS`] of them.
async fn packed_options(
    conn: &mut SqliteConnection,
    read: &AtomicU64,
    scope: &Scope,
) -> Result<Option<Vec<i64>>> {
    let mut out: Vec<i64> = Vec::new();
    loop {
        if out.len() == MAX_SEEKS {
            return Ok(None);
        }
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT options FROM instances WHERE account = ? AND region = ? AND options > ? ORDER BY options LIMIT 1",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(out.last().copied().unwrap_or(i64::MIN))
        .fetch_optional(&mut *conn)
        .await?;
        read.fetch_add(1, Ordering::Relaxed);
        match next {
            Some(v) => out.push(v),
            None => return Ok(Some(out)),
        }
    }
}

/// The scope's id in `scopes` (none when no instance of the scope was ever written).
async fn scope_id(conn: &mut SqliteConnection, scope: &Scope) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM scopes WHERE account = ? AND region = ?")
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// The literal prefix of a wildcard value: every stored value it matches starts with it.
fn literal_prefix(value: &str) -> String {
    filter::tokens(value)
        .iter()
        .map_while(|t| match t {
            Token::Literal(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// The distinct stored values of filter `f` that its values match, in the scope: exact
/// values as they are, wildcard values looked up one index seek per distinct value from
/// their literal prefix. `None` when there are too many to merge as ranges.
async fn matching_values(
    conn: &mut SqliteConnection,
    read: &AtomicU64,
    scope_id: i64,
    f: &Filter,
) -> Result<Option<Vec<String>>> {
    let mut out: Vec<String> = Vec::new();
    for v in &f.values {
        if !filter::has_wildcards(v) {
            out.push(filter::literal(v));
            continue;
        }
        let prefix = literal_prefix(v);
        let mut after: Option<String> = None;
        for seek in 0.. {
            if seek == MAX_SEEKS {
                return Ok(None);
            }
            let next: Option<String> = match &after {
                None => sqlx::query_scalar(
                    "SELECT value FROM instance_attrs WHERE scope = ? AND name = ? AND value >= ? ORDER BY value LIMIT 1",
                )
                .bind(scope_id)
                .bind(&f.name)
                .bind(&prefix),
                Some(a) => sqlx::query_scalar(
                    "SELECT value FROM instance_attrs WHERE scope = ? AND name = ? AND value > ? ORDER BY value LIMIT 1",
                )
                .bind(scope_id)
                .bind(&f.name)
                .bind(a.clone()),
            }
            .fetch_optional(&mut *conn)
            .await?;
            read.fetch_add(1, Ordering::Relaxed);
            match next {
                Some(value) if value.starts_with(&prefix) => {
                    if filter::matches(v, &value) {
                        out.push(value.clone());
                    }
                    after = Some(value);
                }
                _ => break,
            }
        }
    }
    out.sort();
    out.dedup();
    Ok((out.len() <= MAX_RANGES).then_some(out))
}

/// How many rows filter `name` has for these values in the scope, counted up to `cap`.
async fn bounded_count(
    conn: &mut SqliteConnection,
    read: &AtomicU64,
    scope_id: i64,
    name: &str,
    values: &[String],
    cap: usize,
) -> Result<usize> {
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT COUNT(*) FROM (SELECT 1 FROM instance_attrs WHERE scope = ",
    );
    qb.push_bind(scope_id)
        .push(" AND name = ")
        .push_bind(name.to_string())
        .push(" AND value IN (");
    let mut sep = qb.separated(", ");
    for v in values {
        sep.push_bind(v.clone());
    }
    qb.push(") LIMIT ").push_bind(cap as i64).push(")");
    let n: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
    read.fetch_add(n as u64, Ordering::Relaxed);
    Ok(n as usize)
}

/// How many of the scope's instances hold one of these values of `column` (an expression
/// of the row), counted up to `cap`.
async fn bounded_column_count(
    conn: &mut SqliteConnection,
    read: &AtomicU64,
    scope: &Scope,
    column: &str,
    values: &[i64],
    cap: usize,
) -> Result<usize> {
    let mut qb =
        QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM (SELECT 1 FROM instances WHERE ");
    push_scope(&mut qb, scope);
    qb.push(" AND ");
    push_column_values(&mut qb, column, values);
    qb.push(" LIMIT ").push_bind(cap as i64).push(")");
    let n: i64 = qb.build_query_scalar().fetch_one(&mut *conn).await?;
    read.fetch_add(n as u64, Ordering::Relaxed);
    Ok(n as usize)
}

/// `account = … AND region = …` of the instances' row.
fn push_scope(qb: &mut QueryBuilder<'_, Sqlite>, scope: &Scope) {
    qb.push("account = ")
        .push_bind(scope.account.clone())
        .push(" AND region = ")
        .push_bind(scope.region.clone());
}

/// `column = v`, or `IN (…)` for several values (`column` an expression of the row,
/// unqualified: one value compared with `=` lets SQLite use a partial index).
fn push_column_values(qb: &mut QueryBuilder<'_, Sqlite>, column: &str, values: &[i64]) {
    qb.push(column);
    if let [one] = values {
        qb.push(" = ").push_bind(*one);
    } else {
        qb.push(" IN (");
        let mut sep = qb.separated(", ");
        for v in values {
            sep.push_bind(*v);
        }
        qb.push(")");
    }
}

/// The page's driver: the ids named, else the filter with the fewest rows (each counted up
/// to a few pages' worth, so choosing costs no more than a few pages), else a filter too
/// broad to list, else the scope. `None` when a filter matches nothing in the scope.
async fn choose<'q>(
    conn: &mut SqliteConnection,
    read: &AtomicU64,
    scope: &Scope,
    scope_id: Option<i64>,
    q: &'q InstanceQuery,
    page: usize,
) -> Result<Option<Driver<'q>>> {
    if let Some(ids) = &q.ids {
        return Ok(Some(Driver::Ids(ids)));
    }
    if q.filters.is_empty() {
        return Ok(Some(Driver::Scope));
    }
    let Some(scope_id) = scope_id else {
        return Ok(None);
    };
    // The filters that may drive, by ranges of their values or by a column.
    let mut ranges = Vec::new();
    let mut scan = None;
    let mut named = None;
    // The scope's distinct packed options, looked up for the first filter of them.
    let mut packed: Option<Option<Vec<i64>>> = None;
    for (index, f) in q.filters.iter().enumerate() {
        if f.name == column_filters::INSTANCE_ID {
            // Exact ids (none escaped) drive as named ids: at most one row each.
            let exact = f
                .values
                .iter()
                .all(|v| !filter::has_wildcards(v) && filter::literal(v) == *v);
            if exact {
                named = named.or(Some(Driver::Ids(&f.values)));
            }
            continue;
        }
        if let Some(column) = column_filters::of(&f.name) {
            let values = column.matching(f);
            if values.is_empty() {
                return Ok(None);
            }
            if column.matches_all(&values) {
                // Every instance holds one of the values: nothing to drive by.
                continue;
            }
            if column.is_packed() {
                if packed.is_none() {
                    packed = Some(packed_options(conn, read, scope).await?);
                }
                // Past MAX_SEEKS distinct options the filter is only probed.
                let Some(Some(present)) = &packed else {
                    continue;
                };
                let values = column.packed_matching(present, &values);
                if values.is_empty() {
                    return Ok(None);
                }
                if values.len() < present.len() && values.len() <= MAX_RANGES {
                    ranges.push(Driver::Packed { index, values });
                }
                continue;
            }
            ranges.push(Driver::Column {
                index,
                column,
                values,
            });
            continue;
        }
        let name = f.name.as_str();
        match matching_values(conn, read, scope_id, f).await? {
            Some(values) if values.is_empty() => return Ok(None),
            Some(values) => ranges.push(Driver::Ranges {
                index,
                name,
                values,
            }),
            None => scan = scan.or(Some(Driver::Scan { index, name })),
        }
    }
    if named.is_some() {
        return Ok(named);
    }
    if ranges.len() > 1 {
        // Each count stops at the fewest rows seen so far: choosing reads at most a page's
        // worth (and a little) for the first filter, and no more than the best for the next.
        let mut cap = CHOICE_PAGES * page + 16;
        let mut best: Option<(usize, usize)> = None;
        for (n, d) in ranges.iter().enumerate() {
            let rows = match d {
                Driver::Ranges { name, values, .. } => {
                    bounded_count(conn, read, scope_id, name, values, cap).await?
                }
                Driver::Column { column, values, .. } => {
                    bounded_column_count(conn, read, scope, &column.column(), values, cap).await?
                }
                Driver::Packed { values, .. } => {
                    bounded_column_count(conn, read, scope, "options", values, cap).await?
                }
                Driver::Ids(_) | Driver::Scan { .. } | Driver::Scope => continue,
            };
            if best.is_none_or(|(_, b)| rows < b) {
                best = Some((n, rows));
                cap = rows + 1;
            }
        }
        if let Some((n, _)) = best {
            ranges.swap(0, n);
        }
    }
    Ok(Some(
        ranges.into_iter().next().or(scan).unwrap_or(Driver::Scope),
    ))
}

/// The statement reading the driver's next `chunk` candidate positions after `after`.
fn push_candidates(
    qb: &mut QueryBuilder<'_, Sqlite>,
    driver: &Driver<'_>,
    q: &InstanceQuery,
    scope: &Scope,
    scope_id: i64,
    after: i64,
    chunk: usize,
) {
    match driver {
        Driver::Ids(ids) => {
            qb.push("SELECT pk FROM instances WHERE instance_id IN (");
            let mut sep = qb.separated(", ");
            for id in ids.iter() {
                sep.push_bind(id.clone());
            }
            qb.push(") AND account = ")
                .push_bind(scope.account.clone())
                .push(" AND region = ")
                .push_bind(scope.region.clone())
                .push(" AND pk > ")
                .push_bind(after);
        }
        Driver::Ranges { name, values, .. } => {
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    // A row is in one range only, but an instance may hold several values
                    // of one attribute (`tag-key`): UNION keeps it once.
                    qb.push(" UNION ");
                }
                qb.push("SELECT pk FROM instance_attrs WHERE scope = ")
                    .push_bind(scope_id)
                    .push(" AND name = ")
                    .push_bind(name.to_string())
                    .push(" AND value = ")
                    .push_bind(v.clone())
                    .push(" AND pk > ")
                    .push_bind(after);
            }
        }
        Driver::Scan { index, name } => {
            qb.push("SELECT DISTINCT pk FROM instance_attrs WHERE scope = ")
                .push_bind(scope_id)
                .push(" AND name = ")
                .push_bind(name.to_string())
                .push(" AND ");
            push_values(qb, "value", &q.filters[*index].values);
            qb.push(" AND pk > ").push_bind(after);
        }
        Driver::Column { column, values, .. } => {
            qb.push("SELECT pk FROM instances WHERE ");
            push_scope(qb, scope);
            qb.push(" AND ");
            push_column_values(qb, &column.column(), values);
            qb.push(" AND pk > ").push_bind(after);
        }
        Driver::Packed { values, .. } => {
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    qb.push(" UNION ");
                }
                qb.push("SELECT pk FROM instances WHERE ");
                push_scope(qb, scope);
                qb.push(" AND options = ")
                    .push_bind(*v)
                    .push(" AND pk > ")
                    .push_bind(after);
            }
        }
        Driver::Scope => {
            qb.push("SELECT pk FROM instances WHERE ");
            push_scope(qb, scope);
            qb.push(" AND pk > ").push_bind(after);
        }
    }
    qb.push(" ORDER BY pk LIMIT ").push_bind(chunk as i64);
}

/// The statement reading, of these candidates, the first `need` that are in the scope and
/// pass every filter but the driver's (which its rows already pass).
///
/// The documents are read by primary key (`NOT INDEXED` leaves SQLite only the rowid): the
/// candidates' list is then walked in `pk` order and `ORDER BY pk` costs nothing. Left to
/// itself, with a page's worth of candidates SQLite reads them through `instances_scope`
/// (account, region, pk) and sorts the rows, documents and all, in a temporary b-tree: a
/// page's ~2 MB of documents spilled to a temp file, ten times the cost of reading them.
fn push_passing(
    qb: &mut QueryBuilder<'_, Sqlite>,
    driver: &Driver<'_>,
    q: &InstanceQuery,
    scope: &Scope,
    candidates: &[i64],
    need: usize,
) {
    qb.push("SELECT i.pk, i.doc FROM instances i NOT INDEXED WHERE i.pk IN (");
    let mut sep = qb.separated(", ");
    for pk in candidates {
        sep.push_bind(*pk);
    }
    qb.push(") AND i.account = ")
        .push_bind(scope.account.clone())
        .push(" AND i.region = ")
        .push_bind(scope.region.clone());
    let driven = match driver {
        Driver::Ranges { index, .. }
        | Driver::Scan { index, .. }
        | Driver::Column { index, .. }
        | Driver::Packed { index, .. } => Some(*index),
        Driver::Ids(_) | Driver::Scope => None,
    };
    for (n, f) in q.filters.iter().enumerate() {
        if Some(n) == driven {
            continue;
        }
        if let Some(column) = column_filters::of(&f.name) {
            qb.push(" AND ");
            push_column_values(qb, &column.column(), &column.matching(f));
            continue;
        }
        if f.name == column_filters::INSTANCE_ID {
            qb.push(" AND ");
            push_values(qb, "i.instance_id", &f.values);
            continue;
        }
        qb.push(" AND EXISTS (SELECT 1 FROM instance_attrs a WHERE a.pk = i.pk AND a.name = ")
            .push_bind(f.name.clone())
            .push(" AND ");
        push_values(qb, "a.value", &f.values);
        qb.push(")");
    }
    qb.push(" ORDER BY i.pk LIMIT ").push_bind(need as i64);
}

/// The ids asked for that the scope does not hold (reading ids only, no documents).
async fn missing_ids(conn: &mut SqliteConnection, scope: &Scope, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut qb =
        QueryBuilder::<Sqlite>::new("SELECT instance_id FROM instances WHERE instance_id IN (");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(id);
    }
    qb.push(") AND account = ")
        .push_bind(&scope.account)
        .push(" AND region = ")
        .push_bind(&scope.region);
    let found: Vec<String> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
    let mut missing: Vec<String> = Vec::new();
    for id in ids {
        if !found.contains(id) && !missing.contains(id) {
            missing.push(id.clone());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Ec2Error::InvalidInstanceIdNotFound(missing).into())
    }
}

/// One page of DescribeInstances (see the module's doc). `read` counts the rows the page
/// read from the store: candidates, documents, and the rows read to choose the driver.
pub async fn describe_instances(
    pool: &SqlitePool,
    read: &AtomicU64,
    scope: &Scope,
    q: &InstanceQuery,
) -> Result<InstancePage> {
    // One read transaction: the page sees one state of the store.
    let mut tx = pool.begin().await?;
    if let Some(ids) = &q.ids {
        // Every id asked for must exist, whatever the filters then keep.
        missing_ids(&mut tx, scope, ids).await?;
    }
    let page = q.limit.map(|l| l as usize + 1);
    let scope_id = scope_id(&mut tx, scope).await?;
    let wanted = page.unwrap_or(UNPAGED_CHUNK);
    let driver = choose(&mut tx, read, scope, scope_id, q, wanted).await?;
    let mut rows: Vec<(i64, String)> = Vec::new();
    if let Some(driver) = driver {
        let mut after = q.after.unwrap_or(0);
        let mut chunk = wanted.min(MAX_CHUNK);
        loop {
            let mut qb = QueryBuilder::<Sqlite>::new("");
            push_candidates(
                &mut qb,
                &driver,
                q,
                scope,
                scope_id.unwrap_or(-1),
                after,
                chunk,
            );
            let candidates: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
            read.fetch_add(candidates.len() as u64, Ordering::Relaxed);
            let Some(&last) = candidates.last() else {
                break;
            };
            after = last;
            let need = page.map_or(candidates.len(), |p| p - rows.len());
            let mut qb = QueryBuilder::<Sqlite>::new("");
            push_passing(&mut qb, &driver, q, scope, &candidates, need);
            let passing: Vec<(i64, String)> = qb.build_query_as().fetch_all(&mut *tx).await?;
            read.fetch_add(passing.len() as u64, Ordering::Relaxed);
            rows.extend(passing);
            if page.is_some_and(|p| rows.len() >= p) || candidates.len() < chunk {
                break;
            }
            // The other filters refused some: read on in larger steps.
            chunk = (chunk * 2).min(MAX_CHUNK);
        }
    }
    tx.commit().await?;
    let (rows, next) = super::reads::page(rows, q.limit, |r| r.0);
    let instances = rows
        .iter()
        .map(|(_, d)| decode::<Instance>(d))
        .collect::<Result<_>>()?;
    Ok(InstancePage { instances, next })
}

#[cfg(test)]
mod tests;
