//! What the event controls' JSON bodies ask, as the model's types: every refusal here is an
//! EC2 error (`MissingParameter`, `InvalidParameterValue`, 400), so a bad body never reaches
//! the store and never panics.
//!
//! Durations are humantime (`10m`, `2h`, `7d`), times RFC 3339. Unknown members are refused
//! rather than ignored: a misspelt `notbefore` would otherwise schedule something else than
//! asked.

use model::events::{spot, EventCode, EventSchedule, Interruption, TargetLifecycleState};
use model::Ec2Error;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

/// What a control that fired a Spot interruption is recorded as (`Interruption::source`).
pub(super) const INTERRUPTION_SOURCE: &str = "imds";

/// The window of an event without `duration` (NotBefore → NotAfter).
const DEFAULT_WINDOW: Duration = Duration::from_secs(2 * 3600);

/// The longest duration taken, so that every time computed from one stays far inside `i64`
/// milliseconds (and inside the years the API can write).
const LONGEST: Duration = Duration::from_secs(3650 * 86_400);

/// FIS's bounds of `durationBeforeInterruption` (spec events.md §7.6), and its default.
const INTERRUPTION_MIN: Duration = Duration::from_secs(120);
const INTERRUPTION_MAX: Duration = Duration::from_secs(15 * 60);

/// Longest description taken (EC2's descriptions are a sentence).
const DESCRIPTION_MAX: usize = 255;

/// `POST /_imds/instances/{id}/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ScheduleBody {
    code: Option<String>,
    #[serde(rename = "in")]
    in_: Option<String>,
    not_before: Option<String>,
    duration: Option<String>,
    deadline: Option<String>,
    description: Option<String>,
}

/// `PUT /_imds/instances/{id}/target-lifecycle-state`: `state` must be there, `null` to
/// clear it (`{}` is more likely a mistake than a wish to clear).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleBody {
    #[serde(default, deserialize_with = "present")]
    state: Option<Option<String>>,
}

/// `POST /_imds/instances/{id}/interruption`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InterruptionBody {
    #[serde(rename = "in")]
    in_: Option<String>,
}

/// A member that is present, `null` or not.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The event a schedule body asks for, its times from `now_ms`.
pub fn schedule(body: &[u8], now_ms: i64) -> Result<EventSchedule, Ec2Error> {
    let b: ScheduleBody = json(body)?;
    let raw = b.code.ok_or_else(|| missing("code"))?;
    let code = EventCode::parse(&raw).ok_or_else(|| {
        let known: Vec<&str> = EventCode::ALL.iter().map(|c| c.as_str()).collect();
        invalid(format!(
            "Value ({raw}) for parameter code is invalid. Valid values: {}.",
            known.join(", ")
        ))
    })?;
    let not_before_ms = match (b.in_, b.not_before) {
        (Some(d), None) => {
            // EC2's events start on a whole second.
            (now_ms + millis(&d, "in")?).div_euclid(1000) * 1000
        }
        (None, Some(t)) => timestamp(&t, "notBefore")?,
        (None, None) => return Err(missing("in or notBefore")),
        (Some(_), Some(_)) => {
            return Err(Ec2Error::InvalidParameterCombination(
                "The parameters in and notBefore cannot be used together.".into(),
            ))
        }
    };
    let window_ms = match b.duration {
        Some(d) => millis(&d, "duration")?,
        None => DEFAULT_WINDOW.as_millis() as i64,
    };
    let deadline_ms = b
        .deadline
        .map(|d| millis(&d, "deadline").map(|ms| not_before_ms + ms))
        .transpose()?;
    if not_before_ms + window_ms.max(deadline_ms.map_or(0, |d| d - not_before_ms)) > LATEST_MS {
        return Err(invalid(
            "The event would end after the year 9999, which the API cannot write.".into(),
        ));
    }
    if let Some(d) = &b.description {
        if d.trim().is_empty() || d.chars().count() > DESCRIPTION_MAX {
            return Err(invalid(format!(
                "The description must be 1 to {DESCRIPTION_MAX} characters."
            )));
        }
    }
    Ok(EventSchedule {
        code,
        description: b.description,
        not_before_ms,
        window_ms: Some(window_ms),
        deadline_ms,
    })
}

/// The target lifecycle state a body sets (`None`: clear it).
pub fn lifecycle(body: &[u8]) -> Result<Option<TargetLifecycleState>, Ec2Error> {
    let b: LifecycleBody = json(body)?;
    let Some(state) = b.state.ok_or_else(|| missing("state"))? else {
        return Ok(None);
    };
    TargetLifecycleState::parse(&state)
        .map(Some)
        .ok_or_else(|| {
            let known: Vec<&str> = TargetLifecycleState::ALL
                .iter()
                .map(|s| s.as_str())
                .collect();
            invalid(format!(
                "Value ({state}) for parameter state is invalid. Valid values: {}.",
                known.join(", ")
            ))
        })
}

