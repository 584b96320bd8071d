//! The single writer: group commit of queued writes.
//!
//! Each [`Job`] runs inside the batch's transaction in its own savepoint, so a write that the
//! model refuses is rolled back alone while the others in the batch commit. Callers are
//! answered after the one `COMMIT` (and its fsync) that covers the whole batch.

use super::reads::{self, decode};
use crate::feed::ChangeKind;
use crate::types::*;
use crate::{
    DefaultsMutation, ImageMutation, InstanceGate, InstanceMutation, LaunchBuilder,
    MutationContext, Result, StoreError, SubnetBuilder, SubnetDeletion, TagsMutation,
    TemplateMutation, VpcDeletion,
};
use model::catalogue;
use model::image::Image;
use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
use model::tags::Tag;
use model::vpc::{Subnet, Vpc};
use model::{Ec2Error, Instance, Scope};
use sqlx::{Connection, SqliteConnection};
use std::collections::HashSet;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot, watch};

/// Writes committed together at most (bounds the latency of the first one).
const MAX_BATCH: usize = 512;

/// How many changes the feed keeps. A follower further behind reloads its instances from the
/// store instead of replaying the feed (the metadata hosts do so on start anyway).
pub const FEED_RETENTION: i64 = 1_000_000;

/// How often the feed is trimmed to [`FEED_RETENTION`].
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

pub type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Called once the commit's fate is known (`Some(error)` when it failed).
type Finish = Box<dyn FnOnce(Option<String>) + Send>;

/// A write: runs in the transaction, says whether it succeeded, and how to answer.
pub type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection, i64) -> BoxFut<'c, (bool, Finish)> + Send>;

pub enum Msg {
    Job(Job),
    Close(oneshot::Sender<()>),
}

fn job<T, F>(reply: oneshot::Sender<Result<T>>, f: F) -> Job
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection, i64) -> BoxFut<'c, Result<T>> + Send + 'static,
{
    Box::new(move |conn, now| {
        Box::pin(async move {
            let r = f(conn, now).await;
            let ok = r.is_ok();
            let finish: Finish = Box::new(move |commit_error| {
                let answer = match (r, commit_error) {
                    (Ok(_), Some(e)) => Err(StoreError::Db(sqlx::Error::Protocol(e))),
                    (r, _) => r,
                };
                let _ = reply.send(answer);
            });
            (ok, finish)
        })
    })
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Msg>, seq: watch::Sender<u64>) {
    let mut closing = None;
    let mut trimmed = std::time::Instant::now();
    while closing.is_none() {
        let Some(first) = rx.recv().await else { break };
        let mut batch = Vec::new();
        match first {
            Msg::Job(j) => batch.push(j),
            Msg::Close(tx) => closing = Some(tx),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(j)) => batch.push(j),
                Ok(Msg::Close(tx)) => closing = Some(tx),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            run_batch(&mut conn, batch, &seq).await;
        }
        if trimmed.elapsed() >= TRIM_EVERY {
            trimmed = std::time::Instant::now();
            let trim: BoxFut<'_, sqlx::Result<()>> = Box::pin(async {
                sqlx::query("DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - ?")
                    .bind(FEED_RETENTION)
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
            });
            if let Err(e) = trim.await {
                tracing::warn!(error = %e, "cannot trim the change feed");
            }
        }
    }
    rx.close();
    // A clean stop leaves everything in the main file (and an empty WAL), so that the file
    // alone is the store: what a backup copies and what the integrity check at start reads.
    if let Err(e) = exec(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)").await {
        tracing::warn!(error = %e, "cannot checkpoint the store at close");
    }
    let _ = conn.close().await;
    if let Some(tx) = closing {
        let _ = tx.send(());
    }
}

fn exec<'a>(conn: &'a mut SqliteConnection, sql: &'a str) -> BoxFut<'a, sqlx::Result<()>> {
    Box::pin(async move { sqlx::query(sql).execute(&mut *conn).await.map(|_| ()) })
}

