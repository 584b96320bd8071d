//! What the IAM and STS APIs share: the plain Query protocol (not EC2's flavour).
//!
//! Requests: decoded along the dialect's botocore model by `protocol::query::decode_query`
//! (`Name.member.N` lists, `Name.member.N.Field` structures), then read into typed inputs
//! ([`input`]). Responses: the result wrapped in `<ActionResult>` and `<ResponseMetadata>`,
//! lists as `<member>` elements; errors as `<ErrorResponse><Error><Type>…</Type><Code>…`
//! with the error's own HTTP status. Results are arranged along the output shape (the
//! model's element names and order, [`respond`]) and written element by element.

use crate::context::Call;
use crate::error::AwsError;
use crate::protocol::shapes::{Model, Unfit};
use crate::reply::{Reply, QUERY_XML};
use iam::IamError;
use model::Ec2Error;
use quick_xml::escape::escape;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Write;

/// The error envelope, in the API's `namespace`: `Sender` for the caller's errors, `Receiver`
/// for the service's own (5xx).
pub fn error(namespace: &str, e: &dyn AwsError, request_id: &str) -> Reply {
    let status = e.status();
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    Reply::new(
        status,
        QUERY_XML,
        format!(
            "<ErrorResponse xmlns=\"{namespace}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
            escape(e.code()),
            escape(e.message())
        ),
    )
}

/// How IAM and STS code an error raised before their action is reached (authentication,
/// decoding): IAM and STS name an unknown key `InvalidClientTokenId` (403) where EC2 says
/// `AuthFailure` (401), and expired session credentials `ExpiredToken` (403) where EC2 says
/// `RequestExpired` (botocore `iam`/`sts` models; STS API Reference, "Common Errors"); an
/// unsigned request is `MissingAuthenticationToken` (403) where EC2 says `MissingParameter`,
/// and a credential scoped elsewhere `SignatureDoesNotMatch` with Coral's message (wave2
/// §3.2; timkay/aws#111 quotes CloudFormation's, a Query service) where EC2 says
/// `AuthFailure`. Everything else is coded as EC2 codes it.
pub(crate) fn refused_code_and_status(e: &Ec2Error) -> (&'static str, u16) {
    match e {
        Ec2Error::ExpiredToken => ("ExpiredToken", 403),
        Ec2Error::Unsigned => ("MissingAuthenticationToken", 403),
        Ec2Error::CredentialScope(_) => ("SignatureDoesNotMatch", 403),
        Ec2Error::AuthFailure => ("InvalidClientTokenId", 403),
        _ => e.code_and_status(),
    }
}

/// The message of an error [`refused_code_and_status`] codes.
pub(crate) fn refused_message(e: &Ec2Error) -> String {
    match e {
        Ec2Error::Unsigned => "Request is missing Authentication Token".to_string(),
        Ec2Error::CredentialScope(m) => m.clone(),
        Ec2Error::AuthFailure => {
            "The security token included in the request is invalid.".to_string()
        }
        _ => e.to_string(),
    }
}

/// The success envelope of `action`, its result arranged along the action's output shape in
/// `model` (element names and order from botocore's model; see `Model::arrange`). `result`
/// None for actions without output.
pub fn respond(
    model: &Model,
    namespace: &str,
    action: &str,
    result: Option<&Value>,
    request_id: &str,
) -> Result<Reply, Unfit> {
    let arranged = match (result, model.output(action)) {
        (None, _) => None,
        (Some(v), Some(shape)) => Some(model.arrange(shape, v)?),
        (Some(_), None) => return Err(Unfit::new(format!("{action} has no output"))),
    };
    Ok(success(namespace, action, arranged.as_ref(), request_id))
}

