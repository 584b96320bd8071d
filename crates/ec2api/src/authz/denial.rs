//! How a refusal reads: `UnauthorizedOperation`, with (for actions that change something) the
//! decision encoded as `sts:DecodeAuthorizationMessage` decodes it: the statements that
//! matched, and the action, resource and context keys of the check refused.

use crate::auth::Caller;
use base64::Engine;
use iam::condition::Context;
use iam::evaluate::Decision;
use model::Ec2Error;

/// Actions that only read: EC2 denies them without an encoded message.
fn is_read(action: &str) -> bool {
    action.starts_with("Describe") || action.starts_with("Get")
}

/// The context keys of a check, sorted (for the encoded message).
fn list_context(ctx: Option<&Context>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = ctx
        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// The refusal of `action`; mutating actions carry an encoded authorization message that
/// `sts:DecodeAuthorizationMessage` will turn back into the decision.
pub(super) fn denial(
    action: &str,
    caller: &Caller,
    d: &Decision,
    context: Option<&Context>,
) -> Ec2Error {
    if is_read(action) {
        return Ec2Error::UnauthorizedOperation(
            "You are not authorized to perform this operation.".into(),
        );
    }
    let items = |v: Vec<serde_json::Value>| serde_json::json!({ "items": v });
    // The statement's principal as IAM reports it: the unique id (a role's AROA…).
    let principal_id = caller.user_id.split(':').next().unwrap_or_default();
    let value = |s: &str| serde_json::json!({ "value": s });
    let matched: Vec<serde_json::Value> = d
        .matched
        .iter()
        .map(|m| {
            serde_json::json!({
                "statementId": m.sid.clone().unwrap_or_default(),
                "effect": if m.effect == iam::policy::Effect::Deny { "DENY" } else { "ALLOW" },
                "principals": items(vec![value(principal_id)]),
                "principalGroups": items(vec![]),
                "actions": items(m.statement.action.patterns.iter().map(|p| value(p)).collect()),
                "resources": items(m.statement.resource.patterns.iter().map(|p| value(p)).collect()),
                "conditions": items(m.statement.conditions.iter().map(|c| serde_json::json!({
                    "key": c.key,
                    "values": items(c.values.iter().map(|v| value(v)).collect()),
                })).collect()),
            })
        })
        .collect();
    let context_items: Vec<serde_json::Value> = list_context(context)
        .into_iter()
        .map(|(k, vs)| serde_json::json!({"key": k, "values": items(vs.iter().map(|v| value(v)).collect())}))
        .collect();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::json!({
            "allowed": false,
            "explicitDeny": d.explicit_deny(),
            "matchedStatements": items(matched),
            "failures": items(vec![]),
            "context": {
                "principal": {"id": caller.user_id, "arn": caller.arn},
                "action": d.action,
                "resource": d.resource,
                "conditions": items(context_items),
            },
        })
        .to_string(),
    );
    Ec2Error::UnauthorizedOperation(format!(
        "You are not authorized to perform this operation. User: {} is not authorized to perform: {} on resource: {} {}. Encoded authorization failure message: {encoded}",
        caller.arn,
        d.action,
        d.resource,
        d.reason()
    ))
}
