//! The IAM Query API (`Version=2010-05-08`, signing service `iam`) on the same endpoint: the
//! subset a user or Terraform needs to set up principals for guardrail tests, and the policy
//! simulator. Element names and order follow botocore's `iam` service model (shapes `User`,
//! `Role`, `Policy`, `PolicyVersion`, `AccessKey`, `InstanceProfile`, `EvaluationResult`).

use crate::error::AwsError;
use crate::query_api::{
    authorize, member_list, member_structs, required, success, url_encode, Call,
};
use crate::reply::Reply;
use iam::condition::Context;
use iam::evaluate::{decide_all, Check, Decision, Kind, Outcome, PolicySet};
use iam::policy::Policy;
use iam::registry::{
    iso_date, AccessKey, AccountIam, Holder, InstanceProfile, ManagedPolicy, Role, Subject, Tag,
    User,
};
use iam::IamError;
use model::Ec2Error;
use serde_json::{json, Value};

pub const VERSION: &str = "2010-05-08";
pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

fn now_ms() -> i64 {
    store::now_ms()
}

fn boundary_json(b: &Option<String>) -> Value {
    match b {
        Some(arn) => json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}),
        None => Value::Null,
    }
}

fn tags_json(tags: &[Tag]) -> Value {
    if tags.is_empty() {
        Value::Null
    } else {
        Value::Array(
            tags.iter()
                .map(|t| json!({"Key": t.key, "Value": t.value}))
                .collect(),
        )
    }
}

fn user_json(a: &AccountIam, u: &User) -> Value {
    json!({
        "Path": u.path,
        "UserName": u.name,
        "UserId": u.id,
        "Arn": a.user_arn(u),
        "CreateDate": iso_date(u.created_ms),
        "PermissionsBoundary": boundary_json(&u.permissions.boundary),
        "Tags": tags_json(&u.tags),
    })
}

fn role_json(a: &AccountIam, r: &Role) -> Value {
    json!({
        "Path": r.path,
        "RoleName": r.name,
        "RoleId": r.id,
        "Arn": a.role_arn(r),
        "CreateDate": iso_date(r.created_ms),
        "AssumeRolePolicyDocument": url_encode(&r.trust.text),
        "Description": r.description,
        "MaxSessionDuration": r.max_session_duration,
        "PermissionsBoundary": boundary_json(&r.permissions.boundary),
        "Tags": tags_json(&r.tags),
    })
}

fn policy_json(a: &AccountIam, p: &ManagedPolicy) -> Value {
    json!({
        "PolicyName": p.name,
        "PolicyId": p.id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version,
        "AttachmentCount": a.attachment_count(&p.arn),
        "PermissionsBoundaryUsageCount": a.boundary_count(&p.arn),
        "IsAttachable": true,
        "Description": p.description,
        "CreateDate": iso_date(p.created_ms),
        "UpdateDate": iso_date(p.updated_ms),
    })
}

fn key_json(user: &str, k: &AccessKey, with_secret: bool) -> Value {
    let mut v = json!({
        "UserName": user,
        "AccessKeyId": k.id,
        "Status": k.status.as_str(),
    });
    if with_secret {
        v["SecretAccessKey"] = json!(k.secret);
    }
    v["CreateDate"] = json!(iso_date(k.created_ms));
    v
}

fn profile_json(a: &AccountIam, p: &InstanceProfile) -> Value {
    json!({
        "Path": p.path,
        "InstanceProfileName": p.name,
        "InstanceProfileId": p.id,
        "Arn": p.arn,
        "CreateDate": iso_date(p.created_ms),
        "Roles": p.roles.iter().filter_map(|r| a.roles.get(r)).map(|r| role_json(a, r)).collect::<Vec<_>>(),
    })
}

