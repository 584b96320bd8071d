//! The IAM Query API (`Version=2010-05-08`, signing service `iam`) on the same endpoint: the
//! subset a user or Terraform needs to set up principals for guardrail tests, and the policy
//! simulator. Element names and order follow botocore's `iam` service model (shapes `User`,
//! `Role`, `Policy`, `PolicyVersion`, `AccessKey`, `InstanceProfile`, `EvaluationResult`).
//!
//! A call is decoded along botocore's `iam` model, authorized (`iam:<Action>` on the
//! resource it names), parsed once into a [`request::Request`] (the action and its typed
//! input, read from [`input`]), then dispatched to one handler per
//! action, grouped by what they act on: [`users`], [`groups`], [`policies`], [`roles`] (and
//! instance profiles), [`lists`], [`details`], [`simulate`]; their results are shaped by [`shapes`]. Errors are
//! [`IamApiError`], IAM's one table.

mod details;
mod groups;
mod input;
mod lists;
mod policies;
pub mod request;
mod roles;
mod shapes;
mod simulate;
mod users;

use crate::context::Call;
use crate::error::AwsError;
use crate::protocol::query::{decode_query, Params};
use crate::query_api::{authorize_with, respond};
use crate::reply::Reply;
use iam::registry::{AccountIam, Subject, Tagged};
use iam::IamError;
use input::Target;
use model::{Arn, Ec2Error};
pub use request::Request;
use serde_json::Value;

pub const VERSION: &str = "2010-05-08";
pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The IAM API's errors: IAM's own, a refusal at the front door, an unknown action, and a
/// failed write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IamApiError {
    #[error("{0}")]
    Iam(#[from] IamError),
    /// Refused before the action (authentication): coded as IAM and STS code these.
    #[error("{0}")]
    Refused(Ec2Error),
    #[error("Could not find operation {0} for version {VERSION}")]
    InvalidAction(String),
    #[error(
        "The request processing has failed because of an unknown error, exception or failure."
    )]
    ServiceFailure,
    /// A change that other nodes' changes kept overtaking (`principals::CHANGE_ATTEMPTS`).
    #[error("The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.")]
    ConcurrentModification,
}

/// IAM's one table (botocore `iam` service-2.json `error` traits).
impl AwsError for IamApiError {
    fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            IamApiError::Iam(e) => e.code_and_status(),
            IamApiError::Refused(e) => crate::query_api::refused_code_and_status(e),
            IamApiError::InvalidAction(_) => ("InvalidAction", 400),
            IamApiError::ServiceFailure => ("ServiceFailure", 500),
            IamApiError::ConcurrentModification => ("ConcurrentModification", 409),
        }
    }

    fn message(&self) -> String {
        match self {
            IamApiError::Refused(e) => crate::query_api::refused_message(e),
            e => e.to_string(),
        }
    }

    fn render(&self, request_id: &str) -> Reply {
        crate::query_api::error(NAMESPACE, self, request_id)
    }
}

impl From<crate::principals::ChangeError> for IamApiError {
    fn from(e: crate::principals::ChangeError) -> IamApiError {
        match e {
            crate::principals::ChangeError::Refused(e) => IamApiError::Iam(e),
            crate::principals::ChangeError::Store(e) => {
                tracing::error!(error = %e, "IAM write failed");
                IamApiError::ServiceFailure
            }
            crate::principals::ChangeError::Contended => IamApiError::ConcurrentModification,
        }
    }
}

/// A call's parameters decoded along the operation of its `Action` in botocore's `iam`
/// model (no `Action`: an empty one, which no operation is).
fn decoded(params: &Params) -> (&str, Value) {
    let action = params.get("Action").unwrap_or_default();
    (
        action,
        decode_query(crate::protocol::shapes::iam(), action, params),
    )
}

/// A call read into its typed request, as [`handle`] reads it (the entry of the
/// `iam_request` fuzz target).
pub fn parse(params: &Params) -> Result<Request, IamApiError> {
    let (action, decoded) = decoded(params);
    Request::parse(action, &decoded)
}

