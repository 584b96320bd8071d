//! The listings, a page at a time (`MaxItems`, `Marker`, `IsTruncated`): of an account's
//! entities (ListUsers, ListGroups, ListRoles, ListInstanceProfiles, ListPolicies), of the
//! policies of one user, group or role (List{User,Group,Role}Policies,
//! ListAttached{User,Group,Role}Policies), of a policy's versions (ListPolicyVersions), of a
//! group's users (GetGroup) and of the groups of a user or the profiles of a role
//! (ListGroupsForUser, ListInstanceProfilesForRole).
//!
//! Each listing returns fewer members than the entity's Get (botocore's `iam` model, each
//! operation's documentation): no `PermissionsBoundary` or `Tags` of a user or a role (imds
//! renders no `RoleLastUsed`, and no tags of a policy or an instance profile), and no
//! `Description` of a policy (the aws CLI's `list-policies` example shows none; UNCONFIRMED
//! beyond it).
//! Entities come in the order of their names (managed policies: of their ARNs, as AWS's and
//! the account's share names); the marker is the last one's name (ARN). IAM's marker is
//! opaque and its order undocumented: both UNCONFIRMED.

use super::request::{
    EntityKind, EntityListing, Listing, Owner, PolicyListing, PolicyScope, PolicyUsage, TagOwner,
};
use super::shapes::{group_json, policy_json, profile_json, role_json, user_json, version_json};
use super::{read, Out};
use crate::context::Call;
use iam::registry::{AccountIam, ManagedPolicy, User};
use serde_json::{json, Value};

/// The items of a page, and the marker of the next one when there is more.
struct Slice<T> {
    items: Vec<T>,
    next: Option<String>,
}

impl<T> Slice<T> {
    /// The page of `entities` (by key, in key order) that `l` asks for.
    fn of<K: AsRef<str>>(entities: impl Iterator<Item = (K, T)>, l: &Listing) -> Slice<T> {
        let mut after =
            entities.skip_while(|(key, _)| l.marker.as_deref().is_some_and(|m| key.as_ref() <= m));
        let mut items = Vec::new();
        let mut last = None;
        for (key, v) in after.by_ref().take(l.max_items) {
            items.push(v);
            last = Some(key.as_ref().to_string());
        }
        let next = after.next().and(last);
        Slice { items, next }
    }

    /// `IsTruncated` and `Marker` of the answer, added to `out`.
    fn mark(&self, out: &mut Value) {
        out["IsTruncated"] = json!(self.next.is_some());
        if let Some(m) = &self.next {
            out["Marker"] = json!(m);
        }
    }
}

/// The page of `entities` of several kinds (each `(key, kind, item)`, in key order) that `l`
/// asks for, as the answer: each item in the list of its kind, every kind's list there.
pub(super) fn by_kind(entities: Vec<(String, &str, Value)>, l: &Listing, kinds: &[&str]) -> Value {
    let items = entities.into_iter().map(|(k, kind, v)| (k, (kind, v)));
    let slice = Slice::of(items, l);
    let mut out = Value::Object(kinds.iter().map(|k| (k.to_string(), json!([]))).collect());
    for (kind, v) in &slice.items {
        if let Some(list) = out[*kind].as_array_mut() {
            list.push(v.clone());
        }
    }
    slice.mark(&mut out);
    out
}

/// The page of `entities` (by key, in key order) that `l` asks for, as the listing's answer
/// under `member`.
fn page<K: AsRef<str>>(
    entities: impl Iterator<Item = (K, Value)>,
    l: &Listing,
    member: &str,
) -> Value {
    let slice = Slice::of(entities, l);
    let mut out = json!({ member: slice.items });
    slice.mark(&mut out);
    out
}

/// `v` without the members a listing leaves out.
pub(super) fn without(mut v: Value, members: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for m in members {
            o.remove(*m);
        }
    }
    v
}

/// A user as the listings list it: keyed by name, without its boundary and tags.
fn listed_user<'a>(a: &AccountIam, u: &'a User) -> (&'a str, Value) {
    let v = without(user_json(a, u), &["PermissionsBoundary", "Tags"]);
    (u.name.as_str(), v)
}

pub(super) fn list_users(call: &Call<'_>, l: Listing) -> Out {
    let v = read(call, |a| {
        let users = a
            .users
            .values()
            .filter(|u| u.path.starts_with(&l.path_prefix));
        Ok(page(users.map(|u| listed_user(a, u)), &l, "Users"))
    })?;
    Ok(Some(v))
}

