//! Experiments: as kept (the template's targets resolved once, at start, and each action's
//! planned times), when each action runs ([`plan`]), and an experiment's status, derived from
//! its recorded outcome, its times and `now` rather than kept up to date by a background task
//! ([`Experiment::view`]).

use super::{
    duration_before_interruption, Action, ExperimentOptions, StopCondition, Target,
    DEFAULT_DURATION_MS,
};
use crate::events::Interruption;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A target as an experiment resolved it: the template's, and the ARNs of the instances
/// found (once, at start [S11]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedTarget {
    #[serde(flatten)]
    pub target: Target,
    pub resolved_arns: Vec<String>,
}

/// An action of an experiment, with when it starts and when it completes (its interruption
/// notice: the action is `completed` once the notices are sent [S10][S14]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedAction {
    #[serde(flatten)]
    pub action: Action,
    pub starts_at_ms: i64,
    pub completes_at_ms: i64,
}

/// What happened to an experiment, as recorded; its status is derived from this, its times
/// and the clock ([`Experiment::view`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// Its interruptions were scheduled: running until each action's notice, then completed.
    Running,
    /// It could not run (no target found, a target not a running Spot instance).
    Failed { reason: String },
    /// StopExperiment, at `at_ms`.
    Stopped { at_ms: i64 },
    /// Its actions were skipped (`actionsMode=skip-all`, or an empty target with
    /// `emptyTargetResolutionMode=skip`): completed at once.
    Skipped { reason: String },
}

/// An experiment as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Experiment {
    pub id: String,
    pub experiment_template_id: String,
    pub role_arn: String,
    pub creation_ms: i64,
    pub start_ms: i64,
    pub targets: BTreeMap<String, ResolvedTarget>,
    pub actions: BTreeMap<String, PlannedAction>,
    pub stop_conditions: Vec<StopCondition>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<Value>,
    #[serde(default)]
    pub experiment_options: ExperimentOptions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_report_configuration: Option<Value>,
    pub outcome: Outcome,
}

/// An experiment's status [S9][S11].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentStatus {
    Pending,
    Initiating,
    Running,
    Completed,
    Stopping,
    Stopped,
    Failed,
    Cancelled,
}

impl ExperimentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentStatus::Pending => "pending",
            ExperimentStatus::Initiating => "initiating",
            ExperimentStatus::Running => "running",
            ExperimentStatus::Completed => "completed",
            ExperimentStatus::Stopping => "stopping",
            ExperimentStatus::Stopped => "stopped",
            ExperimentStatus::Failed => "failed",
            ExperimentStatus::Cancelled => "cancelled",
        }
    }
}

/// An action's status [S9][S11].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStatus {
    Pending,
    Initiating,
    Running,
    Completed,
    Cancelled,
    Stopping,
    Stopped,
    Failed,
    Skipped,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Initiating => "initiating",
            ActionStatus::Running => "running",
            ActionStatus::Completed => "completed",
            ActionStatus::Cancelled => "cancelled",
            ActionStatus::Stopping => "stopping",
            ActionStatus::Stopped => "stopped",
            ActionStatus::Failed => "failed",
            ActionStatus::Skipped => "skipped",
        }
    }
}

/// An action's state and times at some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionView {
    pub status: ActionStatus,
    pub reason: String,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

/// An experiment's state and times at some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentView {
    pub status: ExperimentStatus,
    pub reason: String,
    pub end_ms: Option<i64>,
    pub actions: BTreeMap<String, ActionView>,
}

/// StartExperiment's sample answer [S13]; the other reasons are UNCONFIRMED.
pub const INITIATING_REASON: &str = "Experiment is initiating.";
pub const INITIAL_ACTION_REASON: &str = "Initial state";

