//! The operations, in the caller's account and Region (its credential scope's). Each checks
//! in FIS's order as imds takes it: the input (already, in `input`), then the caller's
//! permission (`fis:<Operation>` on the template's or experiment's ARN, the id `*` for
//! creates and lists [S12]), then the data. An experiment's status is derived when it is
//! read (`model::fis::Experiment::view`), so nothing runs between requests but the
//! lifecycle driver taking the instances' interruption steps.

use super::documents::{self as docs, Claim};
use super::input::{self, CreateTemplate, List, Page, Request, StartExperiment, UpdateTemplate};
use super::render;
use super::targets;
use super::FisError;
use crate::context::Call;
use model::events::Interruption;
use model::fis::{
    self, Experiment, ExperimentOptions, Outcome, PlannedAction, ResolvedTarget, Template,
};
use model::Scope;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Answer a checked request: the operation's output.
pub async fn answer(call: &Call<'_>, request: Request) -> Result<Value, FisError> {
    let scope = Scope::new(&call.caller.account, &call.caller.region);
    let op = request.operation();
    match request {
        Request::CreateTemplate(c) => create_template(call, &scope, c).await,
        Request::GetTemplate(id) => {
            authorize(call, op, &render::template_arn(&scope, &id))?;
            let t = existing_template(call, &scope, &id).await?;
            Ok(json!({"experimentTemplate": render::template(&scope, &t)}))
        }
        Request::ListTemplates(page) => {
            authorize(call, op, &render::template_arn(&scope, "*"))?;
            let (found, next) = docs::templates(call.api.store.as_ref(), &scope, page).await?;
            let items: Vec<Value> = found
                .iter()
                .map(|t| render::template_summary(&scope, t))
                .collect();
            Ok(listed("experimentTemplates", items, List::Templates, next))
        }
        Request::DeleteTemplate(id) => {
            authorize(call, op, &render::template_arn(&scope, &id))?;
            let t = existing_template(call, &scope, &id).await?;
            // Experiments already started keep running (UNCONFIRMED, spec §7.4).
            if !docs::delete_template(call.api.store.as_ref(), &scope, &id).await? {
                return Err(template_not_found(&id));
            }
            Ok(json!({"experimentTemplate": render::template(&scope, &t)}))
        }
        Request::UpdateTemplate(u) => update_template(call, &scope, u).await,
        Request::StartExperiment(s) => start_experiment(call, &scope, s).await,
        Request::GetExperiment(id) => {
            authorize(call, op, &render::experiment_arn(&scope, &id))?;
            let e = existing_experiment(call, &scope, &id).await?;
            let view = e.view(model::time::now_ms());
            Ok(json!({"experiment": render::experiment(&scope, &e, &view)}))
        }
        Request::ListExperiments { page, template_id } => {
            authorize(call, op, &render::experiment_arn(&scope, "*"))?;
            let store = call.api.store.as_ref();
            let (found, next) =
                docs::experiments(store, &scope, page, template_id.as_deref()).await?;
            let now = model::time::now_ms();
            let items: Vec<Value> = found
                .iter()
                .map(|e| render::experiment_summary(&scope, e, &e.view(now)))
                .collect();
            Ok(listed("experiments", items, List::Experiments, next))
        }
        Request::StopExperiment(id) => stop_experiment(call, &scope, &id).await,
        Request::GetAction(id) => {
            authorize(call, op, &render::action_arn(&scope, &id))?;
            if id != fis::SPOT_ACTION {
                return Err(FisError::NotFound(format!(
                    "Action {id} not found: imds runs only {}.",
                    fis::SPOT_ACTION
                )));
            }
            Ok(json!({"action": render::spot_action(&scope)}))
        }
        Request::ListActions(Page { after, .. }) => {
            authorize(call, op, "*")?;
            // One action, on the first page.
            let items = match after {
                None => vec![render::spot_action_summary(&scope)],
                Some(_) => Vec::new(),
            };
            Ok(json!({"actions": items}))
        }
    }
}

