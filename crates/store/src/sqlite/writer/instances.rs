//! Instances: launches (client tokens, addresses), writes the model decides, the metadata
//! hosts' acknowledgements and settled associations; each write keeps the instance's filter
//! attributes and tags and appends its feed entries. (The lifecycle's steps: `lifecycle`.)

use super::documents::{insert_tags, sync_tags};
use super::lead::{Ended, Lead, Savepoint};
use super::network::{find_subnet, held_addresses};
use super::rows;
use super::trips::counted;
use super::{answer, exec, failed, job, led, BoxFut, Finish, Job};
use crate::instances::*;
use crate::pages::{changed_attributes, kept_attributes};
use crate::sqlite::reads::{self, decode};
use crate::sqlite::served_columns;
use crate::{ChangeKind, Result};
use model::instance::OptionsProgress;
use model::vpc;
use model::{AccountDefaults, Ec2Error, Instance, Scope};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use tokio::sync::oneshot;

/// Instances by id as a write reads them: `(pk, instance)` of those found, whatever their
/// scope (callers keep the ones of theirs), and the account defaults of `defaults_of` (those
/// without any read as the defaults' defaults), all in one round trip to SQLite (the SELECTs
/// sent together, after the writer's `lead`), since the write waits on each.
async fn load_for_update(
    conn: &mut SqliteConnection,
    lead: Lead,
    ids: &[String],
    defaults_of: &[&Scope],
) -> Result<(
    HashMap<String, (i64, Instance)>,
    HashMap<Scope, AccountDefaults>,
)> {
    let mut found = HashMap::with_capacity(ids.len());
    let mut defaults: HashMap<Scope, AccountDefaults> = defaults_of
        .iter()
        .map(|s| ((*s).clone(), AccountDefaults::default()))
        .collect();
    if ids.is_empty() && defaults_of.is_empty() {
        exec(conn, lead.sql()).await?;
        return Ok((found, defaults));
    }
    let mut q = QueryBuilder::<Sqlite>::new(lead.sql());
    for chunk in ids.chunks(rows::per_statement(1)) {
        q.push("SELECT pk, doc FROM instances WHERE instance_id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(id.as_str());
        }
        q.push(");");
    }
    if !defaults_of.is_empty() {
        q.push("SELECT account, region, doc FROM account_defaults WHERE ");
        for (n, s) in defaults_of.iter().enumerate() {
            if n > 0 {
                q.push(" OR ");
            }
            q.push("(account = ")
                .push_bind(s.account.as_str())
                .push(" AND region = ")
                .push_bind(s.region.as_str())
                .push(")");
        }
    }
    // Rows of the two kinds of statement tell themselves apart by their number of columns.
    for row in q.build().persistent(false).fetch_all(counted(conn)).await? {
        if row.len() == 3 {
            let (account, region, doc): (&str, &str, &str) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            defaults.insert(Scope::new(account, region), decode(doc)?);
            continue;
        }
        let (pk, doc): (i64, &str) = (row.try_get(0)?, row.try_get(1)?);
        let i: Instance = decode(doc)?;
        found.insert(i.instance_id.clone(), (pk, i));
    }
    Ok((found, defaults))
}

fn state_col(i: &Instance) -> &'static str {
    i.state.as_str()
}

const INSERT_INSTANCE: &str = "INSERT INTO instances (instance_id, account, region, state, subnet_id, private_ip, due_ms, pending_apply, client_token, terminated_at_ms, doc, launch_time_ms, options, options_generation, applied_generation, applied_options, unsettled_association, event_due_ms) ";
const INSERT_ATTR: &str = "INSERT OR IGNORE INTO instance_attrs (pk, scope, name, value) ";
/// `OR FAIL`: no statement journal (a failure fails the job; see `lead`).
pub(super) const INSERT_CHANGE: &str =
    "INSERT OR FAIL INTO changes (instance_id, kind, generation, at_ms) ";

/// The rows of launched instances, their filter attributes, tags and feed entries, each
/// table written by multi-row statements: a launch of a thousand runs tens of statements,
/// not tens of thousands.
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
    for chunk in rows.chunks(rows::per_statement(12 + served_columns::COUNT)) {
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
            b.push_bind(i.next_event_ms());
        });
        q.push(" RETURNING pk, instance_id");
        let inserted: Vec<(i64, String)> = q.build_query_as().fetch_all(counted(conn)).await?;
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
            kept_attributes(i)
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
    let changes: Vec<(&Instance, ChangeKind)> = launched
        .iter()
        .flat_map(|i| {
            ChangeKind::between(None, Some(i))
                .into_iter()
                .map(move |k| (i, k))
        })
        .collect();
    rows::insert(conn, INSERT_CHANGE, "", 4, &changes, |mut b, (i, kind)| {
        b.push_bind(&i.instance_id)
            .push_bind(kind.as_str())
            .push_bind(i.options_generation as i64)
            .push_bind(now);
    })
    .await
}

