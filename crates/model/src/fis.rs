//! AWS Fault Injection Service's rules, as far as imds serves FIS: experiment templates whose
//! one action is `aws:ec2:send-spot-instance-interruptions`, and the experiments started from
//! them (spec events.md §7; sources are the spec's `[Sn]`, UNCONFIRMED where none says).
//!
//! Pure, like the rest of the crate: the caller passes the clock (`now_ms`) and random bits
//! (ids, the random picks of `COUNT(n)` and `PERCENT(n)`). Here: what a template may hold and
//! how it is checked ([`TemplateSpec::validate`]), ids ([`template_id`], [`experiment_id`]),
//! selection modes ([`SelectionMode`]), ISO 8601 durations ([`parse_duration_ms`]), the filter
//! paths a target may name ([`filter_name`]), when each action of an experiment runs
//! ([`plan`]), and an experiment's status, derived from its recorded times and `now` rather
//! than kept up to date by a background task ([`Experiment::view`]).
//!
//! The records are the JSON documents the store keeps (camelCase, the wire's member names),
//! so that the API renders them with only ids, ARNs and times added.

use crate::events::Interruption;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The one action imds runs [S10].
pub const SPOT_ACTION: &str = "aws:ec2:send-spot-instance-interruptions";
/// The resource type of that action's targets [S10].
pub const SPOT_RESOURCE_TYPE: &str = "aws:ec2:spot-instance";
/// The key of that action's `targets` [S10][S14].
pub const SPOT_TARGET_KEY: &str = "SpotInstances";
/// The action's one parameter [S10].
pub const DURATION_PARAMETER: &str = "durationBeforeInterruption";
/// `durationBeforeInterruption` when omitted: PT2M (UNCONFIRMED, spec §7.6).
pub const DEFAULT_DURATION_MS: i64 = 120_000;
/// The parameter's range: 2 to 15 minutes [S10].
pub const MIN_DURATION_MS: i64 = 120_000;
pub const MAX_DURATION_MS: i64 = 900_000;
/// `resourceArns` holds at most 5 ARNs (the model's `ResourceArnList`) [S9].
pub const MAX_RESOURCE_ARNS: usize = 5;
/// A tag map holds at most 50 tags, keys of at most 128 characters, values of 256 [S9].
pub const MAX_TAGS: usize = 50;

/// Why FIS refuses a request: a `ValidationException`'s message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid<T>(message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(message.into()))
}

// ------------------------------------------------------------------------------------ ids

const ALPHANUMERICS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn alphanumerics(prefix: &str, random: u128, n: usize) -> String {
    let mut r = random;
    let mut id = String::from(prefix);
    for _ in 0..n {
        id.push(ALPHANUMERICS[(r % 62) as usize] as char);
        r /= 62;
    }
    id
}

/// A template id: `EXT` and 14 case-sensitive alphanumerics from `random` (observed ids such
/// as `EXT6oWVA1WrLNy4XS` [S14][S20]; the length is UNCONFIRMED, spec §7.3).
pub fn template_id(random: u128) -> String {
    alphanumerics("EXT", random, 14)
}

/// An experiment id: `EXP` and 15 alphanumerics (`EXPBCcSv1NvRNTek58` [S20]; the length is
/// UNCONFIRMED).
pub fn experiment_id(random: u128) -> String {
    alphanumerics("EXP", random, 15)
}

fn has_shape(s: &str, prefix: &str, n: usize) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == n && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether `s` has the shape of an id [`template_id`] makes.
pub fn is_template_id(s: &str) -> bool {
    has_shape(s, "EXT", 14)
}

/// Whether `s` has the shape of an id [`experiment_id`] makes.
pub fn is_experiment_id(s: &str) -> bool {
    has_shape(s, "EXP", 15)
}

// ---------------------------------------------------------------------- selection modes

/// A target's `selectionMode` [S9][S11]: every resource found, `n` of them at random, or
/// `n` percent of them at random.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionMode {
    All,
    Count(u32),
    Percent(u32),
}

