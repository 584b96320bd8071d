//! The records as FIS's answers show them (the model's `ExperimentTemplate`,
//! `ExperimentTemplateSummary`, `Experiment`, `ExperimentSummary`, `Action` [S9]): ids and
//! ARNs added, times as epoch seconds with a fraction (JSON numbers, spec §7.1), an
//! experiment's state as derived at the moment of the answer.

use model::fis::{Experiment, ExperimentView, Template};
use model::Scope;
use serde_json::{json, Map, Value};

/// A time as rest-json writes it: epoch seconds with fraction (`1616434850.659`).
pub fn seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// `arn:aws:fis:<region>:<account>:experiment-template/<id>` [S12][S20].
pub fn template_arn(scope: &Scope, id: &str) -> String {
    format!(
        "arn:aws:fis:{}:{}:experiment-template/{id}",
        scope.region, scope.account
    )
}

/// `arn:aws:fis:<region>:<account>:experiment/<id>` [S12][S20].
pub fn experiment_arn(scope: &Scope, id: &str) -> String {
    format!(
        "arn:aws:fis:{}:{}:experiment/{id}",
        scope.region, scope.account
    )
}

/// `arn:aws:fis:<region>:<account>:action/<id>`, the resource `fis:GetAction` is authorized
/// on [S12] (UNCONFIRMED that the answer's `arn` names the account).
pub fn action_arn(scope: &Scope, id: &str) -> String {
    format!("arn:aws:fis:{}:{}:action/{id}", scope.region, scope.account)
}

fn value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_string(), v);
    }
}

/// `ExperimentTemplate`.
pub fn template(scope: &Scope, t: &Template) -> Value {
    let s = &t.spec;
    let mut m = Map::new();
    m.insert("id".into(), json!(t.id));
    m.insert("arn".into(), json!(template_arn(scope, &t.id)));
    m.insert("description".into(), json!(s.description));
    m.insert("targets".into(), value(&s.targets));
    m.insert("actions".into(), value(&s.actions));
    m.insert("stopConditions".into(), value(&s.stop_conditions));
    m.insert("creationTime".into(), seconds(t.creation_ms));
    m.insert("lastUpdateTime".into(), seconds(t.last_update_ms));
    m.insert("roleArn".into(), json!(s.role_arn));
    m.insert("tags".into(), value(&s.tags));
    put(&mut m, "logConfiguration", s.log_configuration.clone());
    m.insert("experimentOptions".into(), value(&s.experiment_options));
    put(
        &mut m,
        "experimentReportConfiguration",
        s.experiment_report_configuration.clone(),
    );
    Value::Object(m)
}

/// `ExperimentTemplateSummary`.
pub fn template_summary(scope: &Scope, t: &Template) -> Value {
    json!({
        "id": t.id,
        "arn": template_arn(scope, &t.id),
        "description": t.spec.description,
        "creationTime": seconds(t.creation_ms),
        "lastUpdateTime": seconds(t.last_update_ms),
        "tags": t.spec.tags,
    })
}

fn state(view: &ExperimentView) -> Value {
    json!({"status": view.status.as_str(), "reason": view.reason})
}

