//! The lifecycle of one instance: Start, Stop, Terminate and Reboot as the instance decides
//! them, and the transitions that fall due by themselves (`pending` → `running`, `stopping` →
//! `stopped`, `shutting-down` → `terminated`), taken by the lifecycle driver through `advance`.

use super::{Instance, InstanceState, StateReason, Transition};
use crate::error::Ec2Error;
use crate::time::fmt_reason_time;

impl InstanceState {
    /// The state a transition from this one leads to: every transition the model makes
    /// (launch and Start to `running`, Stop to `stopped`, Terminate to `terminated`) is one
    /// of these, so a transition is the state it starts from and its due time, which is all
    /// the store keeps of it as columns ([`LifecycleProgress`]).
    pub fn settles_to(self) -> Option<InstanceState> {
        match self {
            InstanceState::Pending => Some(InstanceState::Running),
            InstanceState::Stopping => Some(InstanceState::Stopped),
            InstanceState::ShuttingDown => Some(InstanceState::Terminated),
            InstanceState::Running | InstanceState::Stopped | InstanceState::Terminated => None,
        }
    }
}

/// Where an instance stands in its lifecycle, as a step of it reads and changes it: its
/// state, when its transition falls due, and when it was terminated. The store keeps each as
/// a column of the instance's row, so the lifecycle driver steps instances on their columns
/// without reading or rewriting the rest: every launched instance takes one step, to
/// `running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleProgress {
    pub state: InstanceState,
    pub due_ms: Option<i64>,
    pub terminated_at_ms: Option<i64>,
}

/// A step the lifecycle took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub from: InstanceState,
    pub to: InstanceState,
}

impl Step {
    /// Whether the step clears the instance's state reason: reaching `running` does.
    pub fn clears_reason(self) -> bool {
        self.to == InstanceState::Running
    }
}

impl LifecycleProgress {
    pub fn of(i: &Instance) -> LifecycleProgress {
        LifecycleProgress {
            state: i.state,
            due_ms: i.transition.map(|t| t.due_ms),
            terminated_at_ms: i.terminated_at_ms,
        }
    }

    /// Take the transition that is due by `now_ms`, if any.
    pub fn advance(&mut self, now_ms: i64) -> Option<Step> {
        self.due_ms.filter(|due| *due <= now_ms)?;
        let to = self.state.settles_to()?;
        let step = Step {
            from: self.state,
            to,
        };
        self.state = to;
        self.due_ms = None;
        if to == InstanceState::Terminated {
            self.terminated_at_ms = Some(now_ms);
        }
        Some(step)
    }
}

/// What Start/Stop/Terminate report for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub instance_id: String,
    pub previous: InstanceState,
    pub current: InstanceState,
}

impl Instance {
    fn not_in_state(&self, what: &str) -> Ec2Error {
        Ec2Error::IncorrectInstanceState(format!(
            "The instance '{}' is not in a state from which it can be {what}.",
            self.instance_id
        ))
    }

    pub fn start(&mut self, now_ms: i64, delay_ms: i64) -> Result<StateChange, Ec2Error> {
        let previous = self.state;
        match self.state {
            InstanceState::Stopped => {
                self.state = InstanceState::Pending;
                // EC2 reports the time of the last start as the launch time.
                self.launch_time_ms = now_ms - now_ms.rem_euclid(1000);
                self.transition = Some(Transition {
                    to: InstanceState::Running,
                    due_ms: now_ms + delay_ms,
                });
                self.state_reason = None;
                self.state_transition_reason = String::new();
                self.events_after_user_action(InstanceState::Pending);
            }
            InstanceState::Pending | InstanceState::Running => {}
            _ => return Err(self.not_in_state("started")),
        }
        Ok(self.change(previous))
    }

    pub fn stop(
        &mut self,
        now_ms: i64,
        delay_ms: i64,
        force: bool,
    ) -> Result<StateChange, Ec2Error> {
        let previous = self.state;
        match self.state {
            InstanceState::Pending | InstanceState::Running => {
                if self.disable_api_stop {
                    return Err(Ec2Error::OperationNotPermitted(format!(
                        "The instance '{}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.",
                        self.instance_id
                    )));
                }
                self.state = InstanceState::Stopping;
                self.transition = Some(Transition {
                    to: InstanceState::Stopped,
                    due_ms: now_ms + delay_ms,
                });
                self.state_reason = Some(StateReason::user_initiated_shutdown());
                self.state_transition_reason =
                    format!("User initiated ({})", fmt_reason_time(now_ms));
                self.events_after_user_action(InstanceState::Stopping);
            }
            InstanceState::Stopping if force => {
                self.transition = Some(Transition {
                    to: InstanceState::Stopped,
                    due_ms: now_ms,
                });
            }
            InstanceState::Stopping | InstanceState::Stopped => {}
            _ => return Err(self.not_in_state("stopped")),
        }
        Ok(self.change(previous))
    }