impl SelectionMode {
    /// `ALL`, `COUNT(n)` with n ≥ 1, `PERCENT(n)` with 1 ≤ n ≤ 100 (the bounds are
    /// UNCONFIRMED, and so is which call refuses the rest: imds refuses them at Create,
    /// spec §7.5).
    pub fn parse(s: &str) -> Result<SelectionMode, Invalid> {
        let number = |inner: &str| -> Option<u32> {
            (!inner.is_empty() && inner.len() <= 9 && inner.bytes().all(|b| b.is_ascii_digit()))
                .then(|| inner.parse().ok())
                .flatten()
        };
        let arg = |name: &str| {
            s.strip_prefix(name)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
                .and_then(number)
        };
        let mode = if s == "ALL" {
            Some(SelectionMode::All)
        } else if let Some(n) = arg("COUNT") {
            (n >= 1).then_some(SelectionMode::Count(n))
        } else if let Some(n) = arg("PERCENT") {
            (1..=100).contains(&n).then_some(SelectionMode::Percent(n))
        } else {
            None
        };
        mode.ok_or_else(|| {
            Invalid(format!(
                "Selection mode {s} is not valid: use ALL, COUNT(n) with n at least 1, or PERCENT(n) with n from 1 to 100."
            ))
        })
    }

    /// How many of `found` resources the mode takes: all, `n` (at most all), or `n` percent
    /// rounded up (UNCONFIRMED rounding; at least one when any are found).
    pub fn how_many(self, found: usize) -> usize {
        match self {
            SelectionMode::All => found,
            SelectionMode::Count(n) => found.min(n as usize),
            SelectionMode::Percent(p) => (found * p as usize).div_ceil(100),
        }
    }

    /// The indices (ascending) of the resources taken among `found`, the random ones picked
    /// with `seed` (the caller's random bits).
    pub fn pick(self, found: usize, seed: u64) -> Vec<usize> {
        let k = self.how_many(found);
        let mut all: Vec<usize> = (0..found).collect();
        if k < found {
            // A partial Fisher–Yates shuffle driven by splitmix64.
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            };
            for i in 0..k {
                let j = i + (next() % (found - i) as u64) as usize;
                all.swap(i, j);
            }
            all.truncate(k);
            all.sort_unstable();
        }
        all
    }
}

// ---------------------------------------------------------------------------- durations

/// An ISO 8601 duration (`PT2M`, `PT120S`, `PT1M30S`, `P1DT2H`, `PT0.5S`) in milliseconds:
/// days, hours, minutes and seconds (fractions of seconds only), at least one of them.
/// Years, months and weeks are refused: their length is not fixed.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total: i64 = 0;
    let mut parts = 0;
    let mut take = |text: &str, units: &[(char, i64)]| -> Option<()> {
        let mut number = String::new();
        let mut unit_at = 0;
        for c in text.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let k = units.iter().skip(unit_at).position(|(u, _)| *u == c)? + unit_at;
            let ms_per = units[k].1;
            unit_at = k + 1;
            if number.is_empty() || number.len() > 12 {
                return None;
            }
            let ms = match number.split_once('.') {
                // Fractions only for seconds.
                Some((whole, frac)) if c == 'S' && !whole.is_empty() && !frac.is_empty() => {
                    let w: i64 = whole.parse().ok()?;
                    let f3: String = frac.chars().chain("000".chars()).take(3).collect();
                    if !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    w.checked_mul(1000)?.checked_add(f3.parse::<i64>().ok()?)?
                }
                Some(_) => return None,
                None => number.parse::<i64>().ok()?.checked_mul(ms_per)?,
            };
            total = total.checked_add(ms)?;
            parts += 1;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    take(date, &[('D', 86_400_000)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 3_600_000), ('M', 60_000), ('S', 1000)])?;
    }
    (parts > 0).then_some(total)
}

/// `durationBeforeInterruption` of a spot action's parameters, in milliseconds: 2 to 15
/// minutes [S10], PT2M when omitted (UNCONFIRMED). Outside the range, or not a duration:
/// `ValidationException` (UNCONFIRMED wording, and that Create is the call that refuses it,
/// spec §7.6, case 37).
pub fn duration_before_interruption(
    parameters: Option<&BTreeMap<String, String>>,
) -> Result<i64, Invalid> {
    let Some(text) = parameters.and_then(|p| p.get(DURATION_PARAMETER)) else {
        return Ok(DEFAULT_DURATION_MS);
    };
    match parse_duration_ms(text) {
        Some(ms) if (MIN_DURATION_MS..=MAX_DURATION_MS).contains(&ms) => Ok(ms),
        Some(_) => invalid(format!(
            "The value {text} of parameter {DURATION_PARAMETER} is out of range: it must be from PT2M to PT15M."
        )),
        None => invalid(format!(
            "The value {text} of parameter {DURATION_PARAMETER} is not an ISO 8601 duration (such as PT2M)."
        )),
    }
}

