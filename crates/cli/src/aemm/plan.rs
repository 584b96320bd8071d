//! What AEMM's settings make of the first instance, and when: a pure function of the
//! [`Knobs`], the start time and the length of a Spot notice, so that every rule is tested
//! without a server.
//!
//! AEMM answers fixed bodies from timers; here the same triggers become what EC2 does to an
//! instance, through the model's own events (spec events.md §8, its superset rule: AEMM's
//! knobs as a control surface, EC2-exact answers):
//!
//! - **Spot** (`spot`, and the root command): the instance is a Spot instance whose
//!   interruption behaviour is `spot.action`. The notice comes at the trigger
//!   (`mock-trigger-time`, else `mock-delay-sec` after start) and acts at `spot.time`, else
//!   a notice's length later (`--spot-notice`, EC2's two minutes). AEMM recomputes the time
//!   at every request; EC2's stays fixed, which is what a handler polling it relies on
//!   (spec events.md §9). The rebalance recommendation comes at `spot.rebalance-rec-time`,
//!   else `rebalance-trigger-time`, else `rebalance-delay-sec` after start, and no later than
//!   the notice (the model's rule: EC2 may send it with the notice, never after).
//! - **Scheduled event** (`events`, and the root command): scheduled at the same trigger,
//!   with `events.code`. Its `NotBefore` is `events.not-before`, else a week after the
//!   trigger: an event runs at its `NotBefore` here, as on EC2, and AEMM's default (now)
//!   would reboot or stop the instance at once (imds's choice, UNCONFIRMED: EC2 announces
//!   events ahead, by how much it does not say). `NotAfter` is `events.not-after`, else a
//!   week after `NotBefore` (AEMM's week); `NotBeforeDeadline` only when given. `canceled`
//!   cancels it at once; `completed` makes it run at the trigger (a completed event is one
//!   that ran), unless `events.not-before` says when.
//! - **Auto Scaling** (`asglifecycle`, and the root command): `InService` at start, then
//!   `Terminated` at `asg-termination-trigger-time`, else `asg-termination-delay-sec` after
//!   start.
//! - `imdsv2`: the instance requires tokens (`HttpTokens=required`).

use super::knobs::{EventStateKnob, Knobs};
use ec2api::actions::FirstLaunch;
use model::events::{EventSchedule, Interruption};

/// Where an interruption written by `imds aemm` says it comes from (StopExperiment and the
/// controls tell interruptions apart by it).
pub const SOURCE: &str = "aemm";

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// The first instance's launch and what happens to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub launch: FirstLaunch,
    /// Written at start; the lifecycle driver takes each step at its time.
    pub interruption: Option<Interruption>,
    pub event: Option<PlannedEvent>,
    /// `InService` at start, `Terminated` at this time.
    pub asg_terminated_at_ms: Option<i64>,
}

/// A maintenance event, scheduled at `at_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    pub at_ms: i64,
    pub schedule: EventSchedule,
    /// `events.state=canceled`: canceled as soon as it is scheduled.
    pub cancel: bool,
}