/// When each action of `actions` starts and completes for an experiment started at
/// `start_ms`, its interruption notices lasting `notice_ms` here (`--spot-notice`): an
/// action starts with the experiment, or when the last action it waits for (`startAfter`)
/// completes; it completes at its notice (`Interruption::planned`'s `notice_at_ms`).
/// Returns (starts, completes, duration) per action. A cycle (refused at Create) is cut.
pub fn plan(
    actions: &BTreeMap<String, Action>,
    start_ms: i64,
    notice_ms: i64,
) -> BTreeMap<String, (i64, i64, i64)> {
    fn times(
        name: &str,
        actions: &BTreeMap<String, Action>,
        start_ms: i64,
        notice_ms: i64,
        done: &mut BTreeMap<String, (i64, i64, i64)>,
        depth: usize,
    ) -> (i64, i64, i64) {
        if let Some(t) = done.get(name) {
            return *t;
        }
        let action = &actions[name];
        let duration =
            duration_before_interruption(action.parameters.as_ref()).unwrap_or(DEFAULT_DURATION_MS);
        let mut starts = start_ms;
        if depth <= actions.len() {
            for after in action.start_after.iter().flatten() {
                if actions.contains_key(after) {
                    let (_, completes, _) =
                        times(after, actions, start_ms, notice_ms, done, depth + 1);
                    starts = starts.max(completes);
                }
            }
        }
        let completes = Interruption::planned("", starts, duration, notice_ms).notice_at_ms;
        let t = (starts, completes, duration);
        done.insert(name.to_string(), t);
        t
    }
    let mut done = BTreeMap::new();
    for name in actions.keys() {
        times(name, actions, start_ms, notice_ms, &mut done, 0);
    }
    done
}

impl Experiment {
    /// The experiment's state at `now_ms`: running until every action has sent its notices,
    /// then completed (so no task has to wake up to complete it); failed, stopped or skipped
    /// as recorded.
    pub fn view(&self, now_ms: i64) -> ExperimentView {
        let action = |status, reason: &str, start_ms, end_ms| ActionView {
            status,
            reason: reason.to_string(),
            start_ms,
            end_ms,
        };
        let (status, reason, end_ms, actions) = match &self.outcome {
            Outcome::Running => {
                let actions: BTreeMap<String, ActionView> = self
                    .actions
                    .iter()
                    .map(|(n, a)| {
                        let v = if now_ms >= a.completes_at_ms {
                            action(
                                ActionStatus::Completed,
                                "Action completed.",
                                Some(a.starts_at_ms),
                                Some(a.completes_at_ms),
                            )
                        } else if now_ms >= a.starts_at_ms {
                            action(
                                ActionStatus::Running,
                                "Action is running.",
                                Some(a.starts_at_ms),
                                None,
                            )
                        } else {
                            action(ActionStatus::Pending, INITIAL_ACTION_REASON, None, None)
                        };
                        (n.clone(), v)
                    })
                    .collect();
                let end = self.actions.values().map(|a| a.completes_at_ms).max();
                match end {
                    Some(end) if now_ms < end => (
                        ExperimentStatus::Running,
                        "Experiment is running.".to_string(),
                        None,
                        actions,
                    ),
                    end => (
                        ExperimentStatus::Completed,
                        "Experiment completed.".to_string(),
                        Some(end.unwrap_or(self.start_ms)),
                        actions,
                    ),
                }
            }
            Outcome::Failed { reason } => (
                ExperimentStatus::Failed,
                reason.clone(),
                Some(self.start_ms),
                self.each_action(|_| {
                    action(ActionStatus::Failed, reason, None, Some(self.start_ms))
                }),
            ),
            Outcome::Skipped { reason } => (
                ExperimentStatus::Completed,
                reason.clone(),
                Some(self.start_ms),
                self.each_action(|_| {
                    action(ActionStatus::Skipped, "Action was skipped.", None, None)
                }),
            ),
            Outcome::Stopped { at_ms } => (
                ExperimentStatus::Stopped,
                "Experiment stopped.".to_string(),
                Some(*at_ms),
                self.each_action(|a| {
                    if a.completes_at_ms <= *at_ms {
                        action(
                            ActionStatus::Completed,
                            "Action completed.",
                            Some(a.starts_at_ms),
                            Some(a.completes_at_ms),
                        )
                    } else if a.starts_at_ms <= *at_ms {
                        action(
                            ActionStatus::Stopped,
                            "Action stopped.",
                            Some(a.starts_at_ms),
                            Some(*at_ms),
                        )
                    } else {
                        action(ActionStatus::Cancelled, "Action cancelled.", None, None)
                    }
                }),
            ),
        };
        ExperimentView {
            status,
            reason,
            end_ms,
            actions,
        }
    }

