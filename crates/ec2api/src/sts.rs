//! The STS actions on the same endpoint, told apart from EC2 by `Version=2011-06-15` (or the
//! signing service `sts`): `GetCallerIdentity`, `AssumeRole` (trust policies honoured) and
//! `DecodeAuthorizationMessage` (spec iam.md §5).

use crate::context::Call;
use crate::error::AwsError;
use crate::protocol::query::{decode_query, Integer, Params};
use crate::protocol::shapes;
use crate::query_api::{authorize, input, respond, TagIn};
use crate::reply::Reply;
use base64::Engine;
use iam::registry::{iso_date, Subject, Tag};
use iam::session::SessionClaims;
use iam::trust::TrustCaller;
use iam::IamError;
use model::{Arn, Ec2Error};
use serde_json::{json, Value};

pub const VERSION: &str = "2011-06-15";
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The longest session policy AssumeRole takes (botocore `sts`, sessionPolicyDocumentType).
const SESSION_POLICY_MAX: usize = 2048;

/// `PackedPolicySize`: how much of the packed allowance the session policy and the session
/// tags use, in percent (STS API Reference, AssumeRole: "the percentage ... of the allowed
/// value" of "the inline session policy, managed policy ARNs and session tags" packed
/// together). AWS's packing is not published; imds counts the policy's characters without
/// insignificant white space and the tags' UTF-8 bytes against 2,048 (which also keeps a
/// session token within a request header's 16 KiB).
fn packed_size(policy: Option<&str>, tags: &[Tag]) -> u64 {
    let policy = policy.map_or(0, |p| {
        serde_json::from_str::<serde_json::Value>(p)
            .map(|v| v.to_string().chars().count())
            .unwrap_or_else(|_| p.chars().count())
    });
    let tags: usize = tags.iter().map(|t| t.key.len() + t.value.len()).sum();
    ((policy + tags) as u64 * 100).div_ceil(SESSION_POLICY_MAX as u64)
}

/// Decode what `authz` encoded into an `UnauthorizedOperation` message.
pub fn decode_message(encoded: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?;
    Some(text)
}

/// STS's errors: IAM's (`AccessDenied`, `ValidationError`, `MalformedPolicyDocument`), a
/// refusal at the front door, and STS's own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StsError {
    #[error("{0}")]
    Iam(#[from] IamError),
    /// Refused before the action (authentication): coded as IAM and STS code these.
    #[error("{0}")]
    Refused(Ec2Error),
    #[error("Missing Action")]
    MissingAction,
    #[error("Could not find operation {0} for version {VERSION}")]
    InvalidAction(String),
    #[error("The request must contain the parameter {0}")]
    MissingParameter(&'static str),
    #[error("The message is not a valid authorization message.")]
    InvalidAuthorizationMessage,
    /// The session policy and tags pack over the allowance ([`packed_size`]).
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// A transitive tag key that names no session tag, or a session tag over an inherited
    /// transitive one (STS Common Errors' `InvalidParameterValue`; the code for these two is
    /// UNCONFIRMED: the API reference says only that the operation fails).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A result that does not fit the model (a bug).
    #[error(
        "The request processing has failed because of an unknown error, exception or failure."
    )]
    InternalFailure,
}

/// STS's one table (botocore `sts` model, STS API Reference "Common Errors").
impl AwsError for StsError {
    fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            StsError::Iam(e) => e.code_and_status(),
            StsError::Refused(e) => crate::query_api::refused_code_and_status(e),
            StsError::MissingAction => ("MissingAction", 400),
            StsError::InvalidAction(_) => ("InvalidAction", 400),
            StsError::MissingParameter(_) => ("MissingParameter", 400),
            StsError::InvalidAuthorizationMessage => ("InvalidAuthorizationMessageException", 400),
            StsError::PackedPolicyTooLarge(_) => ("PackedPolicyTooLarge", 400),
            StsError::InvalidParameterValue(_) => ("InvalidParameterValue", 400),
            StsError::InternalFailure => ("InternalFailure", 500),
        }
    }

    fn message(&self) -> String {
        match self {
            StsError::Refused(e) => crate::query_api::refused_message(e),
            e => e.to_string(),
        }
    }

    fn render(&self, request_id: &str) -> Reply {
        crate::query_api::error(NAMESPACE, self, request_id)
    }
}

/// One STS call, by action, with its typed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    GetCallerIdentity,
    /// `EncodedMessage` is checked once the caller is authorized.
    DecodeAuthorizationMessage {
        encoded: Option<String>,
    },
    AssumeRole(AssumeRoleIn),
}

