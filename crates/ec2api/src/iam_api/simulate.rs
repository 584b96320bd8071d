//! The policy simulator: SimulateCustomPolicy and SimulatePrincipalPolicy, decided by the same
//! evaluator as live calls.

use super::request::Simulation;
use super::IamApiError;
use crate::context::Call;
use iam::evaluate::{decide_all, Check, Decision, Kind, Outcome, PolicySet};
use iam::policy::Policy;
use iam::registry::Subject;
use iam::IamError;
use model::Arn;
use serde_json::{json, Value};

fn parse_policies(documents: &[String]) -> Result<Vec<Policy>, IamError> {
    documents
        .iter()
        .map(|d| Policy::parse_str(d).map_err(|e| IamError::MalformedPolicyDocument(e.0)))
        .collect()
}

fn decision_name(d: &Decision) -> &'static str {
    if d.allowed() {
        "allowed"
    } else if d.explicit_deny() {
        "explicitDeny"
    } else {
        "implicitDeny"
    }
}

/// SimulateCustomPolicy (`source` None: only the given policies) and SimulatePrincipalPolicy
/// (the principal's own policies, boundary and SCPs, plus the given ones): one
/// `EvaluationResult` per action and resource, decided by the same evaluator as live calls.
pub(super) fn simulate(
    call: &Call<'_>,
    source: Option<&str>,
    simulation: Simulation,
) -> Result<Value, IamApiError> {
    let Simulation {
        policy_inputs,
        boundary_inputs,
        actions,
        resources,
        context: ctx,
    } = simulation;
    let inputs = parse_policies(&policy_inputs)?;
    let boundary_inputs = parse_policies(&boundary_inputs)?;
    if actions.is_empty() {
        return Err(IamError::ValidationError(
            "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null".into(),
        )
        .into());
    }
    let registry = call.api.principals.registry();
    let acct = call.caller.account.clone();
    let directory = call.api.principals.directory.as_deref();
    // SimulatePrincipalPolicy adds the principal's own policies and its account's SCPs.
    let (mine, scp_levels, management): (
        iam::registry::PrincipalPolicies,
        Vec<Vec<&Policy>>,
        bool,
    ) = match source {
        None => (Default::default(), Vec::new(), false),
        Some(arn) => {
            let a = registry
                .account(&acct)
                .ok_or_else(|| IamError::NoSuchEntity(format!("Could not find entity {arn}")))?;
            let parsed = Arn::parse(arn).ok();
            let named = |kind: &str| parsed.as_ref().and_then(|p| p.iam_name(kind));
            // A user's policies include its groups'; a group's are its own (PolicySourceArn:
            // "the ARN of a user, group, or role", IAM API reference).
            let policies = if let Some(n) = named("user") {
                a.user(n)?;
                a.policies_of(&Subject::User(n.to_string()))
            } else if let Some(n) = named("group") {
                a.group_policies(n)?
            } else if let Some(n) = named("role") {
                a.role(n)?;
                a.policies_of(&Subject::Role(n.to_string()))
            } else {
                return Err(IamError::InvalidInput(format!("Invalid ARN: {arn}")).into());
            };
            let levels: Vec<Vec<&Policy>> = directory
                .map(|d| {
                    d.scp_levels(&acct)
                        .iter()
                        .map(|l| l.iter().collect())
                        .collect()
                })
                .unwrap_or_default();
            (
                policies,
                levels,
                directory.is_some_and(|d| d.is_management(&acct)),
            )
        }
    };
    // A boundary given in the request replaces the principal's own.
    let given_boundary = (!boundary_inputs.is_empty()).then(|| Policy {
        statements: boundary_inputs
            .iter()
            .flat_map(|p| p.statements.clone())
            .collect(),
    });
    let identity = mine.identity;
    let mut ids: Vec<(String, &Policy)> = inputs
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("PolicyInputList.{}", i + 1), p))
        .collect();
    ids.extend(
        identity
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("policy.{}", i + 1), p.as_ref())),
    );
    let set = PolicySet {
        identity: ids.iter().map(|(_, p)| *p).collect(),
        scp_levels,
        boundary: given_boundary.as_ref().or(mine.boundary.as_deref()),
        session: None,
        management_account: management,
    };
    let mut results = Vec::new();
    for action in &actions {
        for resource in &resources {
            let d = decide_all(
                &set,
                &[Check {
                    action,
                    resource,
                    context: &ctx,
                }],
            );
            let matched: Vec<Value> = d
                .matched
                .iter()
                .filter_map(|m| {
                    ids.iter()
                        .find(|(_, p)| p.statements.contains(&m.statement))
                        .map(|(id, _)| json!({"SourcePolicyId": id, "SourcePolicyType": "IAM Policy"}))
                })
                .collect();
            let mut r = serde_json::Map::new();
            r.insert("EvalActionName".into(), json!(action));
            r.insert("EvalResourceName".into(), json!(resource));
            r.insert("EvalDecision".into(), json!(decision_name(&d)));
            r.insert("MatchedStatements".into(), json!(matched));
            r.insert("MissingContextValues".into(), json!([]));
            if source.is_some() && !set.scp_levels.is_empty() {
                let scp_denied = matches!(
                    d.outcome,
                    Outcome::ExplicitDeny(Kind::Scp) | Outcome::NoAllow(Kind::Scp)
                );
                r.insert(
                    "OrganizationsDecisionDetail".into(),
                    json!({"AllowedByOrganizations": !scp_denied}),
                );
            }
            if set.boundary.is_some() {
                r.insert(
                    "PermissionsBoundaryDecisionDetail".into(),
                    json!({"AllowedByPermissionsBoundary": !matches!(
                        d.outcome,
                        Outcome::ExplicitDeny(Kind::Boundary) | Outcome::NoAllow(Kind::Boundary)
                    )}),
                );
            }
            results.push(Value::Object(r));
        }
    }
    Ok(json!({ "EvaluationResults": results, "IsTruncated": false }))
}
