//! Instances: launches (client tokens, addresses), writes the model decides, the lifecycle's
//! transitions and purge, the metadata hosts' acknowledgements; each write keeps the
//! instance's filter attributes and tags and appends its feed entries.

use super::documents::{insert_tags, sync_tags};
use super::network::{find_subnet, held_addresses};
use super::rows;
use super::{job, trim_feed, Job};
use crate::feed::RETENTION;
use crate::instances::*;
use crate::sqlite::reads::{self, decode};
use crate::sqlite::served_columns;
use crate::{ChangeKind, Result};
use model::vpc;
use model::{AccountDefaults, Ec2Error, Instance, Scope};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use tokio::sync::oneshot;

/// Instances by id as a write reads them: `(pk, instance)` of those found (in `scope`, when
/// one is given), and the scope's account defaults when `defaults_of` names one, all in one
/// round trip to SQLite (a SELECT each, sent together), since the write waits on each.
async fn load_for_update(
    conn: &mut SqliteConnection,
    scope: Option<&Scope>,
    ids: &[String],
    defaults_of: Option<&Scope>,
) -> Result<(HashMap<String, (i64, Instance)>, Option<AccountDefaults>)> {
    let mut found = HashMap::with_capacity(ids.len());
    let mut defaults = None;
    let chunks: Vec<&[String]> = if ids.is_empty() {
        vec![&[]]
    } else {
        ids.chunks(rows::per_statement(1)).collect()
    };
    let last = chunks.len() - 1;
    for (n, chunk) in chunks.into_iter().enumerate() {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT pk, account, region, doc, instance_id FROM instances WHERE instance_id IN (",
        );
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(id.as_str());
        }
        q.push(")");
        let with_defaults = defaults_of.filter(|_| n == last);
        if let Some(s) = with_defaults {
            q.push("; SELECT doc FROM account_defaults WHERE account = ")
                .push_bind(s.account.as_str())
                .push(" AND region = ")
                .push_bind(s.region.as_str());
        }
        // Rows of the two statements tell themselves apart by their number of columns.
        for row in q.build().fetch_all(&mut *conn).await? {
            if row.len() == 1 {
                defaults = Some(decode(row.try_get::<&str, _>(0)?)?);
                continue;
            }
            let (pk, account, region, doc, id): (i64, &str, &str, &str, String) = (
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            );
            if scope.is_some_and(|s| s.account != account || s.region != region) {
                continue;
            }
            found.insert(id, (pk, decode(doc)?));
        }
        if with_defaults.is_some() && defaults.is_none() {
            defaults = Some(AccountDefaults::default());
        }
    }
    Ok((found, defaults))
}

fn state_col(i: &Instance) -> &'static str {
    i.state.as_str()
}

const INSERT_INSTANCE: &str = "INSERT INTO instances (instance_id, account, region, state, subnet_id, private_ip, due_ms, pending_apply, client_token, terminated_at_ms, doc, launch_time_ms, options, options_generation, applied_generation, applied_options, unsettled_association) ";
const INSERT_ATTR: &str = "INSERT OR IGNORE INTO instance_attrs (pk, scope, name, value) ";
const INSERT_CHANGE: &str = "INSERT INTO changes (instance_id, kind, generation, at_ms, doc) ";

