//! Instance writes gathered over one transaction and sent together ([`Saves`]): each row
//! once, however many writes changed it, in one `UPDATE … FROM UNNEST(…)` a thousand rows at
//! a time, with their filter rows (`attrs`), tags and feed entries. A lifecycle step of
//! five thousand instances was five thousand round trips under the store's write lock, which
//! every other write of every node waits on.

use super::attrs::AttrRows;
use super::feed::NewChange;
use super::store::encode;
use super::tags;
use crate::sqlite::served_columns::Columns;
use crate::{ChangeKind, Result, StoreError};
use model::Instance;
use sqlx::PgConnection;
use std::collections::HashMap;

/// Rows per `UPDATE` (each row is 18 array elements; the arrays are 18 parameters).
const ROWS: usize = 1000;

/// Every column of `instances` a write sets, from arrays, one element per row.
const UPDATE: &str = "UPDATE instances AS i SET account = u.account, region = u.region, \
     state = u.state, subnet_id = u.subnet_id, private_ip = u.private_ip, due_ms = u.due_ms, \
     pending_apply = u.pending_apply, client_token = u.client_token, \
     terminated_at_ms = u.terminated_at_ms, launch_time_ms = u.launch_time_ms, \
     options = u.options, options_generation = u.options_generation, \
     applied_generation = u.applied_generation, applied_options = u.applied_options, \
     unsettled_association = u.unsettled_association, event_due_ms = u.event_due_ms, \
     doc = u.doc::jsonb \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
     $7::bigint[], $8::boolean[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], \
     $13::bigint[], $14::bigint[], $15::bigint[], $16::text[], $17::bigint[], $18::text[]) \
     AS u(instance_id, account, region, state, subnet_id, private_ip, due_ms, pending_apply, \
     client_token, terminated_at_ms, launch_time_ms, options, options_generation, \
     applied_generation, applied_options, unsettled_association, event_due_ms, doc) \
     WHERE i.instance_id = u.instance_id RETURNING i.instance_id, i.pk";

/// A transaction's instance writes, and the feed entries they make.
pub(super) struct Saves {
    now: i64,
    /// Ids in the order first written.
    order: Vec<String>,
    /// By id: the instance before the first write, and after the last.
    rows: HashMap<String, (Instance, Instance)>,
    changes: Vec<NewChange>,
}

impl Saves {
    pub fn new(now: i64) -> Saves {
        Saves {
            now,
            order: Vec::new(),
            rows: HashMap::new(),
            changes: Vec::new(),
        }
    }

    /// A write of `before` to `after` (nothing when they are the same); a later write of the
    /// same instance sees this one (the caller hands it `after`).
    pub fn push(&mut self, before: &Instance, after: &Instance) {
        if before == after {
            return;
        }
        self.changes.extend(
            ChangeKind::between(Some(before), Some(after))
                .into_iter()
                .map(|kind| NewChange {
                    instance_id: after.instance_id.clone(),
                    kind,
                    generation: after.options_generation,
                    at_ms: self.now,
                }),
        );
        match self.rows.get_mut(&after.instance_id) {
            Some(row) => row.1 = after.clone(),
            None => {
                self.order.push(after.instance_id.clone());
                self.rows
                    .insert(after.instance_id.clone(), (before.clone(), after.clone()));
            }
        }
    }

    /// Write every row, its filter rows and its tags; returns the feed entries to append.
    pub async fn write(mut self, conn: &mut PgConnection) -> Result<Vec<NewChange>> {
        let mut attrs = AttrRows::default();
        for chunk in self.order.chunks(ROWS) {
            let rows: Vec<&(Instance, Instance)> = chunk.iter().map(|id| &self.rows[id]).collect();
            let pks = update(conn, rows.iter().map(|(_, after)| after)).await?;
            for (before, after) in rows {
                let pk = pks.get(&after.instance_id).copied().ok_or_else(|| {
                    StoreError::Db(sqlx::Error::Protocol(format!(
                        "no row to write for {}",
                        after.instance_id
                    )))
                })?;
                attrs.add(pk, Some(before), after);
            }
        }
        attrs.write(conn).await?;
        for id in &self.order {
            let (before, after) = &self.rows[id];
            if before.tags != after.tags {
                tags::sync_tags(
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
        Ok(std::mem::take(&mut self.changes))
    }
}

/// Write these instances over their rows, in one statement; returns their positions by id.
async fn update<'a>(
    conn: &mut PgConnection,
    instances: impl Iterator<Item = &'a Instance>,
) -> Result<HashMap<String, i64>> {
    let mut a = Arrays::default();
    for i in instances {
        let c = Columns::of(i);
        a.instance_id.push(i.instance_id.clone());
        a.account.push(i.scope.account.clone());
        a.region.push(i.scope.region.clone());
        a.state.push(i.state.as_str().to_string());
        a.subnet_id.push(i.subnet_id.clone());
        a.private_ip.push(i.private_ip.to_string());
        a.due_ms.push(i.transition.map(|t| t.due_ms));
        a.pending_apply
            .push(i.options_state() == model::OptionsState::Pending);
        a.client_token.push(i.client_token.clone());
        a.terminated_at_ms.push(i.terminated_at_ms);
        a.launch_time_ms.push(c.launch_time_ms);
        a.options.push(c.options);
        a.options_generation.push(c.options_generation);
        a.applied_generation.push(c.applied_generation);
        a.applied_options.push(c.applied_options);
        a.unsettled_association.push(c.unsettled_association);
        a.event_due_ms.push(i.next_event_ms());
        a.doc.push(encode(i)?);
    }
    let rows: Vec<(String, i64)> = sqlx::query_as(UPDATE)
        .bind(a.instance_id)
        .bind(a.account)
        .bind(a.region)
        .bind(a.state)
        .bind(a.subnet_id)
        .bind(a.private_ip)
        .bind(a.due_ms)
        .bind(a.pending_apply)
        .bind(a.client_token)
        .bind(a.terminated_at_ms)
        .bind(a.launch_time_ms)
        .bind(a.options)
        .bind(a.options_generation)
        .bind(a.applied_generation)
        .bind(a.applied_options)
        .bind(a.unsettled_association)
        .bind(a.event_due_ms)
        .bind(a.doc)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The columns of [`UPDATE`]'s rows, one array each.
#[derive(Default)]
struct Arrays {
    instance_id: Vec<String>,
    account: Vec<String>,
    region: Vec<String>,
    state: Vec<String>,
    subnet_id: Vec<String>,
    private_ip: Vec<String>,
    due_ms: Vec<Option<i64>>,
    pending_apply: Vec<bool>,
    client_token: Vec<Option<String>>,
    terminated_at_ms: Vec<Option<i64>>,
    launch_time_ms: Vec<i64>,
    options: Vec<i64>,
    options_generation: Vec<i64>,
    applied_generation: Vec<i64>,
    applied_options: Vec<Option<i64>>,
    unsettled_association: Vec<Option<String>>,
    event_due_ms: Vec<Option<i64>>,
    doc: Vec<String>,
}