    pub fn terminate(&mut self, now_ms: i64, delay_ms: i64) -> Result<StateChange, Ec2Error> {
        let previous = self.state;
        if self.disable_api_termination && !self.state.is_gone() {
            return Err(Ec2Error::OperationNotPermitted(format!(
                "The instance '{}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.",
                self.instance_id
            )));
        }
        if !self.state.is_gone() {
            self.state = InstanceState::ShuttingDown;
            self.transition = Some(Transition {
                to: InstanceState::Terminated,
                due_ms: now_ms + delay_ms,
            });
            self.state_reason = Some(StateReason::user_initiated_shutdown());
            self.state_transition_reason = format!("User initiated ({})", fmt_reason_time(now_ms));
            self.events_after_user_action(InstanceState::ShuttingDown);
        }
        Ok(self.change(previous))
    }

    pub fn reboot(&self) -> Result<(), Ec2Error> {
        if self.state.is_gone() {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not in a state from which it can be rebooted.",
                self.instance_id
            )));
        }
        Ok(())
    }

    /// Take the transition that is due by `now_ms`, if any. Returns whether the state changed.
    /// The step is [`LifecycleProgress::advance`]'s, as the store takes it on columns.
    pub fn advance(&mut self, now_ms: i64) -> bool {
        let mut progress = LifecycleProgress::of(self);
        let Some(step) = progress.advance(now_ms) else {
            return false;
        };
        self.state = progress.state;
        self.transition = None;
        self.terminated_at_ms = progress.terminated_at_ms;
        if step.clears_reason() {
            self.state_reason = None;
        }
        true
    }

    fn change(&self, previous: InstanceState) -> StateChange {
        StateChange {
            instance_id: self.instance_id.clone(),
            previous,
            current: self.state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::instance as sample;

    #[test]
    fn lifecycle() {
        let mut i = sample("m5.large");
        i.state = InstanceState::Pending;
        i.transition = Some(Transition {
            to: InstanceState::Running,
            due_ms: 5,
        });
        assert!(!i.advance(4));
        assert!(i.advance(5));
        assert_eq!(i.state, InstanceState::Running);
        let c = i.terminate(10, 5).unwrap();
        assert_eq!(
            (c.previous, c.current),
            (InstanceState::Running, InstanceState::ShuttingDown)
        );
        assert!(i.start(11, 5).is_err());
        assert!(i.stop(11, 5, false).is_err());
        assert!(i.advance(15));
        assert_eq!(i.state, InstanceState::Terminated);
        assert_eq!(i.terminated_at_ms, Some(15));
        let again = i.terminate(20, 5).unwrap();
        assert_eq!(again.current, InstanceState::Terminated);
    }

    /// Every transition the model makes leads where its state settles, so the store's
    /// columns (state and due time) say the whole transition; and a step on them leaves the
    /// instance as the step on the instance does.
    #[test]
    fn transitions_lead_where_their_state_settles() {
        let settles = |i: &Instance| {
            let t = i.transition.expect("a transition");
            assert_eq!(Some(t.to), i.state.settles_to(), "{:?}", i.state);
        };
        let mut i = sample("m5.large");
        i.stop(0, 5, false).unwrap();
        settles(&i);
        i.stop(1, 5, true).unwrap();
        settles(&i);
        let mut progress = LifecycleProgress::of(&i);
        assert_eq!(progress.advance(0), None, "not due yet");
        let step = progress.advance(1).unwrap();
        assert!(i.advance(1));
        assert_eq!(progress, LifecycleProgress::of(&i));
        assert_eq!(
            (step.from, step.to, step.clears_reason()),
            (InstanceState::Stopping, InstanceState::Stopped, false)
        );
        assert!(
            i.state_reason.is_some(),
            "a stopped instance keeps its reason"
        );
        i.start(2, 5).unwrap();
        settles(&i);
        let mut progress = LifecycleProgress::of(&i);
        assert!(progress.advance(7).unwrap().clears_reason());
        assert!(i.advance(7));
        assert_eq!(progress, LifecycleProgress::of(&i));
        assert_eq!(i.state_reason, None);
        assert_eq!(
            LifecycleProgress::of(&i).advance(i64::MAX),
            None,
            "running stays"
        );
        i.terminate(8, 5).unwrap();
        settles(&i);
        let mut progress = LifecycleProgress::of(&i);
        progress.advance(20).unwrap();
        assert!(i.advance(20));
        assert_eq!(progress, LifecycleProgress::of(&i));
        assert_eq!(progress.terminated_at_ms, Some(20));
    }

    #[test]
    fn protected_instances() {
        let mut i = sample("m5.large");
        i.disable_api_termination = true;
        assert!(matches!(
            i.terminate(0, 1),
            Err(Ec2Error::OperationNotPermitted(_))
        ));
        i.disable_api_stop = true;
        assert!(matches!(
            i.stop(0, 1, false),
            Err(Ec2Error::OperationNotPermitted(_))
        ));
    }

    #[test]
    fn reason_time() {
        assert_eq!(fmt_reason_time(0), "1970-01-01 00:00:00 GMT");
        assert_eq!(
            fmt_reason_time(1_763_830_800_000),
            "2025-11-22 17:00:00 GMT"
        );
    }
}
