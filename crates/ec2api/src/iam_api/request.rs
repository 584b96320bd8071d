//! An IAM call parsed into its action and typed input, once. The parameters are decoded
//! along the operation's input shape in botocore's `iam` model (`protocol::query`, the plain
//! Query protocol: `Name.member.N` lists and structures, parameters the operation does not
//! take ignored); the typed inputs of [`super::input`] are read from that by serde. Required
//! members are checked in the order IAM checks them (a missing one is `ValidationError`,
//! named in lower camel case as the service's model names it). The handlers then work on
//! these, never on the raw parameters.

use super::input::*;
use super::IamApiError;
use crate::query_api::input;
use iam::condition::Context;
use iam::registry::{Holder, Tag, Tagged};
use iam::IamError;
use serde_json::Value;

/// A user, a group or a role, by name: what attached and inline policies belong to (and
/// boundaries, to users and roles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    User(String),
    Group(String),
    Role(String),
}

impl Owner {
    /// `GroupName` for the `…Group…` actions, `UserName` for the `…User…` ones, `RoleName`
    /// for the `…Role…` ones.
    fn of(action: &str, decoded: &Value) -> Result<Owner, IamError> {
        if action.contains("Group") {
            Ok(Owner::Group(input::<GroupNamed>(decoded)?.group_name))
        } else if action.contains("User") {
            Ok(Owner::User(input::<UserNamed>(decoded)?.user_name))
        } else {
            Ok(Owner::Role(input::<RoleNamed>(decoded)?.role_name))
        }
    }

    pub(super) fn holder(&self) -> Holder<'_> {
        match self {
            Owner::User(n) => Holder::User(n),
            Owner::Group(n) => Holder::Group(n),
            Owner::Role(n) => Holder::Role(n),
        }
    }

    /// The member naming the owner in an answer (`UserName`, `GroupName`, `RoleName`) and
    /// its value.
    pub(super) fn member(&self) -> (&'static str, &str) {
        match self {
            Owner::User(n) => ("UserName", n),
            Owner::Group(n) => ("GroupName", n),
            Owner::Role(n) => ("RoleName", n),
        }
    }
}

/// A user or a role, by name: what tags belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOwner {
    User(String),
    Role(String),
}

impl TagOwner {
    /// `UserName` for the `…User…` actions, `RoleName` for the `…Role…` ones.
    fn of(action: &str, decoded: &Value) -> Result<TagOwner, IamError> {
        if action.contains("User") {
            Ok(TagOwner::User(input::<UserNamed>(decoded)?.user_name))
        } else {
            Ok(TagOwner::Role(input::<RoleNamed>(decoded)?.role_name))
        }
    }

    pub(super) fn tagged(&self) -> Tagged<'_> {
        match self {
            TagOwner::User(n) => Tagged::User(n),
            TagOwner::Role(n) => Tagged::Role(n),
        }
    }
}

/// What the policy simulator is asked: the policies given, the actions, the resources and
/// the context entries. The documents are parsed by the handler (a malformed one is refused
/// before missing action names are).
#[derive(Debug, Clone)]
pub struct Simulation {
    pub policy_inputs: Vec<String>,
    pub boundary_inputs: Vec<String>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub context: Context,
}

#[derive(Debug, Clone)]
pub struct CreateUser {
    pub name: String,
    pub path: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub struct CreatePolicy {
    pub name: String,
    pub document: String,
    pub path: Option<String>,
    pub description: Option<String>,
}

/// A role, with its boundary when one is given.
#[derive(Debug, Clone)]
pub struct CreateRole {
    pub name: String,
    pub trust: String,
    pub max_session_duration: Option<u32>,
    pub path: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    pub boundary: Option<String>,
}

/// What a listing asks for: the entities whose path starts with `path_prefix` (`/` for the
/// listings without one), after `marker`, at most `max_items`.
#[derive(Debug, Clone)]
pub struct Listing {
    pub path_prefix: String,
    pub marker: Option<String>,
    pub max_items: usize,
}

impl Listing {
    /// The entities under `path_prefix` (already read) on the page `page` asks for.
    fn of(path_prefix: String, page: PageIn) -> Result<Listing, IamError> {
        Ok(Listing {
            path_prefix,
            marker: marker(page.marker)?,
            max_items: max_items(page.max_items)?,
        })
    }

