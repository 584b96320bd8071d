//! The lifecycle driver's other job: instance events (`model::events`) whose step is due —
//! a Spot interruption's recommendation, notice and action, maintenance taking effect.
//!
//! Unlike the lifecycle's steps (`lifecycle`, written on columns), an event step is decided
//! on the whole instance (`Instance::take_due_events`: its events, state, market) and may
//! change much of it (a stop or termination: state, reason, transition, filter
//! attributes), so it is written as any write of the model is ([`save_instances`]): the
//! document, every indexed column (`due_ms` of the transition it starts, `event_due_ms` of
//! the next step), the filter rows, and the feed entries. Few instances have events; the
//! due ones are found by `event_due_ms` (schema 10), never by reading the others.

use super::instances::{save_instances, Save};
use super::rows;
use super::trips::counted;
use super::{job, Job};
use crate::sqlite::reads::{self, decode};
use crate::Result;
use model::Instance;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use tokio::sync::oneshot;

/// Instances whose events one job steps at most (the driver calls again for the rest: the
/// next due is then still in the past).
const STEPS_PER_JOB: i64 = 5000;

/// `InstanceStore::take_due_events`: the steps due by `now_ms` (the transitions they start
/// last `delay_ms`), written in one job; returns when the next step is due.
pub fn take_due_events(
    now_ms: i64,
    delay_ms: i64,
    reply: oneshot::Sender<Result<Option<i64>>>,
) -> Job {
    job(reply, move |conn, now| {
        Box::pin(async move {
            let due: Vec<(i64, Option<i64>, String)> = sqlx::query_as(
                "SELECT pk, event_due_ms, doc FROM instances \
                 WHERE event_due_ms IS NOT NULL AND event_due_ms <= ? ORDER BY event_due_ms LIMIT ?",
            )
            .bind(now_ms)
            .bind(STEPS_PER_JOB)
            .fetch_all(counted(conn))
            .await?;
            let mut saves: Vec<Save> = Vec::with_capacity(due.len());
            let mut stale: Vec<(i64, Option<i64>)> = Vec::new();
            for (pk, column, doc) in due {
                let before: Instance = decode(&doc)?;
                let mut after = before.clone();
                let changed = after.take_due_events(now_ms, delay_ms);
                let next = after.next_event_ms();
                // The save sets the column when the step moved the next event; a row whose
                // column said due while its document did not (nothing any write leaves) is
                // set right here, so that the driver, which calls again while something is
                // due, is never left calling for it.
                if (!changed || before.next_event_ms() == next) && column != next {
                    stale.push((pk, next));
                }
                if changed {
                    saves.push((pk, before, after));
                }
            }
            save_instances(conn, &saves, now).await?;
            correct(conn, &stale).await?;
            reads::next_event_due(counted(conn)).await
        })
    })
}

/// Set `event_due_ms` of each `(pk, value)`.
async fn correct(conn: &mut SqliteConnection, stale: &[(i64, Option<i64>)]) -> Result<()> {
    for chunk in stale.chunks(rows::per_statement(2)) {
        let mut q =
            QueryBuilder::<Sqlite>::new("UPDATE instances SET event_due_ms = v.column2 FROM (");
        q.push_values(chunk, |mut b, (pk, next)| {
            b.push_bind(*pk).push_bind(*next);
        });
        q.push(") AS v WHERE instances.pk = v.column1");
        q.build().persistent(false).execute(counted(conn)).await?;
    }
    Ok(())
}