/// The small integer id of a scope (`scopes`), made on the scope's first write; each filter
/// attribute row carries it, first in the key of the index DescribeInstances' pages read
/// (`sqlite::pages`).
async fn scope_id(conn: &mut SqliteConnection, scope: &Scope) -> Result<i64> {
    sqlx::query("INSERT OR IGNORE INTO scopes (account, region) VALUES (?, ?)")
        .bind(&scope.account)
        .bind(&scope.region)
        .execute(counted(conn))
        .await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM scopes WHERE account = ? AND region = ?")
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_one(counted(conn))
            .await?,
    )
}

fn pending_apply(i: &Instance) -> bool {
    i.options_state() == model::OptionsState::Pending
}

/// An instance write: `(pk, before, after)`.
pub(super) type Save = (i64, Instance, Instance);

/// Instance writes sent to SQLite in one round trip at most (their statements' text stays
/// small: SQLite copies what is left of a multi-statement text as it prepares each one).
const SAVES_PER_SEND: usize = 1000;

/// Write what writes changed: each instance's row, the attributes that differ, the feed
/// entries (and the tags, when they changed). Rows of many instances go in multi-row
/// statements (an `UPDATE … FROM (VALUES …)`, a `DELETE … IN (VALUES …)`, two multi-row
/// `INSERT`s) sent together, one round trip for a thousand instances, since a write waits on
/// each round trip and a group of modifications or of settled associations writes
/// hundreds. The rows go in the order of the writes, in rounds that each write an instance
/// once (a second write of it starts the next round), as if each write had been sent alone.
pub(super) async fn save_instances(
    conn: &mut SqliteConnection,
    saves: &[Save],
    now: i64,
) -> Result<()> {
    let saves: Vec<&Save> = saves.iter().filter(|(_, b, a)| b != a).collect();
    for chunk in saves.chunks(SAVES_PER_SEND) {
        // Rounds in the order of the writes: a new one starts where an instance comes again.
        let mut rounds: Vec<Vec<&Save>> = vec![Vec::new()];
        let mut in_round: HashSet<i64> = HashSet::new();
        for s in chunk {
            if !in_round.insert(s.0) {
                rounds.push(Vec::new());
                in_round.clear();
                in_round.insert(s.0);
            }
            if let Some(r) = rounds.last_mut() {
                r.push(s);
            }
        }
        let rows: Vec<SaveRows> = rounds
            .iter()
            .map(|round| SaveRows::of(round, now))
            .collect::<Result<_>>()?;
        let mut q = QueryBuilder::<Sqlite>::new("");
        for r in &rows {
            r.push(&mut q);
        }
        q.build().persistent(false).execute(counted(conn)).await?;
        for (_, before, after) in chunk {
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
        }
    }
    Ok(())
}