/// `fis:<operation>` on `resource`. A denial is 403 `AccessDeniedException` (UNCONFIRMED
/// for FIS, spec §7.2); no-op without `--iam-config`.
fn authorize(call: &Call<'_>, operation: &str, resource: &str) -> Result<(), FisError> {
    crate::query_api::authorize(call, &format!("fis:{operation}"), resource).map_err(FisError::from)
}

/// `iam:PassRole` on the template's role, passed to FIS: `iam:PassedToService` is
/// `fis.amazonaws.com` [S12] (spec events.md §7.7). The experiment role's own permissions
/// are not evaluated when an experiment runs (an UNCONFIRMED gap).
fn authorize_pass_role(call: &Call<'_>, role_arn: &str) -> Result<(), FisError> {
    let service = [(
        "iam:PassedToService".to_string(),
        vec!["fis.amazonaws.com".to_string()],
    )];
    crate::query_api::authorize_with(call, "iam:PassRole", role_arn, &service)
        .map_err(FisError::from)
}

fn listed(member: &str, items: Vec<Value>, list: List, next: Option<i64>) -> Value {
    let mut out = json!({ member: items });
    if let Some(n) = next {
        out["nextToken"] = json!(input::page_token(list, n));
    }
    out
}

fn template_not_found(id: &str) -> FisError {
    // UNCONFIRMED text (spec §7.1); case 38.
    FisError::NotFound(format!("Experiment template {id} not found."))
}

async fn existing_template(call: &Call<'_>, scope: &Scope, id: &str) -> Result<Template, FisError> {
    docs::template(call.api.store.as_ref(), scope, id)
        .await?
        .ok_or_else(|| template_not_found(id))
}

async fn existing_experiment(
    call: &Call<'_>,
    scope: &Scope,
    id: &str,
) -> Result<Experiment, FisError> {
    docs::experiment(call.api.store.as_ref(), scope, id)
        .await?
        .ok_or_else(|| FisError::NotFound(format!("Experiment {id} not found.")))
}

fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn conflict(token: &str) -> FisError {
    // UNCONFIRMED code and text (spec §7.1).
    FisError::Conflict(format!(
        "The client token {token} was already used with a different request."
    ))
}

/// CreateExperimentTemplate (case 34). The template is written, then its client token
/// claimed: a request that loses the race for a token removes its own template and answers
/// the first one's, so that the same token always gives the same template.
async fn create_template(
    call: &Call<'_>,
    scope: &Scope,
    c: CreateTemplate,
) -> Result<Value, FisError> {
    let any = render::template_arn(scope, "*");
    authorize(call, "CreateExperimentTemplate", &any)?;
    if !c.spec.tags.is_empty() {
        authorize(call, "TagResource", &any)?;
    }
    authorize_pass_role(call, &c.spec.role_arn)?;
    let store = call.api.store.as_ref();
    let now = model::time::now_ms();
    let t = Template {
        id: fis::template_id(rand::random()),
        creation_ms: now,
        last_update_ms: now,
        spec: c.spec,
    };
    docs::put_template(store, scope, &t).await?;
    let token = c.client_token.unwrap_or_else(new_token);
    let mine = Claim {
        id: t.id.clone(),
        request: serde_json::to_value(&t.spec).unwrap_or(Value::Null),
    };
    let first = match docs::claim(store, scope, "template", &token, &mine).await {
        Ok(first) => first,
        Err(e) => {
            let _ = docs::delete_template(store, scope, &t.id).await;
            return Err(e);
        }
    };
    if first.id == t.id {
        return Ok(json!({"experimentTemplate": render::template(scope, &t)}));
    }
    docs::delete_template(store, scope, &t.id).await?;
    if first.request != mine.request {
        return Err(conflict(&token));
    }
    match docs::template(store, scope, &first.id).await? {
        Some(t) => Ok(json!({"experimentTemplate": render::template(scope, &t)})),
        // UNCONFIRMED: the token's template was deleted since.
        None => Err(FisError::Conflict(format!(
            "The client token {token} was used for experiment template {}, which has been deleted.",
            first.id
        ))),
    }
}

