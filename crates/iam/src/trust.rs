//! Role trust policies: who may assume a role (IAM User Guide, "Role trust policies" and
//! "Policy evaluation logic" for roles in the same account).
//!
//! A trust policy is a resource-based policy: statements name a `Principal` and an
//! `sts:AssumeRole`-family action, and have no `Resource`. A statement that names the caller's
//! own ARN grants on its own; one that names an account (`"111122223333"` or its `:root` ARN)
//! only delegates to that account, whose identity policies must then allow `sts:AssumeRole`.

use crate::condition::{Condition, Context};
use crate::glob;
use crate::policy::{strings, Effect, Matcher};
use model::Arn;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct TrustStatement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `AWS` principals (ARNs, account ids, `*`); `None` with `Principal: "*"`.
    pub aws: Vec<String>,
    /// `Service` principals (`ec2.amazonaws.com`, …).
    pub services: Vec<String>,
    pub everyone: bool,
    pub action: Matcher,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrustPolicy {
    pub statements: Vec<TrustStatement>,
}

/// How a trust policy answers for one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrustAnswer {
    pub explicit_deny: bool,
    /// An Allow names the caller itself (or everyone): no identity policy is needed.
    pub allows_principal: bool,
    /// An Allow names the caller's account: its identity policies must allow too.
    pub allows_account: bool,
}

/// The one caller a trust policy is asked about.
pub struct TrustCaller<'a> {
    pub account: &'a str,
    /// The caller's ARNs: a user's ARN, or a role session's role ARN and session ARN.
    pub arns: &'a [String],
    pub context: &'a Context,
}

fn principal_list(v: &Value, what: &str) -> Result<Vec<String>, String> {
    strings(v, what).map_err(|e| e.0)
}