fn run_batch<'a>(
    conn: &'a mut SqliteConnection,
    batch: Vec<Job>,
    seq: &'a watch::Sender<u64>,
) -> BoxFut<'a, ()> {
    Box::pin(run_batch_inner(conn, batch, seq))
}

async fn run_batch_inner(conn: &mut SqliteConnection, batch: Vec<Job>, seq: &watch::Sender<u64>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        tracing::error!(error = %e, "cannot begin a write transaction");
        return; // dropping the jobs answers their callers with `Closed`
    }
    let now = now_ms();
    let mut finishes = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    for j in batch {
        if broken.is_some() {
            break;
        }
        if let Err(e) = exec(conn, "SAVEPOINT job").await {
            broken = Some(e.to_string());
            break;
        }
        let (ok, finish) = j(conn, now).await;
        finishes.push(finish);
        if !ok {
            if let Err(e) = exec(conn, "ROLLBACK TO job").await {
                broken = Some(e.to_string());
            }
        }
        if let Err(e) = exec(conn, "RELEASE job").await {
            broken = Some(e.to_string());
        }
    }
    let outcome = match broken {
        Some(e) => Err(e),
        None => exec(conn, "COMMIT").await.map_err(|e| e.to_string()),
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "write batch failed; rolled back");
        let _ = exec(conn, "ROLLBACK").await;
    }
    let err = outcome.err();
    if err.is_none() {
        let latest: BoxFut<'_, Result<u64>> = Box::pin(reads::latest_seq(conn));
        if let Ok(latest) = latest.await {
            seq.send_if_modified(|s| {
                let changed = *s != latest;
                *s = latest;
                changed
            });
        }
    }
    for f in finishes {
        f(err.clone());
    }
}

// ---------------------------------------------------------------------------------------
// Instances

async fn load_for_update(
    conn: &mut SqliteConnection,
    scope: Option<&Scope>,
    id: &str,
) -> Result<Option<(i64, Instance)>> {
    let row: Option<(i64, String, String, String)> =
        sqlx::query_as("SELECT pk, account, region, doc FROM instances WHERE instance_id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        Some((pk, account, region, doc)) => {
            if scope.is_some_and(|s| s.account != account || s.region != region) {
                return Ok(None);
            }
            Ok(Some((pk, decode(&doc)?)))
        }
        None => Ok(None),
    }
}

fn state_col(i: &Instance) -> &'static str {
    i.state.as_str()
}

async fn insert_instance(conn: &mut SqliteConnection, i: &Instance, now: i64) -> Result<()> {
    let doc = serde_json::to_string(i)?;
    let pk: i64 = sqlx::query_scalar(
        "INSERT INTO instances (instance_id, account, region, state, subnet_id, private_ip, due_ms, pending_apply, client_token, terminated_at_ms, doc)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
    )
    .bind(&i.instance_id)
    .bind(&i.scope.account)
    .bind(&i.scope.region)
    .bind(state_col(i))
    .bind(&i.subnet_id)
    .bind(i.private_ip.to_string())
    .bind(i.transition.map(|t| t.due_ms))
    .bind(pending_apply(i))
    .bind(&i.client_token)
    .bind(i.terminated_at_ms)
    .bind(&doc)
    .fetch_one(&mut *conn)
    .await?;
    sync_attrs(conn, pk, &[], &i.filter_attributes()).await?;
    sync_tags(conn, &i.instance_id, "instance", &i.scope, &[], &i.tags).await?;
    for kind in ChangeKind::between(None, Some(i)) {
        append_change(
            conn,
            &i.instance_id,
            kind,
            i.options_generation,
            now,
            Some(&doc),
        )
        .await?;
    }
    Ok(())
}

fn pending_apply(i: &Instance) -> i64 {
    (i.applied_generation < i.options_generation) as i64
}