    /// A listing of ListUsers, ListRoles, ListGroups or ListInstanceProfiles
    /// (`pathPrefixType`).
    fn by_path(decoded: &Value) -> Result<Listing, IamError> {
        let prefix = path_prefix(input::<PrefixIn>(decoded)?.path_prefix)?;
        Listing::of(prefix, input(decoded)?)
    }

    /// A listing with a page and no prefix (the policies of one holder, a group's users, a
    /// user's groups).
    fn paged(decoded: &Value) -> Result<Listing, IamError> {
        Listing::of("/".into(), input(decoded)?)
    }

    /// A listing of a holder's managed policies (`policyPathType`).
    fn by_policy_path(decoded: &Value) -> Result<Listing, IamError> {
        let prefix = policy_path_prefix(input::<PrefixIn>(decoded)?.path_prefix)?;
        Listing::of(prefix, input(decoded)?)
    }
}

/// ListPolicies' `Scope`: AWS's managed policies, the account's, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyScope {
    All,
    Aws,
    Local,
}

/// ListPolicies' `PolicyUsageFilter`: policies attached as permissions, or as boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyUsage {
    PermissionsPolicy,
    PermissionsBoundary,
}

/// What GetAccountAuthorizationDetails includes (`Filter`, `entityListType`; all when none is
/// given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DetailKinds {
    pub users: bool,
    pub groups: bool,
    pub roles: bool,
    /// The account's own managed policies.
    pub local_policies: bool,
    /// AWS's managed policies that the account uses.
    pub aws_policies: bool,
}

/// ListEntitiesForPolicy's `EntityFilter`: one kind of entity. `LocalManagedPolicy` and
/// `AWSManagedPolicy`, the enum's other values, filter nothing here (UNCONFIRMED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Role,
    Group,
}

/// What ListEntitiesForPolicy asks: the users, groups and roles that use the policy (as a
/// permissions policy or a boundary, or either), under the prefix, a page at a time.
#[derive(Debug, Clone)]
pub struct EntityListing {
    pub arn: String,
    pub kind: Option<EntityKind>,
    pub usage: Option<PolicyUsage>,
    pub listing: Listing,
}

/// ListPolicies' filters beside the listing: which policies, only those attached, and
/// attached how.
#[derive(Debug, Clone)]
pub struct PolicyListing {
    pub listing: Listing,
    pub scope: PolicyScope,
    pub only_attached: bool,
    pub usage: Option<PolicyUsage>,
}

