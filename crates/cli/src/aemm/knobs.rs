//! AEMM's settings, read as AEMM reads them: a flag, else the `AEMM_…` environment variable,
//! else the JSON config file (`--config-file`, else `AEMM_CONFIG_FILE`, else
//! `$HOME/aemm-config.json` when it exists), else AEMM's default (spec events.md §8;
//! aws/amazon-ec2-metadata-mock v1.13 pkg/config/config.go: viper with the prefix `aemm` and
//! `.`/`-` as `_`; pkg/cmd/root, spot, events: the keys, flags and defaults).
//!
//! Every key has one name, the config file's (`spot.action`: the section, a dot, the key);
//! its variable is `AEMM_SPOT_ACTION`. Each source gives strings, merged by precedence, then
//! parsed once into [`Knobs`] with AEMM's constraints (the actions, event codes and states it
//! allows, RFC 3339 times).

use model::events::{EventCode, InterruptionBehavior};
use serde_json::Value;
use std::collections::BTreeMap;

/// Keys AEMM has that imds accepts and does not act on, each with why. The sections
/// `metadata`, `dynamic` and `userdata` (AEMM's fixed answers) are among them: an instance
/// here answers its own metadata.
pub const NOT_MODELLED: &[(&str, &str)] = &[
    (
        "mock-ip-count",
        "every instance here has its own metadata endpoint, so there is no count of callers to limit",
    ),
    ("save-config-to-file", "imds does not write AEMM's config file"),
    ("watch-config-file", "imds reads the config file once, at start"),
    (
        "metadata",
        "an instance here answers its own metadata (ids, addresses, tags), not fixed values",
    ),
    (
        "dynamic",
        "the identity document is the instance's own, signed by this server's key",
    ),
    ("userdata", "user data is the instance's own (RunInstances' UserData)"),
];

/// Which of AEMM's commands: the root one mocks everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    All,
    Spot,
    Events,
    AsgLifecycle,
}

impl Mode {
    pub fn spot(self) -> bool {
        matches!(self, Mode::All | Mode::Spot)
    }
    pub fn events(self) -> bool {
        matches!(self, Mode::All | Mode::Events)
    }
    pub fn asg(self) -> bool {
        matches!(self, Mode::All | Mode::AsgLifecycle)
    }
}

/// The state AEMM's `events.state` gives the scheduled event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStateKnob {
    Active,
    Completed,
    Canceled,
}

/// AEMM's settings, parsed; times in milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Knobs {
    pub mode: Mode,
    pub hostname: String,
    pub port: u16,
    pub imdsv2: bool,
    pub mock_delay_sec: i64,
    pub mock_trigger_ms: Option<i64>,
    pub rebalance_delay_sec: i64,
    pub rebalance_trigger_ms: Option<i64>,
    pub asg_termination_delay_sec: i64,
    pub asg_termination_trigger_ms: Option<i64>,
    pub spot_action: InterruptionBehavior,
    pub spot_time_ms: Option<i64>,
    pub spot_rebalance_rec_ms: Option<i64>,
    pub event_code: EventCode,
    pub event_state: EventStateKnob,
    pub event_not_before_ms: Option<i64>,
    pub event_not_after_ms: Option<i64>,
    pub event_deadline_ms: Option<i64>,
    /// What was given that imds does not act on: the key and why.
    pub ignored: Vec<(String, &'static str)>,
}

/// The address imds's default is: loopback, where AEMM's is `0.0.0.0` (imds serves every
/// instance's metadata on loopback unless told otherwise; `-n 0.0.0.0` is AEMM's).
pub const DEFAULT_HOSTNAME: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 1338;

/// The variable AEMM reads for `key`.
pub fn env_name(key: &str) -> String {
    format!("AEMM_{}", key.replace(['.', '-'], "_").to_ascii_uppercase())
}