/// `Experiment`, in the state `view` (its state at the answer's moment).
pub fn experiment(scope: &Scope, e: &Experiment, view: &ExperimentView) -> Value {
    let targets: Map<String, Value> = e
        .targets
        .iter()
        .map(|(name, t)| {
            let mut v = value(&t.target);
            if let Value::Object(o) = &mut v {
                // The resources found at start (spec §7.3).
                o.insert("resourceArns".into(), json!(t.resolved_arns));
            }
            (name.clone(), v)
        })
        .collect();
    let actions: Map<String, Value> = e
        .actions
        .iter()
        .map(|(name, a)| {
            let mut v = value(&a.action);
            if let (Value::Object(o), Some(av)) = (&mut v, view.actions.get(name)) {
                o.insert(
                    "state".into(),
                    json!({"status": av.status.as_str(), "reason": av.reason}),
                );
                put(o, "startTime", av.start_ms.map(seconds));
                put(o, "endTime", av.end_ms.map(seconds));
            }
            (name.clone(), v)
        })
        .collect();
    let mut m = Map::new();
    m.insert("id".into(), json!(e.id));
    m.insert("arn".into(), json!(experiment_arn(scope, &e.id)));
    m.insert(
        "experimentTemplateId".into(),
        json!(e.experiment_template_id),
    );
    m.insert("roleArn".into(), json!(e.role_arn));
    m.insert("state".into(), state(view));
    m.insert("targets".into(), Value::Object(targets));
    m.insert("actions".into(), Value::Object(actions));
    m.insert("stopConditions".into(), value(&e.stop_conditions));
    m.insert("creationTime".into(), seconds(e.creation_ms));
    m.insert("startTime".into(), seconds(e.start_ms));
    put(&mut m, "endTime", view.end_ms.map(seconds));
    m.insert("tags".into(), value(&e.tags));
    put(&mut m, "logConfiguration", e.log_configuration.clone());
    m.insert("experimentOptions".into(), value(&e.experiment_options));
    put(
        &mut m,
        "experimentReportConfiguration",
        e.experiment_report_configuration.clone(),
    );
    Value::Object(m)
}

/// `ExperimentSummary`.
pub fn experiment_summary(scope: &Scope, e: &Experiment, view: &ExperimentView) -> Value {
    json!({
        "id": e.id,
        "arn": experiment_arn(scope, &e.id),
        "experimentTemplateId": e.experiment_template_id,
        "state": state(view),
        "creationTime": seconds(e.creation_ms),
        "tags": e.tags,
        "experimentOptions": value(&e.experiment_options),
    })
}

/// `Action` (GetAction) for the one action imds runs [S10]: its parameter and target.
/// Whether AWS marks `durationBeforeInterruption` required is UNCONFIRMED; imds takes PT2M
/// when it is omitted, so it says not required.
pub fn spot_action(scope: &Scope) -> Value {
    json!({
        "id": model::fis::SPOT_ACTION,
        "arn": action_arn(scope, model::fis::SPOT_ACTION),
        "description": "Send a Spot Instance interruption notice to target Spot Instances two minutes before interrupting them; the rebalance recommendation comes when the action starts.",
        "parameters": {
            model::fis::DURATION_PARAMETER: {
                "description": "The time to wait before interrupting the instance, as an ISO 8601 duration from PT2M to PT15M.",
                "required": false,
            }
        },
        "targets": {
            model::fis::SPOT_TARGET_KEY: {"resourceType": model::fis::SPOT_RESOURCE_TYPE}
        },
        "tags": {},
    })
}