/// The rows of launched instances, their filter attributes, tags and feed entries, each
/// table written by multi-row statements: a launch of a thousand runs tens of statements,
/// not tens of thousands. Each document is serialised once, for its row and its feed entry.
async fn insert_instances(
    conn: &mut SqliteConnection,
    launched: &[Instance],
    now: i64,
) -> Result<()> {
    let docs = launched
        .iter()
        .map(serde_json::to_string)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let rows: Vec<(&Instance, &String)> = launched.iter().zip(&docs).collect();
    let mut pks: HashMap<String, i64> = HashMap::with_capacity(launched.len());
    for chunk in rows.chunks(rows::per_statement(11 + served_columns::COUNT)) {
        let mut q = QueryBuilder::<Sqlite>::new(INSERT_INSTANCE);
        q.push_values(chunk, |mut b, (i, doc)| {
            b.push_bind(&i.instance_id)
                .push_bind(&i.scope.account)
                .push_bind(&i.scope.region)
                .push_bind(state_col(i))
                .push_bind(&i.subnet_id)
                .push_bind(i.private_ip.to_string())
                .push_bind(i.transition.map(|t| t.due_ms))
                .push_bind(pending_apply(i))
                .push_bind(&i.client_token)
                .push_bind(i.terminated_at_ms)
                .push_bind(doc.as_str());
            served_columns::Columns::of(i).bind(&mut b);
        });
        q.push(" RETURNING pk, instance_id");
        let inserted: Vec<(i64, String)> = q.build_query_as().fetch_all(&mut *conn).await?;
        pks.extend(inserted.into_iter().map(|(pk, id)| (id, pk)));
    }
    let mut scopes: HashMap<&Scope, i64> = HashMap::new();
    for i in launched {
        if !scopes.contains_key(&i.scope) {
            let id = scope_id(conn, &i.scope).await?;
            scopes.insert(&i.scope, id);
        }
    }
    let mut attrs = Vec::new();
    for i in launched {
        let (pk, scope) = (pks[&i.instance_id], scopes[&i.scope]);
        attrs.extend(
            i.filter_attributes()
                .into_iter()
                .map(|(name, value)| (pk, scope, name, value)),
        );
    }
    rows::insert(
        conn,
        INSERT_ATTR,
        "",
        4,
        &attrs,
        |mut b, (pk, scope, name, value)| {
            b.push_bind(*pk)
                .push_bind(*scope)
                .push_bind(name)
                .push_bind(value);
        },
    )
    .await?;
    let tags: Vec<_> = launched
        .iter()
        .flat_map(|i| {
            i.tags
                .iter()
                .map(move |t| (i.instance_id.as_str(), &i.scope, t))
        })
        .collect();
    insert_tags(conn, "instance", &tags).await?;
    let changes: Vec<(&Instance, ChangeKind, &String)> = rows
        .iter()
        .flat_map(|(i, doc)| {
            ChangeKind::between(None, Some(i))
                .into_iter()
                .map(move |k| (*i, k, *doc))
        })
        .collect();
    rows::insert(
        conn,
        INSERT_CHANGE,
        "",
        5,
        &changes,
        |mut b, (i, kind, doc)| {
            b.push_bind(&i.instance_id)
                .push_bind(kind.as_str())
                .push_bind(i.options_generation as i64)
                .push_bind(now)
                .push_bind(doc.as_str());
        },
    )
    .await
}

/// The small integer id of a scope (`scopes`), made on the scope's first write; each filter
/// attribute row carries it, first in the key of the index DescribeInstances' pages read
/// (`sqlite::pages`).
async fn scope_id(conn: &mut SqliteConnection, scope: &Scope) -> Result<i64> {
    sqlx::query("INSERT OR IGNORE INTO scopes (account, region) VALUES (?, ?)")
        .bind(&scope.account)
        .bind(&scope.region)
        .execute(&mut *conn)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM scopes WHERE account = ? AND region = ?")
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_one(&mut *conn)
            .await?,
    )
}

fn pending_apply(i: &Instance) -> bool {
    i.options_state() == model::OptionsState::Pending
}