impl TrustPolicy {
    pub fn parse_str(text: &str) -> Result<TrustPolicy, String> {
        let doc: Value =
            serde_json::from_str(text).map_err(|_| "Syntax errors in policy.".to_string())?;
        let obj = doc
            .as_object()
            .ok_or_else(|| "Syntax errors in policy.".to_string())?;
        let statements: Vec<&Value> = match obj.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v @ Value::Object(_)) => vec![v],
            _ => return Err("Missing required field Statement".into()),
        };
        let mut out = Vec::new();
        for s in statements {
            let st = s.as_object().ok_or("Syntax errors in policy.")?;
            if st.contains_key("Resource") || st.contains_key("NotResource") {
                return Err("Has prohibited field Resource".into());
            }
            let effect = match st.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return Err("Invalid effect".into()),
            };
            let (mut aws, mut services, mut everyone) = (Vec::new(), Vec::new(), false);
            match st.get("Principal") {
                Some(Value::String(s)) if s == "*" => everyone = true,
                Some(Value::Object(m)) => {
                    for (k, v) in m {
                        match k.as_str() {
                            "AWS" => aws.extend(principal_list(v, "Principal")?),
                            "Service" => services.extend(principal_list(v, "Principal")?),
                            "Federated" | "CanonicalUser" => {}
                            other => return Err(format!("Invalid principal type {other}")),
                        }
                    }
                    if aws.iter().any(|a| a == "*") {
                        everyone = true;
                    }
                }
                _ => return Err("Missing required field Principal".into()),
            }
            for a in &aws {
                let ok = a == "*"
                    || (a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
                    || a.starts_with("arn:aws:iam::")
                    || a.starts_with("arn:aws:sts::");
                if !ok {
                    return Err(format!("Invalid principal in policy: \"AWS\":\"{a}\""));
                }
            }
            let action = match (st.get("Action"), st.get("NotAction")) {
                (Some(v), None) => Matcher {
                    negated: false,
                    patterns: principal_list(v, "Action")?,
                },
                (None, Some(v)) => Matcher {
                    negated: true,
                    patterns: principal_list(v, "NotAction")?,
                },
                _ => return Err("Missing required field Action".into()),
            };
            if !action.negated
                && action
                    .patterns
                    .iter()
                    .any(|p| !p.to_ascii_lowercase().starts_with("sts:") && p != "*")
            {
                return Err("AssumeRole policy may only specify STS AssumeRole actions.".into());
            }
            let conditions = match st.get("Condition") {
                None => Vec::new(),
                Some(c) => Condition::parse_block(c).map_err(|e| e.0)?,
            };
            out.push(TrustStatement {
                sid: st.get("Sid").and_then(Value::as_str).map(str::to_string),
                effect,
                aws,
                services,
                everyone,
                action,
                conditions,
            });
        }
        Ok(TrustPolicy { statements: out })
    }

    /// What the policy says about `caller` performing `action` (`sts:AssumeRole`).
    pub fn answer(&self, caller: &TrustCaller<'_>, action: &str) -> TrustAnswer {
        let mut a = TrustAnswer::default();
        let root = Arn::root(caller.account).to_string();
        for st in &self.statements {
            let action_matches = st
                .action
                .patterns
                .iter()
                .any(|p| glob::matches(p, action, true))
                != st.action.negated;
            if !action_matches || !st.conditions.iter().all(|c| c.holds(caller.context)) {
                continue;
            }
            let names_caller = st.everyone
                || st
                    .aws
                    .iter()
                    .any(|p| caller.arns.iter().any(|arn| glob::arn_matches(p, arn)));
            let names_account = st.aws.iter().any(|p| p == caller.account || *p == root);
            match st.effect {
                Effect::Deny if names_caller || names_account => a.explicit_deny = true,
                Effect::Allow if names_caller => a.allows_principal = true,
                Effect::Allow if names_account => a.allows_account = true,
                _ => {}
            }
        }
        a
    }

    /// Whether an AWS service principal (`ec2.amazonaws.com`) may assume the role.
    pub fn trusts_service(&self, service: &str) -> bool {
        let allowed = self.statements.iter().any(|s| {
            s.effect == Effect::Allow && (s.everyone || s.services.iter().any(|x| x == service))
        });
        let denied = self.statements.iter().any(|s| {
            s.effect == Effect::Deny && (s.everyone || s.services.iter().any(|x| x == service))
        });
        allowed && !denied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller<'a>(arns: &'a [String], ctx: &'a Context) -> TrustCaller<'a> {
        TrustCaller {
            account: "111122223333",
            arns,
            context: ctx,
        }
    }

    #[test]
    fn names_the_user_or_the_account() {
        let ctx = Context::new();
        let alice = vec!["arn:aws:iam::111122223333:user/alice".to_string()];
        let by_user = TrustPolicy::parse_str(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}]}"#).unwrap();
        let a = by_user.answer(&caller(&alice, &ctx), "sts:AssumeRole");
        assert!(a.allows_principal && !a.allows_account && !a.explicit_deny);
        let by_account = TrustPolicy::parse_str(r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}"#).unwrap();
        let a = by_account.answer(&caller(&alice, &ctx), "sts:AssumeRole");
        assert!(!a.allows_principal && a.allows_account);
        let bob = vec!["arn:aws:iam::111122223333:user/bob".to_string()];
        assert_eq!(
            by_user.answer(&caller(&bob, &ctx), "sts:AssumeRole"),
            TrustAnswer::default()
        );
    }

    #[test]
    fn refuses_what_iam_refuses() {
        assert!(TrustPolicy::parse_str("{").is_err());
        assert!(TrustPolicy::parse_str(
            r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#
        )
        .unwrap_err()
        .contains("Principal"));
        assert!(TrustPolicy::parse_str(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances"}]}"#
        )
        .is_err());
        assert!(TrustPolicy::parse_str(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}]}"#).is_err());
        let ec2 = TrustPolicy::parse_str(r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#).unwrap();
        assert!(ec2.trusts_service("ec2.amazonaws.com"));
        assert!(!ec2.trusts_service("lambda.amazonaws.com"));
    }
}
