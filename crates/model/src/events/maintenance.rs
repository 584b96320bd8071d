//! Scheduled maintenance events: what EC2 schedules for an instance (a reboot, a stop, a
//! retirement, …), when, and what becomes of each (user guide, "Scheduled events for your
//! instances"; spec events.md §4).

use crate::error::Ec2Error;
use serde::{Deserialize, Serialize};

/// `EventCode` (botocore), the five EC2 schedules for instances (spec events.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventCode {
    InstanceReboot,
    SystemReboot,
    SystemMaintenance,
    InstanceRetirement,
    InstanceStop,
}

impl EventCode {
    pub const ALL: [EventCode; 5] = [
        EventCode::InstanceReboot,
        EventCode::SystemReboot,
        EventCode::SystemMaintenance,
        EventCode::InstanceRetirement,
        EventCode::InstanceStop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventCode::InstanceReboot => "instance-reboot",
            EventCode::SystemReboot => "system-reboot",
            EventCode::SystemMaintenance => "system-maintenance",
            EventCode::InstanceRetirement => "instance-retirement",
            EventCode::InstanceStop => "instance-stop",
        }
    }

    pub fn parse(value: &str) -> Option<EventCode> {
        EventCode::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// The description EC2 gives the event. "The instance is scheduled for a reboot" and
    /// "The instance is running on degraded hardware" are EC2's (user guide and API
    /// reference samples); the other three are UNCONFIRMED.
    pub fn description(self) -> &'static str {
        match self {
            EventCode::InstanceReboot | EventCode::SystemReboot => {
                "The instance is scheduled for a reboot"
            }
            EventCode::SystemMaintenance => "The instance is scheduled for system maintenance",
            EventCode::InstanceRetirement => "The instance is running on degraded hardware",
            EventCode::InstanceStop => "The instance is scheduled for a stop",
        }
    }

    /// What the event does to an EBS-backed instance when it starts (every imds instance
    /// has an EBS root): retirement and stop stop it; the reboots reboot it, which leaves
    /// its state as it was; system maintenance changes nothing.
    pub fn stops_the_instance(self) -> bool {
        matches!(
            self,
            EventCode::InstanceRetirement | EventCode::InstanceStop
        )
    }
}

/// Where an event stands: `active` while scheduled; `completed` once it ran, `canceled` if
/// it was canceled (the metadata service's `State`; the API prefixes the description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventState {
    Active,
    Completed,
    Canceled,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Active => "active",
            EventState::Completed => "completed",
            EventState::Canceled => "canceled",
        }
    }
}

/// One scheduled event of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceEvent {
    /// `instance-event-` and 17 hex digits.
    pub id: String,
    pub code: EventCode,
    /// The description as scheduled (without the `[Completed] ` or `[Canceled] ` prefix).
    pub description: String,
    pub not_before_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after_ms: Option<i64>,
    /// The latest start ModifyInstanceEventStartTime may move the event to; events without
    /// one cannot be moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<i64>,
    pub state: EventState,
    /// When it completed or was canceled (none while active, and on events kept before
    /// imds recorded it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
}

/// The prefix of an event's id.
pub const EVENT_ID_PREFIX: &str = "instance-event";

/// Events one instance keeps at most (active and past): the oldest past ones go first.
pub const EVENTS_KEPT: usize = 32;

/// How long a past event is still described: "After a scheduled event is completed, it can
/// still be described for up to a week" (API reference, `InstanceStatusEvent`).
pub const PAST_EVENT_DESCRIBED_MS: i64 = 7 * 24 * 60 * MINUTE_MS;

const MINUTE_MS: i64 = 60_000;

impl MaintenanceEvent {
    /// Whether DescribeInstanceStatus still shows it at `now_ms`: while active, and for
    /// [`PAST_EVENT_DESCRIBED_MS`] after it ended (always, when when it ended is unknown).
    pub fn described_at(&self, now_ms: i64) -> bool {
        match (self.state, self.ended_ms) {
            (EventState::Active, _) | (_, None) => true,
            (_, Some(ended)) => now_ms - ended <= PAST_EVENT_DESCRIBED_MS,
        }
    }

    /// The event ends at `now_ms` as `state` (completed or canceled).
    pub fn end(&mut self, state: EventState, now_ms: i64) {
        self.state = state;
        self.ended_ms = Some(now_ms);
    }

    /// The description as EC2 shows it: `[Completed] …` and `[Canceled] …` once past (user
    /// guide, "View scheduled events").
    pub fn shown_description(&self) -> String {
        match self.state {
            EventState::Active => self.description.clone(),
            EventState::Completed => format!("[Completed] {}", self.description),
            EventState::Canceled => format!("[Canceled] {}", self.description),
        }
    }