/// The rows one round of instance writes changes (each instance at most once).
struct SaveRows<'a> {
    /// pk, the instance after, its document.
    instances: Vec<(i64, &'a Instance, String)>,
    /// pk, name, value.
    gone: Vec<(i64, String, String)>,
    /// pk, name, value, scope.
    new: Vec<(i64, String, String, &'a Scope)>,
    /// index into `instances`, kind.
    changes: Vec<(usize, ChangeKind)>,
    /// The indexed columns one of the round's writes changes.
    moved: Indexed,
    now: i64,
}

/// The columns of `instances` that its indexes hold (beyond the keys no write changes),
/// those of them that writes changed. SQLite moves a row's entry in an index whenever an
/// `UPDATE` sets one of the index's columns, to the same value or not (a dirty page each,
/// in a random place of the index), while a row rewritten with the same bytes dirties
/// nothing: a round sets only the indexed columns one of its writes changed. A metadata
/// host's acknowledgement set `private_ip` and so moved `instances_subnet`: one page of
/// its two. `options` is set only when it changed: `instances_options_scope` holds it
/// (schema 9), which a write of anything else would otherwise move; `event_due_ms` likewise
/// (`instances_event_due`, schema 10), which few writes change (those of events, and those
/// that stop or terminate an instance with some).
#[derive(Default, Clone, Copy)]
struct Indexed {
    private_ip: bool,
    options: bool,
    due_ms: bool,
    pending_apply: bool,
    terminated_at_ms: bool,
    event_due_ms: bool,
}

impl Indexed {
    fn add(&mut self, before: &Instance, after: &Instance) {
        let due = |i: &Instance| i.transition.map(|t| t.due_ms);
        self.private_ip |= before.private_ip != after.private_ip;
        self.options |= before.metadata != after.metadata;
        self.due_ms |= due(before) != due(after);
        self.pending_apply |= pending_apply(before) != pending_apply(after);
        self.terminated_at_ms |= before.terminated_at_ms != after.terminated_at_ms;
        self.event_due_ms |= before.next_event_ms() != after.next_event_ms();
    }

    /// `, column = v.columnN` of each column set, as [`SaveRows::push`] binds them.
    fn set(self) -> String {
        [
            (self.private_ip, "private_ip", 3),
            (self.due_ms, "due_ms", 4),
            (self.pending_apply, "pending_apply", 5),
            (self.terminated_at_ms, "terminated_at_ms", 6),
            (self.event_due_ms, "event_due_ms", EVENT_DUE_COLUMN),
        ]
        .into_iter()
        .filter(|(moved, _, _)| *moved)
        .map(|(_, column, n)| format!(", {column} = v.column{n}"))
        .collect()
    }
}

/// The column of [`SaveRows::push`]'s rows that binds `event_due_ms`: after the document (7)
/// and the compact columns (from 8).
const EVENT_DUE_COLUMN: usize = 8 + served_columns::COUNT;

impl<'a> SaveRows<'a> {
    fn of(round: &[&'a Save], now: i64) -> Result<SaveRows<'a>> {
        let mut rows = SaveRows {
            instances: Vec::with_capacity(round.len()),
            gone: Vec::new(),
            new: Vec::new(),
            changes: Vec::new(),
            moved: Indexed::default(),
            now,
        };
        for (pk, before, after) in round.iter().copied() {
            let (gone, new) = changed_attributes(Some(before), after);
            for (name, value) in gone {
                rows.gone.push((*pk, name, value));
            }
            // The scope's id was made at the instance's launch (or by the schema's migration).
            for (name, value) in new {
                rows.new.push((*pk, name, value, &after.scope));
            }
            rows.moved.add(before, after);
            let n = rows.instances.len();
            for kind in ChangeKind::between(Some(before), Some(after)) {
                rows.changes.push((n, kind));
            }
            rows.instances
                .push((*pk, after, serde_json::to_string(after)?));
        }
        Ok(rows)
    }

    /// The round's statements, pushed into `q` (each ends with `;`).
    fn push<'q>(&'q self, q: &mut QueryBuilder<'q, Sqlite>) {
        for chunk in self.instances.chunks(rows::per_statement(EVENT_DUE_COLUMN)) {
            q.push("UPDATE OR FAIL instances SET state = v.column2, doc = v.column7");
            q.push(self.moved.set());
            q.push(served_columns::set_from_values(8, self.moved.options));
            q.push(" FROM (");
            q.push_values(chunk, |mut b, (pk, after, doc)| {
                b.push_bind(*pk)
                    .push_bind(state_col(after))
                    .push_bind(after.private_ip.to_string())
                    .push_bind(after.transition.map(|t| t.due_ms))
                    .push_bind(pending_apply(after))
                    .push_bind(after.terminated_at_ms)
                    .push_bind(doc.as_str());
                served_columns::Columns::of(after).bind(&mut b);
                b.push_bind(after.next_event_ms());
            });
            q.push(") AS v WHERE instances.pk = v.column1; ");
        }
        push_gone_attributes(q, &self.gone);
        push_new_attributes(q, &self.new);
        for chunk in self.changes.chunks(rows::per_statement(4)) {
            q.push(INSERT_CHANGE);
            q.push_values(chunk, |mut b, (n, kind)| {
                let (_, after, _) = &self.instances[*n];
                b.push_bind(after.instance_id.as_str())
                    .push_bind(kind.as_str())
                    .push_bind(after.options_generation as i64)
                    .push_bind(self.now);
            });
            q.push("; ");
        }
    }
}

/// The statements removing filter rows, each `(pk, name, value)`, pushed into `q`. Row
/// values against a subquery: SQLite seeks the primary key by `pk` (a bare `IN (VALUES …)`
/// would scan the table).
pub(super) fn push_gone_attributes<'q>(
    q: &mut QueryBuilder<'q, Sqlite>,
    gone: &'q [(i64, String, String)],
) {
    for chunk in gone.chunks(rows::per_statement(3)) {
        q.push("DELETE FROM instance_attrs WHERE (pk, name, value) IN (SELECT column1, column2, column3 FROM (");
        q.push_values(chunk, |mut b, (pk, name, value)| {
            b.push_bind(*pk)
                .push_bind(name.as_str())
                .push_bind(value.as_str());
        });
        q.push(")); ");
    }
}

/// The statements adding filter rows, each `(pk, name, value, scope)`, pushed into `q`.
pub(super) fn push_new_attributes<'q>(
    q: &mut QueryBuilder<'q, Sqlite>,
    new: &'q [(i64, String, String, &'q Scope)],
) {
    for chunk in new.chunks(rows::per_statement(5)) {
        q.push("INSERT OR IGNORE INTO instance_attrs (pk, scope, name, value) SELECT v.column1, s.id, v.column2, v.column3 FROM (");
        q.push_values(chunk, |mut b, (pk, name, value, scope)| {
            b.push_bind(*pk)
                .push_bind(name.as_str())
                .push_bind(value.as_str())
                .push_bind(scope.account.as_str())
                .push_bind(scope.region.as_str());
        });
        q.push(") AS v JOIN scopes s ON s.account = v.column4 AND s.region = v.column5; ");
    }
}

