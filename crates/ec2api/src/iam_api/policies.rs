//! Managed policies and their versions, attached and inline policies, and permissions
//! boundaries.

use super::request::{CreatePolicy, Owner};
use super::shapes::{policy_json, version_json};
use super::{change, now_ms, read, Out};
use crate::context::Call;
use crate::query_api::{missing, url_encode};
use serde_json::{json, Value};

pub(super) async fn create_policy(call: &Call<'_>, input: CreatePolicy) -> Out {
    let CreatePolicy {
        name,
        document,
        path,
        description,
    } = input;
    let now = now_ms();
    let v = change(call, |a| {
        let p = a
            .create_policy(&name, path.as_deref(), &document, description.clone(), now)?
            .clone();
        Ok(policy_json(a, &p))
    })
    .await?;
    Ok(Some(json!({ "Policy": v })))
}

pub(super) async fn get_policy(call: &Call<'_>, arn: String) -> Out {
    let v = read(call, |a| Ok(policy_json(a, a.policy(&arn)?)))?;
    Ok(Some(json!({ "Policy": v })))
}

/// The policy is looked up before `VersionId` is required, as IAM answers.
pub(super) async fn get_policy_version(
    call: &Call<'_>,
    arn: String,
    version: Option<String>,
) -> Out {
    let v = read(call, |a| {
        let p = a.policy(&arn)?;
        let vid = version.as_deref().ok_or_else(|| missing("VersionId"))?;
        Ok(version_json(p, a.policy_version(p, vid)?, true))
    })?;
    Ok(Some(json!({ "PolicyVersion": v })))
}

pub(super) async fn create_policy_version(
    call: &Call<'_>,
    arn: String,
    document: String,
    set_default: bool,
) -> Out {
    let now = now_ms();
    let v = change(call, |a| {
        let v = a.create_policy_version(&arn, &document, set_default, now)?;
        Ok(version_json(a.policy(&arn)?, &v, false))
    })
    .await?;
    Ok(Some(json!({ "PolicyVersion": v })))
}

pub(super) async fn delete_policy_version(call: &Call<'_>, arn: String, version: String) -> Out {
    change(call, |a| a.delete_policy_version(&arn, &version)).await?;
    Ok(None)
}

pub(super) async fn set_default_policy_version(
    call: &Call<'_>,
    arn: String,
    version: String,
) -> Out {
    let now = now_ms();
    change(call, |a| a.set_default_policy_version(&arn, &version, now)).await?;
    Ok(None)
}

pub(super) async fn delete_policy(call: &Call<'_>, arn: String) -> Out {
    change(call, |a| a.delete_policy(&arn)).await?;
    Ok(None)
}

pub(super) async fn attach_policy(call: &Call<'_>, owner: Owner, arn: String) -> Out {
    change(call, |a| a.attach(owner.holder(), &arn)).await?;
    Ok(None)
}

pub(super) async fn detach_policy(call: &Call<'_>, owner: Owner, arn: String) -> Out {
    change(call, |a| a.detach(owner.holder(), &arn)).await?;
    Ok(None)
}

pub(super) async fn put_inline_policy(
    call: &Call<'_>,
    owner: Owner,
    name: String,
    document: String,
) -> Out {
    change(call, |a| a.put_inline(owner.holder(), &name, &document)).await?;
    Ok(None)
}

pub(super) async fn get_inline_policy(call: &Call<'_>, owner: Owner, name: String) -> Out {
    let document = read(call, |a| Ok(a.inline(owner.holder(), &name)?.text.clone()))?;
    let (member, owner_name) = owner.member();
    let mut v = serde_json::Map::new();
    v.insert(member.into(), json!(owner_name));
    v.insert("PolicyName".into(), json!(name));
    v.insert("PolicyDocument".into(), json!(url_encode(&document)));
    Ok(Some(Value::Object(v)))
}

pub(super) async fn delete_inline_policy(call: &Call<'_>, owner: Owner, name: String) -> Out {
    change(call, |a| a.delete_inline(owner.holder(), &name)).await?;
    Ok(None)
}

pub(super) async fn put_boundary(call: &Call<'_>, owner: Owner, arn: String) -> Out {
    change(call, |a| a.put_boundary(owner.holder(), &arn)).await?;
    Ok(None)
}

pub(super) async fn delete_boundary(call: &Call<'_>, owner: Owner) -> Out {
    change(call, |a| a.delete_boundary(owner.holder())).await?;
    Ok(None)
}