// ------------------------------------------------------------------------------ filters

/// The DescribeInstances filter a target filter's `path` stands for: the output paths of
/// DescribeInstances FIS documents for EC2 targets [S11][S20]. `None`: a path imds does not
/// resolve, refused at Create (UNCONFIRMED that FIS refuses it then).
pub fn filter_name(path: &str) -> Option<&'static str> {
    Some(match path {
        "State.Name" => "instance-state-name",
        "Placement.AvailabilityZone" => "availability-zone",
        "SubnetId" => "subnet-id",
        "InstanceId" => "instance-id",
        "VpcId" => "vpc-id",
        "InstanceType" => "instance-type",
        "InstanceLifecycle" => INSTANCE_LIFECYCLE,
        _ => return None,
    })
}

/// The DescribeInstances filter `InstanceLifecycle` stands for.
pub const INSTANCE_LIFECYCLE: &str = "instance-lifecycle";

/// An instance's `instanceLifecycle` as DescribeInstances shows it: `spot` for a Spot
/// instance, none for on-demand [S8].
pub fn instance_lifecycle(i: &crate::Instance) -> Option<&'static str> {
    i.market.as_ref().map(|_| "spot")
}

/// Whether `i` passes an `instance-lifecycle` filter with `values` (EC2's wildcards).
pub fn lifecycle_matches(i: &crate::Instance, values: &[String]) -> bool {
    instance_lifecycle(i).is_some_and(|l| values.iter().any(|v| crate::filter::matches(v, l)))
}

/// The instance id of an EC2 instance ARN in `region` and `account`
/// (`arn:aws:ec2:<region>:<account>:instance/<id>` [S13][S14]); `None` for any other.
pub fn instance_of_arn(arn: &str, region: &str, account: &str) -> Option<String> {
    let a = crate::Arn::parse(arn).ok()?;
    let id = a.resource.strip_prefix("instance/")?;
    (a.partition == crate::arn::PARTITION
        && a.service == "ec2"
        && a.region == region
        && a.account == account
        && !id.is_empty())
    .then(|| id.to_string())
}

// ------------------------------------------------------------------------------ records

/// A stop condition: `none`, or a CloudWatch alarm by ARN (imds evaluates no alarm: an
/// experiment is never stopped by one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopCondition {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetFilter {
    pub path: String,
    pub values: Vec<String>,
}

/// A template's target [S9].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<TargetFilter>>,
    pub selection_mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
}

/// A template's action [S9].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub action_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<Vec<String>>,
}

/// `experimentOptions` of a template (`accountTargeting`, `emptyTargetResolutionMode`) and of
/// an experiment (those and `actionsMode`) [S9].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_targeting: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_target_resolution_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_mode: Option<String>,
}

impl ExperimentOptions {
    /// With FIS's defaults filled in: one account, `fail` on an empty target (UNCONFIRMED
    /// that AWS shows them when not given).
    pub fn with_defaults(mut self) -> ExperimentOptions {
        self.account_targeting
            .get_or_insert_with(|| "single-account".into());
        self.empty_target_resolution_mode
            .get_or_insert_with(|| "fail".into());
        self
    }

    /// Whether an empty target skips the actions instead of failing the experiment.
    pub fn skips_empty_targets(&self) -> bool {
        self.empty_target_resolution_mode.as_deref() == Some("skip")
    }

    /// Whether `actionsMode=skip-all` (every action `skipped`) [S9].
    pub fn skips_all_actions(&self) -> bool {
        self.actions_mode.as_deref() == Some("skip-all")
    }
}

/// What a template holds besides its id and times: the checked body of
/// CreateExperimentTemplate (and of UpdateExperimentTemplate applied to a template).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSpec {
    pub description: String,
    #[serde(default)]
    pub targets: BTreeMap<String, Target>,
    pub actions: BTreeMap<String, Action>,
    pub stop_conditions: Vec<StopCondition>,
    pub role_arn: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<Value>,
    #[serde(default)]
    pub experiment_options: ExperimentOptions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_report_configuration: Option<Value>,
}

