//! EC2's declarative policies for instance metadata defaults (AWS Organizations, the EC2
//! attribute `instance_metadata_defaults`; issue 15, spec wave2.md §2): the documents attached
//! to an organization's root, OUs and the account, merged into the account's effective
//! policy, which then stands in for the account's own defaults (`ManagedBy =
//! declarative-policy`), in every Region.
//!
//! A document (Organizations UG, "Declarative policy syntax", Instance Metadata Defaults):
//! ```json
//! { "ec2_attributes": {
//!     "instance_metadata_defaults": {
//!       "http_tokens": { "@@assign": "required" },
//!       "http_put_response_hop_limit": { "@@assign": "2" },
//!       "http_endpoint": { "@@assign": "enabled" },
//!       "instance_metadata_tags": { "@@assign": "no_preference" },
//!       "http_tokens_enforced": { "@@assign": "enabled" } },
//!     "exception_message": { "@@assign": "IMDSv2 only" } } }
//! ```
//! Inheritance (Organizations UG, "Policy operators"): levels are merged from the root down;
//! `@@assign` at a lower level overwrites an inherited value, unless a higher level restricted
//! what its children may do with `@@operators_allowed_for_child_policies` (`["@@none"]`: the
//! value is fixed from there down; a restriction cannot be lifted lower down). The key
//! `http_tokens_enforced` is UNCONFIRMED (seen in third-party configurations only, spec §2.1).

use crate::defaults::{AccountDefaults, HttpTokensEnforced, ManagedBy};
use crate::options::{HopLimit, HttpEndpoint, HttpTokens, InstanceMetadataTags};
use serde_json::Value;

/// Why a declarative policy document cannot be used (said at start, with its file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeclarativeError(pub String);

/// The keys of `instance_metadata_defaults`, and `exception_message` beside it.
const KEYS: [&str; 5] = [
    "http_tokens",
    "http_put_response_hop_limit",
    "http_endpoint",
    "instance_metadata_tags",
    "http_tokens_enforced",
];
const MESSAGE: &str = "exception_message";

/// One key's merged state: its value so far, and whether a level above fixed it.
#[derive(Debug, Clone, Default)]
struct Slot {
    value: Option<String>,
    locked: bool,
}

/// The effective policy of an account from its documents, level by level from the root to the
/// account (several documents on one level merge in the order given): `None` when none of them
/// sets `ec2_attributes` (the account manages its own defaults); otherwise the defaults the
/// policy gives, `managed_by` declarative-policy, with the policy's message.
pub fn effective(levels: &[Vec<Value>]) -> Result<Option<AccountDefaults>, DeclarativeError> {
    let mut slots: Vec<(&str, Slot)> = KEYS
        .iter()
        .chain([&MESSAGE])
        .map(|k| (*k, Slot::default()))
        .collect();
    let mut managed = false;
    for doc in levels.iter().flatten() {
        let Some(attributes) = doc.get("ec2_attributes") else {
            continue;
        };
        let attributes = attributes
            .as_object()
            .ok_or_else(|| DeclarativeError("ec2_attributes must be an object".into()))?;
        let defaults = attributes.get("instance_metadata_defaults");
        if defaults.is_none() && !attributes.contains_key(MESSAGE) {
            continue;
        }
        managed = true;
        // A restriction on a parent key holds for every key under it.
        let parent_locks = locks(Some(&Value::Object(attributes.clone())))? || locks(defaults)?;
        for (key, slot) in slots.iter_mut() {
            let node = if *key == MESSAGE {
                attributes.get(MESSAGE)
            } else {
                defaults.and_then(|d| d.get(*key))
            };
            if let Some(v) = assigned(node, key)? {
                if !slot.locked {
                    slot.value = Some(v);
                }
            }
            if parent_locks || locks(node)? {
                slot.locked = true;
            }
        }
    }
    if !managed {
        return Ok(None);
    }
    let value = |k: &str| {
        slots
            .iter()
            .find(|(key, _)| *key == k)
            .and_then(|(_, s)| s.value.clone())
    };
    let choice = |k: &str| value(k).filter(|v| v != "no_preference");
    let bad = |k: &str, v: &str| DeclarativeError(format!("{k}: '{v}' is not a valid value"));
    let mut d = AccountDefaults {
        managed_by: ManagedBy::DeclarativePolicy,
        managed_exception_message: value(MESSAGE),
        ..AccountDefaults::default()
    };
    if let Some(v) = choice("http_tokens") {
        d.http_tokens = Some(HttpTokens::parse(&v).map_err(|_| bad("http_tokens", &v))?);
    }
    if let Some(v) = choice("http_put_response_hop_limit") {
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| bad("http_put_response_hop_limit", &v))?;
        if n != -1 {
            d.hop_limit =
                Some(HopLimit::new(n).map_err(|_| bad("http_put_response_hop_limit", &v))?);
        }
    }
    if let Some(v) = choice("http_endpoint") {
        d.http_endpoint = Some(HttpEndpoint::parse(&v).map_err(|_| bad("http_endpoint", &v))?);
    }
    if let Some(v) = choice("instance_metadata_tags") {
        d.instance_metadata_tags =
            Some(InstanceMetadataTags::parse(&v).map_err(|_| bad("instance_metadata_tags", &v))?);
    }
    if let Some(v) = choice("http_tokens_enforced") {
        d.http_tokens_enforced = Some(match v.as_str() {
            "enabled" => HttpTokensEnforced::Enabled,
            "disabled" => HttpTokensEnforced::Disabled,
            _ => return Err(bad("http_tokens_enforced", &v)),
        });
    }
    Ok(Some(d))
}

