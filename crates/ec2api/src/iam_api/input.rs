//! The typed inputs of the IAM API, read by serde from a call decoded along botocore's `iam`
//! model (`protocol::query::decode_query`). Field names are the model's member names
//! (PascalCase; a test holds every one to the model); the order of the required ones is the
//! order IAM checks them in (`query_api::input`). [`super::request`] builds its `Request`
//! from these.

use super::request::Simulation;
use crate::protocol::query::Integer;
use crate::query_api::input;
use iam::condition::Context;
use iam::IamError;
use serde::Deserialize;
use serde_json::Value;

/// What an IAM call names, for its authorization (which comes before the call is parsed: an
/// unknown action or a missing member from a caller not allowed is `AccessDenied`).
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Target {
    pub policy_arn: Option<String>,
    pub instance_profile_name: Option<String>,
    pub role_name: Option<String>,
    pub user_name: Option<String>,
    pub group_name: Option<String>,
    pub path: Option<String>,
    pub policy_name: Option<String>,
    pub policy_source_arn: Option<String>,
    /// The tags a call puts on a user or a role (CreateUser, CreateRole, TagUser, TagRole).
    pub tags: Option<Vec<TagIn>>,
    /// The tag keys a call removes (UntagUser, UntagRole).
    pub tag_keys: Option<Vec<String>>,
}

impl Target {
    pub(super) fn of(decoded: &Value) -> Target {
        input(decoded).unwrap_or_default()
    }
}