/// AssumeRole's input; the values are checked in the handler, in STS's order. Field names
/// are the members of botocore's `sts` model (`AssumeRoleRequest`), read by serde from the
/// call decoded along it; the two required ones in the order STS checks them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleIn {
    role_arn: String,
    #[serde(rename = "RoleSessionName")]
    session: String,
    policy: Option<String>,
    duration_seconds: Option<Integer>,
    external_id: Option<String>,
    /// Session tags (`aws:PrincipalTag/<key>` of the session, over the role's).
    #[serde(default)]
    tags: Vec<TagIn>,
    /// Keys of `Tags` that pass to the sessions this one assumes.
    #[serde(default)]
    transitive_tag_keys: Vec<String>,
}

/// DecodeAuthorizationMessage's input (`EncodedMessage` is checked once the caller is
/// authorized).
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecodeIn {
    encoded_message: Option<String>,
}

impl Request {
    /// A call read into its typed request, as [`handle`] reads it (the entry of the
    /// `sts_request` fuzz target, with [`check_assume_role`]).
    pub fn parse(params: &Params) -> Result<Request, StsError> {
        let name = params.get("Action").ok_or(StsError::MissingAction)?;
        let decoded = decode_query(shapes::sts(), name, params);
        Ok(match name {
            "GetCallerIdentity" => Request::GetCallerIdentity,
            "DecodeAuthorizationMessage" => Request::DecodeAuthorizationMessage {
                encoded: input::<DecodeIn>(&decoded)?.encoded_message,
            },
            "AssumeRole" => Request::AssumeRole(input(&decoded)?),
            other => return Err(StsError::InvalidAction(other.to_string())),
        })
    }

    fn action(&self) -> &'static str {
        match self {
            Request::GetCallerIdentity => "GetCallerIdentity",
            Request::DecodeAuthorizationMessage { .. } => "DecodeAuthorizationMessage",
            Request::AssumeRole(_) => "AssumeRole",
        }
    }
}

/// Answer one STS call.
pub async fn handle(call: &Call<'_>) -> Reply {
    match answer(call) {
        Ok((action, result)) => respond(
            shapes::sts(),
            NAMESPACE,
            action,
            Some(&result),
            call.request_id,
        )
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, action, "STS result");
            StsError::InternalFailure.render(call.request_id)
        }),
        Err(e) => e.render(call.request_id),
    }
}

fn answer(call: &Call<'_>) -> Result<(&'static str, Value), StsError> {
    let request = Request::parse(call.params)?;
    let action = request.action();
    let result = match request {
        Request::GetCallerIdentity => get_caller_identity(call),
        Request::DecodeAuthorizationMessage { encoded } => {
            decode_authorization_message(call, encoded.as_deref())?
        }
        Request::AssumeRole(input) => {
            let checked = check_assume_role(input)?;
            check_inherited(&call.caller.transitive_tags, &checked.tags)?;
            assume_role(call, checked)?
        }
    };
    Ok((action, result))
}

fn get_caller_identity(call: &Call<'_>) -> Value {
    json!({
        "UserId": call.caller.user_id,
        "Account": call.caller.account,
        "Arn": call.caller.arn,
    })
}

fn decode_authorization_message(call: &Call<'_>, encoded: Option<&str>) -> Result<Value, StsError> {
    authorize(call, "sts:DecodeAuthorizationMessage", "*")?;
    match encoded {
        None | Some("") => Err(StsError::MissingParameter("EncodedMessage")),
        Some(m) if m.len() > 10_240 => Err(too_long("encodedMessage", 10_240).into()),
        Some(m) => decode_message(m)
            .map(|json| json!({"DecodedMessage": json}))
            .ok_or(StsError::InvalidAuthorizationMessage),
    }
}

/// AssumeRole (STS API Reference; IAM User Guide, "Policy evaluation logic" for roles): the
/// role's trust policy must allow the caller, either by naming it (no identity policy needed)
/// or by naming its account (then the caller's identity policies must allow `sts:AssumeRole`
/// on the role); SCPs must allow; an explicit deny anywhere refuses.
/// AssumeRole's input with its members within the model's constraints and the packed
/// allowance, before the caller and the role are looked at ([`check_assume_role`]).
#[derive(Debug, Clone)]
pub struct CheckedAssumeRole {
    pub role_arn: String,
    pub session: String,
    pub policy: Option<String>,
    /// `DurationSeconds` as given (checked once the role is found, as STS answers).
    pub duration_seconds: Option<String>,
    pub external_id: Option<String>,
    pub tags: Vec<Tag>,
    /// The keys of `tags` that are transitive, as `tags` spells them.
    pub transitive: Vec<String>,
    /// `PackedPolicySize`, when a session policy or tags are given: at most 100.
    pub packed: Option<u64>,
}

