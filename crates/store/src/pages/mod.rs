//! DescribeInstances' pages, driven by an index, so that a page costs about what it returns,
//! whatever the fleet's size and however selective its filters: one plan for both backends,
//! each running its statements ([`Reads`]: `sqlite::pages`, `postgres::pages`).
//!
//! A page first picks its *driver*, the cheapest ordered source of candidates
//! ([`Driver`]): the instances it names, else the most selective filter's index ranges
//! (`instance_attrs(scope, name, value, pk)`: one range per value, each already in launch
//! order, merged), else the scope's instances (`instances(account, region, pk)`). It reads
//! candidate positions from the driver after the page's cursor, a chunk at a time, and keeps
//! those that pass the other filters (each an `EXISTS` probe on the instance's own
//! attributes by primary key), until it holds the page and one more. The scope is the first
//! column of every index a driver reads, so another account's instances are never read.
//!
//! What stays proportional to more than the page: candidates the *other* filters refuse
//! (two broad filters whose intersection is small read the smaller one's rows until the
//! page is full), and a wildcard value that matches too many distinct values to list
//! ([`Driver::Scan`]).
//!
//! Filters answered from a column of `instances` ([`column_filters`]) drive through the
//! column's index by scope (`metadata-options.state`, [`Driver::Column`]) or, for a field of
//! the packed options, through the ranges of the packed values the scope holds that the
//! filter matches ([`Driver::Packed`]: a scope holds few, looked up one index seek each);
//! either is probed on the instance's row. `instance-id` is the row's own
//! id: exact values drive as the ids a request names ([`Driver::Ids`], the unique index);
//! a wildcard value is probed on the row (a page with no other filter to drive reads the
//! scope until it is full).
//!
//! A wildcard value's distinct values are found by seeking the attribute's index from the
//! value's literal prefix: the values are ordered by their bytes (SQLite's `BINARY`,
//! PostgreSQL's `COLLATE "C"`, as Rust orders strings), so those with the prefix are
//! together and after it.

pub mod column_filters;
pub mod sql;
pub mod tags;

use crate::instances::{InstancePage, InstanceQuery};
use crate::Result;
use async_trait::async_trait;
use column_filters::ColumnFilter;
use model::filter::{self, Filter, Token};
use model::{Ec2Error, Instance, Scope};
use sql::{Dialect, Stmt};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

/// At most this many distinct values of one filter are merged as ranges; more are scanned.
const MAX_RANGES: usize = 64;
/// A wildcard value's distinct values are looked up one index seek at a time, at most this
/// many before the filter is taken as too broad to list.
const MAX_SEEKS: usize = 256;
/// Choosing among filters counts each one's rows up to this many pages (and a little).
const CHOICE_PAGES: usize = 2;
/// The largest chunk of candidates read at once.
pub(crate) const MAX_CHUNK: usize = 4096;
/// The chunk of a listing that has no page size (it still reads the store in steps).
const UNPAGED_CHUNK: usize = 1000;

/// What a page needs of its backend: the statements it writes, run in the page's one read
/// transaction (one state of the store).
#[async_trait]
pub trait Reads: Send {
    /// The dialect the backend's statements are written in.
    fn dialect(&self) -> Dialect;
    /// The first column of every row, an integer.
    async fn ints(&mut self, s: &Stmt) -> Result<Vec<i64>>;
    /// The first column of every row, a text.
    async fn texts(&mut self, s: &Stmt) -> Result<Vec<String>>;
    /// `(pk, document)` rows.
    async fn docs(&mut self, s: &Stmt) -> Result<Vec<(i64, String)>>;
    /// Tags' rows (`tags::Row`).
    async fn tags(&mut self, s: &Stmt) -> Result<Vec<tags::Row>>;
}

