//! Instances on PostgreSQL ([`InstanceStore`]) and the change feed's trait ([`Feed`]): what
//! the SQLite backend does, written plainly. A write reads the instances' documents, hands
//! them to the model, and writes each changed row whole (document and the columns its
//! queries use, the compact columns among them: `sqlite::served_columns`, so both backends
//! keep the same), its tags, and its feed entries, under the store's write lock.
//!
//! Every write keeps the instance's filter rows (`attrs`), through which DescribeInstances
//! pages read what they return, as SQLite's do (`crate::pages`, run by `postgres::pages`).

use super::attrs::{ensure_scope, AttrRows};
use super::feed::{self, NewChange};
use super::pages;
use super::records::read_defaults;
use super::saves::Saves;
use super::store::{decode, encode, PgStore};
use super::tags;
use super::updates::Work;
use crate::feed::{Change, Feed, RETENTION};
use crate::instances::*;
use crate::network::default_subnet;
use crate::paging::page;
use crate::sqlite::served_columns::Columns;
use crate::{ChangeKind, Result, StoreError};
use async_trait::async_trait;
use model::{Ec2Error, Instance, Scope};
use sqlx::query_builder::Separated;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use tokio::sync::watch;

/// Instances the lifecycle steps, or purges, in one call at most.
const PER_ADVANCE: i64 = 5000;

/// Instances whose events one call steps at most (the driver calls again for the rest).
const EVENTS_PER_CALL: i64 = 5000;

/// The least `event_due_ms`, through its partial index (schema V4).
const NEXT_EVENT_DUE: &str =
    "SELECT min(event_due_ms) FROM instances WHERE event_due_ms IS NOT NULL";

const INSTANCE_COLUMNS: &str = "instance_id, account, region, state, subnet_id, private_ip, \
     due_ms, pending_apply, client_token, terminated_at_ms, launch_time_ms, options, \
     options_generation, applied_generation, applied_options, unsettled_association, \
     event_due_ms, doc";

/// Push an instance's row, in [`INSTANCE_COLUMNS`]' order, as one value each.
fn push_row<'q, Sep: std::fmt::Display>(
    b: &mut Separated<'_, 'q, Postgres, Sep>,
    i: &'q Instance,
    doc: String,
) {
    let c = Columns::of(i);
    b.push_bind(i.instance_id.as_str())
        .push_bind(i.scope.account.as_str())
        .push_bind(i.scope.region.as_str())
        .push_bind(i.state.as_str())
        .push_bind(i.subnet_id.as_str())
        .push_bind(i.private_ip.to_string())
        .push_bind(i.transition.map(|t| t.due_ms))
        .push_bind(i.options_state() == model::OptionsState::Pending)
        .push_bind(i.client_token.as_deref())
        .push_bind(i.terminated_at_ms)
        .push_bind(c.launch_time_ms)
        .push_bind(c.options)
        .push_bind(c.options_generation)
        .push_bind(c.applied_generation)
        .push_bind(c.applied_options)
        .push_bind(c.unsettled_association)
        .push_bind(i.next_event_ms())
        .push_bind(doc)
        .push_unseparated("::jsonb");
}

/// Rows per multi-row INSERT of instances (18 values each, far below PostgreSQL's 65,535).
const INSERT_ROWS: usize = 1000;

/// Insert the instances' rows, many a statement (a launch of a thousand is one round trip,
/// not a thousand); returns their positions (`pk`), in their order.
async fn insert(conn: &mut PgConnection, instances: &[Instance]) -> Result<Vec<i64>> {
    let mut pks = Vec::with_capacity(instances.len());
    for chunk in instances.chunks(INSERT_ROWS) {
        let docs = chunk.iter().map(encode).collect::<Result<Vec<_>>>()?;
        let mut q =
            QueryBuilder::<Postgres>::new(format!("INSERT INTO instances ({INSTANCE_COLUMNS}) "));
        q.push_values(chunk.iter().zip(docs), |mut b, (i, doc)| {
            push_row(&mut b, i, doc)
        });
        q.push(" RETURNING instance_id, pk");
        let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *conn).await?;
        let by_id: HashMap<String, i64> = rows.into_iter().collect();
        for i in chunk {
            pks.push(*by_id.get(&i.instance_id).ok_or_else(|| {
                StoreError::Db(sqlx::Error::Protocol(format!(
                    "no position returned for {}",
                    i.instance_id
                )))
            })?);
        }
    }
    Ok(pks)
}