/// AssumeRole's members checked in STS's order: the session tags (`tagListType`, `Tag`) and
/// the transitive keys among them, the session name (`roleSessionNameType`), the session policy (at most 2,048 characters, then
/// parsed), then the packed size of the policy and tags together ([`packed_size`];
/// `PackedPolicyTooLarge` in AWS's words for a policy, UNCONFIRMED for tags).
pub fn check_assume_role(input: AssumeRoleIn) -> Result<CheckedAssumeRole, StsError> {
    let AssumeRoleIn {
        role_arn,
        session,
        policy,
        duration_seconds,
        external_id,
        tags,
        transitive_tag_keys,
    } = input;
    let tags = crate::query_api::tags(tags);
    check_session_tags(&tags)?;
    let transitive = transitive_keys(&tags, transitive_tag_keys)?;
    let session_ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !session_ok {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        ))
        .into());
    }
    if let Some(p) = &policy {
        // botocore `sts`: sessionPolicyDocumentType, 1..2048 characters.
        if p.chars().count() > SESSION_POLICY_MAX {
            return Err(too_long("policy", SESSION_POLICY_MAX).into());
        }
        iam::policy::Policy::parse_str(p).map_err(|e| IamError::MalformedPolicyDocument(e.0))?;
    }
    let packed =
        (policy.is_some() || !tags.is_empty()).then(|| packed_size(policy.as_deref(), &tags));
    if let Some(p) = packed.filter(|p| *p > 100) {
        return Err(StsError::PackedPolicyTooLarge(format!(
            "Packed policy consumes {p}% of allotted space, please use smaller policy."
        )));
    }
    Ok(CheckedAssumeRole {
        role_arn,
        session,
        policy,
        duration_seconds: duration_seconds.as_ref().map(Integer::text),
        external_id,
        tags,
        transitive,
        packed,
    })
}

/// `TransitiveTagKeys`: at most 50 (`tagKeyListType`), each the key of a session tag of the
/// same request (matched whatever its case, as tag keys are; the tag's spelling kept).
/// "The transitive status of a session tag does not impact its packed binary size" (STS API
/// Reference, AssumeRole), so it is not measured.
///
/// Each key is first a `tagKeyType` (1 to 128 characters of the tag pattern; botocore's `sts`
/// model): one that is not fails the request's validation (`ValidationError`, in the words
/// AWS's validation gives a list of strings whose member fails, as IAM's
/// `clientIDList`; the words for this member are UNCONFIRMED) before any key is matched.
fn transitive_keys(tags: &[Tag], keys: Vec<String>) -> Result<Vec<String>, StsError> {
    if keys.len() > iam::registry::MAX_TAGS {
        return Err(too_long("transitiveTagKeys", iam::registry::MAX_TAGS).into());
    }
    let malformed = |k: &String| {
        let n = k.chars().count();
        n == 0 || n > 128 || !k.chars().all(iam::registry::tag_char)
    };
    if keys.iter().any(malformed) {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '[{}]' at 'transitiveTagKeys' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+]",
            keys.join(", ")
        ))
        .into());
    }
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let Some(tag) = tags.iter().find(|t| t.key.eq_ignore_ascii_case(&key)) else {
            // UNCONFIRMED wording.
            return Err(StsError::InvalidParameterValue(format!(
                "The transitive tag key {key} is not the key of a session tag in this request."
            )));
        };
        if !out.iter().any(|k| k.eq_ignore_ascii_case(&tag.key)) {
            out.push(tag.key.clone());
        }
    }
    Ok(out)
}

/// A session made with temporary credentials inherits the calling session's transitive
/// tags; "If you pass a session tag with the same key as an inherited tag, the operation
/// fails" (STS API Reference, AssumeRole, `Tags`). The wording is UNCONFIRMED.
fn check_inherited(inherited: &[(String, String)], tags: &[Tag]) -> Result<(), StsError> {
    match tags.iter().find(|t| {
        inherited
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(&t.key))
    }) {
        Some(t) => Err(StsError::InvalidParameterValue(format!(
            "The session tag {} has the key of a transitive tag this session inherited.",
            t.key
        ))),
        None => Ok(()),
    }
}

