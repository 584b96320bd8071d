//! An instance's events taking effect: a Spot interruption's steps and scheduled maintenance,
//! each when due (`take_due_events`, by the lifecycle driver through the store), and the
//! writes that schedule, move and cancel them.

use super::{Instance, InstanceState, StateReason, StateReasonCode, Transition};
use crate::error::Ec2Error;
use crate::events::maintenance::EVENTS_KEPT;
use crate::events::{
    EventSchedule, EventState, Interruption, InterruptionBehavior, MaintenanceEvent, SpotNotice,
    TargetLifecycleState,
};
use crate::time::fmt_reason_time;

impl Instance {
    /// When the instance's next event step is due, if any: the pending interruption's next
    /// step, or the soonest active maintenance event. Nothing is due for an instance
    /// shutting down or terminated.
    pub fn next_event_ms(&self) -> Option<i64> {
        if self.state.is_gone() {
            return None;
        }
        let e = &self.events;
        let interruption = e.interruption.as_ref().map(|i| {
            if e.rebalance_ms.is_none() {
                i.rebalance_at_ms.min(i.notice_at_ms)
            } else if e.notice.is_none() {
                i.notice_at_ms
            } else {
                i.action_at_ms
            }
        });
        let maintenance = e.scheduled().first().map(|m| m.not_before_ms);
        match (interruption, maintenance) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Take every event step due by `now_ms`, in order: the rebalance recommendation, the
    /// notice (hibernation starts with it), the interruption's action, maintenance events
    /// (a stop or retirement stops the instance; each becomes `completed`). An
    /// interruption whose instance is no longer up is dropped. Returns whether anything
    /// changed; afterwards nothing is due by `now_ms`. `delay_ms` is how long the
    /// transitions it starts take.
    pub fn take_due_events(&mut self, now_ms: i64, delay_ms: i64) -> bool {
        let before = self.events.clone();
        let state_before = self.state;
        if self.state.is_gone() {
            self.events.interruption = None;
        }
        if let Some(i) = self.events.interruption.clone() {
            let up = matches!(self.state, InstanceState::Pending | InstanceState::Running);
            let behavior = self.market.as_ref().map(|m| m.behavior);
            match behavior {
                Some(behavior) if up => self.interruption_steps(&i, behavior, now_ms, delay_ms),
                _ => self.events.interruption = None,
            }
        }
        let due: Vec<usize> = (self.events.maintenance.iter().enumerate())
            .filter(|(_, e)| e.state == EventState::Active && e.not_before_ms <= now_ms)
            .map(|(n, _)| n)
            .collect();
        for n in due {
            let code = self.events.maintenance[n].code;
            if code.stops_the_instance() && !self.state.is_gone() {
                self.stopped_by_service(StateReasonCode::ScheduledStop, now_ms, delay_ms);
            }
            self.events.maintenance[n].end(EventState::Completed, now_ms);
        }
        self.events != before || self.state != state_before
    }

    fn interruption_steps(
        &mut self,
        i: &Interruption,
        behavior: InterruptionBehavior,
        now_ms: i64,
        delay_ms: i64,
    ) {
        if self.events.rebalance_ms.is_none() && i.rebalance_at_ms.min(i.notice_at_ms) <= now_ms {
            self.events.rebalance_ms = Some(i.rebalance_at_ms.min(i.notice_at_ms));
        }
        // Hibernation starts at the notice, with no two minutes of grace (user guide,
        // "Hibernate interrupted Spot Instances"); its `time` is then the notice's own
        // (UNCONFIRMED).
        let acts_at = match behavior {
            InterruptionBehavior::Hibernate => i.notice_at_ms,
            _ => i.action_at_ms,
        };
        if self.events.notice.is_none() && i.notice_at_ms <= now_ms {
            self.events.notice = Some(SpotNotice {
                action: behavior,
                time_ms: acts_at,
            });
        }
        if acts_at <= now_ms && self.events.notice.is_some() {
            self.events.interruption = None;
            let code = match behavior {
                InterruptionBehavior::Terminate => StateReasonCode::SpotInstanceTermination,
                // Hibernation's reason is UNCONFIRMED (spec events.md §2.3): as a stop.
                _ => StateReasonCode::SpotInstanceShutdown,
            };
            match behavior {
                InterruptionBehavior::Terminate => {
                    self.state = InstanceState::ShuttingDown;
                    self.transition = Some(Transition {
                        to: InstanceState::Terminated,
                        due_ms: now_ms + delay_ms,
                    });
                    self.state_reason = Some(StateReason::service(code));
                    self.state_transition_reason = service_initiated(now_ms);
                }
                _ => self.stopped_by_service(code, now_ms, delay_ms),
            }
        }
    }

    /// EC2 stops the instance (an interruption, a scheduled stop or retirement).
    fn stopped_by_service(&mut self, code: StateReasonCode, now_ms: i64, delay_ms: i64) {
        if !matches!(self.state, InstanceState::Pending | InstanceState::Running) {
            return;
        }
        self.state = InstanceState::Stopping;
        self.transition = Some(Transition {
            to: InstanceState::Stopped,
            due_ms: now_ms + delay_ms,
        });
        self.state_reason = Some(StateReason::service(code));
        self.state_transition_reason = service_initiated(now_ms);
    }

    /// Schedule a Spot interruption (FIS's `aws:ec2:send-spot-instance-interruptions`, or
    /// the control route): only a running Spot instance with none pending. The errors
    /// are imds's (FIS reports a failed action; its texts are UNCONFIRMED).
    pub fn schedule_interruption(&mut self, i: Interruption) -> Result<(), Ec2Error> {
        if self.market.is_none() {
            return Err(Ec2Error::UnsupportedOperation(format!(
                "The instance '{}' is not a Spot Instance.",
                self.instance_id
            )));
        }
        if self.state != InstanceState::Running {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not running.",
                self.instance_id
            )));
        }
        if self.events.interruption.is_some() || self.events.notice.is_some() {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is already marked for interruption.",
                self.instance_id
            )));
        }
        self.events.interruption = Some(i);
        Ok(())
    }

    /// Drop the interruption `source` scheduled, if its notice has not been given yet
    /// (StopExperiment; a recommendation already emitted stays). Returns whether it did.
    pub fn cancel_interruption(&mut self, source: &str) -> bool {
        let pending = self.events.notice.is_none()
            && self
                .events
                .interruption
                .as_ref()
                .is_some_and(|i| i.source == source);
        if pending {
            self.events.interruption = None;
        }
        pending
    }

    /// Schedule a maintenance event (an emulator control: EC2 schedules them itself).
    /// Only for an instance that is not shutting down or terminated; the oldest past events
    /// make room beyond [`EVENTS_KEPT`].
    pub fn schedule_event(
        &mut self,
        schedule: EventSchedule,
        id: String,
    ) -> Result<MaintenanceEvent, Ec2Error> {
        if self.state.is_gone() {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not in a state for which events can be scheduled.",
                self.instance_id
            )));
        }
        let event = schedule.event(id)?;
        let m = &mut self.events.maintenance;
        if m.iter().filter(|e| e.state == EventState::Active).count() >= EVENTS_KEPT {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "The instance '{}' has {EVENTS_KEPT} scheduled events already.",
                self.instance_id
            )));
        }
        while m.len() >= EVENTS_KEPT {
            match m.iter().position(|e| e.state != EventState::Active) {
                Some(n) => m.remove(n),
                None => break,
            };
        }
        m.push(event.clone());
        Ok(event)
    }

    fn event_mut(&mut self, event_id: &str) -> Result<&mut MaintenanceEvent, Ec2Error> {
        let instance_id = self.instance_id.clone();
        self.events
            .maintenance
            .iter_mut()
            .find(|e| e.id == event_id)
            .ok_or_else(|| {
                // UNCONFIRMED code and text (spec events.md §4.4).
                Ec2Error::InvalidParameterValue(format!(
                    "The event '{event_id}' does not exist for instance '{instance_id}'."
                ))
            })
    }

    /// ModifyInstanceEventStartTime on one of its events.
    pub fn reschedule_event(
        &mut self,
        event_id: &str,
        not_before_ms: i64,
        now_ms: i64,
    ) -> Result<MaintenanceEvent, Ec2Error> {
        let e = self.event_mut(event_id)?;
        e.reschedule(not_before_ms, now_ms)?;
        Ok(e.clone())
    }

    /// Cancel an active event (an emulator control): it moves to the history as `canceled`.
    pub fn cancel_event(
        &mut self,
        event_id: &str,
        now_ms: i64,
    ) -> Result<MaintenanceEvent, Ec2Error> {
        let e = self.event_mut(event_id)?;
        if e.state != EventState::Active {
            return Err(Ec2Error::IncorrectState(format!(
                "The event '{event_id}' is {} already.",
                e.state.as_str()
            )));
        }
        e.end(EventState::Canceled, now_ms);
        Ok(e.clone())
    }

    /// The Auto Scaling state the instance is heading to (`None`: not in a group).
    pub fn set_target_lifecycle_state(&mut self, state: Option<TargetLifecycleState>) {
        self.events.target_lifecycle_state = state;
    }

    /// What the user's Start, Stop and Terminate do to its events: a start after an
    /// interruption forgets its recommendation and notice (UNCONFIRMED); a stop or
    /// termination by the user drops an interruption not yet acted on (the notice is absent
    /// when the user terminated the instance, user guide).
    pub(super) fn events_after_user_action(&mut self, to: InstanceState) {
        match to {
            InstanceState::Pending => {
                self.events.rebalance_ms = None;
                self.events.notice = None;
            }
            _ => {
                self.events.interruption = None;
                self.events.notice = None;
            }
        }
    }
}