fn tags_in(call: &Call<'_>) -> Vec<Tag> {
    member_structs(call.params, "Tags")
        .into_iter()
        .map(|p| Tag {
            key: call
                .params
                .get(&format!("{p}.Key"))
                .unwrap_or_default()
                .to_string(),
            value: call
                .params
                .get(&format!("{p}.Value"))
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

/// The resource an IAM action is authorized on.
fn resource(call: &Call<'_>, action: &str) -> String {
    let acct = &call.caller.account;
    let p = |n: &str| call.params.get(n).unwrap_or_default().to_string();
    if let Some(arn) = call.params.get("PolicyArn") {
        return arn.to_string();
    }
    if action.contains("InstanceProfile") {
        return format!(
            "arn:aws:iam::{acct}:instance-profile/{}",
            p("InstanceProfileName")
        );
    }
    if call.params.get("RoleName").is_some() {
        return format!("arn:aws:iam::{acct}:role/{}", p("RoleName"));
    }
    if call.params.get("UserName").is_some() {
        return format!("arn:aws:iam::{acct}:user/{}", p("UserName"));
    }
    if action == "CreatePolicy" {
        return format!(
            "arn:aws:iam::{acct}:policy{}{}",
            call.params.get("Path").unwrap_or("/"),
            p("PolicyName")
        );
    }
    if let Some(arn) = call.params.get("PolicySourceArn") {
        return arn.to_string();
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
}

/// IAM's one table (botocore `iam` service-2.json `error` traits).
impl AwsError for IamApiError {
    fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            IamApiError::Iam(e) => e.code_and_status(),
            IamApiError::Refused(e) => crate::query_api::refused_code_and_status(e),
            IamApiError::InvalidAction(_) => ("InvalidAction", 400),
            IamApiError::ServiceFailure => ("ServiceFailure", 500),
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
        }
    }
}

/// Answer one IAM call.
pub async fn handle(call: &Call<'_>) -> Reply {
    let action = call.params.get("Action").unwrap_or_default().to_string();
    let result = async {
        authorize(call, &format!("iam:{action}"), &resource(call, &action))?;
        run(call, &action).await
    }
    .await;
    match result {
        Ok(v) => success(NAMESPACE, &action, v.as_ref(), call.request_id),
        Err(e) => e.render(call.request_id),
    }
}

type Out = Result<Option<Value>, IamApiError>;

async fn run(call: &Call<'_>, action: &str) -> Out {
    let params = call.params;
    let acct = call.caller.account.clone();
    let principals = &call.api.principals;
    let get = |n: &str| params.get(n).map(str::to_string);
    let now = now_ms();
    // Reads use the registry as of now (an account with no entities yet reads as empty).
    let registry = principals.registry();
    let empty = AccountIam {
        id: acct.clone(),
        ..Default::default()
    };
    let a = registry.account(&acct).unwrap_or(&empty);
    match action {
        // ---- users ----
        "CreateUser" => {
            let name = required(params, "UserName")?.to_string();
            let tags = tags_in(call);
            let path = get("Path");
            let v = principals
                .change(&acct, |a| {
                    let u = a.create_user(&name, path.as_deref(), tags, now)?.clone();
                    Ok(user_json(a, &u))
                })
                .await?;
            Ok(Some(json!({ "User": v })))
        }
        "GetUser" => {
            let u = match get("UserName") {
                Some(n) => a.user(&n)?.clone(),
                None => match &call.caller.subject {
                    Subject::User(n) => a.user(n)?.clone(),
                    _ => {
                        return Err(IamError::ValidationError(
                            "Must specify userName when calling with non-User credentials".into(),
                        )
                        .into())
                    }
                },
            };
            Ok(Some(json!({ "User": user_json(a, &u) })))
        }
        "DeleteUser" => {
            let name = required(params, "UserName")?.to_string();
            principals.change(&acct, |a| a.delete_user(&name)).await?;
            Ok(None)
        }
        "CreateAccessKey" => {
            let name = match get("UserName") {
                Some(n) => n,
                None => match &call.caller.subject {
                    Subject::User(n) => n.clone(),
                    _ => {
                        return Err(IamError::ValidationError(
                            "Must specify userName when calling with non-User credentials".into(),
                        )
                        .into())
                    }
                },
            };
            let k = principals
                .change(&acct, |a| a.create_access_key(&name, now))
                .await?;
            Ok(Some(json!({ "AccessKey": key_json(&name, &k, true) })))
        }
        "DeleteAccessKey" => {
            let key = required(params, "AccessKeyId")?.to_string();
            let name = match get("UserName") {
                Some(n) => n,
                None => principals
                    .registry()
                    .access_key(&key)
                    .map(|(u, _)| u.name.clone())
                    .unwrap_or_default(),
            };
            principals
                .change(&acct, |a| a.delete_access_key(&name, &key))
                .await?;
            Ok(None)
        }
        "ListAccessKeys" => {
            let name = match get("UserName") {
                Some(n) => n,
                None => match &call.caller.subject {
                    Subject::User(n) => n.clone(),
                    _ => String::new(),
                },
            };
            let keys: Vec<Value> = if name.is_empty() {
                Vec::new()
            } else {
                a.user(&name)?
                    .keys
                    .iter()
                    .map(|k| key_json(&name, k, false))
                    .collect()
            };
            Ok(Some(
                json!({ "AccessKeyMetadata": keys, "IsTruncated": false }),
            ))
        }
        // ---- managed policies ----
        "CreatePolicy" => {
            let name = required(params, "PolicyName")?.to_string();
            let doc = required(params, "PolicyDocument")?.to_string();
            let (path, description) = (get("Path"), get("Description"));
            let v = principals
                .change(&acct, |a| {
                    let p = a
                        .create_policy(&name, path.as_deref(), &doc, description, now)?
                        .clone();
                    Ok(policy_json(a, &p))
                })
                .await?;
            Ok(Some(json!({ "Policy": v })))
        }
        "GetPolicy" => {
            let p = a.policy(required(params, "PolicyArn")?)?;
            Ok(Some(json!({ "Policy": policy_json(a, p) })))
        }
        "GetPolicyVersion" => {
            let p = a.policy(required(params, "PolicyArn")?)?;
            let vid = required(params, "VersionId")?;
            let v = p.versions.iter().find(|v| v.id == vid).ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "Policy {} version {vid} does not exist or is not attachable.",
                    p.arn
                ))
            })?;
            Ok(Some(json!({ "PolicyVersion": {
                "Document": url_encode(&v.doc.text),
                "VersionId": v.id,
                "IsDefaultVersion": v.id == p.default_version,
                "CreateDate": iso_date(v.created_ms),
            }})))
        }
        "DeletePolicy" => {
            let arn = required(params, "PolicyArn")?.to_string();
            principals.change(&acct, |a| a.delete_policy(&arn)).await?;
            Ok(None)
        }
        "AttachUserPolicy" | "AttachRolePolicy" | "DetachUserPolicy" | "DetachRolePolicy" => {
            let arn = required(params, "PolicyArn")?.to_string();
            let name = if action.contains("User") {
                required(params, "UserName")?
            } else {
                required(params, "RoleName")?
            }
            .to_string();
            let (user, attach) = (action.contains("User"), action.starts_with("Attach"));
            principals
                .change(&acct, |a| {
                    let h = as_holder(user, &name);
                    if attach {
                        a.attach(h, &arn)
                    } else {
                        a.detach(h, &arn)
                    }
                })
                .await?;
            Ok(None)
        }
        "ListAttachedUserPolicies" | "ListAttachedRolePolicies" => {
            let (h, name) = holder(params, action)?;
            let h = as_holder(h, &name);
            let list: Vec<Value> = a
                .permissions(h)?
                .attached
                .iter()
                .filter_map(|arn| a.policy(arn).ok())
                .map(|p| json!({"PolicyName": p.name, "PolicyArn": p.arn}))
                .collect();
            Ok(Some(
                json!({ "AttachedPolicies": list, "IsTruncated": false }),
            ))
        }
        // ---- inline policies ----
        "PutUserPolicy" | "PutRolePolicy" => {
            let (h, name) = holder(params, action)?;
            let pname = required(params, "PolicyName")?.to_string();
            let doc = required(params, "PolicyDocument")?.to_string();
            principals
                .change(&acct, |a| a.put_inline(as_holder(h, &name), &pname, &doc))
                .await?;
            Ok(None)
        }
        "GetUserPolicy" | "GetRolePolicy" => {
            let (h, name) = holder(params, action)?;
            let pname = required(params, "PolicyName")?;
            let doc = a.inline(as_holder(h, &name), pname)?;
            let who = if action == "GetUserPolicy" {
                "UserName"
            } else {
                "RoleName"
            };
            let mut v = serde_json::Map::new();
            v.insert(who.into(), json!(name));
            v.insert("PolicyName".into(), json!(pname));
            v.insert("PolicyDocument".into(), json!(url_encode(&doc.text)));
            Ok(Some(Value::Object(v)))
        }
        "DeleteUserPolicy" | "DeleteRolePolicy" => {
            let (h, name) = holder(params, action)?;
            let pname = required(params, "PolicyName")?.to_string();
            principals
                .change(&acct, |a| a.delete_inline(as_holder(h, &name), &pname))
                .await?;
            Ok(None)
        }
        "ListUserPolicies" | "ListRolePolicies" => {
            let (h, name) = holder(params, action)?;
            let names: Vec<&String> = a.permissions(as_holder(h, &name))?.inline.keys().collect();
            Ok(Some(json!({ "PolicyNames": names, "IsTruncated": false })))
        }
        "PutUserPermissionsBoundary"
        | "PutRolePermissionsBoundary"
        | "DeleteUserPermissionsBoundary"
        | "DeleteRolePermissionsBoundary" => {
            let (h, name) = holder(params, action)?;
            let put = action.starts_with("Put");
            let arn = if put {
                required(params, "PermissionsBoundary")?.to_string()
            } else {
                String::new()
            };
            principals
                .change(&acct, |a| {
                    if put {
                        a.put_boundary(as_holder(h, &name), &arn)
                    } else {
                        a.delete_boundary(as_holder(h, &name))
                    }
                })
                .await?;
            Ok(None)
        }
        // ---- roles ----
        "CreateRole" => {
            let name = required(params, "RoleName")?.to_string();
            let trust = required(params, "AssumeRolePolicyDocument")?.to_string();
            let max = match get("MaxSessionDuration") {
                Some(m) => Some(m.parse::<u32>().map_err(|_| {
                    IamError::ValidationError(format!(
                        "1 validation error detected: Value '{m}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
                    ))
                })?),
                None => None,
            };
            let (path, description, tags) = (get("Path"), get("Description"), tags_in(call));
            let boundary = get("PermissionsBoundary");
            let v = principals
                .change(&acct, |a| {
                    a.create_role(&name, path.as_deref(), &trust, description, max, tags, now)?;
                    if let Some(b) = &boundary {
                        a.put_boundary(Holder::Role(&name), b)?;
                    }
                    let r = a.role(&name)?.clone();
                    Ok(role_json(a, &r))
                })
                .await?;
            Ok(Some(json!({ "Role": v })))
        }
        "GetRole" => {
            let r = a.role(required(params, "RoleName")?)?;
            Ok(Some(json!({ "Role": role_json(a, r) })))
        }
        "DeleteRole" => {
            let name = required(params, "RoleName")?.to_string();
            principals.change(&acct, |a| a.delete_role(&name)).await?;
            Ok(None)
        }
        // ---- instance profiles ----
        "CreateInstanceProfile" => {
            let name = required(params, "InstanceProfileName")?.to_string();
            let path = get("Path");
            let v = principals
                .change(&acct, |a| {
                    let p = a.create_profile(&name, path.as_deref(), now)?.clone();
                    Ok(profile_json(a, &p))
                })
                .await?;
            Ok(Some(json!({ "InstanceProfile": v })))
        }
        "GetInstanceProfile" => {
            let p = a.profile(required(params, "InstanceProfileName")?)?;
            Ok(Some(json!({ "InstanceProfile": profile_json(a, p) })))
        }
        "AddRoleToInstanceProfile" | "RemoveRoleFromInstanceProfile" => {
            let profile = required(params, "InstanceProfileName")?.to_string();
            let role = required(params, "RoleName")?.to_string();
            let add = action.starts_with("Add");
            principals
                .change(&acct, |a| {
                    if add {
                        a.add_role_to_profile(&profile, &role)
                    } else {
                        a.remove_role_from_profile(&profile, &role)
                    }
                })
                .await?;
            Ok(None)
        }
        "DeleteInstanceProfile" => {
            let name = required(params, "InstanceProfileName")?.to_string();
            principals
                .change(&acct, |a| a.delete_profile(&name))
                .await?;
            Ok(None)
        }
        // ---- the policy simulator ----
        "SimulateCustomPolicy" => simulate(call, None).map(Some),
        "SimulatePrincipalPolicy" => {
            let source = required(params, "PolicySourceArn")?.to_string();
            simulate(call, Some(&source)).map(Some)
        }
        _ => Err(IamApiError::InvalidAction(action.to_string())),
    }
}

