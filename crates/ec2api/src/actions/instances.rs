//! DescribeInstances, the lifecycle actions (start, stop, reboot, terminate) and
//! DescribeInstanceStatus.

use super::listing::{states_where, InstanceListing};
use super::{
    dry_run, encode_token, filters, ids_without_max, instance_ids, max_results, now_ms, page_after,
    update_named_instances, FilterIn,
};
use crate::context::Ctx;
use crate::protocol::output::Output;
use crate::render;
use model::filter::{self, INSTANCE_FILTERS};
use model::instance::{Instance, InstanceState, StateChange};
use model::Ec2Error;
use serde::Deserialize;
use serde_json::{json, Value};
use store::InstanceQuery;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancesIn {
    instance_ids: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const INSTANCES_TOKEN: &str = "instances";

/// `InstanceId.N` or `MaxResults`, not both (spec ec2-api.md §6, case 35).
fn ids_or_pages(
    ids: &Option<Vec<String>>,
    max: Option<i64>,
) -> Result<(Option<Vec<String>>, Option<u32>), Ec2Error> {
    let ids = match ids {
        Some(list) if !list.is_empty() => Some(instance_ids(list, "InstanceId")?),
        _ => None,
    };
    ids_without_max(ids.as_deref().unwrap_or_default(), max, "instancesSet")?;
    Ok((ids, max_results(max)?))
}

pub async fn describe_instances(
    ctx: &Ctx<'_>,
    req: DescribeInstancesIn,
) -> Result<Output, Ec2Error> {
    let (ids, limit) = ids_or_pages(&req.instance_ids, req.max_results)?;
    let after = page_after(INSTANCES_TOKEN, &req.next_token)?;
    let filters = filters(req.filters)?;
    filter::validate(&filters, INSTANCE_FILTERS)?;
    dry_run(req.dry_run)?;
    let page = ctx
        .api
        .store
        .describe_instances(
            &ctx.scope,
            &InstanceQuery {
                ids,
                filters,
                after,
                limit,
            },
        )
        .await?;
    let next = page.next.map(|n| encode_token(INSTANCES_TOKEN, n));
    Ok(Output::Struct(vec![
        ("Reservations", render::reservations(page.instances)),
        ("NextToken", json!(next).into()),
    ]))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceIdsIn {
    #[serde(default)]
    pub(crate) instance_ids: Vec<String>,
    force: Option<bool>,
    dry_run: Option<bool>,
}

fn state_changes(changes: &[StateChange]) -> Value {
    Value::Array(
        changes
            .iter()
            .map(|c| {
                json!({
                    "InstanceId": c.instance_id,
                    "CurrentState": {"Code": c.current.code(), "Name": c.current.as_str()},
                    "PreviousState": {"Code": c.previous.code(), "Name": c.previous.as_str()},
                })
            })
            .collect(),
    )
}

type Transit = fn(&mut Instance, i64, i64, bool) -> Result<StateChange, Ec2Error>;

async fn transit(
    ctx: &Ctx<'_>,
    req: InstanceIdsIn,
    member: &str,
    op: Transit,
) -> Result<Value, Ec2Error> {
    let checked = instance_ids(&req.instance_ids, "InstanceId");
    let is_dry = req.dry_run == Some(true);
    let force = req.force == Some(true);
    let delay = ctx.api.config.transition_delay.as_millis() as i64;
    let now = now_ms();
    let results = update_named_instances(ctx, &req.instance_ids, checked, |_| {
        Box::new(move |i, _| {
            op(i, now, delay, force)?;
            dry_run(Some(is_dry))
        })
    })
    .await?;
    let changes: Vec<StateChange> = results
        .iter()
        .map(|(before, after)| StateChange {
            instance_id: after.instance_id.clone(),
            previous: before.state,
            current: after.state,
        })
        .collect();
    Ok(json!({ member: state_changes(&changes) }))
}

pub async fn start_instances(ctx: &Ctx<'_>, req: InstanceIdsIn) -> Result<Value, Ec2Error> {
    transit(ctx, req, "StartingInstances", |i, now, d, _| {
        i.start(now, d)
    })
    .await
}

pub async fn stop_instances(ctx: &Ctx<'_>, req: InstanceIdsIn) -> Result<Value, Ec2Error> {
    transit(ctx, req, "StoppingInstances", |i, now, d, force| {
        i.stop(now, d, force)
    })
    .await
}

pub async fn terminate_instances(ctx: &Ctx<'_>, req: InstanceIdsIn) -> Result<Value, Ec2Error> {
    transit(ctx, req, "TerminatingInstances", |i, now, d, _| {
        i.terminate(now, d)
    })
    .await
}

pub async fn reboot_instances(ctx: &Ctx<'_>, req: InstanceIdsIn) -> Result<Value, Ec2Error> {
    let ids = instance_ids(&req.instance_ids, "InstanceId")?;
    let instances = ctx.api.store.instances(&ctx.scope, &ids).await?;
    for i in &instances {
        i.reboot()?;
    }
    dry_run(req.dry_run)?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceStatusIn {
    instance_ids: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_all_instances: Option<bool>,
    dry_run: Option<bool>,
}

const STATUS_FILTERS: &[&str] = &[
    "availability-zone",
    "event.code",
    "event.description",
    "event.instance-event-id",
    "event.not-after",
    "event.not-before",
    "event.not-before-deadline",
    "instance-state-name",
    "instance-state-code",
    "instance-status.status",
    "instance-status.reachability",
    "system-status.status",
    "system-status.reachability",
];

/// What DescribeInstanceStatus reports of an instance in state `s`: its instance and system
/// status, and their reachability.
fn status_of(s: InstanceState) -> (&'static str, &'static str) {
    match s {
        InstanceState::Running => ("ok", "passed"),
        _ => ("not-applicable", "initializing"),
    }
}

/// DescribeInstanceStatus' filters as the store's instance filters: the statuses follow from
/// the state alone, so each status filter is the states whose status it matches.
fn status_filters(filters: Vec<filter::Filter>) -> Vec<filter::Filter> {
    filters
        .into_iter()
        .map(|f| {
            let derived: fn(InstanceState) -> &'static str = match f.name.as_str() {
                "instance-status.status" | "system-status.status" => |s| status_of(s).0,
                "instance-status.reachability" | "system-status.reachability" => |s| status_of(s).1,
                // availability-zone, instance-state-name, instance-state-code: the store's.
                _ => return f,
            };
            states_where(|s| f.values.iter().any(|p| filter::matches(p, derived(s))))
        })
        .collect()
}

pub async fn describe_instance_status(
    ctx: &Ctx<'_>,
    req: DescribeInstanceStatusIn,
) -> Result<Value, Ec2Error> {
    let (ids, limit) = ids_or_pages(&req.instance_ids, req.max_results)?;
    page_after("status", &req.next_token)?;
    let filters = filters(req.filters)?;
    filter::validate(&filters, STATUS_FILTERS)?;
    dry_run(req.dry_run)?;
    // The event filters are answered here, on each instance's events; the rest by the store.
    let (event_filters, filters): (Vec<_>, Vec<_>) = filters
        .into_iter()
        .partition(|f| f.name.starts_with("event."));
    let mut filters = status_filters(filters);
    if req.include_all_instances != Some(true) {
        filters.push(states_where(|s| s == InstanceState::Running));
    }
    let listing = InstanceListing {
        kind: "status",
        ids,
        filters,
        limit,
    };
    // Past events show for a week after they ended (`MaintenanceEvent::described_at`).
    let now = model::time::now_ms();
    listing
        .page(ctx, "InstanceStatuses", &req.next_token, |i| {
            let events: Vec<_> = (i.events.maintenance.iter())
                .filter(|e| e.described_at(now))
                .collect();
            if !event_filters
                .iter()
                .all(|f| events.iter().any(|e| event_matches(e, f)))
            {
                return None;
            }
            let (status, reach) = status_of(i.state);
            let summary = |s: &str| {
                json!({"Status": s, "Details": [{"Name": "reachability", "Status": reach}]})
            };
            Some(json!({
                "InstanceId": i.instance_id,
                "AvailabilityZone": i.availability_zone,
                "InstanceState": {"Code": i.state.code(), "Name": i.state.as_str()},
                "InstanceStatus": summary(status),
                "SystemStatus": summary(status),
                "AttachedEbsStatus": {"Status": status},
                "Events": events.iter().map(|e| status_event(e)).collect::<Vec<_>>(),
            }))
        })
        .await
}

/// An event as DescribeInstanceStatus and ModifyInstanceEventStartTime show it
/// (`InstanceStatusEvent`): past events show for a week after they ended, their description
/// prefixed (`[Completed] `, `[Canceled] `), as the user guide describes.
fn status_event(e: &model::events::MaintenanceEvent) -> Value {
    let mut v = json!({
        "InstanceEventId": e.id,
        "Code": e.code.as_str(),
        "Description": e.shown_description(),
        "NotBefore": render::timestamp(e.not_before_ms),
    });
    if let Some(after) = e.not_after_ms {
        v["NotAfter"] = json!(render::timestamp(after));
    }
    if let Some(deadline) = e.deadline_ms {
        v["NotBeforeDeadline"] = json!(render::timestamp(deadline));
    }
    v
}

/// Whether an event matches an `event.*` filter of DescribeInstanceStatus (times as the
/// API writes them, `2014-09-15T17:15:20.000Z`).
fn event_matches(e: &model::events::MaintenanceEvent, f: &filter::Filter) -> bool {
    let value = match f.name.as_str() {
        "event.code" => Some(e.code.as_str().to_string()),
        "event.description" => Some(e.shown_description()),
        "event.instance-event-id" => Some(e.id.clone()),
        "event.not-after" => e.not_after_ms.map(render::timestamp),
        "event.not-before" => Some(render::timestamp(e.not_before_ms)),
        "event.not-before-deadline" => e.deadline_ms.map(render::timestamp),
        _ => None,
    };
    value.is_some_and(|v| f.values.iter().any(|p| filter::matches(p, &v)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyInstanceEventStartTimeIn {
    pub(crate) instance_id: Option<String>,
    instance_event_id: Option<String>,
    not_before: Option<String>,
    dry_run: Option<bool>,
}

/// ModifyInstanceEventStartTime: move a scheduled event that has a deadline (the rules are
/// `MaintenanceEvent::reschedule`'s). Authorized as `ec2:ModifyInstanceEventStartTime` on
/// the instance (UNCONFIRMED resource scoping, spec events.md §4.4).
pub async fn modify_instance_event_start_time(
    ctx: &Ctx<'_>,
    req: ModifyInstanceEventStartTimeIn,
) -> Result<Value, Ec2Error> {
    let missing = |name: &str| {
        Ec2Error::MissingParameter(format!("The request must contain the parameter {name}"))
    };
    let id = req.instance_id.ok_or_else(|| missing("InstanceId"))?;
    let event_id = req
        .instance_event_id
        .ok_or_else(|| missing("InstanceEventId"))?;
    let raw = req.not_before.ok_or_else(|| missing("NotBefore"))?;
    let not_before = super::launch::parse_timestamp(&raw).ok_or_else(|| {
        Ec2Error::InvalidParameterValue(format!(
            "Value ({raw}) for parameter NotBefore is invalid."
        ))
    })?;
    let ids = instance_ids(&[id], "InstanceId")?;
    let now = now_ms();
    let is_dry = req.dry_run == Some(true);
    let moved = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = moved.clone();
    ctx.api
        .store
        .update_instances(
            &ctx.scope,
            &ids,
            ctx.gate(Ok(())),
            Box::new(move |i, _| {
                let e = i.reschedule_event(&event_id, not_before, now)?;
                dry_run(Some(is_dry))?;
                *out.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Ok(())
            }),
        )
        .await?;
    let event = moved.lock().unwrap_or_else(|p| p.into_inner()).take();
    Ok(json!({"Event": event.as_ref().map(status_event)}))
}