pub(super) fn list_groups(call: &Call<'_>, l: Listing) -> Out {
    let v = read(call, |a| {
        let groups = a
            .groups
            .values()
            .filter(|g| g.path.starts_with(&l.path_prefix));
        let listed = groups.map(|g| (g.name.as_str(), group_json(a, g)));
        Ok(page(listed, &l, "Groups"))
    })?;
    Ok(Some(v))
}

/// The group, and a page of its users as ListUsers lists them (UNCONFIRMED: the members
/// left out).
pub(super) fn get_group(call: &Call<'_>, name: String, l: Listing) -> Out {
    let v = read(call, |a| {
        let g = a.group(&name)?;
        let users = a.users.values().filter(|u| g.users.contains(&u.name));
        let mut v = page(users.map(|u| listed_user(a, u)), &l, "Users");
        v["Group"] = group_json(a, g);
        Ok(v)
    })?;
    Ok(Some(v))
}

/// The groups `user` is in (NoSuchEntity when there is no such user).
pub(super) fn list_groups_for_user(call: &Call<'_>, user: String, l: Listing) -> Out {
    let v = read(call, |a| {
        a.user(&user)?;
        let listed = a
            .groups_of(&user)
            .map(|g| (g.name.as_str(), group_json(a, g)));
        Ok(page(listed, &l, "Groups"))
    })?;
    Ok(Some(v))
}

/// The users, groups and roles that use a policy: attached, as a boundary (users and roles),
/// or either when `PolicyUsageFilter` is not given. One page over the three kinds, groups
/// first, then roles, then users, each by name (the order and the marker, `group:NAME` …,
/// UNCONFIRMED); each kind's members are its list in the answer.
pub(super) fn list_entities_for_policy(call: &Call<'_>, l: EntityListing) -> Out {
    let v = read(call, |a| {
        let arn = a.policy(&l.arn)?.arn.clone();
        let uses = |p: &iam::registry::Permissions| match l.usage {
            Some(PolicyUsage::PermissionsPolicy) => p.attached.contains(&arn),
            Some(PolicyUsage::PermissionsBoundary) => p.boundary.as_deref() == Some(&arn),
            None => p.attached.contains(&arn) || p.boundary.as_deref() == Some(&arn),
        };
        let wanted = |k: EntityKind| l.kind.is_none_or(|x| x == k);
        let under = |path: &str| path.starts_with(&l.listing.path_prefix);
        let mut entities: Vec<(String, &str, Value)> = Vec::new();
        if wanted(EntityKind::Group) {
            for g in a
                .groups
                .values()
                .filter(|g| under(&g.path) && uses(&g.permissions))
            {
                let v = json!({"GroupName": g.name, "GroupId": g.id});
                entities.push((format!("group:{}", g.name), "PolicyGroups", v));
            }
        }
        if wanted(EntityKind::Role) {
            for r in a
                .roles
                .values()
                .filter(|r| under(&r.path) && uses(&r.permissions))
            {
                let v = json!({"RoleName": r.name, "RoleId": r.id});
                entities.push((format!("role:{}", r.name), "PolicyRoles", v));
            }
        }
        if wanted(EntityKind::User) {
            for u in a
                .users
                .values()
                .filter(|u| under(&u.path) && uses(&u.permissions))
            {
                let v = json!({"UserName": u.name, "UserId": u.id});
                entities.push((format!("user:{}", u.name), "PolicyUsers", v));
            }
        }
        let kinds = ["PolicyGroups", "PolicyUsers", "PolicyRoles"];
        Ok(by_kind(entities, &l.listing, &kinds))
    })?;
    Ok(Some(v))
}

/// A policy's versions, the newest first (the aws CLI's list-policy-versions example). The
/// key orders them so: the version's number counted down from `u32::MAX` (the marker).
pub(super) fn list_policy_versions(call: &Call<'_>, arn: String, l: Listing) -> Out {
    let v = read(call, |a| {
        let p = a.policy(&arn)?;
        let mut versions: Vec<(String, Value)> = p
            .versions
            .iter()
            .map(|v| {
                let n = ManagedPolicy::version_number(&v.id).unwrap_or_default();
                (format!("{:010}", u32::MAX - n), version_json(p, v, false))
            })
            .collect();
        versions.sort_by(|x, y| x.0.cmp(&y.0));
        Ok(page(versions.into_iter(), &l, "Versions"))
    })?;
    Ok(Some(v))
}