/// One IAM call, by action, with its typed input.
#[derive(Debug, Clone)]
pub enum Request {
    CreateUser(CreateUser),
    /// Without a name: the calling user.
    GetUser {
        name: Option<String>,
    },
    DeleteUser {
        name: String,
    },
    CreateAccessKey {
        user: Option<String>,
    },
    DeleteAccessKey {
        key: String,
        user: Option<String>,
    },
    ListAccessKeys {
        user: Option<String>,
    },
    CreatePolicy(CreatePolicy),
    GetPolicy {
        arn: String,
    },
    /// `version` is checked once the policy is found (IAM answers `NoSuchEntity` first).
    GetPolicyVersion {
        arn: String,
        version: Option<String>,
    },
    DeletePolicy {
        arn: String,
    },
    CreatePolicyVersion {
        arn: String,
        document: String,
        set_default: bool,
    },
    DeletePolicyVersion {
        arn: String,
        version: String,
    },
    SetDefaultPolicyVersion {
        arn: String,
        version: String,
    },
    ListPolicyVersions {
        arn: String,
        listing: Listing,
    },
    AttachPolicy {
        owner: Owner,
        arn: String,
    },
    DetachPolicy {
        owner: Owner,
        arn: String,
    },
    ListAttachedPolicies {
        owner: Owner,
        listing: Listing,
    },
    PutInlinePolicy {
        owner: Owner,
        name: String,
        document: String,
    },
    GetInlinePolicy {
        owner: Owner,
        name: String,
    },
    DeleteInlinePolicy {
        owner: Owner,
        name: String,
    },
    ListInlinePolicies {
        owner: Owner,
        listing: Listing,
    },
    PutBoundary {
        owner: Owner,
        arn: String,
    },
    DeleteBoundary {
        owner: Owner,
    },
    CreateGroup {
        name: String,
        path: Option<String>,
    },
    /// The group, and a page of its users.
    GetGroup {
        name: String,
        listing: Listing,
    },
    DeleteGroup {
        name: String,
    },
    ListGroups(Listing),
    AddUserToGroup {
        group: String,
        user: String,
    },
    RemoveUserFromGroup {
        group: String,
        user: String,
    },
    ListGroupsForUser {
        user: String,
        listing: Listing,
    },
    CreateRole(CreateRole),
    GetRole {
        name: String,
    },
    DeleteRole {
        name: String,
    },
    CreateInstanceProfile {
        name: String,
        path: Option<String>,
    },
    GetInstanceProfile {
        name: String,
    },
    AddRoleToInstanceProfile {
        profile: String,
        role: String,
    },
    RemoveRoleFromInstanceProfile {
        profile: String,
        role: String,
    },
    DeleteInstanceProfile {
        name: String,
    },
    /// TagUser, TagRole.
    Tag {
        owner: TagOwner,
        tags: Vec<Tag>,
    },
    /// UntagUser, UntagRole.
    Untag {
        owner: TagOwner,
        keys: Vec<String>,
    },
    /// ListUserTags, ListRoleTags.
    ListTags {
        owner: TagOwner,
        listing: Listing,
    },
    ListUsers(Listing),
    ListRoles(Listing),
    ListInstanceProfiles(Listing),
    ListPolicies(PolicyListing),
    ListEntitiesForPolicy(EntityListing),
    GetAccountAuthorizationDetails {
        kinds: DetailKinds,
        listing: Listing,
    },
    /// The instance profiles that hold the role (every path).
    ListInstanceProfilesForRole {
        role: String,
        listing: Listing,
    },
    SimulateCustomPolicy(Simulation),
    SimulatePrincipalPolicy {
        source: String,
        simulation: Simulation,
    },
}

/// `PolicyUsageFilter` (`policyUsageType`), when given.
fn policy_usage(given: Option<String>) -> Result<Option<PolicyUsage>, IamError> {
    let values = ["PermissionsPolicy", "PermissionsBoundary"];
    Ok(
        one_of(given, "policyUsageFilter", &values)?.map(|u| match u {
            "PermissionsBoundary" => PolicyUsage::PermissionsBoundary,
            _ => PolicyUsage::PermissionsPolicy,
        }),
    )
}