/// Answer one IAM call.
pub async fn handle(call: &Call<'_>) -> Reply {
    let model = crate::protocol::shapes::iam();
    let (action, decoded) = decoded(call.params);
    let result = async {
        let target = Target::of(&decoded);
        let resource = resource(call, action, &target);
        // The keys read the registry: only when a decision will read them.
        let keys = if call.api.iam_enforced() {
            action_keys(call, action, &target, &resource)
        } else {
            Vec::new()
        };
        authorize_with(call, &format!("iam:{action}"), &resource, &keys)?;
        dispatch(call, Request::parse(action, &decoded)?).await
    }
    .await;
    match result {
        Ok(v) => {
            respond(model, NAMESPACE, action, v.as_ref(), call.request_id).unwrap_or_else(|e| {
                tracing::error!(error = %e, action, "IAM result");
                IamApiError::ServiceFailure.render(call.request_id)
            })
        }
        Err(e) => e.render(call.request_id),
    }
}

/// What a handler answers: the result's members, or none for actions without output.
type Out = Result<Option<Value>, IamApiError>;

async fn dispatch(call: &Call<'_>, request: Request) -> Out {
    match request {
        Request::CreateUser(input) => users::create_user(call, input).await,
        Request::GetUser { name } => users::get_user(call, name).await,
        Request::DeleteUser { name } => users::delete_user(call, name).await,
        Request::CreateAccessKey { user } => users::create_access_key(call, user).await,
        Request::DeleteAccessKey { key, user } => users::delete_access_key(call, key, user).await,
        Request::ListAccessKeys { user } => users::list_access_keys(call, user).await,
        Request::CreatePolicy(input) => policies::create_policy(call, input).await,
        Request::GetPolicy { arn } => policies::get_policy(call, arn).await,
        Request::GetPolicyVersion { arn, version } => {
            policies::get_policy_version(call, arn, version).await
        }
        Request::DeletePolicy { arn } => policies::delete_policy(call, arn).await,
        Request::CreatePolicyVersion {
            arn,
            document,
            set_default,
        } => policies::create_policy_version(call, arn, document, set_default).await,
        Request::DeletePolicyVersion { arn, version } => {
            policies::delete_policy_version(call, arn, version).await
        }
        Request::SetDefaultPolicyVersion { arn, version } => {
            policies::set_default_policy_version(call, arn, version).await
        }
        Request::ListPolicyVersions { arn, listing } => {
            lists::list_policy_versions(call, arn, listing)
        }
        Request::AttachPolicy { owner, arn } => policies::attach_policy(call, owner, arn).await,
        Request::DetachPolicy { owner, arn } => policies::detach_policy(call, owner, arn).await,
        Request::ListAttachedPolicies { owner, listing } => {
            lists::list_attached_policies(call, owner, listing)
        }
        Request::PutInlinePolicy {
            owner,
            name,
            document,
        } => policies::put_inline_policy(call, owner, name, document).await,
        Request::GetInlinePolicy { owner, name } => {
            policies::get_inline_policy(call, owner, name).await
        }
        Request::DeleteInlinePolicy { owner, name } => {
            policies::delete_inline_policy(call, owner, name).await
        }
        Request::ListInlinePolicies { owner, listing } => {
            lists::list_inline_policies(call, owner, listing)
        }
        Request::PutBoundary { owner, arn } => policies::put_boundary(call, owner, arn).await,
        Request::DeleteBoundary { owner } => policies::delete_boundary(call, owner).await,
        Request::CreateGroup { name, path } => groups::create_group(call, name, path).await,
        Request::GetGroup { name, listing } => lists::get_group(call, name, listing),
        Request::DeleteGroup { name } => groups::delete_group(call, name).await,
        Request::ListGroups(listing) => lists::list_groups(call, listing),
        Request::AddUserToGroup { group, user } => {
            groups::add_user_to_group(call, group, user).await
        }
        Request::RemoveUserFromGroup { group, user } => {
            groups::remove_user_from_group(call, group, user).await
        }
        Request::ListGroupsForUser { user, listing } => {
            lists::list_groups_for_user(call, user, listing)
        }
        Request::CreateRole(input) => roles::create_role(call, input).await,
        Request::GetRole { name } => roles::get_role(call, name).await,
        Request::DeleteRole { name } => roles::delete_role(call, name).await,
        Request::CreateInstanceProfile { name, path } => {
            roles::create_instance_profile(call, name, path).await
        }
        Request::GetInstanceProfile { name } => roles::get_instance_profile(call, name).await,
        Request::AddRoleToInstanceProfile { profile, role } => {
            roles::add_role_to_instance_profile(call, profile, role).await
        }
        Request::RemoveRoleFromInstanceProfile { profile, role } => {
            roles::remove_role_from_instance_profile(call, profile, role).await
        }
        Request::DeleteInstanceProfile { name } => roles::delete_instance_profile(call, name).await,
        Request::Tag { owner, tags } => users::tag(call, owner, tags).await,
        Request::Untag { owner, keys } => users::untag(call, owner, keys).await,
        Request::ListTags { owner, listing } => lists::list_tags(call, owner, listing),
        Request::ListUsers(listing) => lists::list_users(call, listing),
        Request::ListRoles(listing) => lists::list_roles(call, listing),
        Request::ListInstanceProfiles(listing) => lists::list_instance_profiles(call, listing),
        Request::ListPolicies(listing) => lists::list_policies(call, listing),
        Request::ListEntitiesForPolicy(listing) => lists::list_entities_for_policy(call, listing),
        Request::GetAccountAuthorizationDetails { kinds, listing } => {
            details::account_authorization_details(call, kinds, listing)
        }
        Request::ListInstanceProfilesForRole { role, listing } => {
            lists::list_instance_profiles_for_role(call, role, listing)
        }
        Request::SimulateCustomPolicy(simulation) => {
            simulate::simulate(call, None, simulation).map(Some)
        }
        Request::SimulatePrincipalPolicy { source, simulation } => {
            simulate::simulate(call, Some(&source), simulation).map(Some)
        }
    }
}