    fn each_action(
        &self,
        f: impl Fn(&PlannedAction) -> ActionView,
    ) -> BTreeMap<String, ActionView> {
        self.actions
            .iter()
            .map(|(n, a)| (n.clone(), f(a)))
            .collect()
    }

    /// StartExperiment's answer: `initiating`, every action `pending` [S13] (case 40),
    /// whatever the experiment then does (FIS starts experiments asynchronously).
    pub fn starting_view(&self) -> ExperimentView {
        ExperimentView {
            status: ExperimentStatus::Initiating,
            reason: INITIATING_REASON.to_string(),
            end_ms: None,
            actions: self.each_action(|_| ActionView {
                status: ActionStatus::Pending,
                reason: INITIAL_ACTION_REASON.to_string(),
                start_ms: None,
                end_ms: None,
            }),
        }
    }

    /// Whether StopExperiment at `now_ms` stops it: only while it is running [S11] (on a
    /// finished experiment it changes nothing: UNCONFIRMED, spec §7.4).
    pub fn is_running(&self, now_ms: i64) -> bool {
        self.view(now_ms).status == ExperimentStatus::Running
    }

    /// Record StopExperiment at `now_ms`; returns whether it stopped the experiment (see
    /// [`Experiment::is_running`]).
    pub fn stop(&mut self, now_ms: i64) -> bool {
        let running = self.is_running(now_ms);
        if running {
            self.outcome = Outcome::Stopped { at_ms: now_ms };
        }
        running
    }

    /// StopExperiment's answer: the stopped experiment as `stopping` (it is `stopped` when
    /// next read, case 43); its actions as stopped.
    pub fn stopping_view(&self, now_ms: i64) -> ExperimentView {
        let mut v = self.view(now_ms);
        if v.status == ExperimentStatus::Stopped {
            v.status = ExperimentStatus::Stopping;
            v.reason = "Experiment is stopping.".to_string();
            v.end_ms = None;
        }
        v
    }

