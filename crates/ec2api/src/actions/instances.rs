//! DescribeInstances, the lifecycle actions (start, stop, reboot, terminate) and
//! DescribeInstanceStatus.

use super::{
    dry_run, encode_token, filters, ids_without_max, instance_ids, max_results, now_ms, page_after,
    page_in_memory, update_named_instances, FilterIn,
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
    "instance-state-name",
    "instance-state-code",
    "instance-status.status",
    "instance-status.reachability",
    "system-status.status",
    "system-status.reachability",
];

pub async fn describe_instance_status(
    ctx: &Ctx<'_>,
    req: DescribeInstanceStatusIn,
) -> Result<Value, Ec2Error> {
    let (ids, limit) = ids_or_pages(&req.instance_ids, req.max_results)?;
    // The token is an offset into the filtered statuses (the list is built in memory).
    page_after("status", &req.next_token)?;
    let filters = filters(req.filters)?;
    filter::validate(&filters, STATUS_FILTERS)?;
    dry_run(req.dry_run)?;
    let all = req.include_all_instances == Some(true);
    let instances = super::every_instance(ctx, ids).await?;
    let mut statuses = Vec::new();
    for i in &instances {
        if !all && i.state != InstanceState::Running {
            continue;
        }
        let status = match i.state {
            InstanceState::Running => "ok",
            _ => "not-applicable",
        };
        let reach = if status == "ok" {
            "passed"
        } else {
            "initializing"
        };
        let attrs: Vec<(String, String)> = vec![
            ("availability-zone".into(), i.availability_zone.clone()),
            ("instance-state-name".into(), i.state.as_str().into()),
            ("instance-state-code".into(), i.state.code().to_string()),
            ("instance-status.status".into(), status.into()),
            ("instance-status.reachability".into(), reach.into()),
            ("system-status.status".into(), status.into()),
            ("system-status.reachability".into(), reach.into()),
        ];
        if !filter::passes(&filters, &attrs) {
            continue;
        }
        let summary =
            |s: &str| json!({"Status": s, "Details": [{"Name": "reachability", "Status": reach}]});
        statuses.push(json!({
            "InstanceId": i.instance_id,
            "AvailabilityZone": i.availability_zone,
            "InstanceState": {"Code": i.state.code(), "Name": i.state.as_str()},
            "InstanceStatus": summary(status),
            "SystemStatus": summary(status),
            "AttachedEbsStatus": {"Status": status},
            "Events": [],
        }));
    }
    page_in_memory(
        "InstanceStatuses",
        "status",
        statuses,
        &req.next_token,
        limit,
    )
}