fn assume_role(call: &Call<'_>, input: CheckedAssumeRole) -> Result<Value, IamError> {
    let caller = call.caller;
    let CheckedAssumeRole {
        role_arn,
        session,
        policy,
        duration_seconds,
        external_id,
        tags,
        transitive,
        packed,
    } = input;
    // The calling session's transitive tags come along, transitive still (IAM User Guide,
    // "Chaining roles with session tags"); none of them shares a key with `tags`
    // (`check_inherited`).
    let inherited = caller.transitive_tags.clone();
    let denied = || {
        IamError::AccessDenied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.arn
        ))
    };
    if caller.subject == Subject::Root && call.api.iam_enforced() {
        return Err(IamError::AccessDenied(
            "Roles may not be assumed by root accounts.".into(),
        ));
    }
    let arn = Arn::parse(&role_arn).map_err(|_| denied())?;
    let account = arn.account.as_str();
    let role_name = arn.iam_name("role").ok_or_else(denied)?;
    let registry = call.api.principals.registry();
    let role = registry
        .account(account)
        .and_then(|a| a.roles.get(role_name))
        .ok_or_else(denied)?;
    let max = role.max_session_duration as i64;
    let duration = match duration_seconds.as_deref() {
        Some(d) => d.parse::<i64>().ok().filter(|d| *d >= 900).ok_or_else(|| {
            IamError::ValidationError(format!(
                "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
            ))
        })?,
        None => 3600,
    };
    // Role chaining (a role session assuming a role) is limited to one hour (IAM User
    // Guide, "Role terms and concepts").
    let chained = matches!(caller.subject, Subject::Role(_));
    if chained && duration_seconds.is_some() && duration > 3600 {
        return Err(IamError::ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
        ));
    }
    if duration > max {
        return Err(IamError::ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .into(),
        ));
    }
    if call.api.iam_enforced() {
        let mut ctx = crate::authz::global_context(caller, call.source_ip);
        ctx.set("sts:RoleSessionName", vec![session.clone()]);
        if let Some(e) = &external_id {
            ctx.set("sts:ExternalId", vec![e.clone()]);
        }
        if !tags.is_empty() {
            for t in &tags {
                ctx.set(&format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]);
            }
            ctx.set("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect());
        }
        if !transitive.is_empty() {
            ctx.set("sts:TransitiveTagKeys", transitive.clone());
        }
        // Session tags need sts:TagSession as the role needs sts:AssumeRole: allowed by the
        // trust policy, and by the caller's policies where the trust names only the account
        // (IAM User Guide, "Passing session tags in AWS STS": "the role's trust policy must
        // include sts:TagSession", and the caller needs the permission).
        // Inherited transitive tags are session tags of the new session too, so they need
        // it as well (UNCONFIRMED: the User Guide's chaining example has every role in the
        // chain trust sts:TagSession).
        let mut actions = vec!["sts:AssumeRole"];
        if !tags.is_empty() || !inherited.is_empty() {
            actions.push("sts:TagSession");
        }
        for action in actions {
            if !trusted(call, &role.trust, action, &role_arn, &ctx) {
                return Err(IamError::AccessDenied(format!(
                    "User: {} is not authorized to perform: {action} on resource: {role_arn}",
                    caller.arn
                )));
            }
        }
    }
    let now = model::time::now_ms();
    let claims = SessionClaims {
        account: account.to_string(),
        role: role.name.clone(),
        role_path: role.path.clone(),
        session: session.clone(),
        expires_ms: now + duration * 1000,
        issued_ms: now,
        transitive: inherited
            .iter()
            .map(|(k, _)| k.clone())
            .chain(transitive)
            .collect(),
        tags: inherited
            .into_iter()
            .chain(tags.into_iter().map(|t| (t.key, t.value)))
            .collect(),
        policy,
        instance: None,
        nonce: iam::registry::unique_id(""),
    };
    let creds = call.api.principals.sessions.mint(&claims);
    Ok(json!({
        "Credentials": {
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key,
            "SessionToken": creds.session_token,
            "Expiration": iso_date(creds.expires_ms),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": format!("{}:{session}", role.id),
            "Arn": Arn::assumed_role(account, &role.name, &session).to_string(),
        },
        "PackedPolicySize": packed.map_or(serde_json::Value::Null, |p| json!(p)),
    }))
}

