//! Groups and their users. A group's policies are its users' (see `iam::registry`); its
//! inline and managed policies go through the handlers of [`super::policies`] as a user's or
//! a role's do, and its listings through [`super::lists`].

use super::shapes::group_json;
use super::{change, now_ms, Out};
use crate::context::Call;
use serde_json::json;

pub(super) async fn create_group(call: &Call<'_>, name: String, path: Option<String>) -> Out {
    let now = now_ms();
    let v = change(call, |a| {
        let g = a.create_group(&name, path.as_deref(), now)?.clone();
        Ok(group_json(a, &g))
    })
    .await?;
    Ok(Some(json!({ "Group": v })))
}

pub(super) async fn delete_group(call: &Call<'_>, name: String) -> Out {
    change(call, |a| a.delete_group(&name)).await?;
    Ok(None)
}

pub(super) async fn add_user_to_group(call: &Call<'_>, group: String, user: String) -> Out {
    change(call, |a| a.add_user_to_group(&group, &user)).await?;
    Ok(None)
}

pub(super) async fn remove_user_from_group(call: &Call<'_>, group: String, user: String) -> Out {
    change(call, |a| a.remove_user_from_group(&group, &user)).await?;
    Ok(None)
}