async fn save_instance(
    conn: &mut SqliteConnection,
    pk: i64,
    before: &Instance,
    after: &Instance,
    now: i64,
) -> Result<()> {
    if before == after {
        return Ok(());
    }
    let doc = serde_json::to_string(after)?;
    sqlx::query(
        "UPDATE instances SET state = ?, private_ip = ?, due_ms = ?, pending_apply = ?, terminated_at_ms = ?, doc = ? WHERE pk = ?",
    )
    .bind(state_col(after))
    .bind(after.private_ip.to_string())
    .bind(after.transition.map(|t| t.due_ms))
    .bind(pending_apply(after))
    .bind(after.terminated_at_ms)
    .bind(&doc)
    .bind(pk)
    .execute(&mut *conn)
    .await?;
    sync_attrs(
        conn,
        pk,
        &before.filter_attributes(),
        &after.filter_attributes(),
    )
    .await?;
    sync_tags(
        conn,
        &after.instance_id,
        "instance",
        &after.scope,
        &before.tags,
        &after.tags,
    )
    .await?;
    for kind in ChangeKind::between(Some(before), Some(after)) {
        let g = after.options_generation;
        append_change(conn, &after.instance_id, kind, g, now, Some(&doc)).await?;
    }
    Ok(())
}

async fn sync_attrs(
    conn: &mut SqliteConnection,
    pk: i64,
    before: &[(String, String)],
    after: &[(String, String)],
) -> Result<()> {
    let old: HashSet<&(String, String)> = before.iter().collect();
    let new: HashSet<&(String, String)> = after.iter().collect();
    for (name, value) in old.difference(&new) {
        sqlx::query("DELETE FROM instance_attrs WHERE pk = ? AND name = ? AND value = ?")
            .bind(pk)
            .bind(name)
            .bind(value)
            .execute(&mut *conn)
            .await?;
    }
    for (name, value) in new.difference(&old) {
        sqlx::query("INSERT OR IGNORE INTO instance_attrs (pk, name, value) VALUES (?, ?, ?)")
            .bind(pk)
            .bind(name)
            .bind(value)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn sync_tags(
    conn: &mut SqliteConnection,
    resource_id: &str,
    resource_type: &str,
    scope: &Scope,
    before: &[Tag],
    after: &[Tag],
) -> Result<()> {
    for t in before {
        if !after.iter().any(|a| a.key == t.key) {
            sqlx::query("DELETE FROM tags WHERE resource_id = ? AND key = ?")
                .bind(resource_id)
                .bind(&t.key)
                .execute(&mut *conn)
                .await?;
        }
    }
    for t in after {
        if !before.contains(t) {
            sqlx::query(
                "INSERT INTO tags (resource_id, resource_type, account, region, key, value) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (resource_id, key) DO UPDATE SET value = excluded.value",
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

/// One row of the change feed, in the write's transaction: `doc` is the instance as the
/// write left it (none once purged).
async fn append_change(
    conn: &mut SqliteConnection,
    id: &str,
    kind: ChangeKind,
    generation: u64,
    now: i64,
    doc: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO changes (instance_id, kind, generation, at_ms, doc) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(generation as i64)
    .bind(now)
    .bind(doc)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A subnet of the scope by id: one of the Region's default subnets, or one the account made.
async fn find_subnet(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: &str,
) -> Result<Option<Subnet>> {
    if let Some(s) = catalogue::default_vpc(&scope.region)
        .subnets
        .into_iter()
        .find(|s| s.subnet_id == id)
    {
        return Ok(Some(s));
    }
    let doc: Option<(String,)> = sqlx::query_as(
        "SELECT doc FROM subnets WHERE subnet_id = ? AND account = ? AND region = ?",
    )
    .bind(id)
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_optional(&mut *conn)
    .await?;
    doc.map(|(d,)| decode(&d)).transpose()
}

/// The addresses of a subnet that instances hold: every instance not terminated.
async fn held_addresses(conn: &mut SqliteConnection, subnet_id: &str) -> Result<Vec<Ipv4Addr>> {
    let used: Vec<(String,)> = sqlx::query_as(
        "SELECT private_ip FROM instances WHERE subnet_id = ? AND state != 'terminated'",
    )
    .bind(subnet_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(used.iter().filter_map(|(s,)| s.parse().ok()).collect())
}

/// Free addresses for a launch: the one asked for, or the lowest free ones of the subnet
/// (never one of the five reserved).
async fn allocate(
    conn: &mut SqliteConnection,
    scope: &Scope,
    req: &LaunchRequest,
) -> Result<Vec<Ipv4Addr>> {
    let subnet = find_subnet(conn, scope, &req.subnet_id)
        .await?
        .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(req.subnet_id.clone()))?;
    let used: HashSet<Ipv4Addr> = held_addresses(conn, &subnet.subnet_id)
        .await?
        .into_iter()
        .collect();
    let cidr = subnet.cidr;
    if let Some(ip) = req.private_ip {
        let inside = cidr
            .offset_of(ip)
            .is_some_and(|o| cidr.usable().contains(&o));
        if !inside {
            return Err(Ec2Error::InvalidParameterValueAddress {
                address: ip.to_string(),
            }
            .into());
        }
        if used.contains(&ip) {
            return Err(Ec2Error::InvalidIpAddressInUse(ip.to_string()).into());
        }
        return Ok(vec![ip]);
    }
    let free: Vec<Ipv4Addr> = cidr
        .usable()
        .map(|o| cidr.address(o))
        .filter(|ip| !used.contains(ip))
        .take(req.count as usize)
        .collect();
    if free.len() < req.count as usize {
        return Err(Ec2Error::InsufficientFreeAddressesInSubnet(subnet.subnet_id.clone()).into());
    }
    Ok(free)
}

pub fn launch(
    scope: Scope,
    req: LaunchRequest,
    build: LaunchBuilder,
    reply: oneshot::Sender<Result<LaunchOutcome>>,
) -> Job {
    job(reply, move |conn, now| {
        Box::pin(async move {
            if let Some(token) = &req.client_token {
                let docs: Vec<(String,)> = sqlx::query_as(
                    "SELECT doc FROM instances WHERE account = ? AND region = ? AND client_token = ? ORDER BY pk",
                )
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(token)
                .fetch_all(&mut *conn)
                .await?;
                if !docs.is_empty() {
                    let instances = docs.iter().map(|(d,)| decode(d)).collect::<Result<_>>()?;
                    return Ok(LaunchOutcome {
                        instances,
                        replayed: true,
                    });
                }
            }
            let defaults = reads::defaults(conn, &scope).await?;
            let addresses = allocate(conn, &scope, &req).await?;
            let instances = build(&LaunchContext {
                addresses,
                defaults,
            })?;
            for i in &instances {
                insert_instance(conn, i, now).await?;
            }
            Ok(LaunchOutcome {
                instances,
                replayed: false,
            })
        })
    })
}

pub fn update_instances(
    scope: Scope,
    ids: Vec<String>,
    gate: InstanceGate,
    mut f: InstanceMutation,
    reply: oneshot::Sender<Result<Vec<(Instance, Instance)>>>,
) -> Job {
    job(reply, move |conn, now| {
        Box::pin(async move {
            let mut found = Vec::with_capacity(ids.len());
            let mut missing = Vec::new();
            for id in &ids {
                match load_for_update(conn, Some(&scope), id).await? {
                    Some(x) => found.push(x),
                    None => missing.push(id.clone()),
                }
            }
            let (pks, found): (Vec<i64>, Vec<Instance>) = found.into_iter().unzip();
            gate(&found)?;
            if !missing.is_empty() {
                return Err(Ec2Error::InvalidInstanceIdNotFound(missing).into());
            }
            let ctx = MutationContext {
                defaults: reads::defaults(conn, &scope).await?,
            };
            let mut out = Vec::with_capacity(found.len());
            for (pk, before) in pks.into_iter().zip(found) {
                let mut after = before.clone();
                f(&mut after, &ctx)?;
                save_instance(conn, pk, &before, &after, now).await?;
                out.push((before, after));
            }
            Ok(out)
        })
    })
}

pub fn advance(
    now_ms: i64,
    purge_before_ms: i64,
    reply: oneshot::Sender<Result<Option<i64>>>,
) -> Job {
    job(reply, move |conn, now| {
        Box::pin(async move {
            let now = now.max(now_ms);
            let due: Vec<(i64, String)> = sqlx::query_as(
                "SELECT pk, doc FROM instances WHERE due_ms IS NOT NULL AND due_ms <= ? ORDER BY due_ms LIMIT 5000",
            )
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
            for (pk, doc) in due {
                let before: Instance = decode(&doc)?;
                let mut after = before.clone();
                after.advance(now);
                save_instance(conn, pk, &before, &after, now).await?;
            }
            let gone: Vec<(i64, String)> = sqlx::query_as(
                "SELECT pk, instance_id FROM instances WHERE terminated_at_ms IS NOT NULL AND terminated_at_ms < ? LIMIT 5000",
            )
            .bind(purge_before_ms)
            .fetch_all(&mut *conn)
            .await?;
            for (pk, id) in gone {
                for sql in [
                    "DELETE FROM instance_attrs WHERE pk = ?",
                    "DELETE FROM instances WHERE pk = ?",
                ] {
                    sqlx::query(sql).bind(pk).execute(&mut *conn).await?;
                }
                sqlx::query("DELETE FROM tags WHERE resource_id = ?")
                    .bind(&id)
                    .execute(&mut *conn)
                    .await?;
                append_change(conn, &id, ChangeKind::Purged, 0, now, None).await?;
            }
            // Keep the feed bounded: an hour of history is plenty for any follower.
            sqlx::query(
                "DELETE FROM changes WHERE at_ms < ? AND seq < (SELECT MAX(seq) FROM changes)",
            )
            .bind(now - 3_600_000)
            .execute(&mut *conn)
            .await?;
            let next: Option<i64> =
                sqlx::query_scalar("SELECT MIN(due_ms) FROM instances WHERE due_ms IS NOT NULL")
                    .fetch_one(&mut *conn)
                    .await?;
            let next_purge: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(terminated_at_ms) FROM instances WHERE terminated_at_ms IS NOT NULL",
            )
            .fetch_one(&mut *conn)
            .await?;
            let purge_due = next_purge.map(|t| t + (now - purge_before_ms));
            Ok(match (next, purge_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            })
        })
    })
}

pub fn mark_applied(applied: Vec<(String, u64)>, reply: oneshot::Sender<Result<usize>>) -> Job {
    job(reply, move |conn, now| {
        Box::pin(async move {
            let mut n = 0;
            for (id, generation) in applied {
                let Some((pk, before)) = load_for_update(conn, None, &id).await? else {
                    continue;
                };
                let mut after = before.clone();
                if after.mark_applied(generation) {
                    save_instance(conn, pk, &before, &after, now).await?;
                    n += 1;
                }
            }
            Ok(n)
        })
    })
}

pub fn settle_associations(
    settled: Vec<(String, String)>,
    reply: oneshot::Sender<Result<Vec<Instance>>>,
) -> Job {
    job(reply, move |conn, now| {
        Box::pin(async move {
            let mut out = Vec::new();
            for (id, association_id) in settled {
                let Some((pk, before)) = load_for_update(conn, None, &id).await? else {
                    continue;
                };
                let mut after = before.clone();
                if after.settle_association(&association_id) {
                    save_instance(conn, pk, &before, &after, now).await?;
                    out.push(after);
                }
            }
            Ok(out)
        })
    })
}

// ---------------------------------------------------------------------------------------
// Account defaults, images, launch templates

pub fn modify_defaults(
    scope: Scope,
    f: DefaultsMutation,
    reply: oneshot::Sender<Result<model::AccountDefaults>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let mut d = reads::defaults(conn, &scope).await?;
            f(&mut d)?;
            sqlx::query(
                "INSERT INTO account_defaults (account, region, doc) VALUES (?, ?, ?)
                 ON CONFLICT (account, region) DO UPDATE SET doc = excluded.doc",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(serde_json::to_string(&d)?)
            .execute(&mut *conn)
            .await?;
            Ok(d)
        })
    })
}

pub fn write_iam(
    puts: crate::IamRecords,
    deletes: Vec<crate::IamKey>,
    reply: oneshot::Sender<Result<()>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            for (account, kind, name) in &deletes {
                sqlx::query("DELETE FROM iam_records WHERE account = ? AND kind = ? AND name = ?")
                    .bind(account)
                    .bind(kind)
                    .bind(name)
                    .execute(&mut *conn)
                    .await?;
            }
            for ((account, kind, name), doc) in &puts {
                sqlx::query(
                    "INSERT INTO iam_records (account, kind, name, doc) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (account, kind, name) DO UPDATE SET doc = excluded.doc",
                )
                .bind(account)
                .bind(kind)
                .bind(name)
                .bind(doc)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        })
    })
}

