//! The STS actions on the same endpoint, told apart from EC2 by `Version=2011-06-15` (or the
//! signing service `sts`): `GetCallerIdentity`, `AssumeRole` (trust policies honoured) and
//! `DecodeAuthorizationMessage` (spec iam.md §5).

use crate::query_api::{authorize, error, iam_error, required, success, Answer, Call};
use base64::Engine;
use iam::registry::{iso_date, Subject};
use iam::session::SessionClaims;
use iam::trust::TrustCaller;
use iam::IamError;
use serde_json::json;

pub const VERSION: &str = "2011-06-15";
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The longest session policy AssumeRole takes (botocore `sts`, sessionPolicyDocumentType).
const SESSION_POLICY_MAX: usize = 2048;

/// `PackedPolicySize`: how much of the packed-policy allowance the session policy uses, in
/// percent (STS API Reference, AssumeRole). AWS's packing is not published; imds counts the
/// policy's characters without insignificant white space against the 2,048 allowed.
fn packed_policy_size(policy: &str) -> u64 {
    let packed = serde_json::from_str::<serde_json::Value>(policy)
        .map(|v| v.to_string().chars().count())
        .unwrap_or_else(|_| policy.chars().count());
    (packed as u64 * 100).div_ceil(SESSION_POLICY_MAX as u64)
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

pub async fn answer(call: &Call<'_>) -> Answer {
    let rid = call.request_id;
    let caller = call.caller;
    match call.params.get("Action") {
        Some("GetCallerIdentity") => success(
            NAMESPACE,
            "GetCallerIdentity",
            Some(&json!({
                "UserId": caller.user_id,
                "Account": caller.account,
                "Arn": caller.arn,
            })),
            rid,
        ),
        Some("DecodeAuthorizationMessage") => {
            if let Err(e) = authorize(call, "sts:DecodeAuthorizationMessage", "*") {
                return iam_error(NAMESPACE, &e, rid);
            }
            match call.params.get("EncodedMessage") {
                None | Some("") => error(NAMESPACE, 400, "MissingParameter", "The request must contain the parameter EncodedMessage", rid),
                Some(m) if m.len() > 10_240 => error(NAMESPACE, 400, "ValidationError", "1 validation error detected: Value at 'encodedMessage' failed to satisfy constraint: Member must have length less than or equal to 10240", rid),
                Some(m) => match decode_message(m) {
                    Some(json) => success(NAMESPACE, "DecodeAuthorizationMessage", Some(&json!({"DecodedMessage": json})), rid),
                    None => error(NAMESPACE, 400, "InvalidAuthorizationMessageException", "The message is not a valid authorization message.", rid),
                },
            }
        }
        Some("AssumeRole") => match assume_role(call) {
            Ok(v) => success(NAMESPACE, "AssumeRole", Some(&v), rid),
            Err(e) => iam_error(NAMESPACE, &e, rid),
        },
        Some(other) => error(
            NAMESPACE,
            400,
            "InvalidAction",
            &format!("Could not find operation {other} for version {VERSION}"),
            rid,
        ),
        None => error(NAMESPACE, 400, "MissingAction", "Missing Action", rid),
    }
}

/// AssumeRole (STS API Reference; IAM User Guide, "Policy evaluation logic" for roles): the
/// role's trust policy must allow the caller, either by naming it (no identity policy needed)
/// or by naming its account (then the caller's identity policies must allow `sts:AssumeRole`
/// on the role); SCPs must allow; an explicit deny anywhere refuses.
fn assume_role(call: &Call<'_>) -> Result<serde_json::Value, IamError> {
    let params = call.params;
    let caller = call.caller;
    let role_arn = required(params, "RoleArn")?.to_string();
    let session = required(params, "RoleSessionName")?.to_string();
    let session_ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !session_ok {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let policy = params.get("Policy").map(str::to_string);
    if let Some(p) = &policy {
        // botocore `sts`: sessionPolicyDocumentType, 1..2048 characters.
        if p.chars().count() > SESSION_POLICY_MAX {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to {SESSION_POLICY_MAX}"
            )));
        }
        iam::policy::Policy::parse_str(p).map_err(|e| IamError::MalformedPolicyDocument(e.0))?;
    }
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
    // arn:aws:iam::ACCOUNT:role/PATH/NAME
    let rest = role_arn.strip_prefix("arn:aws:iam::").ok_or_else(denied)?;
    let (account, role_part) = rest.split_once(":role/").ok_or_else(denied)?;
    let role_name = role_part
        .rsplit('/')
        .next()
        .unwrap_or(role_part)
        .to_string();
    let registry = call.api.principals.registry();
    let role = registry
        .account(account)
        .and_then(|a| a.roles.get(&role_name))
        .ok_or_else(denied)?;
    let max = role.max_session_duration as i64;
    let duration = match params.get("DurationSeconds") {
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
    if chained && params.get("DurationSeconds").is_some() && duration > 3600 {
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
        if let Some(e) = params.get("ExternalId") {
            ctx.set("sts:ExternalId", vec![e.to_string()]);
        }
        let arns = [caller.arn.clone(), caller.principal_arn.clone()];
        let trust = role.trust.parsed.answer(
            &TrustCaller {
                account: &caller.account,
                arns: &arns,
                context: &ctx,
            },
            "sts:AssumeRole",
        );
        let d = crate::authz::decide_for(
            &call.api.principals,
            caller,
            "sts:AssumeRole",
            &[(role_arn.clone(), ctx)],
        );
        use iam::evaluate::{Kind, Outcome};
        let allowed = !trust.explicit_deny
            && match d.outcome {
                Outcome::Allowed => trust.allows_principal || trust.allows_account,
                Outcome::NoAllow(Kind::Identity) => trust.allows_principal,
                _ => false,
            };
        if !allowed {
            return Err(denied());
        }
    }
    let now = store::now_ms();
    let claims = SessionClaims {
        account: account.to_string(),
        role: role.name.clone(),
        role_path: role.path.clone(),
        session: session.clone(),
        expires_ms: now + duration * 1000,
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
            "Arn": format!("arn:aws:sts::{account}:assumed-role/{}/{session}", role.name),
        },
        "PackedPolicySize": claims.policy.as_deref().map_or(serde_json::Value::Null, |p| json!(packed_policy_size(p))),
    }))
}