/// A user's or a role's tags, in the order of their keys (UNCONFIRMED). The marker is the
/// last key's UTF-8 bytes in hex: a key may hold letters the marker's pattern
/// (`[\u0020-\u00FF]+`) does not, and hex keeps the keys' order.
pub(super) fn list_tags(call: &Call<'_>, owner: TagOwner, l: Listing) -> Out {
    let v = read(call, |a| {
        let mut tags: Vec<_> = a.tags(owner.tagged())?.iter().collect();
        tags.sort_by(|x, y| x.key.cmp(&y.key));
        let listed = tags.into_iter().map(|t| {
            let hex: String = t.key.bytes().map(|b| format!("{b:02x}")).collect();
            (hex, json!({"Key": t.key, "Value": t.value}))
        });
        Ok(page(listed, &l, "Tags"))
    })?;
    Ok(Some(v))
}

/// The names of a holder's inline policies.
pub(super) fn list_inline_policies(call: &Call<'_>, owner: Owner, l: Listing) -> Out {
    let v = read(call, |a| {
        let names = a.permissions(owner.holder())?.inline.keys();
        Ok(page(
            names.map(|n| (n.as_str(), json!(n))),
            &l,
            "PolicyNames",
        ))
    })?;
    Ok(Some(v))
}

/// A holder's managed policies under the prefix, in the order of their ARNs (UNCONFIRMED).
pub(super) fn list_attached_policies(call: &Call<'_>, owner: Owner, l: Listing) -> Out {
    let v = read(call, |a| {
        let mut attached: Vec<_> = a
            .permissions(owner.holder())?
            .attached
            .iter()
            .filter_map(|arn| a.policy(arn).ok())
            .filter(|p| p.path.starts_with(&l.path_prefix))
            .collect();
        attached.sort_by(|x, y| x.arn.cmp(&y.arn));
        let listed = attached.into_iter().map(|p| {
            let v = json!({"PolicyName": p.name, "PolicyArn": p.arn});
            (p.arn.as_str(), v)
        });
        Ok(page(listed, &l, "AttachedPolicies"))
    })?;
    Ok(Some(v))
}

pub(super) fn list_roles(call: &Call<'_>, l: Listing) -> Out {
    let v = read(call, |a| {
        let roles = a
            .roles
            .values()
            .filter(|r| r.path.starts_with(&l.path_prefix));
        let listed = roles.map(|r| {
            let v = without(role_json(a, r), &["PermissionsBoundary", "Tags"]);
            (r.name.as_str(), v)
        });
        Ok(page(listed, &l, "Roles"))
    })?;
    Ok(Some(v))
}

pub(super) fn list_instance_profiles(call: &Call<'_>, l: Listing) -> Out {
    let v = read(call, |a| {
        let profiles = a
            .profiles
            .values()
            .filter(|p| p.path.starts_with(&l.path_prefix));
        let listed = profiles.map(|p| (p.name.as_str(), profile_json(a, p)));
        Ok(page(listed, &l, "InstanceProfiles"))
    })?;
    Ok(Some(v))
}

/// The instance profiles that hold `role` (NoSuchEntity when there is no such role).
pub(super) fn list_instance_profiles_for_role(call: &Call<'_>, role: String, l: Listing) -> Out {
    let v = read(call, |a| {
        a.role(&role)?;
        let profiles = a.profiles.values().filter(|p| p.roles.contains(&role));
        let listed = profiles.map(|p| (p.name.as_str(), profile_json(a, p)));
        Ok(page(listed, &l, "InstanceProfiles"))
    })?;
    Ok(Some(v))
}

/// `Scope` picks AWS's policies (ARNs of account `aws`) or the account's; `OnlyAttached`
/// keeps those attached to a user or role, or, with `PolicyUsageFilter`
/// `PermissionsBoundary`, those used as a boundary (the filter's effect without
/// `OnlyAttached`, none, is UNCONFIRMED).
pub(super) fn list_policies(call: &Call<'_>, l: PolicyListing) -> Out {
    let v = read(call, |a| {
        let mut policies: Vec<_> = a
            .managed_policies()
            .filter(|p| {
                let aws = p.arn.starts_with("arn:aws:iam::aws:");
                match l.scope {
                    PolicyScope::Aws => aws,
                    PolicyScope::Local => !aws,
                    PolicyScope::All => true,
                }
            })
            .filter(|p| p.path.starts_with(&l.listing.path_prefix))
            .filter(|p| {
                !l.only_attached
                    || match l.usage {
                        Some(PolicyUsage::PermissionsBoundary) => a.boundary_count(&p.arn) > 0,
                        _ => a.attachment_count(&p.arn) > 0,
                    }
            })
            .collect();
        policies.sort_by(|x, y| x.arn.cmp(&y.arn));
        let listed = policies.into_iter().map(|p| {
            let v = without(policy_json(a, p), &["Description"]);
            (p.arn.as_str(), v)
        });
        Ok(page(listed, &l.listing, "Policies"))
    })?;
    Ok(Some(v))
}