/// A template as kept: its spec, id and times (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    pub creation_ms: i64,
    pub last_update_ms: i64,
    #[serde(flatten)]
    pub spec: TemplateSpec,
}

fn check_length(what: &str, s: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = s.chars().count();
    if n < min || n > max {
        return invalid(format!(
            "1 validation error detected: Value at '{what}' failed to satisfy constraint: Member must have length between {min} and {max}"
        ));
    }
    Ok(())
}

fn check_name(what: &str, name: &str) -> Result<(), Invalid> {
    check_length(what, name, 1, 64)?;
    if name.chars().any(char::is_whitespace) {
        return invalid(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\S]+"
        ));
    }
    Ok(())
}

/// Tags as FIS takes them: at most 50, keys of 1 to 128 characters, values of at most 256
/// [S9] (the wording is UNCONFIRMED).
pub fn check_tags(what: &str, tags: &BTreeMap<String, String>) -> Result<(), Invalid> {
    if tags.len() > MAX_TAGS {
        return invalid(format!(
            "1 validation error detected: Value at '{what}' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
        ));
    }
    for (k, v) in tags {
        check_length(&format!("{what}.key"), k, 1, 128)?;
        check_length(&format!("{what}.value"), v, 0, 256)?;
    }
    Ok(())
}

impl TemplateSpec {
    /// FIS's checks of a template at Create (and Update) [S9][S10], as far as imds serves
    /// FIS: lengths from the model, the spot action only, its target and duration, ARNs XOR
    /// tags on a target, at most 5 ARNs, known selection modes and filter paths, startAfter
    /// naming other actions without a cycle. Message texts are UNCONFIRMED.
    pub fn validate(&self) -> Result<(), Invalid> {
        check_length("description", &self.description, 1, 512)?;
        check_length("roleArn", &self.role_arn, 20, 2048)?;
        if self.role_arn.chars().any(char::is_whitespace) {
            return invalid("The role ARN must not contain whitespace.");
        }
        for c in &self.stop_conditions {
            match (c.source.as_str(), &c.value) {
                ("none", None) => {}
                ("none", Some(_)) => {
                    return invalid("A stop condition with source none takes no value.")
                }
                ("aws:cloudwatch:alarm", Some(v)) => check_length("stopConditions.value", v, 20, 2048)?,
                ("aws:cloudwatch:alarm", None) => {
                    return invalid("A stop condition with source aws:cloudwatch:alarm needs the alarm's ARN as its value.")
                }
                (other, _) => {
                    return invalid(format!(
                        "Stop condition source {other} is not valid: use none or aws:cloudwatch:alarm."
                    ))
                }
            }
        }
        check_tags("tags", &self.tags)?;
        for (name, t) in &self.targets {
            check_name("targets.key", name)?;
            check_target(name, t)?;
        }
        // UNCONFIRMED that FIS refuses a template without actions.
        if self.actions.is_empty() {
            return invalid("An experiment template needs at least one action.");
        }
        for (name, a) in &self.actions {
            check_name("actions.key", name)?;
            self.check_action(name, a)?;
        }
        if let Some(cycle) = self.actions.keys().find(|n| self.waits_on_itself(n)) {
            return invalid(format!(
                "The startAfter of action {cycle} makes a cycle: an action cannot wait for itself."
            ));
        }
        match self.experiment_options.account_targeting.as_deref() {
            None | Some("single-account") => {}
            Some("multi-account") => {
                return invalid("imds does not support multi-account experiments (accountTargeting multi-account).")
            }
            Some(other) => {
                return invalid(format!(
                    "1 validation error detected: Value '{other}' at 'experimentOptions.accountTargeting' failed to satisfy constraint: Member must satisfy enum value set: [single-account, multi-account]"
                ))
            }
        }
        match self.experiment_options.empty_target_resolution_mode.as_deref() {
            None | Some("fail" | "skip") => {}
            Some(other) => {
                return invalid(format!(
                    "1 validation error detected: Value '{other}' at 'experimentOptions.emptyTargetResolutionMode' failed to satisfy constraint: Member must satisfy enum value set: [fail, skip]"
                ))
            }
        }
        Ok(())
    }