/// The success envelope; `result` None for actions without output.
pub fn success(namespace: &str, action: &str, result: Option<&Value>, request_id: &str) -> Reply {
    let mut out = format!("<{action}Response xmlns=\"{namespace}\">\n");
    if let Some(v) = result {
        let _ = writeln!(out, "  <{action}Result>");
        if let Value::Object(m) = v {
            for (k, v) in m {
                element(&mut out, k, v, 2);
            }
        }
        let _ = writeln!(out, "  </{action}Result>");
    }
    let _ = write!(
        out,
        "  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    );
    Reply::ok(QUERY_XML, out)
}

fn element(out: &mut String, name: &str, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Null => {}
        Value::Object(m) => {
            let _ = writeln!(out, "{pad}<{name}>");
            for (k, v) in m {
                match (k.as_str(), v) {
                    // A map (`Model::arrange`): its entries.
                    (crate::protocol::shapes::MAP_ENTRIES, Value::Array(entries)) => {
                        for e in entries {
                            element(out, "entry", e, depth + 1);
                        }
                    }
                    _ => element(out, k, v, depth + 1),
                }
            }
            let _ = writeln!(out, "{pad}</{name}>");
        }
        Value::Array(items) => {
            let _ = writeln!(out, "{pad}<{name}>");
            for i in items {
                element(out, "member", i, depth + 1);
            }
            let _ = writeln!(out, "{pad}</{name}>");
        }
        Value::String(s) => {
            let _ = writeln!(out, "{pad}<{name}>{}</{name}>", escape(s.as_str()));
        }
        Value::Bool(b) => {
            let _ = writeln!(out, "{pad}<{name}>{b}</{name}>");
        }
        Value::Number(n) => {
            let _ = writeln!(out, "{pad}<{name}>{n}</{name}>");
        }
    }
}

/// Read a dialect's typed input `T` from its call decoded along the model
/// (`protocol::query::decode_query`). serde checks `T`'s required members in the order of
/// its fields; the first one missing is IAM's `ValidationError` (see [`missing`]).
pub(crate) fn input<T: DeserializeOwned>(decoded: &Value) -> Result<T, IamError> {
    T::deserialize(decoded).map_err(|e| match missing_member(&e) {
        Some(name) => missing(&name),
        // The decoder hands on only the model's shapes, which the typed inputs follow.
        None => IamError::ValidationError(format!("1 validation error detected: {e}")),
    })
}

/// The member serde found missing. serde_json reports it only in words (`missing field
/// `UserName``); `missing_fields_are_named_by_serde` holds that wording.
fn missing_member(e: &serde_json::Error) -> Option<String> {
    let text = e.to_string();
    let name = text.strip_prefix("missing field `")?.strip_suffix('`')?;
    Some(name.to_string())
}

/// IAM's `ValidationError` for a missing member, named as the service's model does (lower
/// camel case).
pub fn missing(name: &str) -> IamError {
    IamError::ValidationError(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        lower_first(name)
    ))
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// Percent-encode a policy document as IAM returns it (botocore URL-decodes it again).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The caller's decision on one IAM or STS action and resource, with the keys every
/// request carries. Denied: IAM's `AccessDenied` wording.
pub fn authorize(call: &Call<'_>, action: &str, resource: &str) -> Result<(), IamError> {
    authorize_with(call, action, resource, &[])
}