/// The instances with these ids, whatever their scope, by id.
pub(super) async fn load(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<HashMap<String, Instance>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT instance_id, doc::text FROM instances WHERE instance_id = ANY($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?;
    rows.into_iter()
        .map(|(id, doc)| Ok((id, decode(&doc)?)))
        .collect()
}

/// Free addresses for a launch, as the model allocates them from the subnet's block and the
/// addresses instances not terminated hold there.
async fn allocate(
    conn: &mut PgConnection,
    scope: &Scope,
    req: &LaunchRequest,
) -> Result<Vec<Ipv4Addr>> {
    let subnet = match default_subnet(scope, &req.subnet_id) {
        Some(s) => Some(s),
        None => {
            let doc: Option<String> = sqlx::query_scalar(
                "SELECT doc::text FROM subnets WHERE subnet_id = $1 AND account = $2 AND region = $3",
            )
            .bind(&req.subnet_id)
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_optional(&mut *conn)
            .await?;
            doc.map(|d| decode(&d)).transpose()?
        }
    }
    .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(req.subnet_id.clone()))?;
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT private_ip FROM instances WHERE subnet_id = $1 \
         AND NOT (terminated_at_ms IS NOT NULL AND state = 'terminated')",
    )
    .bind(&subnet.subnet_id)
    .fetch_all(&mut *conn)
    .await?;
    let held: Vec<Ipv4Addr> = held.iter().filter_map(|a| a.parse().ok()).collect();
    Ok(model::vpc::allocate_addresses(
        &subnet,
        &held,
        req.private_ip,
        req.count,
    )?)
}

/// The earliest transition due, and the earliest termination not yet purged.
async fn lifecycle_times(conn: &mut PgConnection) -> Result<(Option<i64>, Option<i64>)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT min(due_ms) FROM instances WHERE due_ms IS NOT NULL),
                (SELECT min(terminated_at_ms) FROM instances WHERE terminated_at_ms IS NOT NULL)",
    )
    .fetch_one(conn)
    .await?)
}