/// The interruption a body asks for, started at `now_ms`, EC2's two minutes of notice lasting
/// `notice` here (`imds serve --spot-notice`): its `in` scales with them as a FIS experiment's
/// `durationBeforeInterruption` does.
pub fn interruption(body: &[u8], now_ms: i64, notice: Duration) -> Result<Interruption, Ec2Error> {
    let b: InterruptionBody = json(body)?;
    let before = match &b.in_ {
        Some(d) => duration(d, "in")?,
        None => INTERRUPTION_MIN,
    };
    if !(INTERRUPTION_MIN..=INTERRUPTION_MAX).contains(&before) {
        return Err(invalid(format!(
            "Value ({}) for parameter in is invalid. It must be between 2m and 15m.",
            b.in_.unwrap_or_default()
        )));
    }
    let notice_ms = i64::try_from(notice.as_millis()).unwrap_or(spot::NOTICE_MS);
    Ok(Interruption::planned(
        INTERRUPTION_SOURCE,
        now_ms,
        before.as_millis() as i64,
        notice_ms,
    ))
}

/// The body as JSON of `T`; an empty body is `{}` (a control with nothing to say, as
/// `curl -X POST` sends it).
fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Ec2Error> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| invalid(format!("The request body is not the JSON expected: {e}.")))
}

/// A humantime duration, at most [`LONGEST`].
fn duration(value: &str, parameter: &str) -> Result<Duration, Ec2Error> {
    humantime::parse_duration(value)
        .ok()
        .filter(|d| *d <= LONGEST)
        .ok_or_else(|| {
            invalid(format!(
                "Value ({value}) for parameter {parameter} is invalid. Expected a duration such \
                 as 10m, 2h or 7d, at most 3650 days."
            ))
        })
}

fn millis(value: &str, parameter: &str) -> Result<i64, Ec2Error> {
    duration(value, parameter).map(|d| d.as_millis() as i64)
}

/// The last millisecond of 9999: the API writes four-digit years.
const LATEST_MS: i64 = 253_402_300_799_999;

/// An RFC 3339 time from 1970 to 9999, in milliseconds since the epoch: outside those
/// years the API could not write it (`fuzz/corpus/event_controls` keeps the year-1013 input
/// that found this).
fn timestamp(value: &str, parameter: &str) -> Result<i64, Ec2Error> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(value, &Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .filter(|ms| (0..=LATEST_MS).contains(ms))
        .ok_or_else(|| {
            invalid(format!(
                "Value ({value}) for parameter {parameter} is invalid. Expected an RFC 3339 \
                 time such as 2026-12-07T02:00:00Z."
            ))
        })
}

fn invalid(message: String) -> Ec2Error {
    Ec2Error::InvalidParameterValue(message)
}