/// UpdateExperimentTemplate: the members given replace the template's, the result checked
/// as at Create.
async fn update_template(
    call: &Call<'_>,
    scope: &Scope,
    u: UpdateTemplate,
) -> Result<Value, FisError> {
    authorize(
        call,
        "UpdateExperimentTemplate",
        &render::template_arn(scope, &u.id),
    )?;
    let store = call.api.store.as_ref();
    // Written only over the template as read: another update or a delete since is not
    // undone; the update is made again on what it left.
    for _ in 0..UPDATE_ATTEMPTS {
        let Some((mut t, was)) = docs::template_as_read(store, scope, &u.id).await? else {
            return Err(template_not_found(&u.id));
        };
        let spec = u.apply(&t.spec);
        spec.validate()?;
        if spec.role_arn != t.spec.role_arn {
            authorize_pass_role(call, &spec.role_arn)?;
        }
        t.spec = spec;
        t.last_update_ms = model::time::now_ms().max(t.last_update_ms);
        if docs::replace_template(store, scope, &was, &t).await? {
            return Ok(json!({"experimentTemplate": render::template(scope, &t)}));
        }
    }
    // UNCONFIRMED: botocore's model lists no ConflictException for UpdateExperimentTemplate.
    Err(FisError::Conflict(format!(
        "Experiment template {} was changed by other requests while this update was made.",
        u.id
    )))
}

/// How many times an update is made again on what other writes left before it gives up.
const UPDATE_ATTEMPTS: usize = 16;

/// StartExperiment (cases 39–42). The client token is claimed before anything is scheduled,
/// so that a retry never interrupts twice; a retry gets the experiment as it now is.
async fn start_experiment(
    call: &Call<'_>,
    scope: &Scope,
    s: StartExperiment,
) -> Result<Value, FisError> {
    authorize(
        call,
        "StartExperiment",
        &render::template_arn(scope, &s.template_id),
    )?;
    authorize(call, "StartExperiment", &render::experiment_arn(scope, "*"))?;
    let store = call.api.store.as_ref();
    let t = existing_template(call, scope, &s.template_id).await?;
    let id = fis::experiment_id(rand::random());
    let token = s.client_token.clone().unwrap_or_else(new_token);
    let mine = Claim {
        id: id.clone(),
        request: json!({
            "experimentTemplateId": s.template_id,
            "tags": s.tags,
            "actionsMode": s.actions_mode,
        }),
    };
    let first = docs::claim(store, scope, "experiment", &token, &mine).await?;
    if first.id != id {
        if first.request != mine.request {
            return Err(conflict(&token));
        }
        let e = docs::experiment(store, scope, &first.id)
            .await?
            .ok_or_else(|| {
                FisError::Conflict(format!(
                    "An experiment with client token {token} is being started."
                ))
            })?;
        let view = e.view(model::time::now_ms());
        return Ok(json!({"experiment": render::experiment(scope, &e, &view)}));
    }
    match run(call, scope, &t, id, &s).await {
        Ok(e) => Ok(json!({"experiment": render::experiment(scope, &e, &e.starting_view())})),
        Err(err) => {
            docs::release(store, scope, "experiment", &token).await;
            Err(err)
        }
    }
}