pub fn put_image(scope: Scope, image: Image, reply: oneshot::Sender<Result<()>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            sqlx::query("INSERT INTO images (image_id, account, region, doc) VALUES (?, ?, ?, ?)")
                .bind(&image.image_id)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(serde_json::to_string(&image)?)
                .execute(&mut *conn)
                .await?;
            sync_tags(conn, &image.image_id, "image", &scope, &[], &image.tags).await
        })
    })
}

pub fn update_image(
    scope: Scope,
    id: String,
    f: ImageMutation,
    reply: oneshot::Sender<Result<Image>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let doc: Option<(String,)> = sqlx::query_as(
                "SELECT doc FROM images WHERE image_id = ? AND account = ? AND region = ?",
            )
            .bind(&id)
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_optional(&mut *conn)
            .await?;
            let Some((doc,)) = doc else {
                return Err(Ec2Error::InvalidAmiIdNotFound(id).into());
            };
            let before: Image = decode(&doc)?;
            let mut after = before.clone();
            f(&mut after)?;
            sqlx::query("UPDATE images SET doc = ? WHERE image_id = ?")
                .bind(serde_json::to_string(&after)?)
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            sync_tags(conn, &id, "image", &scope, &before.tags, &after.tags).await?;
            Ok(after)
        })
    })
}