/// The value a key's node assigns (`{"@@assign": v}`), as text: the hop limit may be written
/// as a string (the user guide's `"4"`) or a number (spec §2.1).
fn assigned(node: Option<&Value>, key: &str) -> Result<Option<String>, DeclarativeError> {
    let Some(node) = node else {
        return Ok(None);
    };
    let obj = node
        .as_object()
        .ok_or_else(|| DeclarativeError(format!("{key} must be an object of policy operators")))?;
    for op in obj.keys() {
        if !matches!(
            op.as_str(),
            "@@assign" | "@@operators_allowed_for_child_policies"
        ) && op.starts_with("@@")
        {
            return Err(DeclarativeError(format!(
                "{key}: the operator {op} does not apply to a single value (only @@assign)"
            )));
        }
    }
    match obj.get("@@assign") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(DeclarativeError(format!(
            "{key}: @@assign takes a string, not {other}"
        ))),
    }
}

/// Whether a node fixes its value for the levels below (`@@operators_allowed_for_child_policies`
/// without `@@assign` or `@@all`).
fn locks(node: Option<&Value>) -> Result<bool, DeclarativeError> {
    let Some(allowed) = node.and_then(|n| n.get("@@operators_allowed_for_child_policies")) else {
        return Ok(false);
    };
    let ops = allowed.as_array().ok_or_else(|| {
        DeclarativeError("@@operators_allowed_for_child_policies must be a list".into())
    })?;
    Ok(!ops
        .iter()
        .any(|o| matches!(o.as_str(), Some("@@all") | Some("@@assign"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(defaults: Value) -> Value {
        json!({"ec2_attributes": {"instance_metadata_defaults": defaults}})
    }

    fn assign(v: impl Into<Value>) -> Value {
        json!({"@@assign": v.into()})
    }

    /// Cases 24, 25 and 27.
    #[test]
    fn a_policy_gives_the_defaults_and_its_message() {
        let mut doc = policy(json!({
            "http_tokens": assign("required"),
            "http_put_response_hop_limit": assign("2"),
            "instance_metadata_tags": assign("no_preference"),
        }));
        doc["ec2_attributes"]["exception_message"] = assign("Ask platform team");
        let d = effective(&[vec![doc]]).unwrap().unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
        assert_eq!(d.hop_limit, Some(HopLimit::new(2).unwrap()));
        assert_eq!(d.instance_metadata_tags, None);
        assert_eq!(d.managed_by, ManagedBy::DeclarativePolicy);
        assert_eq!(
            d.managed_exception_message.as_deref(),
            Some("Ask platform team")
        );
        let d = effective(&[vec![policy(
            json!({"http_put_response_hop_limit": assign(-1)}),
        )]])
        .unwrap()
        .unwrap();
        assert_eq!(d.hop_limit, None);
        assert_eq!(d.managed_exception_message, None);
    }

    #[test]
    fn no_ec2_attributes_is_no_policy() {
        assert_eq!(effective(&[]).unwrap(), None);
        assert_eq!(effective(&[vec![json!({"other": {}})]]).unwrap(), None);
    }

    /// Case 36: a restriction at the root fixes the value for every level below.
    #[test]
    fn a_parent_can_forbid_children_to_assign() {
        let root = policy(json!({"http_tokens": {
            "@@assign": "required",
            "@@operators_allowed_for_child_policies": ["@@none"]}}));
        let account = policy(json!({"http_tokens": assign("optional")}));
        let d = effective(&[vec![root.clone()], vec![account.clone()]])
            .unwrap()
            .unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
        // On the parent key, for every key under it.
        let root = json!({"ec2_attributes": {"instance_metadata_defaults": {
            "http_tokens": assign("required"),
            "@@operators_allowed_for_child_policies": ["@@none"]}}});
        let d = effective(&[vec![root], vec![account]]).unwrap().unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
    }

    /// Case 37: without a restriction, the lower level's assignment wins.
    #[test]
    fn a_lower_level_overrides_what_it_inherits() {
        let root =
            policy(json!({"http_tokens": assign("required"), "http_endpoint": assign("enabled")}));
        let ou = policy(json!({"http_tokens": assign("optional")}));
        let d = effective(&[vec![root], vec![ou]]).unwrap().unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Optional));
        assert_eq!(d.http_endpoint, Some(HttpEndpoint::Enabled));
    }

    #[test]
    fn enforcement_and_bad_values() {
        let d = effective(&[vec![policy(
            json!({"http_tokens_enforced": assign("enabled")}),
        )]])
        .unwrap()
        .unwrap();
        assert_eq!(d.http_tokens_enforced, Some(HttpTokensEnforced::Enabled));
        for bad in [
            policy(json!({"http_tokens": assign("sometimes")})),
            policy(json!({"http_put_response_hop_limit": assign("65")})),
            policy(json!({"http_tokens": {"@@append": ["required"]}})),
            policy(json!({"http_tokens": "required"})),
            json!({"ec2_attributes": []}),
        ] {
            assert!(effective(&[vec![bad.clone()]]).is_err(), "{bad}");
        }
    }
}
