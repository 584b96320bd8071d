//! The metadata service's bodies for an instance's events, byte for byte as the EC2 user
//! guide documents them (spec events.md §2–§4): served as `text/plain` with no final LF.

use super::{InterruptionBehavior, MaintenanceEvent, SpotNotice};
use crate::time::{event_date, iso8601};

/// `spot/instance-action`: `{"action": "terminate", "time": "2017-09-18T08:22:00Z"}` (one
/// space after `:` and `,`, as documented).
pub fn instance_action(notice: &SpotNotice) -> String {
    format!(
        "{{\"action\": \"{}\", \"time\": \"{}\"}}",
        notice.action.as_str(),
        iso8601(notice.time_ms, false)
    )
}

/// `spot/termination-time`: the notice's time, only when the action is to terminate (the
/// user guide: "present only when the instance is marked for termination").
pub fn termination_time(notice: &SpotNotice) -> Option<String> {
    (notice.action == InterruptionBehavior::Terminate).then(|| iso8601(notice.time_ms, false))
}

/// `events/recommendations/rebalance`: `{"noticeTime": "2020-10-27T08:22:00Z"}`.
pub fn rebalance(notice_time_ms: i64) -> String {
    format!("{{\"noticeTime\": \"{}\"}}", iso8601(notice_time_ms, false))
}

/// `events/maintenance/scheduled` and `…/history`: `[]` without events; else the documented
/// layout (`[ `, two-space indents, `" : "`, keys `NotBefore, Code, Description, EventId,
/// NotAfter, State`). `NotAfter` and `NotBeforeDeadline` (AEMM's key, after `NotAfter`)
/// only when the event has them, and events after the first separated by `, ` on the
/// closing line: UNCONFIRMED (the user guide shows one event).
pub fn maintenance(events: &[&MaintenanceEvent]) -> String {
    if events.is_empty() {
        return "[]".into();
    }
    let items: Vec<String> = events
        .iter()
        .map(|e| {
            let mut fields = vec![
                ("NotBefore", event_date(e.not_before_ms)),
                ("Code", e.code.as_str().to_string()),
                ("Description", e.shown_description()),
                ("EventId", e.id.clone()),
            ];
            if let Some(after) = e.not_after_ms {
                fields.push(("NotAfter", event_date(after)));
            }
            if let Some(deadline) = e.deadline_ms {
                fields.push(("NotBeforeDeadline", event_date(deadline)));
            }
            fields.push(("State", e.state.as_str().to_string()));
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("    \"{k}\" : {}", json_string(v)))
                .collect();
            format!("  {{\n{}\n  }}", body.join(",\n"))
        })
        .collect();
    format!("[ \n{} \n]", items.join(", \n"))
}

/// `s` as a JSON string.
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventCode, EventState};

    /// The user guide's samples, byte for byte.
    #[test]
    fn documented_bodies() {
        let t = 1_505_722_920_000; // 2017-09-18T08:22:00Z
        let n = SpotNotice {
            action: InterruptionBehavior::Terminate,
            time_ms: t,
        };
        assert_eq!(
            instance_action(&n),
            r#"{"action": "terminate", "time": "2017-09-18T08:22:00Z"}"#
        );
        assert_eq!(
            termination_time(&n).as_deref(),
            Some("2017-09-18T08:22:00Z")
        );
        let stop = SpotNotice {
            action: InterruptionBehavior::Stop,
            ..n
        };
        assert_eq!(termination_time(&stop), None, "only for terminate");
        assert_eq!(
            rebalance(1_603_786_920_000),
            r#"{"noticeTime": "2020-10-27T08:22:00Z"}"#
        );
    }

    #[test]
    fn the_documented_maintenance_sample() {
        let e = MaintenanceEvent {
            id: "instance-event-0d59937288b749b32".into(),
            code: EventCode::SystemReboot,
            description: "scheduled reboot".into(),
            not_before_ms: 1_548_061_243_000, // 21 Jan 2019 09:00:43 GMT
            not_after_ms: Some(1_548_062_243_000),
            deadline_ms: None,
            state: EventState::Active,
            ended_ms: None,
        };
        assert_eq!(
            maintenance(&[&e]),
            "[ \n  {\n    \"NotBefore\" : \"21 Jan 2019 09:00:43 GMT\",\n    \"Code\" : \"system-reboot\",\n    \"Description\" : \"scheduled reboot\",\n    \"EventId\" : \"instance-event-0d59937288b749b32\",\n    \"NotAfter\" : \"21 Jan 2019 09:17:23 GMT\",\n    \"State\" : \"active\"\n  } \n]"
        );
        assert_eq!(maintenance(&[]), "[]");
        let parsed: serde_json::Value = serde_json::from_str(&maintenance(&[&e, &e])).unwrap();
        assert_eq!(parsed.as_array().map(Vec::len), Some(2), "still JSON");
    }
}