fn missing(name: &str) -> Ec2Error {
    Ec2Error::MissingParameter(format!("The request must contain the parameter {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_123;
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;

    fn code_of(e: Ec2Error) -> &'static str {
        match e {
            Ec2Error::MissingParameter(_) => "MissingParameter",
            Ec2Error::InvalidParameterValue(_) => "InvalidParameterValue",
            Ec2Error::InvalidParameterCombination(_) => "InvalidParameterCombination",
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_event_in_ten_minutes_starts_on_a_second_with_a_two_hour_window() {
        let s = schedule(br#"{"code": "system-reboot", "in": "10m"}"#, NOW).unwrap();
        let start = (NOW + 10 * MINUTE) / 1000 * 1000;
        assert_eq!(s.code, EventCode::SystemReboot);
        assert_eq!(
            (s.not_before_ms, s.window_ms, s.deadline_ms),
            (start, Some(2 * HOUR), None)
        );
        assert_eq!(s.description, None, "the model gives EC2's");
    }

    #[test]
    fn an_event_at_a_time_with_its_window_deadline_and_description() {
        let body = br#"{"code": "instance-stop", "notBefore": "2027-01-15T10:00:00+01:00",
            "duration": "30m", "deadline": "7d", "description": "moving racks"}"#;
        let s = schedule(body, NOW).unwrap();
        let at = 1_800_003_600_000; // 2027-01-15T09:00:00Z
        assert_eq!(s.not_before_ms, at);
        assert_eq!(s.window_ms, Some(30 * MINUTE));
        assert_eq!(s.deadline_ms, Some(at + 7 * 24 * HOUR));
        assert_eq!(s.description.as_deref(), Some("moving racks"));
    }

    #[test]
    fn schedule_bodies_refused() {
        let cases: &[(&[u8], &str)] = &[
            (
                br#"{"code": "system-explosion", "in": "1m"}"#,
                "InvalidParameterValue",
            ),
            (br#"{"in": "1m"}"#, "MissingParameter"),
            (
                br#"{"code": "instance-stop", "notBefore": "1013-12-08T10:00:00Z"}"#,
                "InvalidParameterValue",
            ),
            (b"", "MissingParameter"),
            (br#"{"code": "system-reboot"}"#, "MissingParameter"),
            (
                br#"{"code": "system-reboot", "in": "1m", "notBefore": "2027-01-01T00:00:00Z"}"#,
                "InvalidParameterCombination",
            ),
            (
                br#"{"code": "system-reboot", "in": "soon"}"#,
                "InvalidParameterValue",
            ),
            (
                br#"{"code": "system-reboot", "in": "-1m"}"#,
                "InvalidParameterValue",
            ),
            (
                br#"{"code": "system-reboot", "in": "99999y"}"#,
                "InvalidParameterValue",
            ),
            (
                br#"{"code": "system-reboot", "notBefore": "tomorrow"}"#,
                "InvalidParameterValue",
            ),
            (
                br#"{"code": "system-reboot", "notbefore": "x"}"#,
                "InvalidParameterValue",
            ),
            (br#"{"code": 7, "in": "1m"}"#, "InvalidParameterValue"),
            (
                br#"{"code": "system-reboot", "in": "1m", "description": ""}"#,
                "InvalidParameterValue",
            ),
            (
                br#"{"code": "system-reboot", "in": "1m""#,
                "InvalidParameterValue",
            ),
            (b"[1, 2]", "InvalidParameterValue"),
            (b"\xff\xfe", "InvalidParameterValue"),
        ];
        for (body, code) in cases {
            let got = schedule(body, NOW).expect_err(&String::from_utf8_lossy(body));
            assert_eq!(code_of(got), *code, "{}", String::from_utf8_lossy(body));
        }
        let long = format!(
            r#"{{"code": "system-reboot", "in": "1m", "description": "{}"}}"#,
            "x".repeat(256)
        );
        assert!(schedule(long.as_bytes(), NOW).is_err());
    }

    #[test]
    fn lifecycle_states_set_and_cleared() {
        for s in TargetLifecycleState::ALL {
            let body = format!(r#"{{"state": "{}"}}"#, s.as_str());
            assert_eq!(lifecycle(body.as_bytes()), Ok(Some(s)));
        }
        assert_eq!(lifecycle(br#"{"state": null}"#), Ok(None));
        assert_eq!(code_of(lifecycle(b"{}").unwrap_err()), "MissingParameter");
        for bad in [
            &br#"{"state": "Warmed:Exploded"}"#[..],
            br#"{"state": "terminated"}"#,
            br#"{"state": 1}"#,
            br#"{"state": "Terminated", "x": 1}"#,
            b"nonsense",
        ] {
            assert_eq!(
                code_of(lifecycle(bad).unwrap_err()),
                "InvalidParameterValue",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn interruptions_default_to_two_minutes_and_scale_with_the_notice() {
        let two = Duration::from_secs(120);
        let i = interruption(b"", NOW, two).unwrap();
        assert_eq!(i.source, "imds");
        assert_eq!(
            (i.rebalance_at_ms, i.notice_at_ms, i.action_at_ms),
            (NOW, NOW, NOW + 2 * MINUTE)
        );
        let i = interruption(br#"{"in": "10m"}"#, NOW, two).unwrap();
        assert_eq!(
            (i.notice_at_ms, i.action_at_ms),
            (NOW + 8 * MINUTE, NOW + 10 * MINUTE)
        );
        // With a two-second notice, ten minutes last ten seconds.
        let i = interruption(br#"{"in": "10m"}"#, NOW, Duration::from_secs(2)).unwrap();
        assert_eq!(
            (i.notice_at_ms, i.action_at_ms),
            (NOW + 8_000, NOW + 10_000)
        );
    }

    #[test]
    fn interruptions_refused() {
        let two = Duration::from_secs(120);
        for bad in [
            &br#"{"in": "1m"}"#[..],
            br#"{"in": "16m"}"#,
            br#"{"in": "later"}"#,
            br#"{"at": "2m"}"#,
            b"{",
        ] {
            assert_eq!(
                code_of(interruption(bad, NOW, two).unwrap_err()),
                "InvalidParameterValue",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(interruption(br#"{"in": "15m"}"#, NOW, two).is_ok());
    }
}