async fn insert_version(conn: &mut SqliteConnection, v: &LaunchTemplateVersion) -> Result<()> {
    sqlx::query(
        "INSERT INTO launch_template_versions (launch_template_id, version, doc) VALUES (?, ?, ?)",
    )
    .bind(&v.launch_template_id)
    .bind(v.version as i64)
    .bind(serde_json::to_string(v)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub fn create_template(
    scope: Scope,
    t: LaunchTemplate,
    v: LaunchTemplateVersion,
    reply: oneshot::Sender<Result<()>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let taken: Option<(String,)> = sqlx::query_as(
                "SELECT launch_template_id FROM launch_templates WHERE account = ? AND region = ? AND name = ?",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(&t.name)
            .fetch_optional(&mut *conn)
            .await?;
            if taken.is_some() {
                return Err(Ec2Error::InvalidLaunchTemplateNameAlreadyExists.into());
            }
            sqlx::query("INSERT INTO launch_templates (launch_template_id, account, region, name, doc) VALUES (?, ?, ?, ?, ?)")
                .bind(&t.launch_template_id)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(&t.name)
                .bind(serde_json::to_string(&t)?)
                .execute(&mut *conn)
                .await?;
            insert_version(conn, &v).await?;
            sync_tags(
                conn,
                &t.launch_template_id,
                "launch-template",
                &scope,
                &[],
                &t.tags,
            )
            .await
        })
    })
}