/// Write what a write changed: the row, the attributes that differ, the feed entries (and
/// the tags, when they changed), the first three as one round trip to SQLite (a statement
/// each, sent together), since a write waits for the previous one in its batch.
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
    let (old, new) = (before.filter_attributes(), after.filter_attributes());
    let old: HashSet<&(String, String)> = old.iter().collect();
    let new: HashSet<&(String, String)> = new.iter().collect();
    let mut q = QueryBuilder::<Sqlite>::new("UPDATE instances SET state = ");
    q.push_bind(state_col(after))
        .push(", private_ip = ")
        .push_bind(after.private_ip.to_string())
        .push(", due_ms = ")
        .push_bind(after.transition.map(|t| t.due_ms))
        .push(", pending_apply = ")
        .push_bind(pending_apply(after))
        .push(", terminated_at_ms = ")
        .push_bind(after.terminated_at_ms)
        .push(", doc = ")
        .push_bind(doc.as_str());
    served_columns::Columns::of(after).push_set(&mut q);
    q.push(" WHERE pk = ").push_bind(pk).push(";");
    for (name, value) in old.difference(&new) {
        q.push(" DELETE FROM instance_attrs WHERE pk = ")
            .push_bind(pk)
            .push(" AND name = ")
            .push_bind(name.as_str())
            .push(" AND value = ")
            .push_bind(value.as_str())
            .push(";");
    }
    // The scope's id was made at the instance's launch (or by the schema's migration).
    for (name, value) in new.difference(&old) {
        q.push(" INSERT OR IGNORE INTO instance_attrs (pk, scope, name, value) SELECT ")
            .push_bind(pk)
            .push(", id, ")
            .push_bind(name.as_str())
            .push(", ")
            .push_bind(value.as_str())
            .push(" FROM scopes WHERE account = ")
            .push_bind(after.scope.account.as_str())
            .push(" AND region = ")
            .push_bind(after.scope.region.as_str())
            .push(";");
    }
    let kinds = ChangeKind::between(Some(before), Some(after));
    if !kinds.is_empty() {
        q.push(" ").push(INSERT_CHANGE);
        q.push_values(kinds, |mut b, kind| {
            b.push_bind(after.instance_id.as_str())
                .push_bind(kind.as_str())
                .push_bind(after.options_generation as i64)
                .push_bind(now)
                .push_bind(doc.as_str());
        });
    }
    q.build().execute(&mut *conn).await?;
    if before.tags != after.tags {
        sync_tags(
            conn,
            &after.instance_id,
            "instance",
            &after.scope,
            &before.tags,
            &after.tags,
        )
        .await?;
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

/// Free addresses for a launch, as the model allocates them from the subnet's block and
/// the addresses instances hold there.
async fn allocate(
    conn: &mut SqliteConnection,
    scope: &Scope,
    req: &LaunchRequest,
) -> Result<Vec<Ipv4Addr>> {
    let subnet = find_subnet(conn, scope, &req.subnet_id)
        .await?
        .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(req.subnet_id.clone()))?;
    let held = held_addresses(conn, &subnet.subnet_id).await?;
    Ok(vpc::allocate_addresses(
        &subnet,
        &held,
        req.private_ip,
        req.count,
    )?)
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
            insert_instances(conn, &instances, now).await?;
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
            let (loaded, defaults) =
                load_for_update(conn, Some(&scope), &ids, Some(&scope)).await?;
            let mut found = Vec::with_capacity(ids.len());
            let mut missing = Vec::new();
            for id in &ids {
                match loaded.get(id) {
                    Some(x) => found.push(x.clone()),
                    None => missing.push(id.clone()),
                }
            }
            let (pks, found): (Vec<i64>, Vec<Instance>) = found.into_iter().unzip();
            gate(&found)?;
            if !missing.is_empty() {
                return Err(Ec2Error::InvalidInstanceIdNotFound(missing).into());
            }
            let ctx = MutationContext {
                defaults: defaults.unwrap_or_default(),
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
            trim_feed(conn, |latest| RETENTION.by_age(latest, now)).await?;
            let (next, terminated) = reads::lifecycle_times(conn).await?;
            Ok(next_lifecycle_step(next, terminated, now - purge_before_ms))
        })
    })
}

pub fn mark_applied(applied: Vec<(String, u64)>, reply: oneshot::Sender<Result<usize>>) -> Job {
    job(reply, move |conn, now| {
        Box::pin(async move {
            let mut n = 0;
            let ids: Vec<String> = applied.iter().map(|(id, _)| id.clone()).collect();
            let (mut loaded, _) = load_for_update(conn, None, &ids, None).await?;
            for (id, generation) in applied {
                // A second entry for the same instance reads what the first wrote.
                let Some((pk, before)) = loaded.get(&id).cloned() else {
                    continue;
                };
                let mut after = before.clone();
                if after.mark_applied(generation) {
                    save_instance(conn, pk, &before, &after, now).await?;
                    loaded.insert(id, (pk, after));
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
            let ids: Vec<String> = settled.iter().map(|(id, _)| id.clone()).collect();
            let (mut loaded, _) = load_for_update(conn, None, &ids, None).await?;
            for (id, association_id) in settled {
                // A second entry for the same instance reads what the first wrote.
                let Some((pk, before)) = loaded.get(&id).cloned() else {
                    continue;
                };
                let mut after = before.clone();
                if after.settle_association(&association_id) {
                    save_instance(conn, pk, &before, &after, now).await?;
                    loaded.insert(id, (pk, after.clone()));
                    out.push(after);
                }
            }
            Ok(out)
        })
    })
}