// The typed inputs, read from the decoded call. Field names are the model's member names
// (PascalCase); the order of the required ones is the order IAM checks them in.

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserNamed {
    pub(super) user_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MaybeUser {
    pub(super) user_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RoleNamed {
    pub(super) role_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GroupNamed {
    pub(super) group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateGroupIn {
    pub(super) group_name: String,
    pub(super) path: Option<String>,
}

/// AddUserToGroup, RemoveUserFromGroup.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GroupUserIn {
    pub(super) group_name: String,
    pub(super) user_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProfileNamed {
    pub(super) instance_profile_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PolicyNamed {
    pub(super) policy_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PolicyArnIn {
    pub(super) policy_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PolicySourceIn {
    pub(super) policy_source_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BoundaryIn {
    pub(super) permissions_boundary: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateUserIn {
    pub(super) user_name: String,
    pub(super) path: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<TagIn>,
}

/// TagUser, TagRole (after the holder's name).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagsIn {
    pub(super) tags: Vec<TagIn>,
}

/// UntagUser, UntagRole (after the holder's name).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagKeysIn {
    pub(super) tag_keys: Vec<String>,
}

pub(super) use crate::query_api::{tags, TagIn};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AccessKeyIn {
    pub(super) access_key_id: String,
    pub(super) user_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreatePolicyIn {
    pub(super) policy_name: String,
    pub(super) policy_document: String,
    pub(super) path: Option<String>,
    pub(super) description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PolicyVersionIn {
    pub(super) policy_arn: String,
    pub(super) version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreatePolicyVersionIn {
    pub(super) policy_arn: String,
    pub(super) policy_document: String,
    pub(super) set_as_default: Option<Value>,
}

/// DeletePolicyVersion, SetDefaultPolicyVersion.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PolicyVersionNamed {
    pub(super) policy_arn: String,
    pub(super) version_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct InlinePolicyIn {
    pub(super) policy_name: String,
    pub(super) policy_document: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateRoleIn {
    pub(super) role_name: String,
    pub(super) assume_role_policy_document: String,
    pub(super) max_session_duration: Option<Integer>,
    pub(super) path: Option<String>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<TagIn>,
    pub(super) permissions_boundary: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateProfileIn {
    pub(super) instance_profile_name: String,
    pub(super) path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProfileRoleIn {
    pub(super) instance_profile_name: String,
    pub(super) role_name: String,
}

/// A listing's path prefix (ListUsers, ListRoles, ListInstanceProfiles, ListPolicies).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PrefixIn {
    pub(super) path_prefix: Option<String>,
}

/// A listing's page: where to start and how many (every listing).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PageIn {
    pub(super) marker: Option<String>,
    pub(super) max_items: Option<Integer>,
}

/// GetAccountAuthorizationDetails' `Filter`: the kinds of entity to include.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DetailsFilterIn {
    #[serde(default)]
    pub(super) filter: Vec<String>,
}

/// ListEntitiesForPolicy's filters beside its policy, prefix and page.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EntityFiltersIn {
    pub(super) entity_filter: Option<String>,
    pub(super) policy_usage_filter: Option<String>,
}

/// ListPolicies' filters beside its prefix and page: scope, attachment and use.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PolicyFiltersIn {
    pub(super) scope: Option<String>,
    pub(super) only_attached: Option<Value>,
    pub(super) policy_usage_filter: Option<String>,
}

/// The simulator's input; no member is required here (the handler refuses a malformed
/// policy before missing action names).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SimulationIn {
    #[serde(default)]
    pub(super) policy_input_list: Vec<String>,
    #[serde(default)]
    pub(super) permissions_boundary_policy_input_list: Vec<String>,
    #[serde(default)]
    pub(super) action_names: Vec<String>,
    #[serde(default)]
    pub(super) resource_arns: Vec<String>,
    #[serde(default)]
    pub(super) context_entries: Vec<ContextEntryIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ContextEntryIn {
    pub(super) context_key_name: Option<String>,
    #[serde(default)]
    pub(super) context_key_values: Vec<String>,
}

/// `MaxSessionDuration` as IAM reads it: a whole number of seconds (its range is the
/// registry's to check).
pub(super) fn max_session_duration(given: Option<Integer>) -> Result<Option<u32>, IamError> {
    given
        .map(|m| {
            let m = m.text();
            m.parse::<u32>().map_err(|_| {
                IamError::ValidationError(format!(
                    "1 validation error detected: Value '{m}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
                ))
            })
        })
        .transpose()
}

/// The simulator's input: `ResourceArns` is `*` when none is given; a context entry without
/// a key name is skipped.
pub(super) fn simulation(i: SimulationIn) -> Simulation {
    let mut resources = i.resource_arns;
    if resources.is_empty() {
        resources.push("*".into());
    }
    let mut context = Context::new();
    for e in i.context_entries {
        if let Some(key) = e.context_key_name {
            context.set(&key, e.context_key_values);
        }
    }
    Simulation {
        policy_inputs: i.policy_input_list,
        boundary_inputs: i.permissions_boundary_policy_input_list,
        actions: i.action_names,
        resources,
        context,
    }
}

/// IAM's words for a member that fails its model's constraint (`what` says which).
fn invalid(value: &str, member: &str, what: &str) -> IamError {
    IamError::ValidationError(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must {what}"
    ))
}

/// `MaxItems` (`maxItemsType`: 1 to 1,000; 100 when not given).
pub(super) fn max_items(given: Option<Integer>) -> Result<usize, IamError> {
    let Some(given) = given else {
        return Ok(100);
    };
    let text = given.text();
    match text.parse::<i64>() {
        Ok(n) if n > 1000 => Err(invalid(
            &text,
            "maxItems",
            "have value less than or equal to 1000",
        )),
        Ok(n) if n >= 1 => Ok(n as usize),
        _ => Err(invalid(
            &text,
            "maxItems",
            "have value greater than or equal to 1",
        )),
    }
}

/// `Marker` (`markerType`: 1 to 320 characters from U+0020 to U+00FF).
pub(super) fn marker(given: Option<String>) -> Result<Option<String>, IamError> {
    match given {
        Some(m)
            if m.is_empty()
                || m.chars().count() > 320
                || m.chars().any(|c| !(' '..='\u{ff}').contains(&c)) =>
        {
            Err(invalid(
                &m,
                "marker",
                r"satisfy regular expression pattern: [\u0020-\u00FF]+",
            ))
        }
        m => Ok(m),
    }
}

/// A `PathPrefix` (`/` when not given) that `fits` its type, else `ValidationError` naming the
/// type's `pattern`.
fn prefix_of(
    given: Option<String>,
    fits: impl Fn(&str) -> bool,
    pattern: &str,
) -> Result<String, IamError> {
    let p = given.unwrap_or_else(|| "/".into());
    if p.len() <= 512 && fits(&p) {
        Ok(p)
    } else {
        let rule = format!("satisfy regular expression pattern: {pattern}");
        Err(invalid(&p, "pathPrefix", &rule))
    }
}

/// `PathPrefix` of ListUsers, ListRoles, ListGroups and ListInstanceProfiles
/// (`pathPrefixType`: `/` then characters from U+0021 to U+007F, at most 512).
pub(super) fn path_prefix(given: Option<String>) -> Result<String, IamError> {
    let fits = |p: &str| p.starts_with('/') && p.chars().all(|c| ('!'..='\u{7f}').contains(&c));
    prefix_of(given, fits, r"\u002F[\u0021-\u007F]*")
}

/// `PathPrefix` of ListPolicies and ListAttached…Policies (`policyPathType`: `/`, or segments
/// of letters, digits and `.,+@=_-` each after a `/`, ending with `/`; at most 512).
pub(super) fn policy_path_prefix(given: Option<String>) -> Result<String, IamError> {
    let segment = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c))
    };
    let fits = |p: &str| {
        p.starts_with('/')
            && p.ends_with('/')
            && (p == "/" || p[1..p.len() - 1].split('/').all(segment))
    };
    prefix_of(given, fits, r"((/[A-Za-z0-9\.,\+@=_-]+)*)/")
}

/// `PathPrefix` of ListEntitiesForPolicy (`pathType`: `/`, or `/` then characters from
/// U+0021 to U+007E ending with `/`; at most 512).
pub(super) fn entity_path_prefix(given: Option<String>) -> Result<String, IamError> {
    let fits = |p: &str| {
        p == "/"
            || (p.len() > 2
                && p.starts_with('/')
                && p.ends_with('/')
                && p[1..p.len() - 1].chars().all(|c| ('!'..='~').contains(&c)))
    };
    prefix_of(given, fits, r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)")
}

/// A member of an enum of the model: one of `values`, or `None` when not given.
pub(super) fn one_of<'v>(
    given: Option<String>,
    member: &str,
    values: &[&'v str],
) -> Result<Option<&'v str>, IamError> {
    match given {
        None => Ok(None),
        Some(g) => values
            .iter()
            .find(|v| **v == g)
            .map(|v| Some(*v))
            .ok_or_else(|| {
                invalid(
                    &g,
                    member,
                    &format!("satisfy enum value set: [{}]", values.join(", ")),
                )
            }),
    }
}

/// A boolean member as the plain Query protocol hands it on: `true` or `false` (in any
/// case), else refused (the case rule and the refusal's words are UNCONFIRMED).
pub(super) fn boolean(given: Option<Value>, member: &str) -> Result<bool, IamError> {
    match given {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(v) => {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            match text.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(invalid(&text, member, "be a boolean (true or false)")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::shapes::{assert_members, iam, serde_fields};

    /// Every typed input's field is a member of its operation's input shape in botocore's
    /// `iam` model: no member name here is one the model does not have.
    #[test]
    fn typed_inputs_follow_the_model() {
        let m = iam();
        let request = |op: &str| m.input(op).unwrap().to_string();
        let cases: Vec<(String, Vec<&str>)> = vec![
            (request("CreateUser"), serde_fields::<CreateUserIn>()),
            (request("GetUser"), serde_fields::<MaybeUser>()),
            (request("ListAccessKeys"), serde_fields::<MaybeUser>()),
            (request("CreateAccessKey"), serde_fields::<MaybeUser>()),
            (request("DeleteUser"), serde_fields::<UserNamed>()),
            (request("AttachUserPolicy"), serde_fields::<UserNamed>()),
            (request("AttachRolePolicy"), serde_fields::<RoleNamed>()),
            (request("AttachRolePolicy"), serde_fields::<PolicyArnIn>()),
            (request("DeleteAccessKey"), serde_fields::<AccessKeyIn>()),
            (request("CreatePolicy"), serde_fields::<CreatePolicyIn>()),
            (
                request("GetPolicyVersion"),
                serde_fields::<PolicyVersionIn>(),
            ),
            (request("PutUserPolicy"), serde_fields::<InlinePolicyIn>()),
            (request("GetRolePolicy"), serde_fields::<PolicyNamed>()),
            (
                request("PutRolePermissionsBoundary"),
                serde_fields::<BoundaryIn>(),
            ),
            (request("CreateRole"), serde_fields::<CreateRoleIn>()),
            (
                request("CreateInstanceProfile"),
                serde_fields::<CreateProfileIn>(),
            ),
            (
                request("GetInstanceProfile"),
                serde_fields::<ProfileNamed>(),
            ),
            (
                request("AddRoleToInstanceProfile"),
                serde_fields::<ProfileRoleIn>(),
            ),
            (
                request("SimulateCustomPolicy"),
                serde_fields::<SimulationIn>(),
            ),
            (
                request("SimulatePrincipalPolicy"),
                serde_fields::<SimulationIn>(),
            ),
            (
                request("SimulatePrincipalPolicy"),
                serde_fields::<PolicySourceIn>(),
            ),
            (request("ListUsers"), serde_fields::<PrefixIn>()),
            (request("ListRoles"), serde_fields::<PrefixIn>()),
            (request("ListInstanceProfiles"), serde_fields::<PrefixIn>()),
            (request("ListPolicies"), serde_fields::<PrefixIn>()),
            (request("ListPolicies"), serde_fields::<PolicyFiltersIn>()),
            (
                request("ListInstanceProfilesForRole"),
                serde_fields::<RoleNamed>(),
            ),
            (request("CreateGroup"), serde_fields::<CreateGroupIn>()),
            (request("GetGroup"), serde_fields::<GroupNamed>()),
            (request("PutGroupPolicy"), serde_fields::<GroupNamed>()),
            (request("AddUserToGroup"), serde_fields::<GroupUserIn>()),
            (
                request("RemoveUserFromGroup"),
                serde_fields::<GroupUserIn>(),
            ),
            (request("ListGroupsForUser"), serde_fields::<UserNamed>()),
            (request("ListGroups"), serde_fields::<PrefixIn>()),
            (
                request("ListAttachedGroupPolicies"),
                serde_fields::<PrefixIn>(),
            ),
            (
                request("CreatePolicyVersion"),
                serde_fields::<CreatePolicyVersionIn>(),
            ),
            (
                request("DeletePolicyVersion"),
                serde_fields::<PolicyVersionNamed>(),
            ),
            (
                request("SetDefaultPolicyVersion"),
                serde_fields::<PolicyVersionNamed>(),
            ),
            (request("ListPolicyVersions"), serde_fields::<PolicyArnIn>()),
            (
                request("ListEntitiesForPolicy"),
                serde_fields::<EntityFiltersIn>(),
            ),
            (request("ListEntitiesForPolicy"), serde_fields::<PrefixIn>()),
            (
                request("GetAccountAuthorizationDetails"),
                serde_fields::<DetailsFilterIn>(),
            ),
            (request("TagUser"), serde_fields::<TagsIn>()),
            (request("TagRole"), serde_fields::<TagsIn>()),
            (request("UntagUser"), serde_fields::<TagKeysIn>()),
            (request("UntagRole"), serde_fields::<TagKeysIn>()),
            (request("ListRoleTags"), serde_fields::<RoleNamed>()),
            ("Tag".into(), serde_fields::<TagIn>()),
            ("ContextEntry".into(), serde_fields::<ContextEntryIn>()),
        ];
        // Every listing takes a page.
        let listings = [
            "ListUsers",
            "ListRoles",
            "ListGroups",
            "ListInstanceProfiles",
            "ListPolicies",
            "ListInstanceProfilesForRole",
            "ListGroupsForUser",
            "GetGroup",
            "ListUserPolicies",
            "ListGroupPolicies",
            "ListRolePolicies",
            "ListAttachedUserPolicies",
            "ListAttachedGroupPolicies",
            "ListAttachedRolePolicies",
            "ListPolicyVersions",
            "ListEntitiesForPolicy",
            "GetAccountAuthorizationDetails",
            "ListUserTags",
            "ListRoleTags",
        ];
        let pages = listings.map(|op| (request(op), serde_fields::<PageIn>()));
        let cases = cases.into_iter().chain(pages);
        for (shape, fields) in cases {
            assert!(!fields.is_empty(), "{shape}");
            assert_members(m, &shape, &fields);
        }
        // What authorization reads is a member of some served operation's input.
        for f in serde_fields::<Target>() {
            assert!(
                m.operations.keys().any(|op| m.has_member(&request(op), f)),
                "{f}"
            );
        }
    }

    /// The listings' members as their model constrains them (`maxItemsType`, `markerType`,
    /// `pathPrefixType`, `policyPathType`), and a boolean given as text.
    #[test]
    fn listing_inputs_are_read_within_the_models_constraints() {
        assert_eq!(max_items(None).unwrap(), 100, "IAM's default page");
        assert!(max_items(Some(Integer::Text("ten".into()))).is_err());
        assert!(marker(Some(String::new())).is_err());
        assert!(marker(Some("a\u{100}".into())).is_err());
        assert_eq!(path_prefix(None).unwrap(), "/");
        assert!(
            path_prefix(Some("/a b/".into())).is_err(),
            "a space is not in the pattern"
        );
        assert!(policy_path_prefix(Some("/a/b/".into())).is_ok());
        assert!(policy_path_prefix(Some("/a//".into())).is_err());
        assert!(boolean(Some(Value::String("TRUE".into())), "onlyAttached").unwrap());
        assert!(boolean(Some(Value::String("yes".into())), "onlyAttached").is_err());
    }
}