/// A user (`true`) or a role, by name.
fn as_holder(user: bool, name: &str) -> Holder<'_> {
    if user {
        Holder::User(name)
    } else {
        Holder::Role(name)
    }
}

/// The user or role an action names: (is a user, name).
fn holder(
    params: &crate::protocol::query::Params,
    action: &str,
) -> Result<(bool, String), IamError> {
    if action.contains("User") {
        Ok((true, required(params, "UserName")?.to_string()))
    } else {
        Ok((false, required(params, "RoleName")?.to_string()))
    }
}

fn parse_inputs(call: &Call<'_>, list: &str) -> Result<Vec<Policy>, IamError> {
    member_list(call.params, list)
        .iter()
        .map(|d| Policy::parse_str(d).map_err(|e| IamError::MalformedPolicyDocument(e.0)))
        .collect()
}

/// `ContextEntries.member.N`: key, values, type.
fn context_entries(call: &Call<'_>) -> Context {
    let mut ctx = Context::new();
    for p in member_structs(call.params, "ContextEntries") {
        if let Some(key) = call.params.get(&format!("{p}.ContextKeyName")) {
            ctx.set(
                key,
                member_list(call.params, &format!("{p}.ContextKeyValues")),
            );
        }
    }
    ctx
}

fn decision_name(d: &Decision) -> &'static str {
    if d.allowed() {
        "allowed"
    } else if d.explicit_deny() {
        "explicitDeny"
    } else {
        "implicitDeny"
    }
}