/// Start experiment `id` of template `t`: resolve its targets, plan its actions and
/// schedule their interruptions, and record it.
async fn run(
    call: &Call<'_>,
    scope: &Scope,
    t: &Template,
    id: String,
    s: &StartExperiment,
) -> Result<Experiment, FisError> {
    let store = call.api.store.as_ref();
    let now = model::time::now_ms();
    let notice_ms = call
        .api
        .config
        .spot_notice
        .as_millis()
        .min(i64::MAX as u128) as i64;
    let options = ExperimentOptions {
        actions_mode: Some(s.actions_mode.clone().unwrap_or_else(|| "run-all".into())),
        ..t.spec.experiment_options.clone().with_defaults()
    };
    let mut resolved = BTreeMap::new();
    for (name, target) in &t.spec.targets {
        let arns = targets::resolve(store, scope, target, rand::random()).await?;
        resolved.insert(
            name.clone(),
            ResolvedTarget {
                target: target.clone(),
                resolved_arns: arns,
            },
        );
    }
    let plan = fis::plan(&t.spec.actions, now, notice_ms);
    let actions: BTreeMap<String, PlannedAction> = t
        .spec
        .actions
        .iter()
        .map(|(name, a)| {
            let (starts, completes, _) = plan[name];
            let planned = PlannedAction {
                action: a.clone(),
                starts_at_ms: starts,
                completes_at_ms: completes,
            };
            (name.clone(), planned)
        })
        .collect();
    let empty = resolved
        .iter()
        .find(|(_, r)| r.resolved_arns.is_empty())
        .map(|(n, _)| n.clone());
    let outcome = if options.skips_all_actions() {
        Outcome::Skipped {
            reason: "Experiment completed: its actions were skipped (actionsMode skip-all).".into(),
        }
    } else if let Some(name) = empty {
        if options.skips_empty_targets() {
            Outcome::Skipped {
                reason: format!(
                    "Experiment completed: target {name} resolved to no resources, and its actions were skipped."
                ),
            }
        } else {
            Outcome::Failed {
                reason: fis::empty_target_reason(&name),
            }
        }
    } else {
        let mut planned: HashMap<String, Vec<Interruption>> = HashMap::new();
        for (name, a) in &t.spec.actions {
            let (starts, _, duration) = plan[name];
            let target = a
                .targets
                .as_ref()
                .and_then(|m| m.get(fis::SPOT_TARGET_KEY))
                .and_then(|n| resolved.get(n));
            for arn in target.map(|r| r.resolved_arns.as_slice()).unwrap_or(&[]) {
                if let Some(instance) = fis::instance_of_arn(arn, &scope.region, &scope.account) {
                    let i = Interruption::planned(&id, starts, duration, notice_ms);
                    planned.entry(instance).or_default().push(i);
                }
            }
        }
        match targets::schedule(store, scope, planned).await? {
            Ok(()) => Outcome::Running,
            Err(reason) => Outcome::Failed { reason },
        }
    };
    let e = Experiment {
        id,
        experiment_template_id: t.id.clone(),
        role_arn: t.spec.role_arn.clone(),
        creation_ms: now,
        start_ms: now,
        targets: resolved,
        actions,
        stop_conditions: t.spec.stop_conditions.clone(),
        tags: s.tags.clone(),
        log_configuration: t.spec.log_configuration.clone(),
        experiment_options: options,
        experiment_report_configuration: t.spec.experiment_report_configuration.clone(),
        outcome,
    };
    if let Err(err) = docs::put_experiment(store, scope, &e).await {
        if e.outcome == Outcome::Running {
            let _ = targets::cancel(store, scope, &e.id, &e.instance_ids()).await;
        }
        return Err(err);
    }
    Ok(e)
}

/// StopExperiment (case 43): while running, the interruptions not yet noticed are
/// cancelled and the experiment is `stopping` (then `stopped`); a finished one is answered
/// as it is (UNCONFIRMED, spec §7.4).
async fn stop_experiment(call: &Call<'_>, scope: &Scope, id: &str) -> Result<Value, FisError> {
    authorize(call, "StopExperiment", &render::experiment_arn(scope, id))?;
    let store = call.api.store.as_ref();
    let mut e = existing_experiment(call, scope, id).await?;
    let now = model::time::now_ms();
    let view = if e.stop(now) {
        targets::cancel(store, scope, &e.id, &e.instance_ids()).await?;
        docs::put_experiment(store, scope, &e).await?;
        e.stopping_view(now)
    } else {
        e.view(now)
    };
    Ok(json!({"experiment": render::experiment(scope, &e, &view)}))
}
