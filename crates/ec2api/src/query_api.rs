//! What the IAM and STS APIs share: the plain Query protocol (not EC2's flavour).
//!
//! Requests: `Name.member.N` lists, `Name.member.N.Field` structures. Responses: the result
//! wrapped in `<ActionResult>` and `<ResponseMetadata>`, lists as `<member>` elements;
//! errors as `<ErrorResponse><Error><Type>…</Type><Code>…` with the error's own HTTP status.
//! Results are built as JSON objects in the output shape's member order (serde_json keeps
//! insertion order here), and written element by element.

use crate::auth::Caller;
use crate::context::Api;
use crate::protocol::query::Params;
use iam::IamError;
use quick_xml::escape::escape;
use serde_json::Value;
use std::fmt::Write;

/// A Query answer: status and body.
pub type Answer = (u16, String);

/// One IAM or STS call.
pub struct Call<'a> {
    pub api: &'a Api,
    pub params: &'a Params,
    pub caller: &'a Caller,
    pub request_id: &'a str,
    pub source_ip: Option<std::net::IpAddr>,
}

/// The error envelope.
pub fn error(namespace: &str, status: u16, code: &str, message: &str, request_id: &str) -> Answer {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"{namespace}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
            escape(code),
            escape(message)
        ),
    )
}

/// An IAM error as its envelope.
pub fn iam_error(namespace: &str, e: &IamError, request_id: &str) -> Answer {
    let (code, status) = e.code_and_status();
    error(namespace, status, code, &e.to_string(), request_id)
}

/// The success envelope; `result` None for actions without output.
pub fn success(namespace: &str, action: &str, result: Option<&Value>, request_id: &str) -> Answer {
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
    (200, out)
}

fn element(out: &mut String, name: &str, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Null => {}
        Value::Object(m) => {
            let _ = writeln!(out, "{pad}<{name}>");
            for (k, v) in m {
                element(out, k, v, depth + 1);
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

/// A required string parameter; missing is IAM's `ValidationError` naming the member as the
/// service's model does (lower camel case).
pub fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, IamError> {
    match params.get(name) {
        Some(v) => Ok(v),
        None => Err(IamError::ValidationError(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// `Name.member.1`, `Name.member.2`, …: the values in order.
pub fn member_list(params: &Params, name: &str) -> Vec<String> {
    (1..)
        .map_while(|i| {
            params
                .get(&format!("{name}.member.{i}"))
                .map(str::to_string)
        })
        .collect()
}

/// `Name.member.N.Field` structures: a getter per item, in order.
pub fn member_structs(params: &Params, name: &str) -> Vec<String> {
    (1..)
        .map(|i| format!("{name}.member.{i}"))
        .take_while(|prefix| {
            let dot = format!("{prefix}.");
            params.pairs().iter().any(|(k, _)| k.starts_with(&dot))
        })
        .collect()
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
    if !call.api.iam_enforced() {
        return Ok(());
    }
    let ctx = crate::authz::global_context(call.caller, call.source_ip);
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

    #[test]
    fn lists_are_members_and_documents_are_url_encoded() {
        let v = serde_json::json!({"User": {"UserName": "a&b", "Tags": [{"Key": "k", "Value": "v"}]}, "IsTruncated": false});
        let (status, xml) = success("ns", "GetUser", Some(&v), "r");
        assert_eq!(status, 200);
        assert!(xml.contains("<GetUserResult>"));
        assert!(xml.contains("<UserName>a&amp;b</UserName>"));
        assert!(xml.contains("<Tags>\n        <member>\n          <Key>k</Key>"));
        assert!(xml.contains("<IsTruncated>false</IsTruncated>"));
        assert_eq!(url_encode("{\"a\": 1}"), "%7B%22a%22%3A%201%7D");
        let p = Params::parse(b"A.member.1=x&A.member.2=y&B.member.1.K=k").unwrap();
        assert_eq!(member_list(&p, "A"), vec!["x", "y"]);
        assert_eq!(member_structs(&p, "B"), vec!["B.member.1"]);
    }
}