impl Plan {
    pub fn of(k: &Knobs, start_ms: i64, notice_ms: i64) -> Plan {
        let after = |secs: i64| start_ms.saturating_add(secs.saturating_mul(1000));
        let trigger = k.mock_trigger_ms.unwrap_or_else(|| after(k.mock_delay_sec));
        let interruption = k.mode.spot().then(|| Interruption {
            source: SOURCE.into(),
            rebalance_at_ms: k
                .spot_rebalance_rec_ms
                .or(k.rebalance_trigger_ms)
                .unwrap_or_else(|| after(k.rebalance_delay_sec)),
            notice_at_ms: trigger,
            action_at_ms: k
                .spot_time_ms
                .map(|t| t.max(trigger))
                .unwrap_or_else(|| trigger.saturating_add(notice_ms)),
        });
        let event = k.mode.events().then(|| {
            let not_before_ms = k.event_not_before_ms.unwrap_or(match k.event_state {
                EventStateKnob::Completed => trigger,
                _ => trigger.saturating_add(WEEK_MS),
            });
            let not_after_ms = k
                .event_not_after_ms
                .unwrap_or(not_before_ms.saturating_add(WEEK_MS));
            PlannedEvent {
                at_ms: trigger,
                schedule: EventSchedule {
                    code: k.event_code,
                    description: None,
                    not_before_ms,
                    window_ms: Some(not_after_ms.saturating_sub(not_before_ms).max(0)),
                    deadline_ms: k.event_deadline_ms,
                },
                cancel: k.event_state == EventStateKnob::Canceled,
            }
        });
        let asg_terminated_at_ms = k.mode.asg().then(|| {
            k.asg_termination_trigger_ms
                .unwrap_or_else(|| after(k.asg_termination_delay_sec))
        });
        Plan {
            launch: FirstLaunch {
                tokens_required: k.imdsv2,
                spot: k.mode.spot().then_some(k.spot_action),
            },
            interruption,
            event,
            asg_terminated_at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::knobs::{resolve, Mode};
    use super::*;
    use std::collections::BTreeMap;

    fn knobs(mode: Mode, pairs: &[(&str, &str)]) -> Knobs {
        let flags = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(mode, &flags, |_| None, &BTreeMap::new()).unwrap()
    }

    const START: i64 = 1_000_000;
    const NOTICE: i64 = 120_000;

    #[test]
    fn spot_gives_the_notice_at_the_trigger_and_acts_a_notice_later_at_a_fixed_time() {
        let p = Plan::of(
            &knobs(
                Mode::Spot,
                &[("mock-delay-sec", "5"), ("spot.action", "stop")],
            ),
            START,
            NOTICE,
        );
        let i = p.interruption.unwrap();
        assert_eq!(
            (i.notice_at_ms, i.action_at_ms),
            (START + 5000, START + 5000 + NOTICE)
        );
        assert_eq!(i.rebalance_at_ms, START, "rebalance-delay-sec 0: at start");
        assert_eq!(p.launch.spot.map(|b| b.as_str()), Some("stop"));
        assert!(p.event.is_none() && p.asg_terminated_at_ms.is_none());
    }

    #[test]
    fn a_trigger_time_wins_over_the_delay_and_spot_time_sets_the_action() {
        let k = knobs(
            Mode::Spot,
            &[
                ("mock-delay-sec", "5"),
                ("mock-trigger-time", "1970-01-01T00:20:00Z"),
                ("spot.time", "1970-01-01T00:30:00Z"),
                ("rebalance-trigger-time", "1970-01-01T00:10:00Z"),
            ],
        );
        let i = Plan::of(&k, START, NOTICE).interruption.unwrap();
        assert_eq!(
            (i.rebalance_at_ms, i.notice_at_ms, i.action_at_ms),
            (600_000, 1_200_000, 1_800_000)
        );
        // A spot.time before the notice acts with it, not before it.
        let k = knobs(
            Mode::Spot,
            &[
                ("mock-delay-sec", "60"),
                ("spot.time", "1970-01-01T00:00:01Z"),
            ],
        );
        let i = Plan::of(&k, START, NOTICE).interruption.unwrap();
        assert_eq!(i.action_at_ms, i.notice_at_ms);
    }

    #[test]
    fn events_are_scheduled_at_the_trigger_for_a_week_later_unless_told() {
        let p = Plan::of(
            &knobs(
                Mode::Events,
                &[("mock-delay-sec", "2"), ("events.code", "instance-stop")],
            ),
            START,
            NOTICE,
        );
        let e = p.event.unwrap();
        assert_eq!(e.at_ms, START + 2000);
        assert_eq!(e.schedule.not_before_ms, START + 2000 + WEEK_MS);
        assert_eq!(e.schedule.window_ms, Some(WEEK_MS));
        assert_eq!(e.schedule.deadline_ms, None);
        assert!(!e.cancel);
        assert!(p.interruption.is_none() && p.launch.spot.is_none());
        let k = knobs(
            Mode::Events,
            &[
                ("events.state", "completed"),
                ("events.not-after", "1970-01-01T01:00:00Z"),
            ],
        );
        let e = Plan::of(&k, START, NOTICE).event.unwrap();
        assert_eq!(
            e.schedule.not_before_ms, START,
            "completed: runs at the trigger"
        );
        assert_eq!(e.schedule.window_ms, Some(3_600_000 - START));
        assert!(
            Plan::of(
                &knobs(Mode::Events, &[("events.state", "canceled")]),
                START,
                NOTICE
            )
            .event
            .unwrap()
            .cancel
        );
    }

    #[test]
    fn the_root_command_mocks_everything_and_imdsv2_requires_tokens() {
        let p = Plan::of(
            &knobs(
                Mode::All,
                &[("imdsv2", "true"), ("asg-termination-delay-sec", "3")],
            ),
            START,
            NOTICE,
        );
        assert!(p.interruption.is_some() && p.event.is_some());
        assert_eq!(p.asg_terminated_at_ms, Some(START + 3000));
        assert_eq!(
            p.launch,
            FirstLaunch {
                tokens_required: true,
                spot: Some(model::events::InterruptionBehavior::Terminate)
            }
        );
        let p = Plan::of(&knobs(Mode::AsgLifecycle, &[]), START, NOTICE);
        assert_eq!(p.asg_terminated_at_ms, Some(START));
        assert_eq!(p.launch, FirstLaunch::default());
    }
}
