//! AWS Fault Injection Service's rules, as far as imds serves FIS: experiment templates whose
//! one action is `aws:ec2:send-spot-instance-interruptions`, and the experiments started from
//! them (spec events.md §7; sources are the spec's `[Sn]`, UNCONFIRMED where none says).
//!
//! Pure, like the rest of the crate: the caller passes the clock (`now_ms`) and random bits
//! (ids, the random picks of `COUNT(n)` and `PERCENT(n)`). Here: what a template may hold and
//! how it is checked ([`TemplateSpec::validate`]), ids ([`template_id`], [`experiment_id`]),
//! selection modes ([`SelectionMode`]), ISO 8601 durations ([`parse_duration_ms`]), the filter
//! paths a target may name ([`filter_name`]), when each action of an experiment runs
//! ([`plan`]), and an experiment's status, derived from its recorded times and `now` rather
//! than kept up to date by a background task ([`Experiment::view`]).
//!
//! The records are the JSON documents the store keeps (camelCase, the wire's member names),
//! so that the API renders them with only ids, ARNs and times added.
//!
//! One module per idea, each re-exported here, so that callers name everything
//! `model::fis::X`:
//!
//! - `ids`: template and experiment ids, made from random bits and recognised by shape.
//! - `selection`: a target's `selectionMode` and the random pick it makes.
//! - `duration`: ISO 8601 durations, and the action's `durationBeforeInterruption`.
//! - `filters`: what a target's filter paths and resource ARNs mean for EC2 instances.
//! - `template`: the records of a template (targets, actions, stop conditions, options).
//! - `validate`: FIS's checks of a template at Create and Update.
//! - `experiment`: experiments as kept, when their actions run, and their derived states.

mod duration;
mod experiment;
mod filters;
mod ids;
mod selection;
mod template;
mod validate;

/// Test helpers shared by the modules above.
#[cfg(test)]
mod fixtures;

pub use duration::{
    duration_before_interruption, parse_duration_ms, DEFAULT_DURATION_MS, MAX_DURATION_MS,
    MIN_DURATION_MS,
};
pub use experiment::{
    empty_target_reason, plan, ActionStatus, ActionView, Experiment, ExperimentStatus,
    ExperimentView, Outcome, PlannedAction, ResolvedTarget, INITIAL_ACTION_REASON,
    INITIATING_REASON,
};
pub use filters::{
    filter_name, instance_lifecycle, instance_of_arn, lifecycle_matches, INSTANCE_LIFECYCLE,
};
pub use ids::{experiment_id, is_experiment_id, is_template_id, template_id};
pub use selection::SelectionMode;
pub use template::{
    Action, ExperimentOptions, StopCondition, Target, TargetFilter, Template, TemplateSpec,
};
pub use validate::{check_tags, MAX_RESOURCE_ARNS, MAX_TAGS};

/// The one action imds runs [S10].
pub const SPOT_ACTION: &str = "aws:ec2:send-spot-instance-interruptions";
/// The resource type of that action's targets [S10].
pub const SPOT_RESOURCE_TYPE: &str = "aws:ec2:spot-instance";
/// The key of that action's `targets` [S10][S14].
pub const SPOT_TARGET_KEY: &str = "SpotInstances";
/// The action's one parameter [S10].
pub const DURATION_PARAMETER: &str = "durationBeforeInterruption";

/// Why FIS refuses a request: a `ValidationException`'s message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid<T>(message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(message.into()))
}
