//! The records of an experiment template: its targets, actions, stop conditions and options,
//! as the JSON documents the store keeps (camelCase, the wire's member names). Only their
//! shape lives here; what FIS accepts in them is `validate`'s.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A stop condition: `none`, or a CloudWatch alarm by ARN (imds evaluates no alarm: an
/// experiment is never stopped by one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopCondition {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetFilter {
    pub path: String,
    pub values: Vec<String>,
}

/// A template's target [S9].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<TargetFilter>>,
    pub selection_mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
}

/// A template's action [S9].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub action_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<Vec<String>>,
}

/// `experimentOptions` of a template (`accountTargeting`, `emptyTargetResolutionMode`) and of
/// an experiment (those and `actionsMode`) [S9].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_targeting: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_target_resolution_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_mode: Option<String>,
}

impl ExperimentOptions {
    /// With FIS's defaults filled in: one account, `fail` on an empty target (UNCONFIRMED
    /// that AWS shows them when not given).
    pub fn with_defaults(mut self) -> ExperimentOptions {
        self.account_targeting
            .get_or_insert_with(|| "single-account".into());
        self.empty_target_resolution_mode
            .get_or_insert_with(|| "fail".into());
        self
    }

    /// Whether an empty target skips the actions instead of failing the experiment.
    pub fn skips_empty_targets(&self) -> bool {
        self.empty_target_resolution_mode.as_deref() == Some("skip")
    }

    /// Whether `actionsMode=skip-all` (every action `skipped`) [S9].
    pub fn skips_all_actions(&self) -> bool {
        self.actions_mode.as_deref() == Some("skip-all")
    }
}

/// What a template holds besides its id and times: the checked body of
/// CreateExperimentTemplate (and of UpdateExperimentTemplate applied to a template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSpec {
    pub description: String,
    #[serde(default)]
    pub targets: BTreeMap<String, Target>,
    pub actions: BTreeMap<String, Action>,
    pub stop_conditions: Vec<StopCondition>,
    pub role_arn: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<Value>,
    #[serde(default)]
    pub experiment_options: ExperimentOptions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_report_configuration: Option<Value>,
}

/// A template as kept: its spec, id and times (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    pub creation_ms: i64,
    pub last_update_ms: i64,
    #[serde(flatten)]
    pub spec: TemplateSpec,
}