async fn load_template(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: &str,
) -> Result<LaunchTemplate> {
    let doc: Option<(String,)> = sqlx::query_as(
        "SELECT doc FROM launch_templates WHERE launch_template_id = ? AND account = ? AND region = ?",
    )
    .bind(id)
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_optional(&mut *conn)
    .await?;
    match doc {
        Some((d,)) => decode(&d),
        None => Err(Ec2Error::InvalidLaunchTemplateIdNotFound(id.to_string()).into()),
    }
}

pub fn update_template(
    scope: Scope,
    id: String,
    f: TemplateMutation,
    reply: oneshot::Sender<Result<(LaunchTemplate, Option<LaunchTemplateVersion>)>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let before = load_template(conn, &scope, &id).await?;
            let mut after = before.clone();
            let version = f(&mut after)?;
            sqlx::query("UPDATE launch_templates SET doc = ? WHERE launch_template_id = ?")
                .bind(serde_json::to_string(&after)?)
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            if let Some(v) = &version {
                insert_version(conn, v).await?;
            }
            sync_tags(
                conn,
                &id,
                "launch-template",
                &scope,
                &before.tags,
                &after.tags,
            )
            .await?;
            Ok((after, version))
        })
    })
}

pub fn delete_template(
    scope: Scope,
    id: String,
    reply: oneshot::Sender<Result<LaunchTemplate>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let t = load_template(conn, &scope, &id).await?;
            for sql in [
                "DELETE FROM launch_template_versions WHERE launch_template_id = ?",
                "DELETE FROM launch_templates WHERE launch_template_id = ?",
                "DELETE FROM tags WHERE resource_id = ?",
            ] {
                sqlx::query(sql).bind(&id).execute(&mut *conn).await?;
            }
            Ok(t)
        })
    })
}