    /// ModifyInstanceEventStartTime: start the event at `not_before_ms` instead, its window
    /// as long as before (the aws CLI's example: 10:00 → 12:00 stays two hours) and its
    /// deadline unchanged. The user guide's rules: only events with a deadline, not yet
    /// started and not starting within five minutes, to a start at least an hour from now
    /// and no later than the deadline. The codes and texts are UNCONFIRMED
    /// (`InvalidParameterValue`, spec events.md §4.4).
    pub fn reschedule(&mut self, not_before_ms: i64, now_ms: i64) -> Result<(), Ec2Error> {
        let refuse = |m: &str| Err(Ec2Error::InvalidParameterValue(m.to_string()));
        let Some(deadline) = self.deadline_ms else {
            return refuse(&format!(
                "The event '{}' cannot be rescheduled: it has no deadline.",
                self.id
            ));
        };
        if self.state != EventState::Active || self.not_before_ms <= now_ms + 5 * MINUTE_MS {
            return refuse(&format!(
                "The event '{}' cannot be rescheduled: it has started, or starts within 5 minutes.",
                self.id
            ));
        }
        if not_before_ms < now_ms + 60 * MINUTE_MS {
            return refuse("The new start time must be at least 60 minutes from now.");
        }
        if not_before_ms > deadline {
            return refuse(&format!(
                "The new start time must not be later than the event's deadline ({}).",
                crate::time::iso8601(deadline, true)
            ));
        }
        if let Some(after) = self.not_after_ms.as_mut() {
            *after += not_before_ms - self.not_before_ms;
        }
        self.not_before_ms = not_before_ms;
        Ok(())
    }
}

/// What to schedule: an event of `code` starting at `not_before_ms`, over `window_ms`, with
/// an optional deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSchedule {
    pub code: EventCode,
    pub description: Option<String>,
    pub not_before_ms: i64,
    pub window_ms: Option<i64>,
    pub deadline_ms: Option<i64>,
}

impl EventSchedule {
    /// The event, with its id (the caller's randomness), or why it cannot be.
    pub fn event(self, id: String) -> Result<MaintenanceEvent, Ec2Error> {
        if let Some(d) = self.deadline_ms.filter(|d| *d < self.not_before_ms) {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "The deadline ({}) is before the event's start.",
                crate::time::iso8601(d, true)
            )));
        }
        Ok(MaintenanceEvent {
            id,
            code: self.code,
            description: self
                .description
                .unwrap_or_else(|| self.code.description().to_string()),
            not_before_ms: self.not_before_ms,
            not_after_ms: self.window_ms.map(|w| self.not_before_ms + w.max(0)),
            deadline_ms: self.deadline_ms,
            state: EventState::Active,
            ended_ms: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn event(deadline: Option<i64>) -> MaintenanceEvent {
        EventSchedule {
            code: EventCode::SystemReboot,
            description: None,
            not_before_ms: 10 * HOUR,
            window_ms: Some(2 * HOUR),
            deadline_ms: deadline,
        }
        .event("instance-event-0d59937288b749b32".into())
        .unwrap()
    }

    /// spec events.md case 23: the window keeps its length, the deadline stays.
    #[test]
    fn rescheduling_moves_the_window() {
        let mut e = event(Some(100 * HOUR));
        e.reschedule(20 * HOUR, 0).unwrap();
        assert_eq!(
            (e.not_before_ms, e.not_after_ms, e.deadline_ms),
            (20 * HOUR, Some(22 * HOUR), Some(100 * HOUR))
        );
    }

    /// spec events.md cases 24 and 25.
    #[test]
    fn rescheduling_refuses_what_the_user_guide_refuses() {
        let mut e = event(Some(100 * HOUR));
        assert!(e.reschedule(HOUR / 2, 0).is_err(), "within the hour");
        assert!(e.reschedule(101 * HOUR, 0).is_err(), "after the deadline");
        assert!(event(None).reschedule(20 * HOUR, 0).is_err(), "no deadline");
        assert!(
            e.reschedule(20 * HOUR, 10 * HOUR - MINUTE_MS).is_err(),
            "starts within five minutes"
        );
        assert_eq!(e.not_before_ms, 10 * HOUR, "unchanged by a refusal");
    }

    #[test]
    fn descriptions_once_past() {
        let mut e = event(None);
        assert_eq!(
            e.shown_description(),
            "The instance is scheduled for a reboot"
        );
        e.state = EventState::Completed;
        assert_eq!(
            e.shown_description(),
            "[Completed] The instance is scheduled for a reboot"
        );
        e.state = EventState::Canceled;
        assert!(e.shown_description().starts_with("[Canceled] "));
    }

    #[test]
    fn codes_round_trip() {
        for c in EventCode::ALL {
            assert_eq!(EventCode::parse(c.as_str()), Some(c));
        }
        assert_eq!(EventCode::parse("system-explosion"), None);
    }

    /// A past event is described for a week after it ended (API reference,
    /// `InstanceStatusEvent`: "can still be described for up to a week"), an active one
    /// always, and one whose end is unknown (kept before imds recorded it) too.
    #[test]
    fn past_events_are_described_for_a_week() {
        let week = PAST_EVENT_DESCRIBED_MS;
        assert_eq!(week, 604_800_000);
        let mut e = event(None);
        assert!(e.described_at(i64::MAX / 2), "active");
        e.end(EventState::Completed, 1_000);
        assert!(e.described_at(1_000 + week));
        assert!(!e.described_at(1_000 + week + 1));
        e.ended_ms = None;
        assert!(e.described_at(1_000 + week + 1), "when it ended is unknown");
        let mut c = event(None);
        c.end(EventState::Canceled, 5);
        assert!(!c.described_at(5 + week + 1), "canceled ones go too");
    }
}
