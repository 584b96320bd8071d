//! FIS's checks of a template at CreateExperimentTemplate and UpdateExperimentTemplate
//! ([`TemplateSpec::validate`]): lengths and tag limits from the model, and the rules of the
//! one action imds runs on its spot-instance targets. Kept apart from the records so that
//! their shape and what FIS accepts in them can be read separately.

use super::{
    duration_before_interruption, filter_name, invalid, Action, Invalid, SelectionMode, Target,
    TemplateSpec, DURATION_PARAMETER, SPOT_ACTION, SPOT_RESOURCE_TYPE, SPOT_TARGET_KEY,
};
use std::collections::BTreeMap;

/// `resourceArns` holds at most 5 ARNs (the model's `ResourceArnList`) [S9].
pub const MAX_RESOURCE_ARNS: usize = 5;
/// A tag map holds at most 50 tags, keys of at most 128 characters, values of 256 [S9].
pub const MAX_TAGS: usize = 50;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fis::fixtures::{arns, spec, spot_action};
    use crate::fis::TargetFilter;

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
}