impl Request {
    /// Parse the call of `action` from its parameters decoded along the `iam` model:
    /// `InvalidAction` for an action the IAM API here does not have.
    pub(super) fn parse(action: &str, decoded: &Value) -> Result<Request, IamApiError> {
        let owner = || Owner::of(action, decoded);
        Ok(match action {
            "CreateUser" => {
                let i: CreateUserIn = input(decoded)?;
                Request::CreateUser(CreateUser {
                    name: i.user_name,
                    path: i.path,
                    tags: tags(i.tags),
                })
            }
            "GetUser" => Request::GetUser {
                name: input::<MaybeUser>(decoded)?.user_name,
            },
            "DeleteUser" => Request::DeleteUser {
                name: input::<UserNamed>(decoded)?.user_name,
            },
            "CreateAccessKey" => Request::CreateAccessKey {
                user: input::<MaybeUser>(decoded)?.user_name,
            },
            "DeleteAccessKey" => {
                let i: AccessKeyIn = input(decoded)?;
                Request::DeleteAccessKey {
                    key: i.access_key_id,
                    user: i.user_name,
                }
            }
            "ListAccessKeys" => Request::ListAccessKeys {
                user: input::<MaybeUser>(decoded)?.user_name,
            },
            "CreatePolicy" => {
                let i: CreatePolicyIn = input(decoded)?;
                Request::CreatePolicy(CreatePolicy {
                    name: i.policy_name,
                    document: i.policy_document,
                    path: i.path,
                    description: i.description,
                })
            }
            "GetPolicy" => Request::GetPolicy {
                arn: input::<PolicyArnIn>(decoded)?.policy_arn,
            },
            "GetPolicyVersion" => {
                let i: PolicyVersionIn = input(decoded)?;
                Request::GetPolicyVersion {
                    arn: i.policy_arn,
                    version: i.version_id,
                }
            }
            "DeletePolicy" => Request::DeletePolicy {
                arn: input::<PolicyArnIn>(decoded)?.policy_arn,
            },
            "CreatePolicyVersion" => {
                let i: CreatePolicyVersionIn = input(decoded)?;
                Request::CreatePolicyVersion {
                    arn: i.policy_arn,
                    document: i.policy_document,
                    set_default: boolean(i.set_as_default, "setAsDefault")?,
                }
            }
            "DeletePolicyVersion" => {
                let i: PolicyVersionNamed = input(decoded)?;
                Request::DeletePolicyVersion {
                    arn: i.policy_arn,
                    version: i.version_id,
                }
            }
            "SetDefaultPolicyVersion" => {
                let i: PolicyVersionNamed = input(decoded)?;
                Request::SetDefaultPolicyVersion {
                    arn: i.policy_arn,
                    version: i.version_id,
                }
            }
            "ListPolicyVersions" => Request::ListPolicyVersions {
                arn: input::<PolicyArnIn>(decoded)?.policy_arn,
                listing: Listing::paged(decoded)?,
            },
            "AttachUserPolicy" | "AttachGroupPolicy" | "AttachRolePolicy" => {
                let arn = input::<PolicyArnIn>(decoded)?.policy_arn;
                Request::AttachPolicy {
                    owner: owner()?,
                    arn,
                }
            }
            "DetachUserPolicy" | "DetachGroupPolicy" | "DetachRolePolicy" => {
                let arn = input::<PolicyArnIn>(decoded)?.policy_arn;
                Request::DetachPolicy {
                    owner: owner()?,
                    arn,
                }
            }
            "ListAttachedUserPolicies"
            | "ListAttachedGroupPolicies"
            | "ListAttachedRolePolicies" => Request::ListAttachedPolicies {
                owner: owner()?,
                listing: Listing::by_policy_path(decoded)?,
            },
            "PutUserPolicy" | "PutGroupPolicy" | "PutRolePolicy" => {
                let owner = owner()?;
                let i: InlinePolicyIn = input(decoded)?;
                Request::PutInlinePolicy {
                    owner,
                    name: i.policy_name,
                    document: i.policy_document,
                }
            }
            "GetUserPolicy" | "GetGroupPolicy" | "GetRolePolicy" => Request::GetInlinePolicy {
                owner: owner()?,
                name: input::<PolicyNamed>(decoded)?.policy_name,
            },
            "DeleteUserPolicy" | "DeleteGroupPolicy" | "DeleteRolePolicy" => {
                Request::DeleteInlinePolicy {
                    owner: owner()?,
                    name: input::<PolicyNamed>(decoded)?.policy_name,
                }
            }
            "ListUserPolicies" | "ListGroupPolicies" | "ListRolePolicies" => {
                Request::ListInlinePolicies {
                    owner: owner()?,
                    listing: Listing::paged(decoded)?,
                }
            }
            "PutUserPermissionsBoundary" | "PutRolePermissionsBoundary" => Request::PutBoundary {
                owner: owner()?,
                arn: input::<BoundaryIn>(decoded)?.permissions_boundary,
            },
            "DeleteUserPermissionsBoundary" | "DeleteRolePermissionsBoundary" => {
                Request::DeleteBoundary { owner: owner()? }
            }
            "CreateGroup" => {
                let i: CreateGroupIn = input(decoded)?;
                Request::CreateGroup {
                    name: i.group_name,
                    path: i.path,
                }
            }
            "GetGroup" => Request::GetGroup {
                name: input::<GroupNamed>(decoded)?.group_name,
                listing: Listing::paged(decoded)?,
            },
            "DeleteGroup" => Request::DeleteGroup {
                name: input::<GroupNamed>(decoded)?.group_name,
            },
            "ListGroups" => Request::ListGroups(Listing::by_path(decoded)?),
            "AddUserToGroup" => {
                let i: GroupUserIn = input(decoded)?;
                Request::AddUserToGroup {
                    group: i.group_name,
                    user: i.user_name,
                }
            }
            "RemoveUserFromGroup" => {
                let i: GroupUserIn = input(decoded)?;
                Request::RemoveUserFromGroup {
                    group: i.group_name,
                    user: i.user_name,
                }
            }
            "ListGroupsForUser" => Request::ListGroupsForUser {
                user: input::<UserNamed>(decoded)?.user_name,
                listing: Listing::paged(decoded)?,
            },
            "CreateRole" => {
                let i: CreateRoleIn = input(decoded)?;
                Request::CreateRole(CreateRole {
                    name: i.role_name,
                    trust: i.assume_role_policy_document,
                    max_session_duration: max_session_duration(i.max_session_duration)?,
                    path: i.path,
                    description: i.description,
                    tags: tags(i.tags),
                    boundary: i.permissions_boundary,
                })
            }
            "GetRole" => Request::GetRole {
                name: input::<RoleNamed>(decoded)?.role_name,
            },
            "DeleteRole" => Request::DeleteRole {
                name: input::<RoleNamed>(decoded)?.role_name,
            },
            "CreateInstanceProfile" => {
                let i: CreateProfileIn = input(decoded)?;
                Request::CreateInstanceProfile {
                    name: i.instance_profile_name,
                    path: i.path,
                }
            }
            "GetInstanceProfile" => Request::GetInstanceProfile {
                name: input::<ProfileNamed>(decoded)?.instance_profile_name,
            },
            "AddRoleToInstanceProfile" => {
                let i: ProfileRoleIn = input(decoded)?;
                Request::AddRoleToInstanceProfile {
                    profile: i.instance_profile_name,
                    role: i.role_name,
                }
            }
            "RemoveRoleFromInstanceProfile" => {
                let i: ProfileRoleIn = input(decoded)?;
                Request::RemoveRoleFromInstanceProfile {
                    profile: i.instance_profile_name,
                    role: i.role_name,
                }
            }
            "DeleteInstanceProfile" => Request::DeleteInstanceProfile {
                name: input::<ProfileNamed>(decoded)?.instance_profile_name,
            },
            "TagUser" | "TagRole" => {
                let owner = TagOwner::of(action, decoded)?;
                Request::Tag {
                    owner,
                    tags: tags(input::<TagsIn>(decoded)?.tags),
                }
            }
            "UntagUser" | "UntagRole" => {
                let owner = TagOwner::of(action, decoded)?;
                Request::Untag {
                    owner,
                    keys: input::<TagKeysIn>(decoded)?.tag_keys,
                }
            }
            "ListUserTags" | "ListRoleTags" => Request::ListTags {
                owner: TagOwner::of(action, decoded)?,
                listing: Listing::paged(decoded)?,
            },
            "ListUsers" => Request::ListUsers(Listing::by_path(decoded)?),
            "ListRoles" => Request::ListRoles(Listing::by_path(decoded)?),
            "ListInstanceProfiles" => Request::ListInstanceProfiles(Listing::by_path(decoded)?),
            "ListInstanceProfilesForRole" => {
                let role = input::<RoleNamed>(decoded)?.role_name;
                Request::ListInstanceProfilesForRole {
                    role,
                    listing: Listing::of("/".into(), input(decoded)?)?,
                }
            }
            "ListPolicies" => {
                let i: PolicyFiltersIn = input(decoded)?;
                let scope = match one_of(i.scope, "scope", &["All", "AWS", "Local"])? {
                    Some("AWS") => PolicyScope::Aws,
                    Some("Local") => PolicyScope::Local,
                    _ => PolicyScope::All,
                };
                let usage = policy_usage(i.policy_usage_filter)?;
                let prefix = policy_path_prefix(input::<PrefixIn>(decoded)?.path_prefix)?;
                Request::ListPolicies(PolicyListing {
                    scope,
                    only_attached: boolean(i.only_attached, "onlyAttached")?,
                    usage,
                    listing: Listing::of(prefix, input(decoded)?)?,
                })
            }
            "ListEntitiesForPolicy" => {
                let arn = input::<PolicyArnIn>(decoded)?.policy_arn;
                let i: EntityFiltersIn = input(decoded)?;
                let kinds = [
                    "User",
                    "Role",
                    "Group",
                    "LocalManagedPolicy",
                    "AWSManagedPolicy",
                ];
                let kind = match one_of(i.entity_filter, "entityFilter", &kinds)? {
                    Some("User") => Some(EntityKind::User),
                    Some("Role") => Some(EntityKind::Role),
                    Some("Group") => Some(EntityKind::Group),
                    _ => None,
                };
                let prefix = entity_path_prefix(input::<PrefixIn>(decoded)?.path_prefix)?;
                Request::ListEntitiesForPolicy(EntityListing {
                    arn,
                    kind,
                    usage: policy_usage(i.policy_usage_filter)?,
                    listing: Listing::of(prefix, input(decoded)?)?,
                })
            }
            "GetAccountAuthorizationDetails" => {
                let given = input::<DetailsFilterIn>(decoded)?.filter;
                let all = [
                    "User",
                    "Role",
                    "Group",
                    "LocalManagedPolicy",
                    "AWSManagedPolicy",
                ];
                let mut kinds = DetailKinds::default();
                for g in given.iter().cloned() {
                    match one_of(Some(g), "filter", &all)? {
                        Some("User") => kinds.users = true,
                        Some("Role") => kinds.roles = true,
                        Some("Group") => kinds.groups = true,
                        Some("LocalManagedPolicy") => kinds.local_policies = true,
                        _ => kinds.aws_policies = true,
                    }
                }
                if given.is_empty() {
                    kinds = DetailKinds {
                        users: true,
                        groups: true,
                        roles: true,
                        local_policies: true,
                        aws_policies: true,
                    };
                }
                Request::GetAccountAuthorizationDetails {
                    kinds,
                    listing: Listing::paged(decoded)?,
                }
            }
            "SimulateCustomPolicy" => Request::SimulateCustomPolicy(simulation(input(decoded)?)),
            "SimulatePrincipalPolicy" => {
                let source = input::<PolicySourceIn>(decoded)?.policy_source_arn;
                Request::SimulatePrincipalPolicy {
                    source,
                    simulation: simulation(input(decoded)?),
                }
            }
            _ => return Err(IamApiError::InvalidAction(action.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::shapes::iam;
    /// The actions parsed are the model's operations, and only those.
    #[test]
    fn actions_are_the_models_operations() {
        let empty = serde_json::json!({});
        for op in iam().operations.keys() {
            assert!(
                !matches!(
                    Request::parse(op, &empty),
                    Err(IamApiError::InvalidAction(_))
                ),
                "{op}"
            );
        }
        assert!(matches!(
            Request::parse("CreateLoginProfile", &empty),
            Err(IamApiError::InvalidAction(_))
        ));
    }

    /// IAM's order of required members, and its words for a missing one.
    #[test]
    fn required_members_in_iams_order() {
        let missing = |action: &str, v: Value| match Request::parse(action, &v) {
            Err(IamApiError::Iam(IamError::ValidationError(m))) => m,
            other => panic!("{other:?}"),
        };
        let at = |m: String| m.split('\'').nth(1).unwrap_or_default().to_string();
        let none = serde_json::json!({});
        assert_eq!(at(missing("AttachUserPolicy", none.clone())), "policyArn");
        assert_eq!(at(missing("PutRolePolicy", none.clone())), "roleName");
        assert_eq!(
            at(missing(
                "PutRolePolicy",
                serde_json::json!({"RoleName": "r"})
            )),
            "policyName"
        );
        assert_eq!(
            at(missing(
                "CreateRole",
                serde_json::json!({"MaxSessionDuration": "x"})
            )),
            "roleName"
        );
        assert_eq!(
            missing(
                "CreateRole",
                serde_json::json!({"RoleName": "r", "AssumeRolePolicyDocument": "{}", "MaxSessionDuration": "+x"})
            ),
            "1 validation error detected: Value '+x' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
        );
        assert!(Request::parse("SimulateCustomPolicy", &none).is_ok());
        assert_eq!(
            at(missing("SimulatePrincipalPolicy", none)),
            "policySourceArn"
        );
    }
}