// ---------------------------------------------------------------------------------------
// VPCs and subnets

/// A VPC of the scope by id: the Region's default VPC, or one the account made.
async fn find_vpc(conn: &mut SqliteConnection, scope: &Scope, id: &str) -> Result<Option<Vpc>> {
    let default = catalogue::default_vpc(&scope.region).vpc;
    if default.vpc_id == id {
        return Ok(Some(default));
    }
    let doc: Option<(String,)> =
        sqlx::query_as("SELECT doc FROM vpcs WHERE vpc_id = ? AND account = ? AND region = ?")
            .bind(id)
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_optional(&mut *conn)
            .await?;
    doc.map(|(d,)| decode(&d)).transpose()
}

/// The subnets of a VPC of the scope (its default subnets first, for the default VPC).
async fn subnets_of(
    conn: &mut SqliteConnection,
    scope: &Scope,
    vpc_id: &str,
) -> Result<Vec<Subnet>> {
    let mut out: Vec<Subnet> = catalogue::default_vpc(&scope.region)
        .subnets
        .into_iter()
        .filter(|s| s.vpc_id == vpc_id)
        .collect();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT doc FROM subnets WHERE vpc_id = ? AND account = ? AND region = ? ORDER BY pos",
    )
    .bind(vpc_id)
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_all(&mut *conn)
    .await?;
    for (d,) in rows {
        out.push(decode(&d)?);
    }
    Ok(out)
}

pub fn create_vpc(scope: Scope, vpc: Vpc, reply: oneshot::Sender<Result<()>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            sqlx::query("INSERT INTO vpcs (vpc_id, account, region, doc) VALUES (?, ?, ?, ?)")
                .bind(&vpc.vpc_id)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(serde_json::to_string(&vpc)?)
                .execute(&mut *conn)
                .await?;
            sync_tags(conn, &vpc.vpc_id, "vpc", &scope, &[], &vpc.tags).await
        })
    })
}

pub fn delete_vpc(
    scope: Scope,
    id: String,
    check: VpcDeletion,
    reply: oneshot::Sender<Result<Vpc>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let vpc = find_vpc(conn, &scope, &id)
                .await?
                .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(id.clone()))?;
            let subnets = subnets_of(conn, &scope, &id).await?.len();
            check(&vpc, subnets)?;
            for sql in [
                "DELETE FROM vpcs WHERE vpc_id = ?",
                "DELETE FROM tags WHERE resource_id = ?",
            ] {
                sqlx::query(sql).bind(&id).execute(&mut *conn).await?;
            }
            Ok(vpc)
        })
    })
}

