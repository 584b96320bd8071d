//! Users and their access keys; the tags of users and roles.

use super::request::{CreateUser, TagOwner};
use super::shapes::{key_json, user_json};
use super::{change, now_ms, read, Out};
use crate::context::Call;
use iam::registry::{Subject, Tag};
use iam::IamError;
use serde_json::{json, Value};

/// The user an action names, else the calling user; other callers must name one.
fn named_or_caller(call: &Call<'_>, name: Option<String>) -> Result<String, IamError> {
    match (name, &call.caller.subject) {
        (Some(n), _) => Ok(n),
        (None, Subject::User(n)) => Ok(n.clone()),
        (None, _) => Err(IamError::ValidationError(
            "Must specify userName when calling with non-User credentials".into(),
        )),
    }
}

pub(super) async fn create_user(call: &Call<'_>, input: CreateUser) -> Out {
    let CreateUser { name, path, tags } = input;
    let now = now_ms();
    let v = change(call, |a| {
        let u = a
            .create_user(&name, path.as_deref(), tags.clone(), now)?
            .clone();
        Ok(user_json(a, &u))
    })
    .await?;
    Ok(Some(json!({ "User": v })))
}

pub(super) async fn get_user(call: &Call<'_>, name: Option<String>) -> Out {
    let name = named_or_caller(call, name)?;
    let v = read(call, |a| Ok(user_json(a, a.user(&name)?)))?;
    Ok(Some(json!({ "User": v })))
}

pub(super) async fn delete_user(call: &Call<'_>, name: String) -> Out {
    change(call, |a| a.delete_user(&name)).await?;
    Ok(None)
}

pub(super) async fn create_access_key(call: &Call<'_>, user: Option<String>) -> Out {
    let name = named_or_caller(call, user)?;
    let now = now_ms();
    let k = change(call, |a| a.create_access_key(&name, now)).await?;
    Ok(Some(json!({ "AccessKey": key_json(&name, &k, true) })))
}

/// Without `UserName`, the key's own user.
pub(super) async fn delete_access_key(call: &Call<'_>, key: String, user: Option<String>) -> Out {
    let name = match user {
        Some(n) => n,
        None => call
            .api
            .principals
            .registry()
            .access_key(&key)
            .map(|(u, _)| u.name.clone())
            .unwrap_or_default(),
    };
    change(call, |a| a.delete_access_key(&name, &key)).await?;
    Ok(None)
}

/// Without `UserName`, the calling user's keys (none for other callers).
pub(super) async fn list_access_keys(call: &Call<'_>, user: Option<String>) -> Out {
    let name = match (user, &call.caller.subject) {
        (Some(n), _) => n,
        (None, Subject::User(n)) => n.clone(),
        (None, _) => String::new(),
    };
    let keys: Vec<Value> = if name.is_empty() {
        Vec::new()
    } else {
        read(call, |a| {
            Ok(a.user(&name)?
                .keys
                .iter()
                .map(|k| key_json(&name, k, false))
                .collect())
        })?
    };
    Ok(Some(
        json!({ "AccessKeyMetadata": keys, "IsTruncated": false }),
    ))
}

/// TagUser, TagRole.
pub(super) async fn tag(call: &Call<'_>, owner: TagOwner, tags: Vec<Tag>) -> Out {
    change(call, |a| a.tag(owner.tagged(), tags.clone())).await?;
    Ok(None)
}

/// UntagUser, UntagRole.
pub(super) async fn untag(call: &Call<'_>, owner: TagOwner, keys: Vec<String>) -> Out {
    change(call, |a| a.untag(owner.tagged(), &keys)).await?;
    Ok(None)
}