fn now_ms() -> i64 {
    model::time::now_ms()
}

/// Read the caller's account as the registry is now (an account with no entities yet reads
/// as empty).
fn read<T>(
    call: &Call<'_>,
    f: impl FnOnce(&AccountIam) -> Result<T, IamError>,
) -> Result<T, IamApiError> {
    let registry = call.api.principals.registry();
    let empty = AccountIam {
        id: call.caller.account.clone(),
        ..Default::default()
    };
    Ok(f(registry.account(&call.caller.account).unwrap_or(&empty))?)
}

/// Change the caller's account; durable before it returns (see [`crate::principals`]).
async fn change<T>(
    call: &Call<'_>,
    f: impl FnMut(&mut AccountIam) -> Result<T, IamError>,
) -> Result<T, IamApiError> {
    Ok(call.api.principals.change(&call.caller.account, f).await?)
}

/// The listings of an account's entities.
const LISTINGS: [&str; 6] = [
    "GetAccountAuthorizationDetails",
    "ListUsers",
    "ListGroups",
    "ListRoles",
    "ListPolicies",
    "ListInstanceProfiles",
];

/// Whether the action attaches or detaches a managed policy (to or from a user, a group or
/// a role).
fn attaches(action: &str) -> bool {
    (action.starts_with("Attach") || action.starts_with("Detach")) && action.ends_with("Policy")
}

