//! The IAM API's output shapes as botocore's `iam` model orders their members (`User`,
//! `Group`, `Role`, `Policy`, `AccessKey`, `InstanceProfile`), ready for the Query envelope.

use crate::query_api::url_encode;
use iam::registry::{
    iso_date, AccessKey, AccountIam, Group, InstanceProfile, ManagedPolicy, PolicyVersion, Role,
    Tag, User,
};
use serde_json::{json, Value};

fn boundary_json(b: &Option<String>) -> Value {
    match b {
        Some(arn) => json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}),
        None => Value::Null,
    }
}

fn tags_json(tags: &[Tag]) -> Value {
    if tags.is_empty() {
        Value::Null
    } else {
        Value::Array(
            tags.iter()
                .map(|t| json!({"Key": t.key, "Value": t.value}))
                .collect(),
        )
    }
}

pub(super) fn user_json(a: &AccountIam, u: &User) -> Value {
    json!({
        "Path": u.path,
        "UserName": u.name,
        "UserId": u.id,
        "Arn": a.user_arn(u),
        "CreateDate": iso_date(u.created_ms),
        "PermissionsBoundary": boundary_json(&u.permissions.boundary),
        "Tags": tags_json(&u.tags),
    })
}

pub(super) fn group_json(a: &AccountIam, g: &Group) -> Value {
    json!({
        "Path": g.path,
        "GroupName": g.name,
        "GroupId": g.id,
        "Arn": a.group_arn(g),
        "CreateDate": iso_date(g.created_ms),
    })
}

pub(super) fn role_json(a: &AccountIam, r: &Role) -> Value {
    json!({
        "Path": r.path,
        "RoleName": r.name,
        "RoleId": r.id,
        "Arn": a.role_arn(r),
        "CreateDate": iso_date(r.created_ms),
        "AssumeRolePolicyDocument": url_encode(&r.trust.text),
        "Description": r.description,
        "MaxSessionDuration": r.max_session_duration,
        "PermissionsBoundary": boundary_json(&r.permissions.boundary),
        "Tags": tags_json(&r.tags),
    })
}

pub(super) fn policy_json(a: &AccountIam, p: &ManagedPolicy) -> Value {
    json!({
        "PolicyName": p.name,
        "PolicyId": p.id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version,
        "AttachmentCount": a.attachment_count(&p.arn),
        "PermissionsBoundaryUsageCount": a.boundary_count(&p.arn),
        "IsAttachable": true,
        "Description": p.description,
        "CreateDate": iso_date(p.created_ms),
        "UpdateDate": iso_date(p.updated_ms),
    })
}

/// A version of `p`; its document only where the answer carries it (GetPolicyVersion: the
/// aws CLI's examples of create-policy-version and list-policy-versions show none).
pub(super) fn version_json(p: &ManagedPolicy, v: &PolicyVersion, with_document: bool) -> Value {
    let mut out = serde_json::Map::new();
    if with_document {
        out.insert("Document".into(), json!(url_encode(&v.doc.text)));
    }
    out.insert("VersionId".into(), json!(v.id));
    out.insert("IsDefaultVersion".into(), json!(v.id == p.default_version));
    out.insert("CreateDate".into(), json!(iso_date(v.created_ms)));
    Value::Object(out)
}

pub(super) fn key_json(user: &str, k: &AccessKey, with_secret: bool) -> Value {
    let mut v = json!({
        "UserName": user,
        "AccessKeyId": k.id,
        "Status": k.status.as_str(),
    });
    if with_secret {
        v["SecretAccessKey"] = json!(k.secret);
    }
    v["CreateDate"] = json!(iso_date(k.created_ms));
    v
}

pub(super) fn profile_json(a: &AccountIam, p: &InstanceProfile) -> Value {
    json!({
        "Path": p.path,
        "InstanceProfileName": p.name,
        "InstanceProfileId": p.id,
        "Arn": p.arn,
        "CreateDate": iso_date(p.created_ms),
        "Roles": p.roles.iter().filter_map(|r| a.roles.get(r)).map(|r| role_json(a, r)).collect::<Vec<_>>(),
    })
}
