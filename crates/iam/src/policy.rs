//! Policy documents, parsed once into statements that can be evaluated many times.

use crate::condition::Condition;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: patterns, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub negated: bool,
    pub patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub action: Matcher,
    pub resource: Matcher,
    pub conditions: Vec<Condition>,
    /// Whether `${…}` policy variables are resolved: only in documents of `"Version":
    /// "2012-10-17"`. In a document of 2008-10-17, or without a Version (which means
    /// 2008-10-17), they are literal strings (IAM User Guide, "IAM policy elements:
    /// Variables and tags": "If you don't include the Version element and set it to an
    /// appropriate version date, variables like ${aws:username} are treated as literal strings
    /// in the policy").
    pub variables: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// `MalformedPolicyDocument`: what is wrong with a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn malformed(msg: impl Into<String>) -> PolicyError {
    PolicyError(msg.into())
}

/// A JSON string or number or boolean, as IAM reads a value.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One value or a list of them.
pub fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| scalar(i).ok_or_else(|| malformed(format!("{what} values must be strings"))))
            .collect(),
        other => scalar(other)
            .map(|s| vec![s])
            .ok_or_else(|| malformed(format!("{what} must be a string or a list of strings"))),
    }
}

fn matcher(
    st: &serde_json::Map<String, Value>,
    pos: &str,
    neg: &str,
) -> Result<Matcher, PolicyError> {
    match (st.get(pos), st.get(neg)) {
        (Some(_), Some(_)) => Err(malformed(format!(
            "Statement cannot have both {pos} and {neg}"
        ))),
        (Some(v), None) => Ok(Matcher {
            negated: false,
            patterns: strings(v, pos)?,
        }),
        (None, Some(v)) => Ok(Matcher {
            negated: true,
            patterns: strings(v, neg)?,
        }),
        (None, None) => Err(malformed(format!("Statement is missing {pos}"))),
    }
}

impl Policy {
    pub fn parse(doc: &Value) -> Result<Policy, PolicyError> {
        let obj = doc
            .as_object()
            .ok_or_else(|| malformed("Policy document must be a JSON object"))?;
        if let Some(v) = obj.get("Version") {
            if !matches!(v.as_str(), Some("2012-10-17") | Some("2008-10-17")) {
                return Err(malformed("The policy failed legacy parsing"));
            }
        }
        let variables = obj.get("Version").and_then(Value::as_str) == Some("2012-10-17");
        let statements = match obj.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(v @ Value::Object(_)) => vec![v],
            _ => return Err(malformed("Policy document must contain a Statement")),
        };
        let statements = statements
            .into_iter()
            .map(|s| {
                let st = s
                    .as_object()
                    .ok_or_else(|| malformed("Statement must be an object"))?;
                let effect = match st.get("Effect").and_then(Value::as_str) {
                    Some("Allow") => Effect::Allow,
                    Some("Deny") => Effect::Deny,
                    _ => return Err(malformed("Statement Effect must be Allow or Deny")),
                };
                let conditions = match st.get("Condition") {
                    None => Vec::new(),
                    Some(c) => Condition::parse_block(c)?,
                };
                Ok(Statement {
                    sid: st.get("Sid").and_then(Value::as_str).map(str::to_string),
                    effect,
                    action: matcher(st, "Action", "NotAction")?,
                    resource: matcher(st, "Resource", "NotResource")?,
                    conditions,
                    variables,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy { statements })
    }

    pub fn parse_str(text: &str) -> Result<Policy, PolicyError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| malformed(format!("Syntax errors in policy: {e}")))?;
        Policy::parse(&v)
    }
}