/// One row of the change feed, in the write's transaction.
pub(super) async fn append_change(
    conn: &mut SqliteConnection,
    id: &str,
    kind: ChangeKind,
    generation: u64,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO changes (instance_id, kind, generation, at_ms) VALUES (?, ?, ?, ?)")
        .bind(id)
        .bind(kind.as_str())
        .bind(generation as i64)
        .bind(now)
        .execute(counted(conn))
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
                .fetch_all(counted(conn))
                .await?;
                if !docs.is_empty() {
                    let instances = docs.iter().map(|(d,)| decode(d)).collect::<Result<_>>()?;
                    return Ok(LaunchOutcome {
                        instances,
                        replayed: true,
                    });
                }
            }
            let defaults = reads::defaults(counted(conn), &scope).await?;
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

/// A write to instances (`InstanceStore::update_instances`), run by the writer with the
/// other updates queued beside it ([`run_updates`]).
pub struct Update {
    scope: Scope,
    ids: Vec<String>,
    gate: InstanceGate,
    f: InstanceMutation,
    reply: Reply,
}

pub fn update_instances(
    scope: Scope,
    ids: Vec<String>,
    gate: InstanceGate,
    f: InstanceMutation,
    reply: oneshot::Sender<Result<Vec<(Instance, Instance)>>>,
) -> Job {
    Job::Update(Update {
        scope,
        ids,
        gate,
        f,
        reply,
    })
}

/// Where an update's answer goes.
type Reply = oneshot::Sender<Result<Vec<(Instance, Instance)>>>;

/// Instances as the updates of a group have left them so far, by id: `(pk, instance)`.
type Cache = HashMap<String, (i64, Instance)>;

/// What one update decides, on the instances as the updates before it in its group left
/// them: the gate, then unknown ids, then the model on a copy of each instance. A refusal
/// changes nothing in `cache`; otherwise `cache` holds what it wrote. Returns `(pk, before,
/// after)` of each instance named, in the order named.
fn decide(
    u: Update,
    cache: &mut Cache,
    defaults: &HashMap<Scope, AccountDefaults>,
) -> (Reply, Result<Vec<Save>>) {
    let Update {
        scope,
        ids,
        gate,
        mut f,
        reply,
    } = u;
    let defaults = defaults.get(&scope).cloned().unwrap_or_default();
    let find = |id: &str| cache.get(id).map(|(_, i)| i.clone());
    let decided = decide_update(&scope, &ids, gate, &mut f, find, defaults).map(|out| {
        out.into_iter()
            .map(|(before, after)| {
                let pk = cache.get(&before.instance_id).map_or(0, |(pk, _)| *pk);
                (pk, before, after)
            })
            .collect::<Vec<Save>>()
    });
    if let Ok(out) = &decided {
        for (pk, _, after) in out {
            cache.insert(after.instance_id.clone(), (*pk, after.clone()));
        }
    }
    (reply, decided)
}