/// Whether `caller` may do `action` on the role: its trust policy allows the caller (then no
/// identity policy is needed) or the caller's account (then its identity policies must
/// allow too), SCPs allow, and no explicit deny (IAM User Guide, "Policy evaluation logic").
fn trusted(
    call: &Call<'_>,
    trust: &iam::registry::TrustDoc,
    action: &str,
    role_arn: &str,
    ctx: &iam::condition::Context,
) -> bool {
    let caller = call.caller;
    let arns = [caller.arn.clone(), caller.principal_arn.clone()];
    let answer = trust.parsed.answer(
        &TrustCaller {
            account: &caller.account,
            arns: &arns,
            context: ctx,
        },
        action,
    );
    let d = crate::authz::decide_for(
        &call.api.principals,
        caller,
        action,
        &[(role_arn.to_string(), ctx.clone())],
    );
    use iam::evaluate::{Kind, Outcome};
    !answer.explicit_deny
        && match d.outcome {
            Outcome::Allowed => answer.allows_principal || answer.allows_account,
            Outcome::NoAllow(Kind::Identity) => answer.allows_principal,
            _ => false,
        }
}

/// Session tags within `tagListType` (at most 50) and each within `Tag`'s constraints.
/// A member over its model's length (STS's validation wording, as IAM's).
fn too_long(member: &str, max: usize) -> IamError {
    IamError::ValidationError(format!(
        "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
    ))
}

fn check_session_tags(tags: &[Tag]) -> Result<(), IamError> {
    if tags.len() > iam::registry::MAX_TAGS {
        return Err(too_long("tags", iam::registry::MAX_TAGS));
    }
    iam::registry::check_tags(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::shapes::{assert_members, serde_fields};

    #[test]
    fn typed_inputs_follow_the_model() {
        let m = shapes::sts();
        assert_members(m, "AssumeRoleRequest", &serde_fields::<AssumeRoleIn>());
        assert_members(
            m,
            "DecodeAuthorizationMessageRequest",
            &serde_fields::<DecodeIn>(),
        );
    }

    #[test]
    fn transitive_keys_name_session_tags_of_the_request() {
        let tag = |k: &str| Tag {
            key: k.into(),
            value: "v".into(),
        };
        let tags = [tag("Team"), tag("cost")];
        let keys = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        assert_eq!(
            transitive_keys(&tags, keys(&["team", "TEAM", "cost"])),
            Ok(keys(&["Team", "cost"])),
            "matched whatever the case, spelled as the tag, once"
        );
        assert!(matches!(
            transitive_keys(&tags, keys(&["project"])),
            Err(StsError::InvalidParameterValue(_))
        ));
        // Not a tag key at all: the request's validation, before the keys are matched.
        for bad in ["a!b", "", &"k".repeat(129)] {
            assert!(matches!(
                transitive_keys(&tags, keys(&["team", bad])),
                Err(StsError::Iam(IamError::ValidationError(m))) if m.contains("'transitiveTagKeys'")
            ));
        }
        let many: Vec<String> = (0..51).map(|i| format!("k{i}")).collect();
        assert!(matches!(
            transitive_keys(&tags, many),
            Err(StsError::Iam(IamError::ValidationError(_)))
        ));
        let inherited = [("team".to_string(), "blue".to_string())];
        assert!(check_inherited(&inherited, &[tag("cost")]).is_ok());
        assert!(matches!(
            check_inherited(&inherited, &[tag("TEAM")]),
            Err(StsError::InvalidParameterValue(_))
        ));
    }

    #[test]
    fn parse() {
        let p = |q: &str| Request::parse(&Params::parse(q.as_bytes()).unwrap());
        assert_eq!(p(""), Err(StsError::MissingAction));
        assert_eq!(
            p("Action=GetCallerIdentity&Bogus=1"),
            Ok(Request::GetCallerIdentity)
        );
        assert!(matches!(
            p("Action=GetSessionToken"),
            Err(StsError::InvalidAction(_))
        ));
        assert_eq!(
            p("Action=AssumeRole&RoleArn=a"),
            Err(StsError::Iam(crate::query_api::missing("RoleSessionName")))
        );
        assert_eq!(
            p("Action=AssumeRole&RoleSessionName=s&RoleArn=a&RoleArn=b&DurationSeconds=0900"),
            Ok(Request::AssumeRole(AssumeRoleIn {
                role_arn: "a".into(),
                session: "s".into(),
                policy: None,
                duration_seconds: Some(Integer::Text("0900".into())),
                external_id: None,
                tags: Vec::new(),
                transitive_tag_keys: Vec::new(),
            }))
        );
    }
}
