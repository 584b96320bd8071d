//! The lifecycle of one instance: Start, Stop, Terminate and Reboot as the instance decides
//! them, and the transitions that fall due by themselves (`pending` → `running`, `stopping` →
//! `stopped`, `shutting-down` → `terminated`), taken by the lifecycle driver through `advance`.

use super::{Instance, InstanceState, StateReason, Transition};
use crate::error::Ec2Error;
use crate::time::fmt_reason_time;

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
    pub fn advance(&mut self, now_ms: i64) -> bool {
        match self.transition {
            Some(t) if t.due_ms <= now_ms => {
                self.state = t.to;
                self.transition = None;
                if t.to == InstanceState::Running {
                    self.state_reason = None;
                }
                if t.to == InstanceState::Terminated {
                    self.terminated_at_ms = Some(now_ms);
                }
                true
            }
            _ => false,
        }
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
