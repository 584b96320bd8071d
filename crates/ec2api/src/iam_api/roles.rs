//! Roles and instance profiles.

use super::request::CreateRole;
use super::shapes::{profile_json, role_json};
use super::{change, now_ms, read, Out};
use crate::context::Call;
use iam::registry::Holder;
use serde_json::json;

pub(super) async fn create_role(call: &Call<'_>, input: CreateRole) -> Out {
    let CreateRole {
        name,
        trust,
        max_session_duration,
        path,
        description,
        tags,
        boundary,
    } = input;
    let now = now_ms();
    let v = change(call, |a| {
        a.create_role(
            &name,
            path.as_deref(),
            &trust,
            description.clone(),
            max_session_duration,
            tags.clone(),
            now,
        )?;
        if let Some(b) = &boundary {
            a.put_boundary(Holder::Role(&name), b)?;
        }
        let r = a.role(&name)?.clone();
        Ok(role_json(a, &r))
    })
    .await?;
    Ok(Some(json!({ "Role": v })))
}

pub(super) async fn get_role(call: &Call<'_>, name: String) -> Out {
    let v = read(call, |a| Ok(role_json(a, a.role(&name)?)))?;
    Ok(Some(json!({ "Role": v })))
}

pub(super) async fn delete_role(call: &Call<'_>, name: String) -> Out {
    change(call, |a| a.delete_role(&name)).await?;
    Ok(None)
}

pub(super) async fn create_instance_profile(
    call: &Call<'_>,
    name: String,
    path: Option<String>,
) -> Out {
    let now = now_ms();
    let v = change(call, |a| {
        let p = a.create_profile(&name, path.as_deref(), now)?.clone();
        Ok(profile_json(a, &p))
    })
    .await?;
    Ok(Some(json!({ "InstanceProfile": v })))
}

pub(super) async fn get_instance_profile(call: &Call<'_>, name: String) -> Out {
    let v = read(call, |a| Ok(profile_json(a, a.profile(&name)?)))?;
    Ok(Some(json!({ "InstanceProfile": v })))
}

pub(super) async fn add_role_to_instance_profile(
    call: &Call<'_>,
    profile: String,
    role: String,
) -> Out {
    change(call, |a| a.add_role_to_profile(&profile, &role)).await?;
    Ok(None)
}

pub(super) async fn remove_role_from_instance_profile(
    call: &Call<'_>,
    profile: String,
    role: String,
) -> Out {
    change(call, |a| a.remove_role_from_profile(&profile, &role)).await?;
    Ok(None)
}

pub(super) async fn delete_instance_profile(call: &Call<'_>, name: String) -> Out {
    change(call, |a| a.delete_profile(&name)).await?;
    Ok(None)
}
