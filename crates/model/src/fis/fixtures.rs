//! What the tests of several `fis` modules share: a spot action on a target, instance ARNs,
//! and a valid spot template to vary.

use super::{
    Action, ExperimentOptions, StopCondition, Target, TemplateSpec, DURATION_PARAMETER,
    SPOT_ACTION, SPOT_RESOURCE_TYPE, SPOT_TARGET_KEY,
};
use std::collections::BTreeMap;

pub(super) fn spot_action(target: &str, duration: Option<&str>) -> Action {
    Action {
        action_id: SPOT_ACTION.into(),
        description: None,
        parameters: duration
            .map(|d| BTreeMap::from([(DURATION_PARAMETER.to_string(), d.to_string())])),
        targets: Some(BTreeMap::from([(
            SPOT_TARGET_KEY.to_string(),
            target.to_string(),
        )])),
        start_after: None,
    }
}

pub(super) fn arns(n: usize) -> Vec<String> {
    (0..n)
        .map(|k| format!("arn:aws:ec2:us-west-2:123456789012:instance/i-{k:017x}"))
        .collect()
}

pub(super) fn spec() -> TemplateSpec {
    TemplateSpec {
        description: "interrupt".into(),
        targets: BTreeMap::from([(
            "spot".to_string(),
            Target {
                resource_type: SPOT_RESOURCE_TYPE.into(),
                resource_arns: Some(arns(1)),
                resource_tags: None,
                filters: None,
                selection_mode: "ALL".into(),
                parameters: None,
            },
        )]),
        actions: BTreeMap::from([("interrupt".to_string(), spot_action("spot", Some("PT2M")))]),
        stop_conditions: vec![StopCondition {
            source: "none".into(),
            value: None,
        }],
        role_arn: "arn:aws:iam::123456789012:role/fis".into(),
        tags: BTreeMap::new(),
        log_configuration: None,
        experiment_options: ExperimentOptions::default(),
        experiment_report_configuration: None,
    }
}