/// A backend's [`Reads`]: `struct Connection<'c>(pub &'c mut $conn)` running the plan's
/// statements, each with its values bound (`query`). A macro, not a generic: sqlx's
/// connections share no trait a generic could name without bounds on every value bound
/// and every executor (see [`sql`]).
macro_rules! page_reads {
    ($conn:ty, $db:ty, $args:ty, $dialect:expr) => {
        /// A statement with its values bound.
        pub(crate) fn query(s: &$crate::pages::sql::Stmt) -> sqlx::query::Query<'_, $db, $args> {
            let mut q = sqlx::query(&s.sql);
            for b in &s.binds {
                q = match b {
                    $crate::pages::sql::Bind::Int(v) => q.bind(*v),
                    $crate::pages::sql::Bind::Text(v) => q.bind(v.as_str()),
                };
            }
            q
        }

        /// A page's reads on one connection (in the page's transaction).
        pub(crate) struct Connection<'c>(pub &'c mut $conn);

        #[async_trait::async_trait]
        impl $crate::pages::Reads for Connection<'_> {
            fn dialect(&self) -> $crate::pages::sql::Dialect {
                $dialect
            }

            async fn ints(&mut self, s: &$crate::pages::sql::Stmt) -> $crate::Result<Vec<i64>> {
                self.column(s).await
            }

            async fn texts(&mut self, s: &$crate::pages::sql::Stmt) -> $crate::Result<Vec<String>> {
                self.column(s).await
            }

            async fn docs(
                &mut self,
                s: &$crate::pages::sql::Stmt,
            ) -> $crate::Result<Vec<(i64, String)>> {
                use sqlx::Row;
                let rows = query(s).fetch_all(&mut *self.0).await?;
                Ok(rows
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<std::result::Result<_, sqlx::Error>>()?)
            }

            async fn tags(
                &mut self,
                s: &$crate::pages::sql::Stmt,
            ) -> $crate::Result<Vec<$crate::pages::tags::Row>> {
                use sqlx::Row;
                let rows = query(s).fetch_all(&mut *self.0).await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get(0)?,
                            r.try_get(1)?,
                            r.try_get(2)?,
                            r.try_get(3)?,
                            r.try_get(4)?,
                        ))
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?)
            }
        }

        impl Connection<'_> {
            /// The first column of every row.
            async fn column<T>(&mut self, s: &$crate::pages::sql::Stmt) -> $crate::Result<Vec<T>>
            where
                T: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db> + Send + Unpin,
            {
                use sqlx::Row;
                let rows = query(s).fetch_all(&mut *self.0).await?;
                Ok(rows
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<std::result::Result<_, sqlx::Error>>()?)
            }
        }
    };
}

pub(crate) use page_reads;

/// The filter attributes the store keeps as rows of `instance_attrs` (not those answered
/// from a column: [`column_filters`]).
pub fn kept_attributes(i: &Instance) -> Vec<(String, String)> {
    let mut attrs = i.filter_attributes();
    attrs.retain(|(name, _)| column_filters::kept_as_rows(name));
    attrs
}

/// A filter attribute: `(name, value)`.
pub type Attribute = (String, String);

/// The filter rows a write changes from `before` (none: a launch) to `after`: those gone,
/// then those new, each `(name, value)`.
pub fn changed_attributes(
    before: Option<&Instance>,
    after: &Instance,
) -> (Vec<Attribute>, Vec<Attribute>) {
    let old = before.map(kept_attributes).unwrap_or_default();
    let new = kept_attributes(after);
    // Sets: an instance with many tags has a hundred or more.
    let (old_set, new_set): (HashSet<_>, HashSet<_>) = (old.iter().collect(), new.iter().collect());
    let gone = old_set.difference(&new_set).map(|a| (*a).clone()).collect();
    let added = new_set.difference(&old_set).map(|a| (*a).clone()).collect();
    (gone, added)
}

/// How a page finds its candidates, in launch order (`pk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Driver<'q> {
    /// The instances the request names (the unique index on `instance_id`): at most as many
    /// rows as ids.
    Ids(&'q [String]),
    /// One filter (`filters[index]`) through the rows of its exact values: one index range
    /// `(scope, name, value)` per value, each in `pk` order, merged (SQLite's `MERGE
    /// (UNION)`; on PostgreSQL each range read no further than the chunk).
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
    /// matches), one range of `instances_options_scope` each, merged.
    Packed { index: usize, values: Vec<i64> },
    /// No filter: the scope's instances in launch order.
    Scope,
}

/// The first integer of a statement's rows, if any.
async fn first_int<R: Reads>(r: &mut R, s: &Stmt) -> Result<Option<i64>> {
    Ok(r.ints(s).await?.first().copied())
}

/// The distinct packed options the scope's instances hold, in order, one index seek each;
/// `None` past [`MAX_SEEKS`] of them.
async fn packed_options<R: Reads>(
    r: &mut R,
    read: &AtomicU64,
    scope: &Scope,
) -> Result<Option<Vec<i64>>> {
    let mut out: Vec<i64> = Vec::new();
    loop {
        if out.len() == MAX_SEEKS {
            return Ok(None);
        }
        let mut s = Stmt::new(r.dialect(), "SELECT options FROM instances WHERE ");
        push_scope(&mut s, scope);
        s.push(" AND options > ")
            .bind(out.last().copied().unwrap_or(i64::MIN))
            .push(" ORDER BY options LIMIT 1");
        let next = first_int(r, &s).await?;
        read.fetch_add(1, Ordering::Relaxed);
        match next {
            Some(v) => out.push(v),
            None => return Ok(Some(out)),
        }
    }
}

