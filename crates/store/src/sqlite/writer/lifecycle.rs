//! The lifecycle driver's job: the transitions that fall due, written on the instances'
//! columns, and the purge of instances terminated long enough ago.
//!
//! Every launched instance takes a step (`pending` → `running`); Stop and Terminate lead to
//! one more each. A step is decided by the model on what the row's columns hold
//! ([`LifecycleProgress`]: state, due time, termination time) and written as columns: the
//! document gets its four fields with SQLite's `json_set`, and the instance's two state
//! filter rows are swapped. No document is decoded or encoded and no other filter attribute
//! is diffed: the step used to be the third whole rewrite of every launched instance (after
//! its insert, beside the metadata host's acknowledgement, which is written the same way).
//!
//! A step leaves `event_due_ms` (schema 10, `Instance::next_event_ms`) as it is: that
//! depends on the state only through whether the instance is gone, and no step changes
//! that (`pending` → `running` and `stopping` → `stopped` stay up; `shutting-down` →
//! `terminated` was gone already, its column NULL since the write that terminated it).
//! Event steps are the `events` job's.

use super::instances::{append_change, push_gone_attributes, push_new_attributes, INSERT_CHANGE};
use super::rows;
use super::trips::counted;
use super::{job, trim_feed, Job};
use crate::feed::RETENTION;
use crate::instances::next_lifecycle_step;
use crate::sqlite::{reads, served_columns};
use crate::{ChangeKind, Result};
use model::change::state_change;
use model::instance::{LifecycleProgress, Step};
use model::Scope;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use tokio::sync::oneshot;

/// Instances stepped by one job at most (the next job takes the rest).
const STEPS_PER_JOB: i64 = 5000;

/// Instances purged by one job at most.
const PURGES_PER_JOB: i64 = 5000;

pub fn advance(
    now_ms: i64,
    purge_before_ms: i64,
    reply: oneshot::Sender<Result<Option<i64>>>,
) -> Job {
    job(reply, move |conn, now| {
        Box::pin(async move {
            let now = now.max(now_ms);
            let steps = due_steps(conn, now).await?;
            write_steps(conn, &steps, now).await?;
            purge(conn, purge_before_ms, now).await?;
            trim_feed(conn, |latest| RETENTION.by_age(latest, now)).await?;
            let (next, terminated) = reads::lifecycle_times(counted(conn)).await?;
            Ok(next_lifecycle_step(next, terminated, now - purge_before_ms))
        })
    })
}

/// A step the model took on an instance's columns, as [`write_steps`] writes it.
struct Stepped {
    pk: i64,
    instance_id: String,
    scope: Scope,
    options_generation: i64,
    step: Step,
    /// The instance's progress after the step.
    now: LifecycleProgress,
}

/// The steps due by `now`, in the order they fell due, each decided by the model on the
/// row's columns.
async fn due_steps(conn: &mut SqliteConnection, now: i64) -> Result<Vec<Stepped>> {
    let rows = sqlx::query(
        "SELECT pk, instance_id, account, region, state, due_ms, terminated_at_ms, options_generation \
         FROM instances WHERE due_ms IS NOT NULL AND due_ms <= ? ORDER BY due_ms LIMIT ?",
    )
    .bind(now)
    .bind(STEPS_PER_JOB)
    .fetch_all(counted(conn))
    .await?;
    let mut steps = Vec::with_capacity(rows.len());
    for row in rows {
        let instance_id: String = row.try_get(1)?;
        let mut progress = LifecycleProgress {
            state: served_columns::state_of(&instance_id, row.try_get(4)?)?,
            due_ms: row.try_get(5)?,
            terminated_at_ms: row.try_get(6)?,
        };
        let Some(step) = progress.advance(now) else {
            continue;
        };
        let (account, region): (&str, &str) = (row.try_get(2)?, row.try_get(3)?);
        steps.push(Stepped {
            pk: row.try_get(0)?,
            instance_id,
            scope: Scope::new(account, region),
            options_generation: row.try_get(7)?,
            step,
            now: progress,
        });
    }
    Ok(steps)
}

