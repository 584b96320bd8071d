//! The event controls: what EC2 does to an instance on its own (a maintenance event
//! scheduled or canceled, Auto Scaling's target lifecycle state, a Spot interruption), done
//! on request, as a write to the instance like any other. The lifecycle driver takes the
//! timed steps that follow (the event starting, the notice appearing) when due; the metadata
//! hosts see every change through the store's feed.
//!
//! Each control: a well-formed instance id; its body read whole (the signature covers it);
//! with `--iam-config`, the caller authenticated, an instance of another account not found,
//! and the action decided on the instance inside the write, before the body's own errors,
//! as EC2 decides authorization before validation; then the model's change, or its error.
//! Answers are JSON; refusals are EC2's error envelope.

pub mod body;

use super::{authenticate, read, source_ip, AdminAction};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use ec2api::Api;
use model::events::MaintenanceEvent;
use model::time::iso8601;
use model::{Ec2Error, Instance};
use serde_json::{json, Value};
use std::sync::Arc;

/// The four control routes (module `admin`'s doc).
pub(super) fn router(api: Arc<Api>) -> axum::Router {
    axum::Router::new()
        .route("/_imds/instances/{id}/events", post(schedule))
        .route("/_imds/instances/{id}/events/{event_id}", delete(cancel))
        .route(
            "/_imds/instances/{id}/target-lifecycle-state",
            put(target_lifecycle_state),
        )
        .route("/_imds/instances/{id}/interruption", post(interrupt))
        .with_state(api)
}

/// `POST /_imds/instances/{id}/events`: schedule a maintenance event; answers the event.
async fn schedule(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let event_id = new_event_id();
    let control = Control {
        action: AdminAction::ScheduleInstanceEvent,
        parse: move |b: &[u8], now| body::schedule(b, now).map(|s| (s, event_id.clone())),
        apply: |i: &mut Instance, (s, id): &(model::events::EventSchedule, String)| {
            i.schedule_event(s.clone(), id.clone()).map(drop)
        },
        answer: |i: &Instance, (_, event_id): &(_, String)| event_answer(i, event_id),
    };
    control.run(&api, &id, request).await
}

/// `DELETE /_imds/instances/{id}/events/{event_id}`: cancel an active event; answers it,
/// `canceled`.
async fn cancel(
    State(api): State<Arc<Api>>,
    Path((id, event_id)): Path<(String, String)>,
    request: Request,
) -> Response {
    let control = Control {
        action: AdminAction::CancelInstanceEvent,
        parse: move |_: &[u8], _| Ok(event_id.clone()),
        apply: |i: &mut Instance, event_id: &String| {
            i.cancel_event(event_id, model::time::now_ms()).map(drop)
        },
        answer: |i: &Instance, event_id: &String| event_answer(i, event_id),
    };
    control.run(&api, &id, request).await
}

/// `PUT /_imds/instances/{id}/target-lifecycle-state`: set or clear (`null`) the state.
async fn target_lifecycle_state(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let control = Control {
        action: AdminAction::SetTargetLifecycleState,
        parse: |b: &[u8], _| body::lifecycle(b),
        apply: |i: &mut Instance, state: &Option<model::events::TargetLifecycleState>| {
            i.set_target_lifecycle_state(*state);
            Ok(())
        },
        answer: |i: &Instance, _: &_| {
            json!({
                "InstanceId": i.instance_id,
                "TargetLifecycleState": i.events.target_lifecycle_state.map(|s| s.as_str()),
            })
        },
    };
    control.run(&api, &id, request).await
}

/// `POST /_imds/instances/{id}/interruption`: interrupt a running Spot instance, as a FIS
/// experiment would; answers when each step comes.
async fn interrupt(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let notice = api.config.spot_notice;
    let control = Control {
        action: AdminAction::SendSpotInstanceInterruption,
        parse: move |b: &[u8], now| body::interruption(b, now, notice),
        apply: |i: &mut Instance, plan: &model::events::Interruption| {
            i.schedule_interruption(plan.clone())
        },
        answer: |i: &Instance, plan: &model::events::Interruption| {
            json!({
                "InstanceId": i.instance_id,
                "RebalanceAt": iso8601(plan.rebalance_at_ms, true),
                "NoticeAt": iso8601(plan.notice_at_ms, true),
                "ActionAt": iso8601(plan.action_at_ms, true),
            })
        },
    };
    control.run(&api, &id, request).await
}

/// A new maintenance event's id (`instance-event-` and a random part), as EC2 names them.
pub(crate) fn new_event_id() -> String {
    model::ids::new_id(
        model::events::maintenance::EVENT_ID_PREFIX,
        uuid::Uuid::new_v4().as_u64_pair().0,
    )
}