/// The updates queued one after another in a group commit, run together: the instances all
/// of them name (and their scopes' defaults) read in one round trip, each decided in turn
/// on what the ones before it wrote ([`decide`]), and all their writes sent together in as
/// few round trips as their size needs. A refused update writes nothing and is answered
/// with its refusal (the model refuses before anything is written); the others commit. The
/// writer runs the group without a savepoint (its `lead` goes with the read): if SQLite
/// fails it, the whole transaction is undone, the group's updates and the jobs before it in
/// the batch fail, and nothing of them is written (`lead`).
pub(super) fn run_updates(
    conn: &mut SqliteConnection,
    now: i64,
    lead: Lead,
    group: Vec<Update>,
) -> BoxFut<'_, (Ended, Vec<Finish>)> {
    Box::pin(async move {
        let mut ids: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut scopes: Vec<&Scope> = Vec::new();
        for u in &group {
            for id in &u.ids {
                if seen.insert(id.as_str()) {
                    ids.push(id.clone());
                }
            }
            if !scopes.contains(&&u.scope) {
                scopes.push(&u.scope);
            }
        }
        let loaded = load_for_update(conn, lead, &ids, &scopes).await;
        let (mut cache, defaults) = match loaded {
            Ok(x) => x,
            Err(e) => {
                let e = e.to_string();
                let finishes = group
                    .into_iter()
                    .map(|u| answer(u.reply, Err(failed(&e))))
                    .collect();
                return (Ended::Unsure(e), finishes);
            }
        };
        let mut decided = Vec::with_capacity(group.len());
        for u in group {
            decided.push(decide(u, &mut cache, &defaults));
        }
        let saves: Vec<Save> = decided
            .iter()
            .flat_map(|(_, r)| r.iter().flatten().cloned())
            .collect();
        let written = save_instances(conn, &saves, now).await;
        let written = written.map_err(|e| e.to_string());
        let finishes = decided
            .into_iter()
            .map(|(reply, r)| {
                let r = match (&written, r) {
                    (Err(e), Ok(_)) => Err(failed(e)),
                    (_, r) => r.map(|out| out.into_iter().map(|(_, b, a)| (b, a)).collect()),
                };
                answer(reply, r)
            })
            .collect();
        (Ended::of(written.is_ok()), finishes)
    })
}

/// A metadata host's acknowledgements, each `(instance id, what it acknowledges)`: each
/// instance found is changed by `settle` (a second entry for the same instance sees what the
/// first did), and those it changed are written together. Returns them as they are now, and
/// how the job ended (the read carries the writer's `lead`).
async fn settle_each<A>(
    conn: &mut SqliteConnection,
    now: i64,
    lead: Lead,
    entries: Vec<(String, A)>,
    settle: impl Fn(&mut Instance, A) -> bool,
) -> (Result<Vec<Instance>>, Ended) {
    let ids: Vec<String> = entries.iter().map(|(id, _)| id.clone()).collect();
    let mut loaded = match load_for_update(conn, lead, &ids, &[]).await {
        Ok((loaded, _)) => loaded,
        Err(e) => {
            let unsure = Ended::Unsure(e.to_string());
            return (Err(e), unsure);
        }
    };
    let mut saves = Vec::new();
    for (id, what) in entries {
        let Some((pk, before)) = loaded.get(&id).cloned() else {
            continue;
        };
        let mut after = before.clone();
        if settle(&mut after, what) {
            loaded.insert(id, (pk, after.clone()));
            saves.push((pk, before, after));
        }
    }
    match save_instances(conn, &saves, now).await {
        Ok(()) => (
            Ok(saves.into_iter().map(|(_, _, after)| after).collect()),
            Ended::Wrote,
        ),
        Err(e) => (Err(e), Ended::Failed),
    }
}

pub fn mark_applied(applied: Vec<(String, u64)>, reply: oneshot::Sender<Result<usize>>) -> Job {
    // Its statements are the store's own, from the model's decision: no savepoint (`lead`).
    led(Savepoint::None, reply, move |conn, now, lead| {
        Box::pin(acknowledge(conn, now, lead, applied))
    })
}