/// The condition keys an IAM call brings beside the global ones (Service Authorization
/// Reference, IAM, from memory of it: UNCONFIRMED in detail):
/// - `iam:PolicyARN`, the policy an Attach…Policy or Detach…Policy call names;
/// - `aws:ResourceTag/<key>` and `iam:ResourceTag/<key>`, the tags of the user or role the
///   call is on;
/// - `aws:RequestTag/<key>` and `aws:TagKeys`, the tags a call puts (CreateUser, CreateRole,
///   TagUser, TagRole), and `aws:TagKeys`, those it removes (UntagUser, UntagRole).
fn action_keys(
    call: &Call<'_>,
    action: &str,
    target: &Target,
    resource: &str,
) -> Vec<(String, Vec<String>)> {
    let mut keys = Vec::new();
    if let Some(arn) = target.policy_arn.as_ref().filter(|_| attaches(action)) {
        keys.push(("iam:PolicyARN".to_string(), vec![arn.clone()]));
    }
    let on = Arn::parse(resource).ok();
    let tagged = on.as_ref().and_then(|arn| {
        arn.iam_name("user")
            .map(Tagged::User)
            .or_else(|| arn.iam_name("role").map(Tagged::Role))
    });
    let registry = call.api.principals.registry();
    let account = registry.account(&call.caller.account);
    if let Some(tags) = tagged.and_then(|t| account.and_then(|a| a.tags(t).ok())) {
        for t in tags {
            for prefix in ["aws", "iam"] {
                let key = format!("{prefix}:ResourceTag/{}", t.key);
                keys.push((key, vec![t.value.clone()]));
            }
        }
    }
    if let Some(tags) = &target.tags {
        for t in tags {
            keys.push((format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]));
        }
        let names = tags.iter().map(|t| t.key.clone()).collect();
        keys.push(("aws:TagKeys".to_string(), names));
    }
    if let Some(names) = &target.tag_keys {
        keys.push(("aws:TagKeys".to_string(), names.clone()));
    }
    keys
}

/// The resource an IAM action is authorized on, from what the call names.
fn resource(call: &Call<'_>, action: &str, target: &Target) -> String {
    let acct = &call.caller.account;
    let name = |n: &Option<String>| n.clone().unwrap_or_default();
    // The listings name no entity: on `*` (UNCONFIRMED: the Service Authorization Reference
    // was not at hand).
    if LISTINGS.contains(&action) {
        return "*".to_string();
    }
    // A group's actions, and adding or removing a user, are on the group (UNCONFIRMED, as
    // the others below: the Service Authorization Reference was not at hand).
    if let Some(group) = &target.group_name {
        let path = if action == "CreateGroup" {
            target.path.as_deref().unwrap_or("/")
        } else {
            "/"
        };
        return Arn::group(acct, path, group).to_string();
    }
    // Attaching or detaching a managed policy is on the holder; the policy is the
    // `iam:PolicyARN` key ([`policy_arn_key`]).
    if attaches(action) {
        if let Some(role) = &target.role_name {
            return Arn::role(acct, "/", role).to_string();
        }
        if let Some(user) = &target.user_name {
            return Arn::user(acct, "/", user).to_string();
        }
    }
    if let Some(arn) = &target.policy_arn {
        return arn.clone();
    }
    // On the role it names (UNCONFIRMED: the Service Authorization Reference was not at
    // hand); the other instance profile actions are on the profile.
    if action == "ListInstanceProfilesForRole" {
        return Arn::role(acct, "/", &name(&target.role_name)).to_string();
    }
    if action.contains("InstanceProfile") {
        return Arn::instance_profile(acct, "/", &name(&target.instance_profile_name)).to_string();
    }
    if let Some(role) = &target.role_name {
        return Arn::role(acct, "/", role).to_string();
    }
    if let Some(user) = &target.user_name {
        return Arn::user(acct, "/", user).to_string();
    }
    if action == "CreatePolicy" {
        let path = target.path.as_deref().unwrap_or("/");
        return Arn::policy(acct, path, &name(&target.policy_name)).to_string();
    }
    if let Some(arn) = &target.policy_source_arn {
        return arn.clone();
    }
    // Without `UserName`, the user actions act on the calling user.
    let on_self = [
        "GetUser",
        "CreateAccessKey",
        "DeleteAccessKey",
        "ListAccessKeys",
    ];
    if on_self.contains(&action) && matches!(call.caller.subject, Subject::User(_)) {
        return call.caller.arn.clone();
    }
    "*".to_string()
}
