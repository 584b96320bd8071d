//! Group commit of instance updates on PostgreSQL (ModifyInstanceMetadataOptions and the
//! other writes the model decides per instance), as SQLite's writer groups them
//! (`sqlite::writer::instances::run_updates`).
//!
//! Every write of every node runs under the store's one write lock, each transaction a
//! round trip per statement (lock, read, defaults, rows, the feed, commit): about 2.5 ms, so
//! ~400 updates a second whatever the clients. Here the updates a node is asked for while one
//! group runs queue, and the next group takes them all: one transaction reads every instance
//! they name and their scopes' defaults, decides each in turn on what the ones before it
//! decided (a refusal writes nothing and stays alone), writes the rows together
//! (`postgres::saves`), and commits once. An update is answered after that commit; if
//! PostgreSQL fails the transaction, every update of the group is answered with the failure
//! and nothing of them is written.

use super::feed;
use super::instances::load;
use super::records::read_defaults;
use super::saves::Saves;
use super::store::{begin_write, committed};
use crate::instances::{decide_update, InstanceGate, InstanceMutation};
use crate::{Result, StoreError};
use model::{AccountDefaults, Instance, Scope};
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Updates one group takes at most (bounds the first one's wait).
const MAX_GROUP: usize = 256;

/// Where an update's answer goes.
pub(super) type Reply = oneshot::Sender<Result<Vec<(Instance, Instance)>>>;

/// One update, as `InstanceStore::update_instances` takes it, and where its answer goes.
pub(super) struct Update {
    pub work: Work,
    pub reply: Reply,
}

/// The task that runs the groups, and how many it has committed.
pub(super) struct Updates {
    pub queue: mpsc::Sender<Update>,
    pub task: JoinHandle<()>,
    pub groups: Arc<AtomicU64>,
}

/// Start running groups of the updates sent to the queue on `pool`, moving the feed's
/// `position` after each commit.
pub(super) fn spawn(pool: PgPool, position: Arc<watch::Sender<u64>>) -> Updates {
    let (queue, mut rx) = mpsc::channel::<Update>(4 * MAX_GROUP);
    let groups = Arc::new(AtomicU64::new(0));
    let counted = groups.clone();
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(u) => group.push(u),
                    Err(_) => break,
                }
            }
            run(&pool, &position, group).await;
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    Updates {
        queue,
        task,
        groups,
    }
}

/// Instances as the group's updates have left them so far, by id.
type Cache = HashMap<String, Instance>;

/// What one update decides, on the instances as the updates before it left them: the gate,
/// then unknown ids, then the model on a copy of each instance. A refusal changes nothing
/// in `cache`; otherwise `cache` holds what it wrote. `(before, after)` of each instance
/// named, in the order named (an id named twice, twice).
fn decide(
    u: Work,
    cache: &mut Cache,
    defaults: &HashMap<Scope, AccountDefaults>,
) -> Result<Vec<(Instance, Instance)>> {
    let Work {
        scope,
        ids,
        gate,
        mut f,
    } = u;
    let defaults = defaults.get(&scope).cloned().unwrap_or_default();
    let out = decide_update(
        &scope,
        &ids,
        gate,
        &mut f,
        |id| cache.get(id).cloned(),
        defaults,
    )?;
    for (_, after) in &out {
        cache.insert(after.instance_id.clone(), after.clone());
    }
    Ok(out)
}

/// An update without its reply: what the group's transaction decides on.
pub(super) struct Work {
    pub scope: Scope,
    pub ids: Vec<String>,
    pub gate: InstanceGate,
    pub f: InstanceMutation,
}

/// One group, in one transaction (see the module's doc); answers every update.
async fn run(pool: &PgPool, position: &watch::Sender<u64>, group: Vec<Update>) {
    let (replies, work): (Vec<Reply>, Vec<Work>) =
        group.into_iter().map(|u| (u.reply, u.work)).unzip();
    match decide_and_write(pool, position, work).await {
        Ok(decided) => {
            for (reply, r) in replies.into_iter().zip(decided) {
                let _ = reply.send(r);
            }
        }
        Err(e) => {
            let e = e.to_string();
            for reply in replies {
                let _ = reply.send(Err(StoreError::Db(sqlx::Error::Protocol(e.clone()))));
            }
        }
    }
}

/// The group's transaction: each update's decision (refusals among them), once committed.
async fn decide_and_write(
    pool: &PgPool,
    position: &watch::Sender<u64>,
    group: Vec<Work>,
) -> Result<Vec<Result<Vec<(Instance, Instance)>>>> {
    let mut tx = begin_write(pool).await?;
    let mut ids: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut scopes: Vec<Scope> = Vec::new();
    for u in &group {
        for id in &u.ids {
            if seen.insert(id) {
                ids.push(id.clone());
            }
        }
        if !scopes.contains(&u.scope) {
            scopes.push(u.scope.clone());
        }
    }
    let mut cache: Cache = load(&mut tx, &ids).await?;
    let mut defaults = HashMap::with_capacity(scopes.len());
    for s in scopes {
        let d = read_defaults(&mut *tx, &s).await?;
        defaults.insert(s, d);
    }
    let mut saves = Saves::new(model::time::now_ms());
    let mut decided = Vec::with_capacity(group.len());
    for u in group {
        let r = decide(u, &mut cache, &defaults);
        if let Ok(out) = &r {
            for (before, after) in out {
                saves.push(before, after);
            }
        }
        decided.push(r);
    }
    let changes = saves.write(&mut tx).await?;
    let seqs = feed::append(&mut tx, &changes).await?;
    tx.commit().await?;
    committed(position, &seqs);
    Ok(decided)
}