/// Trim the feed as `trim` says.
async fn trim_feed(conn: &mut PgConnection, trim: Option<crate::feed::Trim>) -> Result<()> {
    if let Some(t) = trim {
        sqlx::query("DELETE FROM changes WHERE seq < $1 AND at_ms < $2")
            .bind(t.below_seq as i64)
            .bind(t.before_ms)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// `(position, document)` rows fetched with one more than `limit`, as a page.
fn paged(rows: Vec<(i64, Instance)>, limit: Option<u32>) -> InstancePage {
    let (rows, next) = page(rows, limit, |r| r.0);
    InstancePage {
        instances: rows.into_iter().map(|r| r.1).collect(),
        next,
    }
}

#[async_trait]
impl InstanceStore for PgStore {
    async fn launch(
        &self,
        scope: &Scope,
        req: LaunchRequest,
        build: LaunchBuilder,
    ) -> Result<LaunchOutcome> {
        let mut tx = self.begin_write().await?;
        if let Some(token) = &req.client_token {
            let docs: Vec<String> = sqlx::query_scalar(
                "SELECT doc::text FROM instances WHERE account = $1 AND region = $2 AND client_token = $3 ORDER BY pk",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(token)
            .fetch_all(&mut *tx)
            .await?;
            if !docs.is_empty() {
                let instances = docs.iter().map(|d| decode(d)).collect::<Result<_>>()?;
                return Ok(LaunchOutcome {
                    instances,
                    replayed: true,
                });
            }
        }
        let defaults = read_defaults(&mut *tx, scope).await?;
        let addresses = allocate(&mut tx, scope, &req).await?;
        let instances = build(&LaunchContext {
            addresses,
            defaults,
        })?;
        let now = model::time::now_ms();
        ensure_scope(&mut tx, scope).await?;
        let mut attrs = AttrRows::default();
        for (pk, i) in insert(&mut tx, &instances)
            .await?
            .into_iter()
            .zip(&instances)
        {
            attrs.add(pk, None, i);
        }
        attrs.write(&mut tx).await?;
        let tagged: Vec<(&str, &Scope, &model::tags::Tag)> = instances
            .iter()
            .flat_map(|i| {
                i.tags
                    .iter()
                    .map(move |t| (i.instance_id.as_str(), &i.scope, t))
            })
            .collect();
        tags::insert_tags(&mut tx, "instance", &tagged).await?;
        let changes: Vec<NewChange> = instances
            .iter()
            .flat_map(|i| {
                ChangeKind::between(None, Some(i))
                    .into_iter()
                    .map(move |kind| NewChange {
                        instance_id: i.instance_id.clone(),
                        kind,
                        generation: i.options_generation,
                        at_ms: now,
                    })
            })
            .collect();
        let seqs = feed::append(&mut tx, &changes).await?;
        tx.commit().await?;
        self.committed(&seqs);
        Ok(LaunchOutcome {
            instances,
            replayed: false,
        })
    }

    async fn instances(&self, scope: &Scope, ids: &[String]) -> Result<Vec<Instance>> {
        let found = load(&mut *self.pool().acquire().await?, ids).await?;
        let mut out: Vec<Instance> = Vec::with_capacity(ids.len());
        let mut missing: Vec<String> = Vec::new();
        for id in ids {
            match found.get(id).filter(|i| i.scope == *scope) {
                Some(i) => out.push(i.clone()),
                None if !missing.contains(id) => missing.push(id.clone()),
                None => {}
            }
        }
        if !missing.is_empty() {
            return Err(Ec2Error::InvalidInstanceIdNotFound(missing).into());
        }
        out.dedup_by(|a, b| a.instance_id == b.instance_id);
        Ok(out)
    }

    async fn describe_instances(&self, scope: &Scope, q: &InstanceQuery) -> Result<InstancePage> {
        // One snapshot for the page.
        let mut tx = self.pool().begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let mut reads = pages::Connection(&mut tx);
        let rows = crate::pages::page_rows(&mut reads, self.rows_read_counter(), scope, q).await?;
        tx.commit().await?;
        crate::pages::finish(rows, q)
    }

    async fn update_instances(
        &self,
        scope: &Scope,
        ids: &[String],
        gate: InstanceGate,
        f: InstanceMutation,
    ) -> Result<Vec<(Instance, Instance)>> {
        self.update(Work {
            scope: scope.clone(),
            ids: ids.to_vec(),
            gate,
            f,
        })
        .await
    }

    async fn advance(&self, now_ms: i64, purge_before_ms: i64) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let now = model::time::now_ms().max(now_ms);
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT doc::text FROM instances WHERE due_ms IS NOT NULL AND due_ms <= $1 ORDER BY due_ms LIMIT $2",
        )
        .bind(now)
        .bind(PER_ADVANCE)
        .fetch_all(&mut *tx)
        .await?;
        let mut saves = Saves::new(now);
        for doc in due {
            let before: Instance = decode(&doc)?;
            let mut after = before.clone();
            after.advance(now);
            saves.push(&before, &after);
        }
        let mut changes = saves.write(&mut tx).await?;
        let gone: Vec<String> = sqlx::query_scalar(
            "SELECT instance_id FROM instances WHERE terminated_at_ms IS NOT NULL AND terminated_at_ms < $1 LIMIT $2",
        )
        .bind(purge_before_ms)
        .bind(PER_ADVANCE)
        .fetch_all(&mut *tx)
        .await?;
        for id in gone {
            let pk: i64 =
                sqlx::query_scalar("DELETE FROM instances WHERE instance_id = $1 RETURNING pk")
                    .bind(&id)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("DELETE FROM instance_attrs WHERE pk = $1")
                .bind(pk)
                .execute(&mut *tx)
                .await?;
            tags::delete_tags(&mut tx, &id).await?;
            changes.push(NewChange {
                instance_id: id,
                kind: ChangeKind::Purged,
                generation: 0,
                at_ms: now,
            });
        }
        let seqs = feed::append(&mut tx, &changes).await?;
        let latest: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM changes")
            .fetch_one(&mut *tx)
            .await?;
        let latest = latest.map(|s| s as u64);
        trim_feed(&mut tx, RETENTION.by_age(latest, now)).await?;
        trim_feed(&mut tx, RETENTION.by_count(latest)).await?;
        let (next, terminated) = lifecycle_times(&mut tx).await?;
        tx.commit().await?;
        self.committed(&seqs);
        Ok(next_lifecycle_step(next, terminated, now - purge_before_ms))
    }

    async fn next_due(&self, retention_ms: i64) -> Result<Option<i64>> {
        let (due, terminated) = lifecycle_times(&mut *self.pool().acquire().await?).await?;
        Ok(next_lifecycle_step(due, terminated, retention_ms))
    }

    /// Each instance due is stepped by the model on its document and written whole by
    /// `save` (document, indexed columns, `event_due_ms`, tags, feed entries), under the
    /// write lock, in one transaction.
    async fn take_due_events(&self, now_ms: i64, delay_ms: i64) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT doc::text FROM instances WHERE event_due_ms IS NOT NULL AND event_due_ms <= $1 \
             ORDER BY event_due_ms LIMIT $2",
        )
        .bind(now_ms)
        .bind(EVENTS_PER_CALL)
        .fetch_all(&mut *tx)
        .await?;
        let now = model::time::now_ms();
        let mut saves = Saves::new(now);
        for doc in due {
            let before: Instance = decode(&doc)?;
            let mut after = before.clone();
            if after.take_due_events(now_ms, delay_ms) {
                saves.push(&before, &after);
            } else {
                // Nothing to take, though the column said due (nothing any write leaves): set
                // it from the document, so that the driver is not left calling for it.
                sqlx::query("UPDATE instances SET event_due_ms = $2 WHERE instance_id = $1")
                    .bind(&after.instance_id)
                    .bind(after.next_event_ms())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let changes = saves.write(&mut tx).await?;
        let seqs = feed::append(&mut tx, &changes).await?;
        let next: Option<i64> = sqlx::query_scalar(NEXT_EVENT_DUE)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        self.committed(&seqs);
        Ok(next)
    }

    async fn next_event_due(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(NEXT_EVENT_DUE)
            .fetch_one(self.pool())
            .await?)
    }

    /// The three least times in one statement, each through its partial index.
    async fn next_steps(&self, retention_ms: i64) -> Result<NextSteps> {
        let (due, terminated, events): (Option<i64>, Option<i64>, Option<i64>) =
            sqlx::query_as(
                "SELECT (SELECT min(due_ms) FROM instances WHERE due_ms IS NOT NULL),
                        (SELECT min(terminated_at_ms) FROM instances WHERE terminated_at_ms IS NOT NULL),
                        (SELECT min(event_due_ms) FROM instances WHERE event_due_ms IS NOT NULL)",
            )
            .fetch_one(self.pool())
            .await?;
        Ok(NextSteps {
            lifecycle: next_lifecycle_step(due, terminated, retention_ms),
            events,
        })
    }

    async fn mark_applied(&self, applied: &[(String, u64)]) -> Result<usize> {
        let ids: Vec<String> = applied.iter().map(|(id, _)| id.clone()).collect();
        let settle = |i: &mut Instance, generation: &u64| i.mark_applied(*generation);
        Ok(self.settle_each(&ids, applied, settle).await?.len())
    }

    async fn settle_associations(&self, settled: &[(String, String)]) -> Result<Vec<Instance>> {
        let ids: Vec<String> = settled.iter().map(|(id, _)| id.clone()).collect();
        let settle = |i: &mut Instance, association: &String| i.settle_association(association);
        self.settle_each(&ids, settled, settle).await
    }

    async fn pending_applies(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT instance_id, options_generation FROM instances WHERE pending_apply AND state = 'running'",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id, g)| (id, g as u64)).collect())
    }

    async fn instance_by_id(&self, instance_id: &str) -> Result<Option<Instance>> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc::text FROM instances WHERE instance_id = $1")
                .bind(instance_id)
                .fetch_optional(self.pool())
                .await?;
        doc.map(|d| decode(&d)).transpose()
    }

    async fn all_instances(&self, after: Option<i64>, limit: u32) -> Result<InstancePage> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT pk, doc::text FROM instances WHERE pk > $1 ORDER BY pk LIMIT $2",
        )
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let rows = rows
            .into_iter()
            .map(|(pk, d)| Ok((pk, decode(&d)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(paged(rows, Some(limit)))
    }

    async fn count_instances(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM instances")
            .fetch_one(self.pool())
            .await?;
        Ok(n as u64)
    }

    async fn served_instances(&self, after: Option<i64>, limit: u32) -> Result<ServedPage> {
        let page = self.all_instances(after, limit).await?;
        Ok(ServedPage {
            records: page.instances.iter().map(ServedRecord::of).collect(),
            next: page.next,
        })
    }
}

impl PgStore {
    /// A metadata host's settlements, each `(instance id, what it settles)`: each instance
    /// found is changed by `settle` (a second entry for the same instance sees what the
    /// first did), and those it changed are written. Returns them as they are now.
    ///
    /// Run again if the database rolls it back for another's sake (`retry`): `settle` is a
    /// `Fn` of what the write reads, so a second run decides afresh.
    async fn settle_each<A: Sync>(
        &self,
        ids: &[String],
        entries: &[(String, A)],
        settle: impl Fn(&mut Instance, &A) -> bool + Sync,
    ) -> Result<Vec<Instance>> {
        let (changed, seqs) =
            super::retry::retrying_store(|| self.settle_once(ids, entries, &settle)).await?;
        self.committed(&seqs);
        Ok(changed)
    }

    async fn settle_once<A>(
        &self,
        ids: &[String],
        entries: &[(String, A)],
        settle: &impl Fn(&mut Instance, &A) -> bool,
    ) -> Result<(Vec<Instance>, Vec<u64>)> {
        let mut tx = self.begin_write().await?;
        let mut now_as: HashMap<String, Instance> = load(&mut tx, ids).await?;
        let now = model::time::now_ms();
        let mut changed = Vec::new();
        let mut saves = Saves::new(now);
        for (id, what) in entries {
            let Some(before) = now_as.get(id).cloned() else {
                continue;
            };
            let mut after = before.clone();
            if settle(&mut after, what) {
                saves.push(&before, &after);
                now_as.insert(id.clone(), after.clone());
                changed.push(after);
            }
        }
        let changes = saves.write(&mut tx).await?;
        let seqs = feed::append(&mut tx, &changes).await?;
        tx.commit().await?;
        Ok((changed, seqs))
    }
}

#[async_trait]
impl Feed for PgStore {
    async fn changes_after(&self, after: u64, limit: u32) -> Result<Vec<Change>> {
        let rows = sqlx::query(
            "SELECT c.seq, c.instance_id, c.kind, c.generation, c.at_ms, i.doc::text \
             FROM changes c LEFT JOIN instances i ON i.instance_id = c.instance_id \
             WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
        )
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get(2)?;
            let Some(kind) = ChangeKind::parse(&kind) else {
                continue;
            };
            let doc: Option<String> = row.try_get(5)?;
            let served = match doc {
                Some(d) => Some(ServedRecord::of(&decode::<Instance>(&d)?)),
                None => None,
            };
            out.push(Change {
                seq: row.try_get::<i64, _>(0)? as u64,
                instance_id: row.try_get(1)?,
                kind,
                generation: row.try_get::<i64, _>(3)? as u64,
                at_ms: row.try_get(4)?,
                served,
            });
        }
        Ok(out)
    }

    async fn oldest_change(&self) -> Result<Option<u64>> {
        Ok(feed::oldest(self.pool()).await?)
    }

    fn watch(&self) -> watch::Receiver<u64> {
        self.latest()
    }
}

#[async_trait]
impl crate::Store for PgStore {
    async fn close(&self) {
        self.shut().await;
    }
}
