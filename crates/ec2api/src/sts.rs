//! The STS actions a user of the EC2 guardrails needs on the same endpoint, told apart from
//! EC2 by `Version=2011-06-15` (botocore's STS client, pointed at imds with `endpoint_url`):
//! `GetCallerIdentity` and `DecodeAuthorizationMessage` (spec iam.md §5).
//!
//! STS speaks the plain Query protocol, not EC2's: results are wrapped in `<…Result>` and
//! `<ResponseMetadata>`, and errors are `<ErrorResponse><Error><Type>Sender</Type>…`.

use crate::auth::Caller;
use crate::protocol::query::Params;
use base64::Engine;
use quick_xml::escape::escape;

pub const VERSION: &str = "2011-06-15";
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// An STS answer: status and body.
pub type Answer = (u16, String);

fn error(status: u16, code: &str, message: &str, request_id: &str) -> Answer {
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
            escape(code),
            escape(message)
        ),
    )
}

fn success(action: &str, result: &str, request_id: &str) -> Answer {
    (
        200,
        format!(
            "<{action}Response xmlns=\"{NAMESPACE}\">\n  <{action}Result>\n{result}  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
        ),
    )
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

pub fn answer(params: &Params, caller: &Caller, request_id: &str) -> Answer {
    match params.get("Action") {
        Some("GetCallerIdentity") => {
            let user_id = if caller.arn.ends_with(":root") {
                caller.account.clone()
            } else {
                caller.arn.rsplit('/').next().unwrap_or_default().to_string()
            };
            success(
                "GetCallerIdentity",
                &format!(
                    "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
                    escape(caller.arn.as_str()),
                    escape(user_id.as_str()),
                    escape(caller.account.as_str())
                ),
                request_id,
            )
        }
        Some("DecodeAuthorizationMessage") => match params.get("EncodedMessage") {
            None | Some("") => error(400, "MissingParameter", "The request must contain the parameter EncodedMessage", request_id),
            Some(m) if m.len() > 10_240 => error(400, "ValidationError", "1 validation error detected: Value at 'encodedMessage' failed to satisfy constraint: Member must have length less than or equal to 10240", request_id),
            Some(m) => match decode_message(m) {
                Some(json) => success(
                    "DecodeAuthorizationMessage",
                    &format!("    <DecodedMessage>{}</DecodedMessage>\n", escape(json.as_str())),
                    request_id,
                ),
                None => error(400, "InvalidAuthorizationMessageException", "The message is not a valid authorization message.", request_id),
            },
        },
        Some(other) => error(400, "InvalidAction", &format!("Could not find operation {other} for version {VERSION}"), request_id),
        None => error(400, "MissingAction", "Missing Action", request_id),
    }
}
