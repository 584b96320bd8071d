//! Reads, on the pool of read-only connections (and, for the few the writer needs inside its
//! transaction, on the writer's connection).

use crate::feed::{Change, ChangeKind};
use crate::instances::*;
use crate::{Result, StoreError};
use model::image::Image;
use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
use model::vpc::{Subnet, Vpc};
use model::{AccountDefaults, Ec2Error, Instance, Scope};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

pub fn decode<T: serde::de::DeserializeOwned>(doc: &str) -> Result<T> {
    serde_json::from_str(doc).map_err(StoreError::Corrupt)
}

pub(super) use crate::paging::page;

/// The latest change's number (0 when the feed holds none).
pub async fn latest_seq(conn: &mut SqliteConnection) -> Result<u64> {
    Ok(newest_change(conn).await?.unwrap_or(0))
}

/// The latest change's number, NULL when the feed holds none (also read by the writer with
/// its `COMMIT`).
pub const NEWEST_CHANGE: &str = "SELECT MAX(seq) FROM changes";

/// The latest change's number, if the feed holds any.
pub async fn newest_change(conn: &mut SqliteConnection) -> Result<Option<u64>> {
    let s: Option<i64> = sqlx::query_scalar(NEWEST_CHANGE)
        .fetch_one(&mut *conn)
        .await?;
    Ok(s.map(|s| s as u64))
}

pub async fn instances(pool: &SqlitePool, scope: &Scope, ids: &[String]) -> Result<Vec<Instance>> {
    let mut qb =
        QueryBuilder::<Sqlite>::new("SELECT instance_id, doc FROM instances WHERE account = ");
    qb.push_bind(&scope.account)
        .push(" AND region = ")
        .push_bind(&scope.region);
    qb.push(" AND instance_id IN (");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(id);
    }
    qb.push(")");
    let rows: Vec<(String, String)> = if ids.is_empty() {
        Vec::new()
    } else {
        qb.build_query_as().fetch_all(pool).await?
    };
    let mut out = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in ids {
        match rows.iter().find(|(i, _)| i == id) {
            Some((_, doc)) => out.push(decode(doc)?),
            None => {
                if !missing.contains(id) {
                    missing.push(id.clone())
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(Ec2Error::InvalidInstanceIdNotFound(missing).into());
    }
    out.dedup_by(|a: &mut Instance, b: &mut Instance| a.instance_id == b.instance_id);
    Ok(out)
}

pub async fn instance_by_id(pool: &SqlitePool, id: &str) -> Result<Option<Instance>> {
    let doc: Option<(String,)> = sqlx::query_as("SELECT doc FROM instances WHERE instance_id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    doc.map(|(d,)| decode(&d)).transpose()
}

pub async fn all_instances(
    pool: &SqlitePool,
    after: Option<i64>,
    limit: u32,
) -> Result<InstancePage> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT pk, doc FROM instances WHERE pk > ? ORDER BY pk LIMIT ?")
            .bind(after.unwrap_or(0))
            .bind(limit as i64 + 1)
            .fetch_all(pool)
            .await?;
    let (rows, next) = page(rows, Some(limit), |r| r.0);
    let instances = rows.iter().map(|(_, d)| decode(d)).collect::<Result<_>>()?;
    Ok(InstancePage { instances, next })
}

pub async fn pending_applies(pool: &SqlitePool) -> Result<Vec<(String, u64)>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT doc FROM instances WHERE pending_apply = 1 AND state = 'running'")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|(d,)| decode::<Instance>(d).map(|i| (i.instance_id, i.options_generation)))
        .collect()
}

pub async fn count_instances(pool: &SqlitePool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM instances")
        .fetch_one(pool)
        .await?;
    Ok(n as u64)
}

/// Addresses held per subnet: instances not terminated (the `instances_subnet` index).
pub async fn subnet_usage(
    pool: &SqlitePool,
    subnet_ids: &[String],
) -> Result<std::collections::HashMap<String, u64>> {
    if subnet_ids.is_empty() {
        return Ok(Default::default());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT subnet_id, COUNT(*) FROM instances WHERE state != 'terminated' AND subnet_id IN (",
    );
    let mut sep = qb.separated(", ");
    for id in subnet_ids {
        sep.push_bind(id);
    }
    qb.push(") GROUP BY subnet_id");
    let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(s, n)| (s, n as u64)).collect())
}

pub async fn defaults(conn: &mut SqliteConnection, scope: &Scope) -> Result<AccountDefaults> {
    let doc: Option<(String,)> =
        sqlx::query_as("SELECT doc FROM account_defaults WHERE account = ? AND region = ?")
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_optional(&mut *conn)
            .await?;
    match doc {
        Some((d,)) => decode(&d),
        None => Ok(AccountDefaults::default()),
    }
}

pub async fn vpcs(conn: &mut SqliteConnection, scope: &Scope) -> Result<Vec<Vpc>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT doc FROM vpcs WHERE account = ? AND region = ? ORDER BY pos")
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(|(d,)| decode(d)).collect()
}

pub async fn subnets(conn: &mut SqliteConnection, scope: &Scope) -> Result<Vec<Subnet>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT doc FROM subnets WHERE account = ? AND region = ? ORDER BY pos")
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(|(d,)| decode(d)).collect()
}