/// One control: the action it is authorized as, what its body asks (`T`, read at the time
/// given), the change that makes to the instance, and the answer from the instance as
/// written.
struct Control<P, A, R> {
    action: AdminAction,
    parse: P,
    apply: A,
    answer: R,
}

impl<T, P, A, R> Control<P, A, R>
where
    T: Send + Sync + 'static,
    P: FnOnce(&[u8], i64) -> Result<T, Ec2Error>,
    A: Fn(&mut Instance, &T) -> Result<(), Ec2Error> + Send + 'static,
    R: FnOnce(&Instance, &T) -> Value,
{
    async fn run(self, api: &Api, id: &str, request: Request) -> Response {
        match self.write(api, id, request).await {
            Ok(answer) => (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                answer.to_string(),
            )
                .into_response(),
            Err(e) => {
                let request_id = uuid::Uuid::new_v4().to_string();
                ec2api::server::error_response(&e, &request_id)
            }
        }
    }

    async fn write(self, api: &Api, id: &str, request: Request) -> Result<Value, Ec2Error> {
        if !model::ids::is_well_formed(id, "i") {
            return Err(Ec2Error::InvalidInstanceIdMalformed(id.to_string()));
        }
        let (parts, body) = read(request).await?;
        let caller = api
            .iam_enforced()
            .then(|| authenticate(api, &parts, &body))
            .transpose()?;
        let not_found = || Ec2Error::InvalidInstanceIdNotFound(vec![id.to_string()]);
        let instance = api.store.instance_by_id(id).await?.ok_or_else(not_found)?;
        if caller
            .as_ref()
            .is_some_and(|c| c.account != instance.scope.account)
        {
            return Err(not_found());
        }
        let asked = (self.parse)(&body, model::time::now_ms());
        let checked = asked.as_ref().map(drop).map_err(Clone::clone);
        let gate = Gate {
            api,
            action: self.action,
            caller,
            source_ip: source_ip(&parts),
        }
        .with(checked);
        let asked = Arc::new(asked.ok());
        let for_write = asked.clone();
        let apply = self.apply;
        let written = api
            .store
            .update_instances(
                &instance.scope,
                &[id.to_string()],
                gate,
                Box::new(move |i, _| match for_write.as_ref() {
                    Some(t) => apply(i, t),
                    // Not reached: the gate refused what could not be read.
                    None => Ok(()),
                }),
            )
            .await?;
        let (Some((_, after)), Some(t)) = (written.into_iter().next(), asked.as_ref()) else {
            return Err(not_found());
        };
        Ok((self.answer)(&after, t))
    }
}

/// What a control's write asks before it changes anything.
struct Gate<'a> {
    api: &'a Api,
    action: AdminAction,
    /// The signed caller, with `--iam-config`.
    caller: Option<ec2api::auth::Caller>,
    source_ip: Option<std::net::IpAddr>,
}

impl Gate<'_> {
    /// The store's gate: the caller's authorization on the instance as the write read it,
    /// then `checked`, what the body asked (so a caller not allowed is refused before being
    /// told the body is wrong).
    fn with(self, checked: Result<(), Ec2Error>) -> store::InstanceGate {
        let principals = self.api.principals.clone();
        let (action, caller, source_ip) = (self.action, self.caller, self.source_ip);
        Box::new(move |found| {
            if let Some(caller) = &caller {
                for i in found {
                    ec2api::authz::authorize_on_instance(
                        &principals,
                        action.name(),
                        caller,
                        source_ip,
                        i,
                    )?;
                }
            }
            checked
        })
    }
}

/// An event as the controls answer it: DescribeInstanceStatus' members, with its instance
/// and `State`.
fn event_answer(i: &Instance, event_id: &str) -> Value {
    match i.events.maintenance.iter().find(|e| e.id == event_id) {
        Some(e) => event_json(&i.instance_id, e),
        None => json!({"InstanceId": i.instance_id, "EventId": event_id}),
    }
}

fn event_json(instance_id: &str, e: &MaintenanceEvent) -> Value {
    let mut v = json!({
        "InstanceId": instance_id,
        "EventId": e.id,
        "Code": e.code.as_str(),
        "Description": e.shown_description(),
        "NotBefore": iso8601(e.not_before_ms, true),
    });
    if let Some(after) = e.not_after_ms {
        v["NotAfter"] = json!(iso8601(after, true));
    }
    if let Some(deadline) = e.deadline_ms {
        v["NotBeforeDeadline"] = json!(iso8601(deadline, true));
    }
    v["State"] = json!(e.state.as_str());
    v
}
