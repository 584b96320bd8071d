//! An IAM call parsed into its action and typed input, once: `Name.member.N` lists and
//! structures read, required members checked in the order IAM checks them (a missing one is
//! `ValidationError`, named in lower camel case as the service's model names it), numbers
//! parsed. The handlers then work on these, never on the raw parameters.

use super::IamApiError;
use crate::protocol::query::Params;
use crate::query_api::{member_list, member_structs, required};
use iam::condition::Context;
use iam::registry::{Holder, Tag};
use iam::IamError;

/// A user or a role, by name: what attached, inline and boundary policies belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Owner {
    User(String),
    Role(String),
}

impl Owner {
    /// `UserName` for the `…User…` actions, `RoleName` for the `…Role…` ones.
    fn of(action: &str, params: &Params) -> Result<Owner, IamError> {
        if action.contains("User") {
            Ok(Owner::User(required(params, "UserName")?.to_string()))
        } else {
            Ok(Owner::Role(required(params, "RoleName")?.to_string()))
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
    /// Parse the call of `action`: `InvalidAction` for an action the IAM API here does not
    /// have.
    pub(super) fn parse(action: &str, params: &Params) -> Result<Request, IamApiError> {
        let req = |n: &str| required(params, n).map(str::to_string);
        let opt = |n: &str| params.get(n).map(str::to_string);
        let owner = || Owner::of(action, params);
        Ok(match action {
            "CreateUser" => Request::CreateUser(CreateUser {
                name: req("UserName")?,
                path: opt("Path"),
                tags: tags(params),
            }),
            "GetUser" => Request::GetUser {
                name: opt("UserName"),
            },
            "DeleteUser" => Request::DeleteUser {
                name: req("UserName")?,
            },
            "CreateAccessKey" => Request::CreateAccessKey {
                user: opt("UserName"),
            },
            "DeleteAccessKey" => Request::DeleteAccessKey {
                key: req("AccessKeyId")?,
                user: opt("UserName"),
            },
            "ListAccessKeys" => Request::ListAccessKeys {
                user: opt("UserName"),
            },
            "CreatePolicy" => Request::CreatePolicy(CreatePolicy {
                name: req("PolicyName")?,
                document: req("PolicyDocument")?,
                path: opt("Path"),
                description: opt("Description"),
            }),
            "GetPolicy" => Request::GetPolicy {
                arn: req("PolicyArn")?,
            },
            "GetPolicyVersion" => Request::GetPolicyVersion {
                arn: req("PolicyArn")?,
                version: opt("VersionId"),
            },
            "DeletePolicy" => Request::DeletePolicy {
                arn: req("PolicyArn")?,
            },
            "AttachUserPolicy" | "AttachRolePolicy" => {
                let arn = req("PolicyArn")?;
                Request::AttachPolicy {
                    owner: owner()?,
                    arn,
                }
            }
            "DetachUserPolicy" | "DetachRolePolicy" => {
                let arn = req("PolicyArn")?;
                Request::DetachPolicy {
                    owner: owner()?,
                    arn,
                }
            }
            "ListAttachedUserPolicies" | "ListAttachedRolePolicies" => {
                Request::ListAttachedPolicies { owner: owner()? }
            }
            "PutUserPolicy" | "PutRolePolicy" => Request::PutInlinePolicy {
                owner: owner()?,
                name: req("PolicyName")?,
                document: req("PolicyDocument")?,
            },
            "GetUserPolicy" | "GetRolePolicy" => Request::GetInlinePolicy {
                owner: owner()?,
                name: req("PolicyName")?,
            },
            "DeleteUserPolicy" | "DeleteRolePolicy" => Request::DeleteInlinePolicy {
                owner: owner()?,
                name: req("PolicyName")?,
            },
            "ListUserPolicies" | "ListRolePolicies" => {
                Request::ListInlinePolicies { owner: owner()? }
            }
            "PutUserPermissionsBoundary" | "PutRolePermissionsBoundary" => Request::PutBoundary {
                owner: owner()?,
                arn: req("PermissionsBoundary")?,
            },
            "DeleteUserPermissionsBoundary" | "DeleteRolePermissionsBoundary" => {
                Request::DeleteBoundary { owner: owner()? }
            }
            "CreateRole" => Request::CreateRole(CreateRole {
                name: req("RoleName")?,
                trust: req("AssumeRolePolicyDocument")?,
                max_session_duration: max_session_duration(params)?,
                path: opt("Path"),
                description: opt("Description"),
                tags: tags(params),
                boundary: opt("PermissionsBoundary"),
            }),
            "GetRole" => Request::GetRole {
                name: req("RoleName")?,
            },
            "DeleteRole" => Request::DeleteRole {
                name: req("RoleName")?,
            },
            "CreateInstanceProfile" => Request::CreateInstanceProfile {
                name: req("InstanceProfileName")?,
                path: opt("Path"),
            },
            "GetInstanceProfile" => Request::GetInstanceProfile {
                name: req("InstanceProfileName")?,
            },
            "AddRoleToInstanceProfile" => Request::AddRoleToInstanceProfile {
                profile: req("InstanceProfileName")?,
                role: req("RoleName")?,
            },
            "RemoveRoleFromInstanceProfile" => Request::RemoveRoleFromInstanceProfile {
                profile: req("InstanceProfileName")?,
                role: req("RoleName")?,
            },
            "DeleteInstanceProfile" => Request::DeleteInstanceProfile {
                name: req("InstanceProfileName")?,
            },
            "SimulateCustomPolicy" => Request::SimulateCustomPolicy(simulation(params)),
            "SimulatePrincipalPolicy" => Request::SimulatePrincipalPolicy {
                source: req("PolicySourceArn")?,
                simulation: simulation(params),
            },
            _ => return Err(IamApiError::InvalidAction(action.to_string())),
        })
    }
}

/// `Tags.member.N.Key` / `.Value`.
fn tags(params: &Params) -> Vec<Tag> {
    member_structs(params, "Tags")
        .into_iter()
        .map(|p| Tag {
            key: params
                .get(&format!("{p}.Key"))
                .unwrap_or_default()
                .to_string(),
            value: params
                .get(&format!("{p}.Value"))
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

fn max_session_duration(params: &Params) -> Result<Option<u32>, IamError> {
    params
        .get("MaxSessionDuration")
        .map(|m| {
            m.parse::<u32>().map_err(|_| {
                IamError::ValidationError(format!(
                    "1 validation error detected: Value '{m}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
                ))
            })
        })
        .transpose()
}

/// The simulator's input: `PolicyInputList.member.N`, `PermissionsBoundaryPolicyInputList`,
/// `ActionNames`, `ResourceArns` (`*` when none), `ContextEntries.member.N` (key, values).
fn simulation(params: &Params) -> Simulation {
    let mut resources = member_list(params, "ResourceArns");
    if resources.is_empty() {
        resources.push("*".into());
    }
    let mut context = Context::new();
    for p in member_structs(params, "ContextEntries") {
        if let Some(key) = params.get(&format!("{p}.ContextKeyName")) {
            context.set(key, member_list(params, &format!("{p}.ContextKeyValues")));
        }
    }
    Simulation {
        policy_inputs: member_list(params, "PolicyInputList"),
        boundary_inputs: member_list(params, "PermissionsBoundaryPolicyInputList"),
        actions: member_list(params, "ActionNames"),
        resources,
        context,
    }
}