/// `UPDATE instances … FROM (VALUES (pk, state, terminated_at_ms), …)` for steps that clear
/// the state reason or not, and that terminate or not: only the columns (and the
/// document's fields) the step changes are set, since SQLite moves an index's entry whenever
/// an UPDATE sets a column it holds (`instances_terminated`).
fn update_sql(clears_reason: bool, terminates: bool) -> String {
    let (column, field) = if terminates {
        (
            ", terminated_at_ms = v.column3",
            ", '$.terminated_at_ms', v.column3",
        )
    } else {
        ("", "")
    };
    let reason = if clears_reason {
        ", '$.state_reason', NULL"
    } else {
        ""
    };
    format!(
        "UPDATE instances SET state = v.column2, due_ms = NULL{column}, \
         doc = json_set(doc, '$.state', v.column2, '$.transition', NULL{reason}{field}) FROM ("
    )
}

/// Write the steps: the rows' columns and documents, the state filter rows, the feed
/// entries; all in one round trip for a job's steps.
async fn write_steps(conn: &mut SqliteConnection, steps: &[Stepped], now: i64) -> Result<()> {
    if steps.is_empty() {
        return Ok(());
    }
    let kind = |s: &Stepped| (s.step.clears_reason(), s.now.terminated_at_ms.is_some());
    let mut ordered: Vec<&Stepped> = steps.iter().collect();
    ordered.sort_by_key(|s| kind(s));
    let mut gone = Vec::with_capacity(2 * steps.len());
    let mut new = Vec::with_capacity(2 * steps.len());
    for s in steps {
        let (from, to) = (s.step.from, s.step.to);
        for ((name, before), (_, after)) in from
            .filter_attributes()
            .into_iter()
            .zip(to.filter_attributes())
        {
            gone.push((s.pk, name.to_string(), before));
            new.push((s.pk, name.to_string(), after, &s.scope));
        }
    }
    let mut q = QueryBuilder::<Sqlite>::new("");
    for group in ordered.chunk_by(|a, b| kind(a) == kind(b)) {
        let (clears_reason, terminates) = kind(group[0]);
        for chunk in group.chunks(rows::per_statement(3)) {
            q.push(update_sql(clears_reason, terminates));
            q.push_values(chunk, |mut b, s| {
                b.push_bind(s.pk)
                    .push_bind(s.now.state.as_str())
                    .push_bind(s.now.terminated_at_ms);
            });
            q.push(") AS v WHERE instances.pk = v.column1; ");
        }
    }
    push_gone_attributes(&mut q, &gone);
    push_new_attributes(&mut q, &new);
    for chunk in steps.chunks(rows::per_statement(4)) {
        q.push(INSERT_CHANGE);
        q.push_values(chunk, |mut b, s| {
            b.push_bind(s.instance_id.as_str())
                .push_bind(state_change(s.step.from, s.step.to).as_str())
                .push_bind(s.options_generation)
                .push_bind(now);
        });
        q.push("; ");
    }
    q.build().persistent(false).execute(counted(conn)).await?;
    Ok(())
}

/// Remove the instances terminated before `purge_before_ms`, with their filter rows and tags,
/// each with its feed entry.
async fn purge(conn: &mut SqliteConnection, purge_before_ms: i64, now: i64) -> Result<()> {
    let gone: Vec<(i64, String)> = sqlx::query_as(
        "SELECT pk, instance_id FROM instances WHERE terminated_at_ms IS NOT NULL AND terminated_at_ms < ? LIMIT ?",
    )
    .bind(purge_before_ms)
    .bind(PURGES_PER_JOB)
    .fetch_all(counted(conn))
    .await?;
    for (pk, id) in gone {
        for sql in [
            "DELETE FROM instance_attrs WHERE pk = ?",
            "DELETE FROM instances WHERE pk = ?",
        ] {
            sqlx::query(sql).bind(pk).execute(counted(conn)).await?;
        }
        sqlx::query("DELETE FROM tags WHERE resource_id = ?")
            .bind(&id)
            .execute(counted(conn))
            .await?;
        append_change(conn, &id, ChangeKind::Purged, 0, now).await?;
    }
    Ok(())
}