    fn check_action(&self, name: &str, a: &Action) -> Result<(), Invalid> {
        if a.action_id != SPOT_ACTION {
            return invalid(format!(
                "Action {name}: imds does not support the action {}; it runs only {SPOT_ACTION}.",
                a.action_id
            ));
        }
        if let Some(d) = &a.description {
            check_length("actions.description", d, 1, 512)?;
        }
        if let Some(p) = &a.parameters {
            if let Some(other) = p.keys().find(|k| *k != DURATION_PARAMETER) {
                return invalid(format!(
                    "Action {name}: {SPOT_ACTION} has no parameter {other}."
                ));
            }
            if p.values().any(|v| v.chars().count() > 1024) {
                return invalid(format!(
                    "Action {name}: a parameter value is longer than 1024 characters."
                ));
            }
        }
        duration_before_interruption(a.parameters.as_ref())?;
        let targets = a.targets.clone().unwrap_or_default();
        if let Some(other) = targets.keys().find(|k| *k != SPOT_TARGET_KEY) {
            return invalid(format!(
                "Action {name}: {SPOT_ACTION} has no target {other}; its target is {SPOT_TARGET_KEY}."
            ));
        }
        let Some(target) = targets.get(SPOT_TARGET_KEY) else {
            return invalid(format!(
                "Action {name}: {SPOT_ACTION} needs the target {SPOT_TARGET_KEY}."
            ));
        };
        match self.targets.get(target) {
            None => {
                return invalid(format!(
                    "Action {name}: the target {target} is not among the template's targets."
                ))
            }
            // Community report: aws:ec2:instance is refused here (UNCONFIRMED, spec §7.6).
            Some(t) if t.resource_type != SPOT_RESOURCE_TYPE => {
                return invalid(format!(
                    "Action {name}: target {target} has resource type {}; {SPOT_TARGET_KEY} takes {SPOT_RESOURCE_TYPE}.",
                    t.resource_type
                ))
            }
            Some(_) => {}
        }
        for after in a.start_after.iter().flatten() {
            if !self.actions.contains_key(after) {
                return invalid(format!(
                    "Action {name}: startAfter names {after}, which is not an action of the template."
                ));
            }
        }
        Ok(())
    }

    /// Whether following `start` through startAfter comes back to it.
    fn waits_on_itself(&self, start: &str) -> bool {
        let mut todo: Vec<&str> = self.predecessors(start);
        let mut seen: Vec<&str> = Vec::new();
        while let Some(n) = todo.pop() {
            if n == start {
                return true;
            }
            if !seen.contains(&n) {
                seen.push(n);
                todo.extend(self.predecessors(n));
            }
        }
        false
    }

    fn predecessors(&self, name: &str) -> Vec<&str> {
        self.actions
            .get(name)
            .and_then(|a| a.start_after.as_ref())
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

fn check_target(name: &str, t: &Target) -> Result<(), Invalid> {
    if t.resource_type != SPOT_RESOURCE_TYPE {
        return invalid(format!(
            "Target {name}: imds does not support resource type {}; it serves only {SPOT_RESOURCE_TYPE}.",
            t.resource_type
        ));
    }
    SelectionMode::parse(&t.selection_mode)?;
    // ARNs and tags are mutually exclusive, one of them required [S9] (case 35).
    match (&t.resource_arns, &t.resource_tags) {
        (Some(_), Some(_)) => {
            return invalid(format!(
                "Target {name}: resourceArns and resourceTags cannot be used together."
            ))
        }
        (None, None) => {
            return invalid(format!(
                "Target {name}: one of resourceArns and resourceTags is required."
            ))
        }
        (Some(arns), None) => {
            // The model's ResourceArnList: at most 5 (case 36).
            if arns.is_empty() || arns.len() > MAX_RESOURCE_ARNS {
                return invalid(format!(
                    "1 validation error detected: Value at 'targets.{name}.member.resourceArns' failed to satisfy constraint: Member must have length between 1 and {MAX_RESOURCE_ARNS}"
                ));
            }
            for arn in arns {
                check_length("resourceArns.member", arn, 20, 2048)?;
                let ok = crate::Arn::parse(arn)
                    .is_ok_and(|a| a.service == "ec2" && a.resource.starts_with("instance/"));
                if !ok {
                    return invalid(format!(
                        "Target {name}: {arn} is not the ARN of an EC2 instance."
                    ));
                }
            }
        }
        (None, Some(tags)) => {
            if tags.is_empty() {
                return invalid(format!("Target {name}: resourceTags is empty."));
            }
            check_tags("resourceTags", tags)?;
        }
    }
    for f in t.filters.iter().flatten() {
        if filter_name(&f.path).is_none() {
            return invalid(format!(
                "Target {name}: imds does not resolve the filter path {}; it resolves State.Name, Placement.AvailabilityZone, SubnetId, InstanceId, VpcId, InstanceType and InstanceLifecycle.",
                f.path
            ));
        }
        if f.values.is_empty() {
            return invalid(format!(
                "Target {name}: the filter {} has no values.",
                f.path
            ));
        }
    }
    if t.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        return invalid(format!(
            "Target {name}: {SPOT_RESOURCE_TYPE} takes no target parameters."
        ));
    }
    Ok(())
}

// -------------------------------------------------------------------------- experiments

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