/// `ActionSummary` for the same action.
pub fn spot_action_summary(scope: &Scope) -> Value {
    let mut v = spot_action(scope);
    if let Value::Object(o) = &mut v {
        o.remove("parameters");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::fis::*;
    use std::collections::BTreeMap;

    fn members(shape: &str) -> Vec<String> {
        super::super::model()["shapes"][shape]["members"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    fn assert_shape(v: &Value, shape: &str) {
        let known = members(shape);
        for k in v.as_object().unwrap().keys() {
            assert!(known.contains(k), "{shape} has no member {k}");
        }
    }

    fn sample() -> (Template, Experiment) {
        let target = Target {
            resource_type: SPOT_RESOURCE_TYPE.into(),
            resource_arns: None,
            resource_tags: Some(BTreeMap::from([("k".into(), "v".into())])),
            filters: None,
            selection_mode: "ALL".into(),
            parameters: None,
        };
        let action = Action {
            action_id: SPOT_ACTION.into(),
            description: None,
            parameters: None,
            targets: Some(BTreeMap::from([(SPOT_TARGET_KEY.into(), "spot".into())])),
            start_after: None,
        };
        let spec = TemplateSpec {
            description: "d".into(),
            targets: BTreeMap::from([("spot".into(), target.clone())]),
            actions: BTreeMap::from([("a".into(), action.clone())]),
            stop_conditions: vec![StopCondition {
                source: "none".into(),
                value: None,
            }],
            role_arn: "arn:aws:iam::123456789012:role/fis".into(),
            tags: BTreeMap::new(),
            log_configuration: None,
            experiment_options: ExperimentOptions::default().with_defaults(),
            experiment_report_configuration: None,
        };
        let t = Template {
            id: template_id(1),
            creation_ms: 1_616_434_850_659,
            last_update_ms: 1_616_434_850_659,
            spec: spec.clone(),
        };
        let e = Experiment {
            id: experiment_id(1),
            experiment_template_id: t.id.clone(),
            role_arn: spec.role_arn.clone(),
            creation_ms: 1000,
            start_ms: 1000,
            targets: BTreeMap::from([(
                "spot".into(),
                ResolvedTarget {
                    target,
                    resolved_arns: vec!["arn:aws:ec2:us-west-2:123456789012:instance/i-1".into()],
                },
            )]),
            actions: BTreeMap::from([(
                "a".into(),
                PlannedAction {
                    action,
                    starts_at_ms: 1000,
                    completes_at_ms: 4000,
                },
            )]),
            stop_conditions: spec.stop_conditions.clone(),
            tags: BTreeMap::new(),
            log_configuration: None,
            experiment_options: ExperimentOptions::default().with_defaults(),
            experiment_report_configuration: None,
            outcome: Outcome::Running,
        };
        (t, e)
    }

    /// Case 34: the ARN, and times as numbers with a fraction.
    #[test]
    fn templates_have_arns_and_numeric_times() {
        let scope = Scope::new("123456789012", "us-west-2");
        let (t, _) = sample();
        let v = template(&scope, &t);
        assert_eq!(
            v["arn"],
            json!(format!(
                "arn:aws:fis:us-west-2:123456789012:experiment-template/{}",
                t.id
            ))
        );
        assert_eq!(v["creationTime"], json!(1_616_434_850.659));
        assert_shape(&v, "ExperimentTemplate");
        assert_shape(&template_summary(&scope, &t), "ExperimentTemplateSummary");
        assert_shape(&v["targets"]["spot"], "ExperimentTemplateTarget");
        assert_shape(&v["actions"]["a"], "ExperimentTemplateAction");
    }

    #[test]
    fn experiments_show_their_state_and_resolved_targets() {
        let scope = Scope::new("123456789012", "us-west-2");
        let (_, e) = sample();
        let v = experiment(&scope, &e, &e.view(2000));
        assert_eq!(v["state"]["status"], json!("running"));
        assert_eq!(v["actions"]["a"]["state"]["status"], json!("running"));
        assert_eq!(v["actions"]["a"]["startTime"], json!(1.0));
        assert_eq!(
            v["targets"]["spot"]["resourceArns"],
            json!(["arn:aws:ec2:us-west-2:123456789012:instance/i-1"])
        );
        assert!(v.get("endTime").is_none());
        assert_shape(&v, "Experiment");
        assert_shape(&v["actions"]["a"], "ExperimentAction");
        assert_shape(&v["targets"]["spot"], "ExperimentTarget");
        let done = experiment(&scope, &e, &e.view(5000));
        assert_eq!(done["state"]["status"], json!("completed"));
        assert_eq!(done["endTime"], json!(4.0));
        let s = experiment_summary(&scope, &e, &e.starting_view());
        assert_eq!(s["state"]["status"], json!("initiating"));
        assert_shape(&s, "ExperimentSummary");
        assert_shape(&spot_action(&scope), "Action");
        assert_shape(&spot_action_summary(&scope), "ActionSummary");
    }
}
