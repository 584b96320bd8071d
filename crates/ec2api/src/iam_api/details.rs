//! GetAccountAuthorizationDetails: every user, group, role and managed policy of the account
//! with what makes up its permissions (inline documents, attached policies, groups,
//! boundaries, a role's trust policy and instance profiles, a policy's versions), as audit
//! tools read an account in one pass. Documents are URL-encoded as everywhere in IAM's
//! answers. AWS's managed policies are those the account uses (attached or as a boundary;
//! UNCONFIRMED); `RoleLastUsed` is not kept.
//!
//! One page over the four kinds, users first, then groups, roles and policies, each by name
//! (policies by ARN); the marker names the last one (UNCONFIRMED: IAM's is opaque).

use super::lists::{by_kind, without};
use super::request::{DetailKinds, Listing};
use super::shapes::{group_json, policy_json, profile_json, role_json, user_json, version_json};
use super::{read, Out};
use crate::context::Call;
use crate::query_api::url_encode;
use iam::registry::{AccountIam, ManagedPolicy, Permissions};
use serde_json::{json, Value};

/// A holder's inline policies, each `{PolicyName, PolicyDocument}`.
fn inline_json(p: &Permissions) -> Value {
    p.inline
        .iter()
        .map(|(name, doc)| json!({"PolicyName": name, "PolicyDocument": url_encode(&doc.text)}))
        .collect()
}

/// A holder's attached managed policies, each `{PolicyName, PolicyArn}`.
fn attached_json(a: &AccountIam, p: &Permissions) -> Value {
    p.attached
        .iter()
        .filter_map(|arn| a.policy(arn).ok())
        .map(|m| json!({"PolicyName": m.name, "PolicyArn": m.arn}))
        .collect()
}

/// `v` (an object) with `members` put in.
fn with(mut v: Value, members: Value) -> Value {
    if let (Some(o), Value::Object(m)) = (v.as_object_mut(), members) {
        o.extend(m);
    }
    v
}

/// The managed policies the details list: the account's own, and AWS's that the account
/// uses, by ARN.
fn policies(a: &AccountIam, kinds: DetailKinds) -> Vec<&ManagedPolicy> {
    let mut out: Vec<&ManagedPolicy> = a
        .managed_policies()
        .filter(|p| {
            if p.arn.starts_with("arn:aws:iam::aws:") {
                kinds.aws_policies && (a.attachment_count(&p.arn) + a.boundary_count(&p.arn) > 0)
            } else {
                kinds.local_policies
            }
        })
        .collect();
    out.sort_by(|x, y| x.arn.cmp(&y.arn));
    out
}

pub(super) fn account_authorization_details(
    call: &Call<'_>,
    kinds: DetailKinds,
    l: Listing,
) -> Out {
    let v = read(call, |a| {
        let mut entities: Vec<(String, &str, Value)> = Vec::new();
        if kinds.users {
            for u in a.users.values() {
                let groups: Vec<&str> = a.groups_of(&u.name).map(|g| g.name.as_str()).collect();
                let v = with(
                    user_json(a, u),
                    json!({
                        "UserPolicyList": inline_json(&u.permissions),
                        "GroupList": groups,
                        "AttachedManagedPolicies": attached_json(a, &u.permissions),
                    }),
                );
                entities.push((format!("1:{}", u.name), "UserDetailList", v));
            }
        }
        if kinds.groups {
            for g in a.groups.values() {
                let v = with(
                    group_json(a, g),
                    json!({
                        "GroupPolicyList": inline_json(&g.permissions),
                        "AttachedManagedPolicies": attached_json(a, &g.permissions),
                    }),
                );
                entities.push((format!("2:{}", g.name), "GroupDetailList", v));
            }
        }
        if kinds.roles {
            for r in a.roles.values() {
                let profiles: Vec<Value> = a
                    .profiles
                    .values()
                    .filter(|p| p.roles.contains(&r.name))
                    .map(|p| profile_json(a, p))
                    .collect();
                // RoleDetail has no Description or MaxSessionDuration (botocore's model).
                let role = without(role_json(a, r), &["Description", "MaxSessionDuration"]);
                let v = with(
                    role,
                    json!({
                        "InstanceProfileList": profiles,
                        "RolePolicyList": inline_json(&r.permissions),
                        "AttachedManagedPolicies": attached_json(a, &r.permissions),
                    }),
                );
                entities.push((format!("3:{}", r.name), "RoleDetailList", v));
            }
        }
        for p in policies(a, kinds) {
            let versions: Vec<Value> = p
                .versions
                .iter()
                .map(|v| version_json(p, v, true))
                .collect();
            let v = with(policy_json(a, p), json!({"PolicyVersionList": versions}));
            entities.push((format!("4:{}", p.arn), "Policies", v));
        }
        let kinds = [
            "UserDetailList",
            "GroupDetailList",
            "RoleDetailList",
            "Policies",
        ];
        Ok(by_kind(entities, &l, &kinds))
    })?;
    Ok(Some(v))
}
