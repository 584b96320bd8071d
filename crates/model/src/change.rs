//! What a write did to an instance, as the metadata hosts that follow the change feed need to
//! know it: derived once from the instance before and after the write, so that every store
//! backend records the same kinds for the same write.

use crate::instance::{Instance, InstanceState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The instance was launched (its options have generation 1).
    Launched,
    /// The desired metadata options changed (a new generation).
    OptionsChanged,
    /// The instance reached `running` (pending options can now be applied).
    Started,
    /// The instance stopped, or started shutting down.
    Stopped,
    /// Any other change of lifecycle state (pending after a start, stopped, terminated, …).
    StateChanged,
    /// The options' generation was applied by the serving metadata host.
    Applied,
    /// Tags changed (the metadata service exposes them when tags in metadata are on).
    TagsChanged,
    /// The instance's IAM instance profile association changed (made, replaced, removed, or
    /// settled by the metadata host).
    ProfileChanged,
    /// Its events changed: a Spot notice or rebalance recommendation emitted, maintenance
    /// scheduled, moved or past, its Auto Scaling target state (the metadata service
    /// serves each).
    EventsChanged,
    /// The instance is gone from the store.
    Purged,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Launched => "launched",
            ChangeKind::OptionsChanged => "options-changed",
            ChangeKind::Started => "started",
            ChangeKind::Stopped => "stopped",
            ChangeKind::StateChanged => "state-changed",
            ChangeKind::Applied => "applied",
            ChangeKind::TagsChanged => "tags-changed",
            ChangeKind::ProfileChanged => "profile-changed",
            ChangeKind::EventsChanged => "events-changed",
            ChangeKind::Purged => "purged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "launched" => ChangeKind::Launched,
            "options-changed" => ChangeKind::OptionsChanged,
            "started" => ChangeKind::Started,
            "stopped" => ChangeKind::Stopped,
            "state-changed" => ChangeKind::StateChanged,
            "applied" => ChangeKind::Applied,
            "tags-changed" => ChangeKind::TagsChanged,
            "profile-changed" => ChangeKind::ProfileChanged,
            "events-changed" => ChangeKind::EventsChanged,
            "purged" => ChangeKind::Purged,
            _ => return None,
        })
    }

    /// The kinds of a write that took an instance from `before` (none: it was launched) to
    /// `after` (none: it was purged), in the order a follower should see them. A write that
    /// changed nothing a metadata host serves has none.
    pub fn between(before: Option<&Instance>, after: Option<&Instance>) -> Vec<ChangeKind> {
        let (before, after) = match (before, after) {
            (None, None) => return vec![],
            (None, Some(_)) => return vec![ChangeKind::Launched],
            (Some(_), None) => return vec![ChangeKind::Purged],
            (Some(b), Some(a)) => (b, a),
        };
        let mut kinds = Vec::new();
        if after.options_generation != before.options_generation {
            kinds.push(ChangeKind::OptionsChanged);
        }
        if after.applied_generation != before.applied_generation {
            kinds.push(ChangeKind::Applied);
        }
        if after.state != before.state {
            kinds.push(state_change(before.state, after.state));
        }
        if after.tags != before.tags {
            kinds.push(ChangeKind::TagsChanged);
        }
        if after.profile_association != before.profile_association
            || after.iam_instance_profile != before.iam_instance_profile
        {
            kinds.push(ChangeKind::ProfileChanged);
        }
        if after.events != before.events {
            kinds.push(ChangeKind::EventsChanged);
        }
        kinds
    }
}

/// Reaching `running` is a start (options pending while stopped can now be applied); leaving
/// `pending` or `running` for anything but `pending` is a stop; the rest is just a new state.
pub fn state_change(before: InstanceState, after: InstanceState) -> ChangeKind {
    let was_up = matches!(before, InstanceState::Running | InstanceState::Pending);
    if after == InstanceState::Running {
        ChangeKind::Started
    } else if was_up && after != InstanceState::Pending {
        ChangeKind::Stopped
    } else {
        ChangeKind::StateChanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::IamProfileRef;
    use crate::tags::Tag;
    use crate::{HttpTokens, OptionsPatch};
    use InstanceState::*;

    fn running() -> Instance {
        crate::testing::instance("m5.large")
    }

    fn kinds(before: &Instance, after: &Instance) -> Vec<ChangeKind> {
        ChangeKind::between(Some(before), Some(after))
    }

    #[test]
    fn launch_and_purge_are_one_kind_each() {
        let i = running();
        assert_eq!(
            ChangeKind::between(None, Some(&i)),
            vec![ChangeKind::Launched]
        );
        assert_eq!(
            ChangeKind::between(Some(&i), None),
            vec![ChangeKind::Purged]
        );
        assert_eq!(ChangeKind::between(None, None), vec![]);
    }

    #[test]
    fn a_write_that_changes_nothing_served_has_no_kind() {
        let i = running();
        let mut after = i.clone();
        after.monitoring = !after.monitoring;
        assert_eq!(kinds(&i, &i), vec![]);
        assert_eq!(kinds(&i, &after), vec![]);
    }

    #[test]
    fn new_options_then_their_application() {
        let before = running();
        let mut after = before.clone();
        after
            .modify_metadata(
                &OptionsPatch {
                    http_tokens: Some(HttpTokens::Required),
                    ..Default::default()
                },
                &Default::default(),
            )
            .unwrap();
        assert_eq!(kinds(&before, &after), vec![ChangeKind::OptionsChanged]);
        let mut applied = after.clone();
        assert!(applied.mark_applied(after.options_generation));
        assert_eq!(kinds(&after, &applied), vec![ChangeKind::Applied]);
    }

    #[test]
    fn states_are_starts_stops_or_just_new() {
        let cases = [
            (Pending, Running, ChangeKind::Started),
            (Stopped, Running, ChangeKind::Started),
            (Running, Stopping, ChangeKind::Stopped),
            (Running, ShuttingDown, ChangeKind::Stopped),
            (Pending, ShuttingDown, ChangeKind::Stopped),
            (Stopped, Pending, ChangeKind::StateChanged),
            (Stopping, Stopped, ChangeKind::StateChanged),
            (ShuttingDown, Terminated, ChangeKind::StateChanged),
        ];
        for (from, to, kind) in cases {
            let mut before = running();
            before.state = from;
            let mut after = before.clone();
            after.state = to;
            assert_eq!(kinds(&before, &after), vec![kind], "{from:?} → {to:?}");
        }
    }

    #[test]
    fn tags_and_profiles_each_have_their_kind_in_order() {
        let before = running();
        let mut after = before.clone();
        after.tags.push(Tag {
            key: "Name".into(),
            value: "web".into(),
        });
        after.iam_instance_profile = Some(IamProfileRef {
            arn: "arn:aws:iam::123456789012:instance-profile/web".into(),
            id: "AIPAEXAMPLE0000000001".into(),
            role: Some("web".into()),
        });
        after.state = Stopping;
        assert_eq!(
            kinds(&before, &after),
            vec![
                ChangeKind::Stopped,
                ChangeKind::TagsChanged,
                ChangeKind::ProfileChanged
            ]
        );
    }
}