    fn spot_action(target: &str, duration: Option<&str>) -> Action {
        Action {
            action_id: SPOT_ACTION.into(),
            description: None,
            parameters: duration
                .map(|d| BTreeMap::from([(DURATION_PARAMETER.to_string(), d.to_string())])),
            targets: Some(BTreeMap::from([(
                SPOT_TARGET_KEY.to_string(),
                target.to_string(),
            )])),
            start_after: None,
        }
    }

    fn arns(n: usize) -> Vec<String> {
        (0..n)
            .map(|k| format!("arn:aws:ec2:us-west-2:123456789012:instance/i-{k:017x}"))
            .collect()
    }

    fn spec() -> TemplateSpec {
        TemplateSpec {
            description: "interrupt".into(),
            targets: BTreeMap::from([(
                "spot".to_string(),
                Target {
                    resource_type: SPOT_RESOURCE_TYPE.into(),
                    resource_arns: Some(arns(1)),
                    resource_tags: None,
                    filters: None,
                    selection_mode: "ALL".into(),
                    parameters: None,
                },
            )]),
            actions: BTreeMap::from([("interrupt".to_string(), spot_action("spot", Some("PT2M")))]),
            stop_conditions: vec![StopCondition {
                source: "none".into(),
                value: None,
            }],
            role_arn: "arn:aws:iam::123456789012:role/fis".into(),
            tags: BTreeMap::new(),
            log_configuration: None,
            experiment_options: ExperimentOptions::default(),
            experiment_report_configuration: None,
        }
    }

    #[test]
    fn ids_have_their_prefix_and_length() {
        for r in [0u128, 1, u128::MAX, 0xdead_beef_cafe] {
            let t = template_id(r);
            let e = experiment_id(r);
            assert_eq!((t.len(), e.len()), (17, 18));
            assert!(is_template_id(&t) && is_experiment_id(&e), "{t} {e}");
        }
        assert_ne!(template_id(1), template_id(2));
        assert!(!is_template_id("EXTdoesnotexist1"));
        assert!(!is_experiment_id("EXT6oWVA1WrLNy4XS"));
        assert!(is_template_id("EXT6oWVA1WrLNy4XS"));
        assert!(is_experiment_id("EXPBCcSv1NvRNTek58"));
    }