    /// Every instance id the experiment targeted (its resolved ARNs), once each.
    pub fn instance_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for t in self.targets.values() {
            for arn in &t.resolved_arns {
                if let Some(id) = crate::Arn::parse(arn)
                    .ok()
                    .and_then(|a| a.resource.strip_prefix("instance/").map(str::to_string))
                {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        ids
    }
}

/// The reason of an experiment whose target `name` resolved to no resource (UNCONFIRMED
/// text, spec §7.4, case 42).
pub fn empty_target_reason(name: &str) -> String {
    format!("Target resolution returned an empty set of resources for target {name}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fis::fixtures::{spec, spot_action};
    use crate::fis::{experiment_id, template_id, Template};

    fn experiment(actions: &BTreeMap<String, Action>, notice_ms: i64) -> Experiment {
        let planned = plan(actions, 1000, notice_ms);
        Experiment {
            id: experiment_id(1),
            experiment_template_id: template_id(1),
            role_arn: "arn:aws:iam::123456789012:role/fis".into(),
            creation_ms: 1000,
            start_ms: 1000,
            targets: BTreeMap::new(),
            actions: actions
                .iter()
                .map(|(n, a)| {
                    let (starts, completes, _) = planned[n];
                    (
                        n.clone(),
                        PlannedAction {
                            action: a.clone(),
                            starts_at_ms: starts,
                            completes_at_ms: completes,
                        },
                    )
                })
                .collect(),
            stop_conditions: vec![],
            tags: BTreeMap::new(),
            log_configuration: None,
            experiment_options: ExperimentOptions::default().with_defaults(),
            experiment_report_configuration: None,
            outcome: Outcome::Running,
        }
    }

    /// Spec §7.6 with `--spot-notice 3s`: PT4M sends the notice 3 s in; startAfter chains.
    #[test]
    fn actions_are_planned_one_after_another() {
        let mut actions = BTreeMap::from([("a".to_string(), spot_action("spot", Some("PT4M")))]);
        let mut b = spot_action("spot", Some("PT2M"));
        b.start_after = Some(vec!["a".into()]);
        actions.insert("b".into(), b);
        let p = plan(&actions, 1000, 3000);
        assert_eq!(p["a"], (1000, 4000, 240_000));
        assert_eq!(p["b"], (4000, 4000, 120_000));
    }

    /// Cases 40 and 41: initiating when started, running until the notice, then completed.
    #[test]
    fn status_is_derived_from_the_clock() {
        let actions = BTreeMap::from([("a".to_string(), spot_action("spot", Some("PT4M")))]);
        let e = experiment(&actions, 3000);
        let s = e.starting_view();
        assert_eq!(s.status, ExperimentStatus::Initiating);
        assert_eq!(s.reason, INITIATING_REASON);
        assert_eq!(s.actions["a"].status, ActionStatus::Pending);
        assert_eq!(s.actions["a"].reason, INITIAL_ACTION_REASON);
        let v = e.view(2000);
        assert_eq!(v.status, ExperimentStatus::Running);
        assert_eq!(v.actions["a"].status, ActionStatus::Running);
        assert_eq!(v.actions["a"].start_ms, Some(1000));
        assert_eq!(v.end_ms, None);
        let v = e.view(4000);
        assert_eq!(v.status, ExperimentStatus::Completed);
        assert_eq!(v.actions["a"].status, ActionStatus::Completed);
        assert_eq!((v.end_ms, v.actions["a"].end_ms), (Some(4000), Some(4000)));
    }

    /// Case 43: stopped while running; a finished experiment is not stopped.
    #[test]
    fn stopping() {
        let actions = BTreeMap::from([("a".to_string(), spot_action("spot", Some("PT4M")))]);
        let mut e = experiment(&actions, 3000);
        assert!(e.stop(2000));
        assert_eq!(e.stopping_view(2000).status, ExperimentStatus::Stopping);
        let v = e.view(9000);
        assert_eq!(v.status, ExperimentStatus::Stopped);
        assert_eq!(v.end_ms, Some(2000));
        assert_eq!(v.actions["a"].status, ActionStatus::Stopped);
        assert!(!e.stop(9000));
        let mut done = experiment(&actions, 3000);
        assert!(!done.stop(5000));
        assert_eq!(done.view(5000).status, ExperimentStatus::Completed);
    }

    #[test]
    fn failed_and_skipped() {
        let actions = BTreeMap::from([("a".to_string(), spot_action("spot", None))]);
        let mut e = experiment(&actions, 3000);
        e.outcome = Outcome::Failed {
            reason: empty_target_reason("spot"),
        };
        let v = e.view(1000);
        assert_eq!(v.status, ExperimentStatus::Failed);
        assert_eq!(v.actions["a"].status, ActionStatus::Failed);
        assert!(!e.stop(1000));
        e.outcome = Outcome::Skipped {
            reason: "skipped".into(),
        };
        let v = e.view(1000);
        assert_eq!(v.status, ExperimentStatus::Completed);
        assert_eq!(v.actions["a"].status, ActionStatus::Skipped);
    }

    #[test]
    fn records_round_trip_through_json() {
        let t = Template {
            id: template_id(7),
            creation_ms: 1,
            last_update_ms: 2,
            spec: spec(),
        };
        let text = serde_json::to_string(&t).unwrap();
        assert!(text.contains("\"roleArn\"") && text.contains("\"resourceArns\""));
        assert_eq!(serde_json::from_str::<Template>(&text).unwrap(), t);
        let actions = BTreeMap::from([("a".to_string(), spot_action("spot", None))]);
        let e = experiment(&actions, 3000);
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Experiment>(&text).unwrap(), e);
    }
}