/// [`authorize`], with condition keys of the action's own beside the global ones (e.g.
/// `iam:PassedToService` for `iam:PassRole`), each with its values.
pub fn authorize_with(
    call: &Call<'_>,
    action: &str,
    resource: &str,
    keys: &[(String, Vec<String>)],
) -> Result<(), IamError> {
    if !call.api.iam_enforced() {
        return Ok(());
    }
    let mut ctx = crate::authz::global_context(call.caller, call.source_ip);
    for (key, values) in keys {
        ctx.set(key, values.clone());
    }
    let d = crate::authz::decide_for(
        &call.api.principals,
        call.caller,
        action,
        &[(resource.to_string(), ctx)],
    );
    if d.allowed() {
        Ok(())
    } else {
        Err(IamError::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {}",
            call.caller.arn,
            d.reason()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code_and_status;

    #[test]
    fn lists_are_members_and_documents_are_url_encoded() {
        let v = serde_json::json!({"User": {"UserName": "a&b", "Tags": [{"Key": "k", "Value": "v"}]}, "IsTruncated": false});
        let Reply {
            status, body: xml, ..
        } = success("ns", "GetUser", Some(&v), "r");
        assert_eq!(status, 200);
        assert!(xml.contains("<GetUserResult>"));
        assert!(xml.contains("<UserName>a&amp;b</UserName>"));
        assert!(xml.contains("<Tags>\n        <member>\n          <Key>k</Key>"));
        assert!(xml.contains("<IsTruncated>false</IsTruncated>"));
        assert_eq!(url_encode("{\"a\": 1}"), "%7B%22a%22%3A%201%7D");
        // Request lists (`Name.member.N`): `protocol::query`'s `plain_query_protocol`.
    }

    /// Results are written along the output shape: the model's order and names, nulls
    /// dropped, a key the model does not have refused.
    #[test]
    fn results_follow_the_output_shape() {
        let model = crate::protocol::shapes::sts();
        let v = serde_json::json!({
            "PackedPolicySize": null,
            "AssumedRoleUser": {"Arn": "arn:aws:sts::1:assumed-role/r/s", "AssumedRoleId": "AROA:s"},
            "Credentials": {"Expiration": "2026-01-01T00:00:00Z", "AccessKeyId": "ASIA", "SecretAccessKey": "x", "SessionToken": "t"},
        });
        let Reply { body, .. } = respond(model, "ns", "AssumeRole", Some(&v), "r").unwrap();
        let at = |s: &str| body.find(s).unwrap();
        assert!(at("<Credentials>") < at("<AssumedRoleUser>"));
        assert!(at("<AccessKeyId>") < at("<SecretAccessKey>"));
        assert!(at("<SessionToken>") < at("<Expiration>"));
        assert!(at("<AssumedRoleId>") < at("<Arn>"));
        assert!(!body.contains("PackedPolicySize"));
        let bad = serde_json::json!({"Credentials": {"AccessKeyID": "typo"}});
        assert!(respond(model, "ns", "AssumeRole", Some(&bad), "r").is_err());
        assert!(respond(model, "ns", "NoSuchAction", Some(&v), "r").is_err());
        assert!(respond(model, "ns", "NoSuchAction", None, "r").is_ok());
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Two {
        second_name: String,
        first_name: String,
    }

    /// The typed inputs rely on serde naming the first missing member, in field order.
    #[test]
    fn missing_fields_are_named_by_serde() {
        let missing_second = |v: Value| input::<Two>(&v).unwrap_err();
        assert_eq!(missing_second(serde_json::json!({})), missing("SecondName"));
        assert_eq!(
            missing_second(serde_json::json!({"SecondName": "x"})),
            missing("FirstName")
        );
        assert_eq!(
            missing("FirstName").to_string(),
            "1 validation error detected: Value null at 'firstName' failed to satisfy constraint: Member must not be null"
        );
        assert!(input::<Two>(&serde_json::json!({"SecondName": "", "FirstName": "y"})).is_ok());
    }

    /// `(HTTP status, code, message)` of an error the front door raised, as IAM and STS answer
    /// it.
    fn query_code_and_status(e: &Ec2Error) -> (u16, &'static str, String) {
        let sts = crate::sts::StsError::Refused(e.clone());
        let iam = crate::iam_api::IamApiError::Refused(e.clone());
        assert_eq!(
            (sts.code_and_status(), sts.message()),
            (iam.code_and_status(), iam.message())
        );
        (sts.status(), sts.code(), sts.message())
    }

    #[test]
    fn iam_and_sts_name_authentication_errors_their_own_way() {
        assert_eq!(
            query_code_and_status(&Ec2Error::AuthFailure),
            (
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.".to_string()
            )
        );
        assert_eq!(
            query_code_and_status(&Ec2Error::ExpiredToken).1,
            "ExpiredToken"
        );
        assert_eq!(
            code_and_status(&Ec2Error::ExpiredToken),
            (400, "RequestExpired")
        );
        assert_eq!(
            query_code_and_status(&Ec2Error::SignatureDoesNotMatch).1,
            "SignatureDoesNotMatch"
        );
        // Issue 10 / wave2 §3.2: a credential scoped elsewhere is Coral's
        // SignatureDoesNotMatch on IAM and STS; unsigned is MissingAuthenticationToken there.
        let scope = "Credential should be scoped to correct service: 'sts'. ";
        assert_eq!(
            query_code_and_status(&Ec2Error::CredentialScope(scope.into())),
            (403, "SignatureDoesNotMatch", scope.to_string())
        );
        assert_eq!(
            query_code_and_status(&Ec2Error::Unsigned),
            (
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token".to_string()
            )
        );
        assert_eq!(
            code_and_status(&Ec2Error::HostNotSigned),
            (403, "SignatureDoesNotMatch")
        );
    }
}

/// A `Tags.member.N` entry of IAM's and STS's `Tag` shape (`Key`, `Value`); either member
/// missing reads as empty, which the checks of tags then refuse.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Tags as IAM keeps them.
pub fn tags(given: Vec<TagIn>) -> Vec<iam::registry::Tag> {
    given
        .into_iter()
        .map(|t| iam::registry::Tag {
            key: t.key,
            value: t.value,
        })
        .collect()
}