    #[test]
    fn selection_modes() {
        assert_eq!(SelectionMode::parse("ALL"), Ok(SelectionMode::All));
        assert_eq!(
            SelectionMode::parse("COUNT(3)"),
            Ok(SelectionMode::Count(3))
        );
        assert_eq!(
            SelectionMode::parse("PERCENT(25)"),
            Ok(SelectionMode::Percent(25))
        );
        for bad in [
            "all",
            "COUNT(0)",
            "COUNT()",
            "COUNT(-1)",
            "COUNT(1",
            "PERCENT(101)",
            "PERCENT(0)",
            "SOME",
            "",
            "COUNT(99999999999)",
            "COUNT( 1)",
        ] {
            assert!(SelectionMode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn picks_are_random_subsets_of_the_right_size() {
        assert_eq!(SelectionMode::All.pick(3, 7), vec![0, 1, 2]);
        assert_eq!(SelectionMode::Count(5).pick(3, 7), vec![0, 1, 2]);
        let p = SelectionMode::Count(2).pick(10, 7);
        assert_eq!(p.len(), 2);
        assert!(p[0] < p[1] && p[1] < 10);
        assert_eq!(SelectionMode::Percent(50).pick(5, 1).len(), 3);
        assert_eq!(SelectionMode::Percent(1).pick(5, 1).len(), 1);
        assert!(SelectionMode::Percent(10).pick(0, 1).is_empty());
        let distinct: std::collections::BTreeSet<Vec<usize>> = (0..50)
            .map(|seed| SelectionMode::Count(1).pick(10, seed))
            .collect();
        assert!(distinct.len() > 3, "the seed picks different instances");
    }

    #[test]
    fn iso_durations() {
        let d = parse_duration_ms;
        assert_eq!(d("PT2M"), Some(120_000));
        assert_eq!(d("PT120S"), Some(120_000));
        assert_eq!(d("PT15M"), Some(900_000));
        assert_eq!(d("PT1M30S"), Some(90_000));
        assert_eq!(d("PT1H"), Some(3_600_000));
        assert_eq!(d("P1D"), Some(86_400_000));
        assert_eq!(d("P1DT1S"), Some(86_401_000));
        assert_eq!(d("PT0.5S"), Some(500));
        assert_eq!(d("PT2.25S"), Some(2250));
        for bad in [
            "",
            "P",
            "PT",
            "2M",
            "PT2",
            "PTM",
            "PT2X",
            "P1M",
            "P1Y",
            "PT1S2M",
            "PT2M2M",
            "PT1.5M",
            "PT.5S",
            "PT5.S",
            "PT99999999999999999M",
            "pt2m",
            "PT-2M",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    /// Case 37: PT1M and PT16M are outside 2..15 minutes.
    #[test]
    fn durations_before_interruption() {
        let p = |v: &str| BTreeMap::from([(DURATION_PARAMETER.to_string(), v.to_string())]);
        assert_eq!(duration_before_interruption(None), Ok(120_000));
        assert_eq!(duration_before_interruption(Some(&p("PT4M"))), Ok(240_000));
        assert_eq!(
            duration_before_interruption(Some(&p("PT120S"))),
            Ok(120_000)
        );
        assert!(duration_before_interruption(Some(&p("PT1M"))).is_err());
        assert!(duration_before_interruption(Some(&p("PT16M"))).is_err());
        assert!(duration_before_interruption(Some(&p("two minutes"))).is_err());
    }

    #[test]
    fn a_spot_template_is_valid() {
        assert_eq!(spec().validate(), Ok(()));
    }

    /// Cases 35 and 36, and the other target rules.
    #[test]
    fn targets_take_arns_or_tags() {
        let with = |f: &dyn Fn(&mut Target)| {
            let mut s = spec();
            f(s.targets.get_mut("spot").unwrap());
            s.validate()
        };
        assert!(
            with(&|t| t.resource_tags = Some(BTreeMap::from([("k".into(), "v".into())])))
                .unwrap_err()
                .0
                .contains("cannot be used together")
        );
        assert!(with(&|t| t.resource_arns = Some(arns(6))).is_err());
        assert!(with(&|t| t.resource_arns = Some(arns(5))).is_ok());
        assert!(with(&|t| t.resource_arns = None).is_err());
        assert!(with(&|t| {
            t.resource_arns = None;
            t.resource_tags = Some(BTreeMap::from([("k".into(), "v".into())]));
        })
        .is_ok());
        assert!(with(&|t| t.selection_mode = "COUNT(0)".into()).is_err());
        assert!(with(&|t| t.resource_type = "aws:ec2:instance".into()).is_err());
        assert!(
            with(&|t| t.resource_arns = Some(vec!["arn:aws:s3:::bucket-name-1".into()])).is_err()
        );
        assert!(with(&|t| {
            t.filters = Some(vec![TargetFilter {
                path: "State.Name".into(),
                values: vec!["running".into()],
            }])
        })
        .is_ok());
        assert!(with(&|t| {
            t.filters = Some(vec![TargetFilter {
                path: "Tags.Owner".into(),
                values: vec!["me".into()],
            }])
        })
        .is_err());
    }

    #[test]
    fn actions_are_the_spot_action_on_a_spot_target() {
        let with = |f: &dyn Fn(&mut TemplateSpec)| {
            let mut s = spec();
            f(&mut s);
            s.validate()
        };
        let e = with(&|s| {
            s.actions.get_mut("interrupt").unwrap().action_id = "aws:ec2:stop-instances".into()
        })
        .unwrap_err();
        assert!(e.0.contains("imds does not support"), "{e}");
        assert!(with(&|s| s.actions.clear()).is_err());
        assert!(with(&|s| {
            s.actions
                .insert("interrupt".into(), spot_action("nowhere", None));
        })
        .is_err());
        assert!(with(&|s| {
            s.actions
                .insert("interrupt".into(), spot_action("spot", Some("PT16M")));
        })
        .is_err());
        assert!(with(&|s| {
            s.actions.get_mut("interrupt").unwrap().targets = None;
        })
        .is_err());
        assert!(with(&|s| {
            let a = s.actions.get_mut("interrupt").unwrap();
            a.parameters = Some(BTreeMap::from([("other".into(), "1".into())]));
        })
        .is_err());
        // startAfter: known actions, no cycle.
        assert!(with(&|s| {
            let mut b = spot_action("spot", None);
            b.start_after = Some(vec!["interrupt".into()]);
            s.actions.insert("later".into(), b);
        })
        .is_ok());
        assert!(with(&|s| {
            let mut b = spot_action("spot", None);
            b.start_after = Some(vec!["later".into()]);
            s.actions.insert("later".into(), b);
        })
        .is_err());
        assert!(with(&|s| {
            s.actions.get_mut("interrupt").unwrap().start_after = Some(vec!["ghost".into()]);
        })
        .is_err());
    }

    #[test]
    fn template_lengths_and_options() {
        let with = |f: &dyn Fn(&mut TemplateSpec)| {
            let mut s = spec();
            f(&mut s);
            s.validate()
        };
        assert!(with(&|s| s.description = "x".repeat(513)).is_err());
        assert!(with(&|s| s.description = "x".repeat(512)).is_ok());
        assert!(with(&|s| s.role_arn = "arn:aws:iam::1:r".into()).is_err());
        assert!(with(&|s| s.stop_conditions[0].source = "aws:other".into()).is_err());
        assert!(
            with(&|s| s.experiment_options.account_targeting = Some("multi-account".into()))
                .is_err()
        );
        assert!(
            with(&|s| s.experiment_options.empty_target_resolution_mode = Some("skip".into()))
                .is_ok()
        );
        assert!(with(&|s| {
            s.tags = (0..51)
                .map(|k| (format!("k{k}"), "v".to_string()))
                .collect();
        })
        .is_err());
        assert!(
            with(&|s| s.targets = BTreeMap::from([("a b".into(), s.targets["spot"].clone())]))
                .is_err()
        );
    }

    #[test]
    fn filter_paths_are_describe_instances_filters() {
        assert_eq!(filter_name("State.Name"), Some("instance-state-name"));
        assert_eq!(
            filter_name("Placement.AvailabilityZone"),
            Some("availability-zone")
        );
        assert_eq!(filter_name("InstanceLifecycle"), Some(INSTANCE_LIFECYCLE));
        assert_eq!(filter_name("State.Code"), None);
        assert_eq!(
            instance_of_arn(
                "arn:aws:ec2:us-west-2:123456789012:instance/i-0123",
                "us-west-2",
                "123456789012"
            ),
            Some("i-0123".into())
        );
        assert_eq!(
            instance_of_arn(
                "arn:aws:ec2:us-east-1:123456789012:instance/i-0123",
                "us-west-2",
                "123456789012"
            ),
            None
        );
        let mut i = crate::testing::instance("t3.micro");
        assert!(!lifecycle_matches(&i, &["spot".into()]));
        i.market = Some(crate::events::SpotMarket {
            request_id: "sir-12345678".into(),
            request_type: crate::events::SpotRequestType::OneTime,
            behavior: crate::events::InterruptionBehavior::Terminate,
            max_price: None,
            valid_until_ms: None,
        });
        assert!(lifecycle_matches(&i, &["spot".into()]));
        assert!(lifecycle_matches(&i, &["sp*".into()]));
    }

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