pub async fn images(pool: &SqlitePool, scope: &Scope) -> Result<Vec<Image>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT doc FROM images WHERE account = ? AND region = ? ORDER BY image_id")
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_all(pool)
            .await?;
    rows.iter().map(|(d,)| decode(d)).collect()
}

pub async fn templates(pool: &SqlitePool, scope: &Scope) -> Result<Vec<LaunchTemplate>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT doc FROM launch_templates WHERE account = ? AND region = ? ORDER BY rowid",
    )
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|(d,)| decode(d)).collect()
}

pub async fn template_versions(
    pool: &SqlitePool,
    scope: &Scope,
    id: &str,
) -> Result<Vec<LaunchTemplateVersion>> {
    let owned: Option<(String,)> = sqlx::query_as(
        "SELECT launch_template_id FROM launch_templates WHERE launch_template_id = ? AND account = ? AND region = ?",
    )
    .bind(id)
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_optional(pool)
    .await?;
    if owned.is_none() {
        return Err(Ec2Error::InvalidLaunchTemplateIdNotFound(id.to_string()).into());
    }
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT doc FROM launch_template_versions WHERE launch_template_id = ? ORDER BY version",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|(d,)| decode(d)).collect()
}

/// The changes after `after`, each with its instance's [`crate::instances::ServedRecord`]
/// read from the row's compact columns (`served_columns`), not its document.
pub async fn changes_after(pool: &SqlitePool, after: u64, limit: u32) -> Result<Vec<Change>> {
    // A subquery rather than a join: `JOINED`'s bare column names are the instance's.
    let rows: Vec<(i64, String, String, i64, i64, Option<String>)> = sqlx::query_as(&format!(
        "SELECT c.seq, c.instance_id, c.kind, c.generation, c.at_ms, \
         (SELECT {} FROM instances WHERE instances.instance_id = c.instance_id) \
         FROM changes c WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
        super::served_columns::JOINED
    ))
    .bind(after as i64)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (seq, id, kind, g, at, joined) in rows {
        let Some(kind) = ChangeKind::parse(&kind) else {
            continue;
        };
        out.push(Change {
            seq: seq as u64,
            instance_id: id,
            kind,
            generation: g as u64,
            at_ms: at,
            served: joined
                .as_deref()
                .map(super::served_columns::record)
                .transpose()?,
        });
    }
    Ok(out)
}

pub async fn oldest_change(pool: &SqlitePool) -> Result<Option<u64>> {
    let s: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM changes")
        .fetch_one(pool)
        .await?;
    Ok(s.map(|s| s as u64))
}

pub async fn next_due(pool: &SqlitePool, retention_ms: i64) -> Result<Option<i64>> {
    let (due, terminated) = lifecycle_times(&mut *pool.acquire().await?).await?;
    Ok(next_lifecycle_step(due, terminated, retention_ms))
}

/// The lifecycle driver's next steps (`InstanceStore::next_steps`), in one statement: the
/// three least times, each through its partial index.
pub async fn next_steps(pool: &SqlitePool, retention_ms: i64) -> Result<NextSteps> {
    let (due, terminated, events): (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT MIN(due_ms) FROM instances WHERE due_ms IS NOT NULL),
                (SELECT MIN(terminated_at_ms) FROM instances WHERE terminated_at_ms IS NOT NULL),
                (SELECT MIN(event_due_ms) FROM instances WHERE event_due_ms IS NOT NULL)",
    )
    .fetch_one(pool)
    .await?;
    Ok(NextSteps {
        lifecycle: next_lifecycle_step(due, terminated, retention_ms),
        events,
    })
}

/// The earliest transition due, and the earliest termination of an instance not yet purged.
pub async fn lifecycle_times(conn: &mut SqliteConnection) -> Result<(Option<i64>, Option<i64>)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT MIN(due_ms) FROM instances WHERE due_ms IS NOT NULL),
                (SELECT MIN(terminated_at_ms) FROM instances WHERE terminated_at_ms IS NOT NULL)",
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// When the next instance event step is due (`InstanceStore::next_event_due`): the least
/// `event_due_ms`, through its partial index (schema 10). Also read by the writer's event
/// job, after its steps.
pub async fn next_event_due(conn: &mut SqliteConnection) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar(
            "SELECT MIN(event_due_ms) FROM instances WHERE event_due_ms IS NOT NULL",
        )
        .fetch_one(&mut *conn)
        .await?,
    )
}

pub async fn iam_records(pool: &SqlitePool) -> Result<crate::IamRecords> {
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT account, kind, name, doc FROM iam_records")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(a, k, n, d)| ((a, k, n), d))
        .collect())
}

/// The compact columns of every instance, a page at a time (`InstanceStore::served_instances`):
/// the row's own columns and schema 6's (`served_columns`), never its document, so a page
/// costs SQLite no JSON, and each row arrives as one text.
pub async fn served_instances(
    pool: &SqlitePool,
    after: Option<i64>,
    limit: u32,
) -> Result<ServedPage> {
    let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT pk, {} FROM instances WHERE pk > ? ORDER BY pk LIMIT ?",
        super::served_columns::JOINED
    ))
    .bind(after.unwrap_or(0))
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    let (rows, next) = page(rows, Some(limit), |r| r.0);
    let records = rows
        .iter()
        .map(|(_, joined)| super::served_columns::record(joined))
        .collect::<Result<_>>()?;
    Ok(ServedPage { records, next })
}