/// A metadata host's acknowledgements of options generations, decided by the model on each
/// instance's state and generations alone ([`OptionsProgress`], read from the row's columns)
/// and written as columns: the document gets its two fields with SQLite's `json_set`, so
/// neither side decodes nor encodes it, nor touches a filter attribute (the options' state is
/// a column filter). A host acknowledges every modification; this halves what a modification
/// costs the writer. Returns how many instances changed to `applied`, and how the job ended
/// (the read carries the writer's `lead`).
async fn acknowledge(
    conn: &mut SqliteConnection,
    now: i64,
    lead: Lead,
    applied: Vec<(String, u64)>,
) -> (Result<usize>, Ended) {
    let mut progress = match read_progress(conn, lead, &applied).await {
        Ok(p) => p,
        Err(e) => {
            let unsure = Ended::Unsure(e.to_string());
            return (Err(e), unsure);
        }
    };
    let mut acks: Vec<Ack> = Vec::new();
    for (id, generation) in &applied {
        let Some((pk, p, options)) = progress.get_mut(id.as_str()) else {
            continue;
        };
        if !p.acknowledge(*generation) {
            continue;
        }
        // The options now applied are the desired ones: the row's `options`.
        let json = served_columns::unpack(*options)
            .ok_or_else(|| served_columns::corrupt(id, "options"))
            .and_then(|o| Ok(serde_json::to_string(&o)?));
        match json {
            Ok(applied_json) => acks.push(Ack {
                pk: *pk,
                id,
                generation: *generation as i64,
                pending: p.options_state() == model::OptionsState::Pending,
                applied_json,
            }),
            Err(e) => return (Err(e), Ended::Failed),
        }
    }
    if acks.is_empty() {
        return (Ok(0), Ended::Wrote);
    }
    let mut q = QueryBuilder::<Sqlite>::new("");
    for chunk in acks.chunks(rows::per_statement(4)) {
        q.push(
            "UPDATE OR FAIL instances SET applied_generation = v.column2, applied_options = options, \
             pending_apply = v.column3, doc = json_set(doc, '$.applied_generation', v.column2, \
             '$.applied_metadata', json(v.column4)) FROM (",
        );
        q.push_values(chunk, |mut b, a| {
            b.push_bind(a.pk)
                .push_bind(a.generation)
                .push_bind(a.pending)
                .push_bind(a.applied_json.as_str());
        });
        q.push(") AS v WHERE instances.pk = v.column1; ");
        q.push(INSERT_CHANGE);
        q.push_values(chunk, |mut b, a| {
            b.push_bind(a.id)
                .push_bind(ChangeKind::Applied.as_str())
                .push_bind(a.generation)
                .push_bind(now);
        });
        q.push("; ");
    }
    match q.build().persistent(false).execute(counted(conn)).await {
        Ok(_) => (Ok(acks.len()), Ended::Wrote),
        Err(e) => (Err(e.into()), Ended::Failed),
    }
}

/// One acknowledgement the model accepted, as [`acknowledge`] writes it.
struct Ack<'a> {
    pk: i64,
    id: &'a str,
    generation: i64,
    /// `pending_apply`, as the model says after the acknowledgement.
    pending: bool,
    /// The options applied, as the document writes them.
    applied_json: String,
}

/// The [`OptionsProgress`] and packed options of the instances acknowledged, by id, read
/// after the writer's `lead` in one round trip.
async fn read_progress(
    conn: &mut SqliteConnection,
    lead: Lead,
    applied: &[(String, u64)],
) -> Result<HashMap<String, (i64, OptionsProgress, i64)>> {
    let mut found = HashMap::with_capacity(applied.len());
    if applied.is_empty() {
        exec(conn, lead.sql()).await?;
        return Ok(found);
    }
    let mut q = QueryBuilder::<Sqlite>::new(lead.sql());
    for chunk in applied.chunks(rows::per_statement(1)) {
        q.push("SELECT pk, instance_id, state, options, options_generation, applied_generation FROM instances WHERE instance_id IN (");
        let mut list = q.separated(", ");
        for (id, _) in chunk {
            list.push_bind(id.as_str());
        }
        q.push(");");
    }
    for row in q.build().persistent(false).fetch_all(counted(conn)).await? {
        let (pk, id, state): (i64, String, &str) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let (options, generation, applied): (i64, i64, i64) =
            (row.try_get(3)?, row.try_get(4)?, row.try_get(5)?);
        let progress = OptionsProgress {
            state: served_columns::state_of(&id, state)?,
            options_generation: generation as u64,
            applied_generation: applied as u64,
        };
        found.insert(id, (pk, progress, options));
    }
    Ok(found)
}

pub fn settle_associations(
    settled: Vec<(String, String)>,
    reply: oneshot::Sender<Result<Vec<Instance>>>,
) -> Job {
    led(Savepoint::Own, reply, move |conn, now, lead| {
        Box::pin(settle_each(
            conn,
            now,
            lead,
            settled,
            |i, association_id| i.settle_association(&association_id),
        ))
    })
}