/// SimulateCustomPolicy (`source` None: only the given policies) and SimulatePrincipalPolicy
/// (the principal's own policies, boundary and SCPs, plus the given ones): one
/// `EvaluationResult` per action and resource, decided by the same evaluator as live calls.
fn simulate(call: &Call<'_>, source: Option<&str>) -> Result<Value, IamApiError> {
    let inputs = parse_inputs(call, "PolicyInputList")?;
    let boundary_inputs = parse_inputs(call, "PermissionsBoundaryPolicyInputList")?;
    let actions = member_list(call.params, "ActionNames");
    if actions.is_empty() {
        return Err(IamError::ValidationError(
            "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null".into(),
        )
        .into());
    }
    let mut resources = member_list(call.params, "ResourceArns");
    if resources.is_empty() {
        resources.push("*".into());
    }
    let ctx = context_entries(call);
    let registry = call.api.principals.registry();
    let acct = call.caller.account.clone();
    let directory = call.api.principals.directory.as_deref();
    // SimulatePrincipalPolicy adds the principal's own policies and its account's SCPs.
    let (mine, scp_levels, management): (
        iam::registry::PrincipalPolicies,
        Vec<Vec<&Policy>>,
        bool,
    ) = match source {
        None => (Default::default(), Vec::new(), false),
        Some(arn) => {
            let a = registry
                .account(&acct)
                .ok_or_else(|| IamError::NoSuchEntity(format!("Could not find entity {arn}")))?;
            let subject = if let Some(n) = arn.split(":user/").nth(1) {
                let n = n.rsplit('/').next().unwrap_or(n);
                a.user(n)?;
                Subject::User(n.to_string())
            } else if let Some(n) = arn.split(":role/").nth(1) {
                let n = n.rsplit('/').next().unwrap_or(n);
                a.role(n)?;
                Subject::Role(n.to_string())
            } else {
                return Err(IamError::InvalidInput(format!("Invalid ARN: {arn}")).into());
            };
            let levels: Vec<Vec<&Policy>> = directory
                .map(|d| {
                    d.scp_levels(&acct)
                        .iter()
                        .map(|l| l.iter().collect())
                        .collect()
                })
                .unwrap_or_default();
            (
                a.policies_of(&subject),
                levels,
                directory.is_some_and(|d| d.is_management(&acct)),
            )
        }
    };
    // A boundary given in the request replaces the principal's own.
    let given_boundary = (!boundary_inputs.is_empty()).then(|| Policy {
        statements: boundary_inputs
            .iter()
            .flat_map(|p| p.statements.clone())
            .collect(),
    });
    let identity = mine.identity;
    let mut ids: Vec<(String, &Policy)> = inputs
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("PolicyInputList.{}", i + 1), p))
        .collect();
    ids.extend(
        identity
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("policy.{}", i + 1), p.as_ref())),
    );
    let set = PolicySet {
        identity: ids.iter().map(|(_, p)| *p).collect(),
        scp_levels,
        boundary: given_boundary.as_ref().or(mine.boundary.as_deref()),
        session: None,
        management_account: management,
    };
    let mut results = Vec::new();
    for action in &actions {
        for resource in &resources {
            let d = decide_all(
                &set,
                &[Check {
                    action,
                    resource,
                    context: &ctx,
                }],
            );
            let matched: Vec<Value> = d
                .matched
                .iter()
                .filter_map(|m| {
                    ids.iter()
                        .find(|(_, p)| p.statements.contains(&m.statement))
                        .map(|(id, _)| json!({"SourcePolicyId": id, "SourcePolicyType": "IAM Policy"}))
                })
                .collect();
            let mut r = serde_json::Map::new();
            r.insert("EvalActionName".into(), json!(action));
            r.insert("EvalResourceName".into(), json!(resource));
            r.insert("EvalDecision".into(), json!(decision_name(&d)));
            r.insert("MatchedStatements".into(), json!(matched));
            r.insert("MissingContextValues".into(), json!([]));
            if source.is_some() && !set.scp_levels.is_empty() {
                let scp_denied = matches!(
                    d.outcome,
                    Outcome::ExplicitDeny(Kind::Scp) | Outcome::NoAllow(Kind::Scp)
                );
                r.insert(
                    "OrganizationsDecisionDetail".into(),
                    json!({"AllowedByOrganizations": !scp_denied}),
                );
            }
            if set.boundary.is_some() {
                r.insert(
                    "PermissionsBoundaryDecisionDetail".into(),
                    json!({"AllowedByPermissionsBoundary": !matches!(
                        d.outcome,
                        Outcome::ExplicitDeny(Kind::Boundary) | Outcome::NoAllow(Kind::Boundary)
                    )}),
                );
            }
            results.push(Value::Object(r));
        }
    }
    Ok(json!({ "EvaluationResults": results, "IsTruncated": false }))
}