/// The config file's settings as `key` → string: sections flattened with a dot, numbers and
/// booleans as their text. Sections imds does not act on are kept whole under their name.
pub fn file_values(text: &str) -> Result<BTreeMap<String, String>, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("the config file is not JSON: {e}"))?;
    let Value::Object(top) = doc else {
        return Err("the config file is not a JSON object".into());
    };
    let mut out = BTreeMap::new();
    for (k, v) in top {
        match v {
            Value::Object(section) if matches!(k.as_str(), "server" | "spot" | "events") => {
                for (sk, sv) in section {
                    out.insert(format!("{k}.{sk}"), scalar(&sv));
                }
            }
            other => {
                out.insert(k, scalar(&other));
            }
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Merge the sources (a flag over its variable over the file), then parse.
pub fn resolve(
    mode: Mode,
    flags: &BTreeMap<String, String>,
    env: impl Fn(&str) -> Option<String>,
    file: &BTreeMap<String, String>,
) -> Result<Knobs, String> {
    let get = |key: &str| -> Option<String> {
        flags
            .get(key)
            .cloned()
            .or_else(|| env(&env_name(key)))
            .or_else(|| file.get(key).cloned())
    };
    let mut errors = Vec::new();
    let mut int = |key: &str, default: i64| match get(key).filter(|v| !v.is_empty()) {
        None => default,
        Some(v) => v.trim().parse().unwrap_or_else(|_| {
            errors.push(format!("{key}: '{v}' is not a whole number"));
            default
        }),
    };
    let mock_delay_sec = int("mock-delay-sec", 0);
    let rebalance_delay_sec = int("rebalance-delay-sec", 0);
    let asg_termination_delay_sec = int("asg-termination-delay-sec", 0);
    let port_value = int("server.port", DEFAULT_PORT as i64);
    let port = u16::try_from(port_value).unwrap_or_else(|_| {
        errors.push(format!("server.port: {port_value} is not a port"));
        DEFAULT_PORT
    });
    let mut time = |key: &str| match get(key).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match rfc3339(&v) {
            Some(ms) => Some(ms),
            None => {
                errors.push(format!(
                    "{key}: '{v}' is not an RFC 3339 time (e.g. 2020-01-07T01:03:47Z)"
                ));
                None
            }
        },
    };
    let mock_trigger_ms = time("mock-trigger-time");
    let rebalance_trigger_ms = time("rebalance-trigger-time");
    let asg_termination_trigger_ms = time("asg-termination-trigger-time");
    let spot_time_ms = time("spot.time");
    let spot_rebalance_rec_ms = time("spot.rebalance-rec-time");
    let event_not_before_ms = time("events.not-before");
    let event_not_after_ms = time("events.not-after");
    let event_deadline_ms = time("events.not-before-deadline");
    let action = get("spot.action")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "terminate".into());
    let spot_action = InterruptionBehavior::parse(&action).unwrap_or_else(|_| {
        errors.push(format!(
            "spot.action: '{action}' is not one of terminate,hibernate,stop"
        ));
        InterruptionBehavior::Terminate
    });
    let code = get("events.code")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "system-reboot".into());
    let event_code = EventCode::parse(&code).unwrap_or_else(|| {
        errors.push(format!(
            "events.code: '{code}' is not one of instance-reboot,system-reboot,system-maintenance,instance-retirement,instance-stop"
        ));
        EventCode::SystemReboot
    });
    let state = get("events.state")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "active".into());
    let event_state = match state.as_str() {
        "active" => EventStateKnob::Active,
        "completed" => EventStateKnob::Completed,
        "canceled" => EventStateKnob::Canceled,
        _ => {
            errors.push(format!(
                "events.state: '{state}' is not one of active,completed,canceled"
            ));
            EventStateKnob::Active
        }
    };
    // viper's GetBool (spf13/cast ToBool): strconv.ParseBool's words; empty is false.
    let imdsv2 = match get("imdsv2").unwrap_or_default().as_str() {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
        "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
        other => {
            errors.push(format!("imdsv2: '{other}' is not true or false"));
            false
        }
    };
    let hostname = get("server.hostname")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_HOSTNAME.into());
    let mut ignored = Vec::new();
    for (key, why) in NOT_MODELLED {
        // `file_values` keeps the sections imds does not act on whole, under their name.
        let given =
            flags.contains_key(*key) || env(&env_name(key)).is_some() || file.contains_key(*key);
        if given {
            ignored.push((key.to_string(), *why));
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    Ok(Knobs {
        mode,
        hostname,
        port,
        imdsv2,
        mock_delay_sec,
        mock_trigger_ms,
        rebalance_delay_sec,
        rebalance_trigger_ms,
        asg_termination_delay_sec,
        asg_termination_trigger_ms,
        spot_action,
        spot_time_ms,
        spot_rebalance_rec_ms,
        event_code,
        event_state,
        event_not_before_ms,
        event_not_after_ms,
        event_deadline_ms,
        ignored,
    })
}

fn rfc3339(value: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(value, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_are_aemm_and_the_key_with_dots_and_dashes_as_underscores() {
        // pkg/config/config.go: SetEnvPrefix("aemm"), NewReplacer("-", "_", ".", "_").
        assert_eq!(env_name("spot.action"), "AEMM_SPOT_ACTION");
        assert_eq!(env_name("mock-delay-sec"), "AEMM_MOCK_DELAY_SEC");
        assert_eq!(
            env_name("events.not-before-deadline"),
            "AEMM_EVENTS_NOT_BEFORE_DEADLINE"
        );
        assert_eq!(env_name("server.port"), "AEMM_SERVER_PORT");
    }

    #[test]
    fn a_flag_wins_over_its_variable_which_wins_over_the_file() {
        let file = map(&[
            ("spot.action", "hibernate"),
            ("mock-delay-sec", "30"),
            ("imdsv2", "true"),
        ]);
        let env = |name: &str| (name == "AEMM_SPOT_ACTION").then(|| "stop".to_string());
        let k = resolve(Mode::Spot, &BTreeMap::new(), env, &file).unwrap();
        assert_eq!(
            (k.spot_action.as_str(), k.mock_delay_sec, k.imdsv2),
            ("stop", 30, true)
        );
        let flags = map(&[("spot.action", "terminate")]);
        let k = resolve(Mode::Spot, &flags, env, &file).unwrap();
        assert_eq!(k.spot_action.as_str(), "terminate");
    }

    #[test]
    fn the_defaults_are_aemms_but_the_address_is_loopback() {
        let k = resolve(Mode::All, &BTreeMap::new(), |_| None, &BTreeMap::new()).unwrap();
        assert_eq!(k.spot_action.as_str(), "terminate");
        assert_eq!(k.event_code, EventCode::SystemReboot);
        assert_eq!(k.event_state, EventStateKnob::Active);
        assert_eq!((k.mock_delay_sec, k.imdsv2, k.port), (0, false, 1338));
        assert_eq!(k.hostname, "127.0.0.1");
        assert!(k.ignored.is_empty());
    }

    #[test]
    fn aemms_constraints_refuse_every_bad_value_at_once() {
        let flags = map(&[
            ("spot.action", "reboot"),
            ("events.code", "instance-explode"),
            ("events.state", "pending"),
            ("spot.time", "tomorrow"),
            ("mock-delay-sec", "ten"),
            ("server.port", "70000"),
        ]);
        let e = resolve(Mode::All, &flags, |_| None, &BTreeMap::new()).unwrap_err();
        for key in [
            "spot.action",
            "events.code",
            "events.state",
            "spot.time",
            "mock-delay-sec",
            "server.port",
        ] {
            assert!(e.contains(key), "{key} missing from {e}");
        }
    }

    #[test]
    fn the_file_flattens_its_sections_and_keeps_what_imds_does_not_model() {
        let file = file_values(
            r#"{"imdsv2": true, "mock-delay-sec": 5, "spot": {"action": "stop"},
                "events": {"code": "instance-stop", "not-before": "2030-01-02T03:04:05Z"},
                "mock-ip-count": 3, "metadata": {"values": {"instance-id": "i-1"}}}"#,
        )
        .unwrap();
        let k = resolve(Mode::All, &BTreeMap::new(), |_| None, &file).unwrap();
        assert!(k.imdsv2);
        assert_eq!((k.mock_delay_sec, k.spot_action.as_str()), (5, "stop"));
        assert_eq!(k.event_code, EventCode::InstanceStop);
        assert_eq!(k.event_not_before_ms, Some(1_893_553_445_000));
        let ignored: Vec<_> = k.ignored.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(ignored, ["mock-ip-count", "metadata"]);
        assert!(file_values("[1]").is_err() && file_values("{").is_err());
    }
}