/// `Service initiated (2026-12-07 02:00:00 GMT)` (UNCONFIRMED: EC2's wording for what it
/// does itself, beside the documented `User initiated (…)`).
fn service_initiated(now_ms: i64) -> String {
    format!("Service initiated ({})", fmt_reason_time(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventCode;
    use crate::testing::instance as sample;

    fn spot(behavior: InterruptionBehavior) -> Instance {
        let mut i = sample("m5.large");
        i.market = Some(crate::testing::spot_market(behavior));
        i
    }

    /// spec events.md cases 5, 10, 14 and 41: recommendation, notice two minutes before,
    /// then shutting-down with the Spot reason; nothing is due at a moment already taken.
    #[test]
    fn an_interruption_takes_its_steps_in_order() {
        let mut i = spot(InterruptionBehavior::Terminate);
        i.schedule_interruption(Interruption::planned("EXP1", 0, 240_000, 120_000))
            .unwrap();
        assert_eq!(i.next_event_ms(), Some(0));
        assert!(i.take_due_events(0, 10));
        assert_eq!(i.events.rebalance_ms, Some(0));
        assert_eq!(i.events.notice, None);
        assert_eq!(i.next_event_ms(), Some(120_000));
        assert!(!i.take_due_events(119_999, 10));
        assert!(i.take_due_events(120_000, 10));
        assert_eq!(
            i.events.notice,
            Some(SpotNotice {
                action: InterruptionBehavior::Terminate,
                time_ms: 240_000
            })
        );
        assert_eq!(i.state, InstanceState::Running);
        assert!(i.take_due_events(240_000, 10));
        assert_eq!(i.state, InstanceState::ShuttingDown);
        assert_eq!(
            i.state_reason.as_ref().map(|r| r.code),
            Some(StateReasonCode::SpotInstanceTermination)
        );
        assert_eq!(i.next_event_ms(), None);
        assert!(i.advance(240_010));
        assert_eq!(i.state, InstanceState::Terminated);
    }

    /// spec events.md cases 9 and 11.
    #[test]
    fn stop_and_hibernate() {
        let mut i = spot(InterruptionBehavior::Stop);
        i.schedule_interruption(Interruption::planned("EXP1", 0, 120_000, 120_000))
            .unwrap();
        assert!(i.take_due_events(0, 10));
        assert!(i.events.notice.is_some() && i.events.rebalance_ms.is_some());
        assert!(i.take_due_events(120_000, 10));
        assert_eq!(i.state, InstanceState::Stopping);
        assert_eq!(
            i.state_reason.as_ref().map(|r| r.code),
            Some(StateReasonCode::SpotInstanceShutdown)
        );
        assert!(i.advance(120_010));
        i.start(200_000, 10).unwrap();
        assert_eq!(i.events.notice, None, "gone once started again");

        let mut h = spot(InterruptionBehavior::Hibernate);
        h.schedule_interruption(Interruption::planned("EXP1", 0, 240_000, 120_000))
            .unwrap();
        assert!(h.take_due_events(120_000, 10));
        assert_eq!(
            h.state,
            InstanceState::Stopping,
            "hibernation starts at the notice"
        );
        assert_eq!(h.events.notice.map(|n| n.time_ms), Some(120_000));
    }

    #[test]
    fn only_running_spot_instances_are_interrupted() {
        let plan = Interruption::planned("EXP1", 0, 120_000, 120_000);
        assert!(sample("m5.large")
            .schedule_interruption(plan.clone())
            .is_err());
        let mut i = spot(InterruptionBehavior::Terminate);
        i.stop(0, 10, false).unwrap();
        assert!(i.schedule_interruption(plan.clone()).is_err());
        let mut i = spot(InterruptionBehavior::Terminate);
        i.schedule_interruption(plan.clone()).unwrap();
        assert!(i.schedule_interruption(plan).is_err(), "one at a time");
        i.terminate(1, 10).unwrap();
        assert_eq!(i.next_event_ms(), None);
        assert_eq!(i.events.interruption, None, "a user's termination drops it");
    }

    /// spec events.md case 43: stopped before the notice, nothing more happens.
    #[test]
    fn a_canceled_interruption_gives_no_notice() {
        let mut i = spot(InterruptionBehavior::Terminate);
        i.schedule_interruption(Interruption::planned("EXP1", 0, 240_000, 120_000))
            .unwrap();
        i.take_due_events(0, 10);
        assert!(!i.cancel_interruption("EXP2"), "another experiment's");
        assert!(i.cancel_interruption("EXP1"));
        assert!(!i.take_due_events(500_000, 10));
        assert_eq!((i.state, i.events.notice), (InstanceState::Running, None));
    }

    /// spec events.md cases 18 and 20: a stop event stops the instance and is completed.
    #[test]
    fn maintenance_events_take_effect() {
        let mut i = sample("m5.large");
        let schedule = |code, at| EventSchedule {
            code,
            description: None,
            not_before_ms: at,
            window_ms: Some(1000),
            deadline_ms: None,
        };
        let reboot = i
            .schedule_event(
                schedule(EventCode::InstanceReboot, 50),
                "instance-event-1".into(),
            )
            .unwrap();
        i.schedule_event(
            schedule(EventCode::InstanceStop, 100),
            "instance-event-2".into(),
        )
        .unwrap();
        assert_eq!(i.next_event_ms(), Some(50));
        assert!(i.take_due_events(60, 10));
        assert_eq!(i.state, InstanceState::Running, "a reboot keeps the state");
        assert_eq!(i.events.history()[0].id, reboot.id);
        assert!(i.take_due_events(100, 10));
        assert_eq!(i.state, InstanceState::Stopping);
        assert_eq!(
            i.state_reason.as_ref().map(|r| r.code),
            Some(StateReasonCode::ScheduledStop)
        );
        assert!(i.events.scheduled().is_empty());
        assert_eq!(i.next_event_ms(), None);
        let canceled = i
            .schedule_event(
                schedule(EventCode::SystemReboot, 900),
                "instance-event-3".into(),
            )
            .unwrap();
        let c = i.cancel_event(&canceled.id, 120).unwrap();
        assert_eq!((c.state, c.ended_ms), (EventState::Canceled, Some(120)));
        assert!(i.cancel_event(&canceled.id, 130).is_err());
        assert!(i.cancel_event("instance-event-9", 130).is_err());
        // Each past event records when it ended: the reboot and the stop when taken.
        let ended: Vec<Option<i64>> = i.events.history().iter().map(|e| e.ended_ms).collect();
        assert_eq!(ended, [Some(60), Some(100), Some(120)]);
    }
}
