//! An IAM call parsed into its action and typed input, once. The parameters are decoded
//! along the operation's input shape in botocore's `iam` model (`protocol::query`, the plain
//! Query protocol: `Name.member.N` lists and structures, parameters the operation does not
//! take ignored); the typed inputs below are read from that by serde, their field names
//! being the model's member names (a test holds every one to the model). Required members
//! are checked in the order IAM checks them, which is the order of the fields (a missing one
//! is `ValidationError`, named in lower camel case as the service's model names it). The
//! handlers then work on these, never on the raw parameters.

use super::IamApiError;
use crate::protocol::query::Integer;
use crate::query_api::input;
use iam::condition::Context;
use iam::registry::{Holder, Tag};
use iam::IamError;
use serde::Deserialize;
use serde_json::Value;

/// A user or a role, by name: what attached, inline and boundary policies belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Owner {
    User(String),
    Role(String),
}

impl Owner {
    /// `UserName` for the `…User…` actions, `RoleName` for the `…Role…` ones.
    fn of(action: &str, decoded: &Value) -> Result<Owner, IamError> {
        if action.contains("User") {
            Ok(Owner::User(input::<UserNamed>(decoded)?.user_name))
        } else {
            Ok(Owner::Role(input::<RoleNamed>(decoded)?.role_name))
        }
    }

    pub(super) fn holder(&self) -> Holder<'_> {
        match self {
            Owner::User(n) => Holder::User(n),
            Owner::Role(n) => Holder::Role(n),
        }
    }

    /// The member naming the owner in an answer (`UserName`, `RoleName`) and its value.
    pub(super) fn member(&self) -> (&'static str, &str) {
        match self {
            Owner::User(n) => ("UserName", n),
            Owner::Role(n) => ("RoleName", n),
        }
    }
}

/// What the policy simulator is asked: the policies given, the actions, the resources and
/// the context entries. The documents are parsed by the handler (a malformed one is refused
/// before missing action names are).
#[derive(Debug, Clone)]
pub(super) struct Simulation {
    pub policy_inputs: Vec<String>,
    pub boundary_inputs: Vec<String>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub context: Context,
}

#[derive(Debug, Clone)]
pub(super) struct CreateUser {
    pub name: String,
    pub path: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub(super) struct CreatePolicy {
    pub name: String,
    pub document: String,
    pub path: Option<String>,
    pub description: Option<String>,
}

/// A role, with its boundary when one is given.
#[derive(Debug, Clone)]
pub(super) struct CreateRole {
    pub name: String,
    pub trust: String,
    pub max_session_duration: Option<u32>,
    pub path: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
    pub boundary: Option<String>,
}

/// One IAM call, by action, with its typed input.
#[derive(Debug, Clone)]
pub(super) enum Request {
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
    },
    PutBoundary {
        owner: Owner,
        arn: String,
    },
    DeleteBoundary {
        owner: Owner,
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
    SimulateCustomPolicy(Simulation),
    SimulatePrincipalPolicy {
        source: String,
        simulation: Simulation,
    },
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
            "AttachUserPolicy" | "AttachRolePolicy" => {
                let arn = input::<PolicyArnIn>(decoded)?.policy_arn;
                Request::AttachPolicy {
                    owner: owner()?,
                    arn,
                }
            }
            "DetachUserPolicy" | "DetachRolePolicy" => {
                let arn = input::<PolicyArnIn>(decoded)?.policy_arn;
                Request::DetachPolicy {
                    owner: owner()?,
                    arn,
                }
            }
            "ListAttachedUserPolicies" | "ListAttachedRolePolicies" => {
                Request::ListAttachedPolicies { owner: owner()? }
            }
            "PutUserPolicy" | "PutRolePolicy" => {
                let owner = owner()?;
                let i: InlinePolicyIn = input(decoded)?;
                Request::PutInlinePolicy {
                    owner,
                    name: i.policy_name,
                    document: i.policy_document,
                }
            }
            "GetUserPolicy" | "GetRolePolicy" => Request::GetInlinePolicy {
                owner: owner()?,
                name: input::<PolicyNamed>(decoded)?.policy_name,
            },
            "DeleteUserPolicy" | "DeleteRolePolicy" => Request::DeleteInlinePolicy {
                owner: owner()?,
                name: input::<PolicyNamed>(decoded)?.policy_name,
            },
            "ListUserPolicies" | "ListRolePolicies" => {
                Request::ListInlinePolicies { owner: owner()? }
            }
            "PutUserPermissionsBoundary" | "PutRolePermissionsBoundary" => Request::PutBoundary {
                owner: owner()?,
                arn: input::<BoundaryIn>(decoded)?.permissions_boundary,
            },
            "DeleteUserPermissionsBoundary" | "DeleteRolePermissionsBoundary" => {
                Request::DeleteBoundary { owner: owner()? }
            }
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

/// What an IAM call names, for its authorization (which comes before the call is parsed: an
/// unknown action or a missing member from a caller not allowed is `AccessDenied`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Target {
    pub policy_arn: Option<String>,
    pub instance_profile_name: Option<String>,
    pub role_name: Option<String>,
    pub user_name: Option<String>,
    pub path: Option<String>,
    pub policy_name: Option<String>,
    pub policy_source_arn: Option<String>,
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
struct UserNamed {
    user_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MaybeUser {
    user_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleNamed {
    role_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProfileNamed {
    instance_profile_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyNamed {
    policy_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyArnIn {
    policy_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicySourceIn {
    policy_source_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BoundaryIn {
    permissions_boundary: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateUserIn {
    user_name: String,
    path: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
}

/// `Tags.member.N.Key` / `.Value`; either missing reads as empty.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagIn {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessKeyIn {
    access_key_id: String,
    user_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreatePolicyIn {
    policy_name: String,
    policy_document: String,
    path: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyVersionIn {
    policy_arn: String,
    version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InlinePolicyIn {
    policy_name: String,
    policy_document: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRoleIn {
    role_name: String,
    assume_role_policy_document: String,
    max_session_duration: Option<Integer>,
    path: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<TagIn>,
    permissions_boundary: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateProfileIn {
    instance_profile_name: String,
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProfileRoleIn {
    instance_profile_name: String,
    role_name: String,
}

/// The simulator's input; no member is required here (the handler refuses a malformed
/// policy before missing action names).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SimulationIn {
    #[serde(default)]
    policy_input_list: Vec<String>,
    #[serde(default)]
    permissions_boundary_policy_input_list: Vec<String>,
    #[serde(default)]
    action_names: Vec<String>,
    #[serde(default)]
    resource_arns: Vec<String>,
    #[serde(default)]
    context_entries: Vec<ContextEntryIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContextEntryIn {
    context_key_name: Option<String>,
    #[serde(default)]
    context_key_values: Vec<String>,
}

fn tags(tags: Vec<TagIn>) -> Vec<Tag> {
    tags.into_iter()
        .map(|t| Tag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

/// `MaxSessionDuration` as IAM reads it: a whole number of seconds (its range is the
/// registry's to check).
fn max_session_duration(given: Option<Integer>) -> Result<Option<u32>, IamError> {
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
fn simulation(i: SimulationIn) -> Simulation {
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
            ("Tag".into(), serde_fields::<TagIn>()),
            ("ContextEntry".into(), serde_fields::<ContextEntryIn>()),
        ];
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
            Request::parse("ListUsers", &empty),
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