/// The scope's id in `scopes` (none when no instance of the scope was ever written).
async fn scope_id<R: Reads>(r: &mut R, scope: &Scope) -> Result<Option<i64>> {
    let mut s = Stmt::new(r.dialect(), "SELECT id FROM scopes WHERE account = ");
    s.bind(scope.account.as_str())
        .push(" AND region = ")
        .bind(scope.region.as_str());
    first_int(r, &s).await
}

/// The literal prefix of a wildcard value: every stored value it matches starts with it.
pub(crate) fn literal_prefix(value: &str) -> String {
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
async fn matching_values<R: Reads>(
    r: &mut R,
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
            let mut s = Stmt::new(
                r.dialect(),
                "SELECT value FROM instance_attrs WHERE scope = ",
            );
            s.bind(scope_id).push(" AND name = ").bind(f.name.as_str());
            match &after {
                None => s.push(" AND value >= ").bind(prefix.as_str()),
                Some(a) => s.push(" AND value > ").bind(a.as_str()),
            };
            s.push(" ORDER BY value LIMIT 1");
            let next = r.texts(&s).await?.into_iter().next();
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
async fn bounded_count<R: Reads>(
    r: &mut R,
    read: &AtomicU64,
    scope_id: i64,
    name: &str,
    values: &[String],
    cap: usize,
) -> Result<usize> {
    let mut s = Stmt::new(
        r.dialect(),
        "SELECT COUNT(*) FROM (SELECT 1 FROM instance_attrs WHERE scope = ",
    );
    s.bind(scope_id)
        .push(" AND name = ")
        .bind(name)
        .push(" AND value IN (")
        .list(values.iter().map(String::as_str))
        .push(") LIMIT ")
        .bind(cap as i64)
        .push(") AS c");
    counted(r, read, &s).await
}

/// The count `s` answers, its rows counted as read.
async fn counted<R: Reads>(r: &mut R, read: &AtomicU64, s: &Stmt) -> Result<usize> {
    let n = first_int(r, s).await?.unwrap_or(0);
    read.fetch_add(n as u64, Ordering::Relaxed);
    Ok(n as usize)
}

/// How many of the scope's instances hold one of these values of `column`, counted up to
/// `cap` (`None`: the packed options themselves).
async fn bounded_column_count<R: Reads>(
    r: &mut R,
    read: &AtomicU64,
    scope: &Scope,
    column: Option<&ColumnFilter>,
    values: &[i64],
    cap: usize,
) -> Result<usize> {
    let mut s = Stmt::new(
        r.dialect(),
        "SELECT COUNT(*) FROM (SELECT 1 FROM instances WHERE ",
    );
    push_scope(&mut s, scope);
    s.push(" AND ");
    push_column_values(&mut s, column, values);
    s.push(" LIMIT ").bind(cap as i64).push(") AS c");
    counted(r, read, &s).await
}

/// `account = … AND region = …` of the instances' row.
fn push_scope(s: &mut Stmt, scope: &Scope) {
    s.push("account = ")
        .bind(scope.account.as_str())
        .push(" AND region = ")
        .bind(scope.region.as_str());
}

/// The row holds one of `values` of `column` (`None`: the packed options themselves), as an
/// expression of the row, unqualified. One value is compared with `=`, which lets SQLite
/// use a partial index; PostgreSQL's boolean column is named bare (or negated), which lets
/// it use `instances_pending_scope` (`WHERE pending_apply`).
fn push_column_values(s: &mut Stmt, column: Option<&ColumnFilter>, values: &[i64]) {
    let expr = column.map_or("options".into(), |c| c.column());
    if s.dialect == Dialect::Postgres && column.is_some_and(ColumnFilter::is_boolean) {
        match (values.contains(&1), values.contains(&0)) {
            (true, true) => s.push("TRUE"),
            (true, false) => s.push(&expr),
            (false, true) => s.push("NOT ").push(&expr),
            (false, false) => s.push("FALSE"),
        };
        return;
    }
    s.push(&expr);
    if let [one] = values {
        s.push(" = ").bind(*one);
    } else {
        s.push(" IN (").list(values.iter().copied()).push(")");
    }
}

/// The page's driver: the ids named, else the filter with the fewest rows (each counted up
/// to a few pages' worth, so choosing costs no more than a few pages), else a filter too
/// broad to list, else the scope. `None` when a filter matches nothing in the scope.
pub(crate) async fn choose<'q, R: Reads>(
    r: &mut R,
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
                    packed = Some(packed_options(r, read, scope).await?);
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
        match matching_values(r, read, scope_id, f).await? {
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
                    bounded_count(r, read, scope_id, name, values, cap).await?
                }
                Driver::Column { column, values, .. } => {
                    bounded_column_count(r, read, scope, Some(column), values, cap).await?
                }
                Driver::Packed { values, .. } => {
                    bounded_column_count(r, read, scope, None, values, cap).await?
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

/// Ranges of one index merged in `pk` order: `branch` writes each range's `SELECT pk …`.
/// SQLite merges a compound `UNION` of ranges already in `pk` order and stops at the
/// `LIMIT`; PostgreSQL would read every range to its end, so each of its ranges is read no
/// further than the chunk. A row is in one range only, but an instance may hold several
/// values of one attribute (`tag-key`): `UNION` keeps it once.
fn push_merged<T>(s: &mut Stmt, ranges: &[T], chunk: usize, branch: impl Fn(&mut Stmt, &T)) {
    for (n, v) in ranges.iter().enumerate() {
        if n > 0 {
            s.push(" UNION ");
        }
        match s.dialect {
            Dialect::Sqlite => branch(s, v),
            Dialect::Postgres if ranges.len() == 1 => branch(s, v),
            Dialect::Postgres => {
                s.push("(");
                branch(s, v);
                s.push(" ORDER BY pk LIMIT ").bind(chunk as i64).push(")");
            }
        }
    }
}

/// The statement reading the driver's next `chunk` candidate positions after `after`.
pub(crate) fn candidates(
    dialect: Dialect,
    driver: &Driver<'_>,
    q: &InstanceQuery,
    scope: &Scope,
    scope_id: i64,
    after: i64,
    chunk: usize,
) -> Stmt {
    let mut s = Stmt::new(dialect, "");
    match driver {
        Driver::Ids(ids) => {
            s.push("SELECT pk FROM instances WHERE instance_id IN (")
                .list(ids.iter().map(String::as_str))
                .push(") AND ");
            push_scope(&mut s, scope);
            s.push(" AND pk > ").bind(after);
        }
        Driver::Ranges { name, values, .. } => {
            push_merged(&mut s, values, chunk, |s, v| {
                s.push("SELECT pk FROM instance_attrs WHERE scope = ")
                    .bind(scope_id)
                    .push(" AND name = ")
                    .bind(*name)
                    .push(" AND value = ")
                    .bind(v.as_str())
                    .push(" AND pk > ")
                    .bind(after);
            });
        }
        Driver::Scan { index, name } => {
            s.push("SELECT DISTINCT pk FROM instance_attrs WHERE scope = ")
                .bind(scope_id)
                .push(" AND name = ")
                .bind(*name)
                .push(" AND ")
                .values("value", &q.filters[*index].values)
                .push(" AND pk > ")
                .bind(after);
        }
        Driver::Column { column, values, .. } => {
            s.push("SELECT pk FROM instances WHERE ");
            push_scope(&mut s, scope);
            s.push(" AND ");
            push_column_values(&mut s, Some(column), values);
            s.push(" AND pk > ").bind(after);
        }
        Driver::Packed { values, .. } => {
            push_merged(&mut s, values, chunk, |s, v| {
                s.push("SELECT pk FROM instances WHERE ");
                push_scope(s, scope);
                s.push(" AND options = ")
                    .bind(*v)
                    .push(" AND pk > ")
                    .bind(after);
            });
        }
        Driver::Scope => {
            s.push("SELECT pk FROM instances WHERE ");
            push_scope(&mut s, scope);
            s.push(" AND pk > ").bind(after);
        }
    }
    s.push(" ORDER BY pk LIMIT ").bind(chunk as i64);
    s
}

/// The statement reading, of these candidates, the first `need` that are in the scope and
/// pass every filter but the driver's (which its rows already pass).
///
/// The documents are read by primary key. On SQLite `NOT INDEXED` leaves it only the rowid:
/// the candidates' list is then walked in `pk` order and `ORDER BY pk` costs nothing. Left to
/// itself, with a page's worth of candidates SQLite reads them through `instances_scope`
/// (account, region, pk) and sorts the rows, documents and all, in a temporary b-tree: a
/// page's ~2 MB of documents spilled to a temp file, ten times the cost of reading them.
pub(crate) fn passing(
    dialect: Dialect,
    driver: &Driver<'_>,
    q: &InstanceQuery,
    scope: &Scope,
    candidates: &[i64],
    need: usize,
) -> Stmt {
    let mut s = Stmt::new(dialect, "");
    match dialect {
        Dialect::Sqlite => s.push("SELECT i.pk, i.doc FROM instances i NOT INDEXED"),
        Dialect::Postgres => s.push("SELECT i.pk, i.doc::text FROM instances i"),
    };
    s.push(" WHERE i.pk IN (")
        .list(candidates.iter().copied())
        .push(") AND i.account = ")
        .bind(scope.account.as_str())
        .push(" AND i.region = ")
        .bind(scope.region.as_str());
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
            s.push(" AND ");
            push_column_values(&mut s, Some(column), &column.matching(f));
            continue;
        }
        if f.name == column_filters::INSTANCE_ID {
            s.push(" AND ").values("i.instance_id", &f.values);
            continue;
        }
        s.push(" AND EXISTS (SELECT 1 FROM instance_attrs a WHERE a.pk = i.pk AND a.name = ")
            .bind(f.name.as_str())
            .push(" AND ")
            .values("a.value", &f.values)
            .push(")");
    }
    s.push(" ORDER BY i.pk LIMIT ").bind(need as i64);
    s
}

/// The ids asked for that the scope does not hold (reading ids only, no documents).
async fn missing_ids<R: Reads>(r: &mut R, scope: &Scope, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut s = Stmt::new(
        r.dialect(),
        "SELECT instance_id FROM instances WHERE instance_id IN (",
    );
    s.list(ids.iter().map(String::as_str)).push(") AND ");
    push_scope(&mut s, scope);
    let found = r.texts(&s).await?;
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

/// One page of DescribeInstances (see the module's doc), read through `r` (the page's one
/// read transaction): its `(pk, document)` rows, with the one after the page if there is
/// one ([`finish`] makes them the page, once the transaction is over). `read` counts the
/// rows the page read from the store: candidates, documents, and the rows read to choose
/// the driver.
pub async fn page_rows<R: Reads>(
    r: &mut R,
    read: &AtomicU64,
    scope: &Scope,
    q: &InstanceQuery,
) -> Result<Vec<(i64, String)>> {
    if let Some(ids) = &q.ids {
        // Every id asked for must exist, whatever the filters then keep.
        missing_ids(r, scope, ids).await?;
    }
    let page = q.limit.map(|l| l as usize + 1);
    let scope_id = scope_id(r, scope).await?;
    let wanted = page.unwrap_or(UNPAGED_CHUNK);
    let driver = choose(r, read, scope, scope_id, q, wanted).await?;
    let mut rows: Vec<(i64, String)> = Vec::new();
    if let Some(driver) = driver {
        let mut after = q.after.unwrap_or(0);
        let mut chunk = wanted.min(MAX_CHUNK);
        loop {
            let s = candidates(
                r.dialect(),
                &driver,
                q,
                scope,
                scope_id.unwrap_or(-1),
                after,
                chunk,
            );
            let found = r.ints(&s).await?;
            read.fetch_add(found.len() as u64, Ordering::Relaxed);
            let Some(&last) = found.last() else {
                break;
            };
            after = last;
            let need = page.map_or(found.len(), |p| p - rows.len());
            let s = passing(r.dialect(), &driver, q, scope, &found, need);
            let passed = r.docs(&s).await?;
            read.fetch_add(passed.len() as u64, Ordering::Relaxed);
            rows.extend(passed);
            if page.is_some_and(|p| rows.len() >= p) || found.len() < chunk {
                break;
            }
            // The other filters refused some: read on in larger steps.
            chunk = (chunk * 2).min(MAX_CHUNK);
        }
    }
    Ok(rows)
}

/// The page [`page_rows`] read: its instances decoded, and where the next one starts.
pub fn finish(rows: Vec<(i64, String)>, q: &InstanceQuery) -> Result<InstancePage> {
    let (rows, next) = crate::paging::page(rows, q.limit, |r| r.0);
    let instances = rows
        .iter()
        .map(|(_, d)| serde_json::from_str::<Instance>(d).map_err(crate::StoreError::Corrupt))
        .collect::<Result<_>>()?;
    Ok(InstancePage { instances, next })
}