pub fn create_subnet(
    scope: Scope,
    vpc_id: String,
    build: SubnetBuilder,
    reply: oneshot::Sender<Result<Subnet>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let vpc = find_vpc(conn, &scope, &vpc_id)
                .await?
                .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(vpc_id.clone()))?;
            let siblings = subnets_of(conn, &scope, &vpc_id).await?;
            let subnet = build(&vpc, &siblings)?;
            sqlx::query(
                "INSERT INTO subnets (subnet_id, vpc_id, account, region, doc) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&subnet.subnet_id)
            .bind(&subnet.vpc_id)
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(serde_json::to_string(&subnet)?)
            .execute(&mut *conn)
            .await?;
            sync_tags(conn, &subnet.subnet_id, "subnet", &scope, &[], &subnet.tags).await?;
            Ok(subnet)
        })
    })
}

pub fn delete_subnet(
    scope: Scope,
    id: String,
    check: SubnetDeletion,
    reply: oneshot::Sender<Result<Subnet>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let subnet = find_subnet(conn, &scope, &id)
                .await?
                .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(id.clone()))?;
            let held = held_addresses(conn, &id).await?.len() as u64;
            check(&subnet, held)?;
            for sql in [
                "DELETE FROM subnets WHERE subnet_id = ?",
                "DELETE FROM tags WHERE resource_id = ?",
            ] {
                sqlx::query(sql).bind(&id).execute(&mut *conn).await?;
            }
            Ok(subnet)
        })
    })
}

/// Tags of a VPC or subnet the account made, by its id's prefix. The default VPC and its
/// subnets are the catalogue's and carry no tags.
pub fn update_network_tags(
    scope: Scope,
    id: String,
    f: TagsMutation,
    reply: oneshot::Sender<Result<()>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            if id.starts_with("vpc-") {
                let table = Retag {
                    kind: "vpc",
                    select: "SELECT doc FROM vpcs WHERE vpc_id = ? AND account = ? AND region = ?",
                    update: "UPDATE vpcs SET doc = ? WHERE vpc_id = ?",
                    missing: Ec2Error::InvalidVpcIdNotFound,
                };
                retag(conn, &scope, id, table, |v: &mut Vpc| &mut v.tags, f).await
            } else {
                let table = Retag {
                    kind: "subnet",
                    select:
                        "SELECT doc FROM subnets WHERE subnet_id = ? AND account = ? AND region = ?",
                    update: "UPDATE subnets SET doc = ? WHERE subnet_id = ?",
                    missing: Ec2Error::InvalidSubnetIdNotFound,
                };
                retag(conn, &scope, id, table, |s: &mut Subnet| &mut s.tags, f).await
            }
        })
    })
}

/// Where a kind of network resource keeps its document, and its error when it is not there.
struct Retag {
    kind: &'static str,
    select: &'static str,
    update: &'static str,
    missing: fn(String) -> Ec2Error,
}

/// Change the tags of one document of `table`, and the `tags` rows with them.
async fn retag<T: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: String,
    table: Retag,
    tags_of: fn(&mut T) -> &mut Vec<Tag>,
    f: TagsMutation,
) -> Result<()> {
    let doc: Option<(String,)> = sqlx::query_as(table.select)
        .bind(&id)
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((doc,)) = doc else {
        return Err((table.missing)(id).into());
    };
    let mut before: T = decode(&doc)?;
    let mut after = before.clone();
    f(tags_of(&mut after))?;
    sqlx::query(table.update)
        .bind(serde_json::to_string(&after)?)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    let (before, after) = (tags_of(&mut before).clone(), tags_of(&mut after).clone());
    sync_tags(conn, &id, table.kind, scope, &before, &after).await
}
