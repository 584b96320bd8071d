//! Responses: XML written along the operation's output shape, and the error envelope.
//!
//! Handlers build a JSON value keyed by the model's member names (as boto3 shows them); this
//! encoder names every element by its `locationName`, writes members in the model's order,
//! wraps list items in the list member's element (`item` throughout EC2), and refuses a key the
//! model does not have, since SDK parsers would silently drop it.

use super::output::Output;
use super::shapes::{model, Member, Shape};
use std::borrow::Cow;

mod fields;
pub use fields::{Fields, Items};

/// XML-escape text, replacing the characters XML 1.0 cannot carry at all (most C0 controls,
/// U+FFFE, U+FFFF) with U+FFFD so that a response always parses.
fn escape(s: &str) -> Cow<'_, str> {
    // Most text (ids, names, addresses, times) needs nothing: one pass over its bytes tells
    // so. A byte below space, one of `<>&'"`, or 0xEF (the lead byte of U+FFFE and U+FFFF)
    // sends the text the careful way.
    if s.bytes()
        .all(|b| b >= b' ' && !matches!(b, b'<' | b'>' | b'&' | b'\'' | b'"' | 0xEF))
    {
        return Cow::Borrowed(s);
    }
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if s.chars().all(allowed) {
        quick_xml::escape::escape(s)
    } else {
        let clean: String = s
            .chars()
            .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
            .collect();
        Cow::Owned(quick_xml::escape::escape(clean.as_str()).into_owned())
    }
}
use serde_json::Value;
use std::fmt::Write;

pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// A response that does not fit the model: a bug in a handler, reported as `InternalError`.
#[derive(Debug, thiserror::Error)]
#[error("response does not fit the EC2 model: {0}")]
pub struct EncodeError(String);

/// The success envelope of `operation`.
pub fn encode(operation: &str, request_id: &str, body: &Value) -> Result<String, EncodeError> {
    envelope(operation, request_id, |out, shape| match shape {
        Some(shape) => members(out, shape, body, 1),
        None => no_output(operation, body.as_object().is_none_or(|o| o.is_empty())),
    })
}

/// The success envelope of `operation` for an answer whose long lists are made item by item:
/// each item is rendered, written and dropped before the next is made, so the text is the
/// only thing that grows. Writes what `encode` writes for the same answer made whole.
pub fn encode_output(
    operation: &str,
    request_id: &str,
    body: Output,
) -> Result<String, EncodeError> {
    match body {
        Output::Value(v) => encode(operation, request_id, &v),
        body => envelope(operation, request_id, |out, shape| match shape {
            Some(shape) => output_members(out, shape, body, 1),
            None => no_output(operation, false),
        }),
    }
}

/// The envelope around what `body` writes along the operation's output shape.
fn envelope(
    operation: &str,
    request_id: &str,
    body: impl FnOnce(&mut String, Option<&'static str>) -> Result<Option<&'static str>, EncodeError>,
) -> Result<String, EncodeError> {
    let mut out = String::with_capacity(1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<{operation}Response xmlns=\"{NAMESPACE}\">\n    <requestId>{request_id}</requestId>\n"
    );
    if let Some(text) = body(&mut out, model().output(operation))? {
        out.push_str(text);
    }
    let _ = writeln!(out, "</{operation}Response>");
    Ok(out)
}

/// Actions without an output shape (CreateTags, RebootInstances, …) answer `return`; anything
/// else for them is a handler's mistake.
fn no_output(operation: &str, empty: bool) -> Result<Option<&'static str>, EncodeError> {
    if empty {
        Ok(Some("    <return>true</return>\n"))
    } else {
        Err(EncodeError(format!("{operation} has no output")))
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

fn members(
    out: &mut String,
    shape_name: &str,
    v: &Value,
    depth: usize,
) -> Result<Option<&'static str>, EncodeError> {
    let members = structure(shape_name)?;
    let Some(obj) = v.as_object() else {
        return Err(EncodeError(format!(
            "{shape_name} needs an object, got {v}"
        )));
    };
    for key in obj.keys() {
        if !members.iter().any(|m| &m.name == key) {
            return Err(EncodeError(format!("{shape_name} has no member {key}")));
        }
    }
    for m in members {
        if let Some(child) = obj.get(&m.name) {
            if child.is_null() {
                continue;
            }
            element(out, m.element_name(), &m.shape, child, depth)?;
        }
    }
    Ok(None)
}

fn structure(shape_name: &str) -> Result<&'static [Member], EncodeError> {
    match model().shape(shape_name) {
        Some(Shape::Structure { members, .. }) => Ok(members),
        _ => Err(EncodeError(format!("{shape_name} is not a structure"))),
    }
}

/// `members` for a structure made of outputs: the same checks, names and order.
fn output_members(
    out: &mut String,
    shape_name: &'static str,
    v: Output,
    depth: usize,
) -> Result<Option<&'static str>, EncodeError> {
    let fields = match v {
        Output::Value(v) => return members(out, shape_name, &v, depth),
        Output::Struct(fields) => fields,
        Output::Items(_) => {
            return Err(EncodeError(format!(
                "{shape_name} needs an object, got a list"
            )))
        }
        Output::Written(_) => {
            return Err(EncodeError(format!(
                "{shape_name}: a written structure is written as an element"
            )))
        }
    };
    let members = structure(shape_name)?;
    let mut fields: Vec<Option<(&str, Output)>> = fields.into_iter().map(Some).collect();
    if let Some((key, _)) = fields
        .iter()
        .flatten()
        .find(|(k, _)| !members.iter().any(|m| m.name == *k))
    {
        return Err(EncodeError(format!("{shape_name} has no member {key}")));
    }
    for m in members {
        let Some((_, child)) = fields
            .iter_mut()
            .find(|f| f.as_ref().is_some_and(|(k, _)| *k == m.name))
            .and_then(Option::take)
        else {
            continue;
        };
        if matches!(child, Output::Value(Value::Null)) {
            continue;
        }
        output_element(out, m.element_name(), &m.shape, child, depth)?;
    }
    Ok(None)
}

/// `element` for an output: a structure of outputs, or a list whose items are made, written
/// and dropped one at a time.
fn output_element(
    out: &mut String,
    name: &'static str,
    shape_name: &'static str,
    v: Output,
    depth: usize,
) -> Result<(), EncodeError> {
    match v {
        Output::Value(v) => element(out, name, shape_name, &v, depth),
        Output::Written(item) => {
            let mut fields = Fields::new(out, name, shape_name, depth)?;
            item.write(&mut fields)?;
            fields.end();
            Ok(())
        }
        Output::Struct(fields) => {
            structure(shape_name)?;
            indent(out, depth);
            if fields.is_empty() {
                let _ = writeln!(out, "<{name}/>");
                return Ok(());
            }
            let _ = writeln!(out, "<{name}>");
            output_members(out, shape_name, Output::Struct(fields), depth + 1)?;
            indent(out, depth);
            let _ = writeln!(out, "</{name}>");
            Ok(())
        }
        Output::Items(items) => {
            let Some(Shape::List { member, .. }) = model().shape(shape_name) else {
                return Err(EncodeError(format!("{name} needs a list")));
            };
            let mut items = items.peekable();
            indent(out, depth);
            if items.peek().is_none() {
                let _ = writeln!(out, "<{name}/>");
                return Ok(());
            }
            let _ = writeln!(out, "<{name}>");
            let item_name = member.location_name.as_deref().unwrap_or("member");
            let mut first = true;
            while let Some(item) = items.next() {
                let before = out.len();
                output_element(out, item_name, &member.shape, item, depth + 1)?;
                if first {
                    // Room for the rest at the first item's size: a page's text (megabytes)
                    // is then not copied over and over as it grows.
                    first = false;
                    out.reserve((out.len() - before).saturating_mul(items.size_hint().0));
                }
            }
            indent(out, depth);
            let _ = writeln!(out, "</{name}>");
            Ok(())
        }
    }
}

fn element(
    out: &mut String,
    name: &str,
    shape_name: &str,
    v: &Value,
    depth: usize,
) -> Result<(), EncodeError> {
    let shape = model()
        .shape(shape_name)
        .ok_or_else(|| EncodeError(format!("unknown shape {shape_name}")))?;
    indent(out, depth);
    match shape {
        Shape::Structure { .. } => {
            if v.as_object().is_some_and(|o| o.is_empty()) {
                let _ = writeln!(out, "<{name}/>");
                return Ok(());
            }
            let _ = writeln!(out, "<{name}>");
            members(out, shape_name, v, depth + 1)?;
            indent(out, depth);
            let _ = writeln!(out, "</{name}>");
        }
        Shape::List { member, .. } => {
            let Some(items) = v.as_array() else {
                return Err(EncodeError(format!("{name} needs a list")));
            };
            if items.is_empty() {
                let _ = writeln!(out, "<{name}/>");
                return Ok(());
            }
            let _ = writeln!(out, "<{name}>");
            let item_name = member.location_name.as_deref().unwrap_or("member");
            for item in items {
                element(out, item_name, &member.shape, item, depth + 1)?;
            }
            indent(out, depth);
            let _ = writeln!(out, "</{name}>");
        }
        Shape::Map { .. } => return Err(EncodeError(format!("{name}: maps are not encoded"))),
        Shape::Scalar(_) => {
            let text = match v {
                Value::String(s) => escape(s.as_str()).into_owned(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => return Err(EncodeError(format!("{name}: not a scalar: {other}"))),
            };
            let _ = writeln!(out, "<{name}>{text}</{name}>");
        }
    }
    Ok(())
}

/// The error envelope: no namespace, `RequestID` with a capital ID (unlike success).
pub fn error(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
        escape(code),
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modify_response_uses_model_names_and_order() {
        let body = json!({
            "InstanceId": "i-0123456789abcdef0",
            "InstanceMetadataOptions": {
                "InstanceMetadataTags": "disabled", "HttpTokens": "required", "State": "pending",
                "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled"
            }
        });
        let xml = encode("ModifyInstanceMetadataOptions", "req-1", &body).unwrap();
        assert!(xml.contains("<ModifyInstanceMetadataOptionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"));
        assert!(xml.contains("<instanceMetadataOptions>"));
        let order: Vec<usize> = [
            "<state>",
            "<httpTokens>",
            "<httpPutResponseHopLimit>",
            "<httpEndpoint>",
            "<httpProtocolIpv6>",
            "<instanceMetadataTags>",
        ]
        .iter()
        .map(|e| xml.find(e).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{xml}");
        assert!(xml.find("<requestId>").unwrap() < xml.find("<instanceId>").unwrap());
    }

    #[test]
    fn lists_wrap_items_and_unknown_keys_fail() {
        let body = json!({"Reservations": [{"ReservationId": "r-1", "Instances": [{"InstanceId": "i-1", "Tags": [{"Key": "a&b", "Value": "<x>"}]}]}]});
        let xml = encode("DescribeInstances", "r", &body).unwrap();
        assert!(xml.contains("<reservationSet>\n        <item>"));
        assert!(xml.contains("<tagSet>"));
        assert!(xml.contains("<key>a&amp;b</key>"));
        assert!(xml.contains("<value>&lt;x&gt;</value>"));
        assert!(encode("DescribeInstances", "r", &json!({"Bogus": 1})).is_err());
    }

    #[test]
    fn control_characters_never_break_the_document() {
        let e = error(
            "InvalidAction",
            "The action a\u{0}b\u{1b} is not valid",
            "r",
        );
        assert!(!e.contains('\u{0}'));
        assert!(e.contains("a\u{FFFD}b\u{FFFD}"));
    }

    #[test]
    fn text_is_escaped_whatever_its_path() {
        for (text, want) in [
            ("i-0123456789abcdef0", "i-0123456789abcdef0"),
            ("é ü 日本", "é ü 日本"),
            ("a<b>&'\"", "a&lt;b&gt;&amp;&apos;&quot;"),
            ("tab\tnl\n", "tab\tnl\n"),
            ("nul\u{0}esc\u{1b}", "nul\u{FFFD}esc\u{FFFD}"),
            (
                "\u{FFFE}\u{FFFF}\u{FFFD}\u{FEFF}",
                "\u{FFFD}\u{FFFD}\u{FFFD}\u{FEFF}",
            ),
        ] {
            assert_eq!(escape(text), want, "{text:?}");
        }
    }

    #[test]
    fn error_envelope() {
        let e = error(
            "InvalidInstanceID.NotFound",
            "The instance ID 'i-1' does not exist",
            "rid",
        );
        assert!(e.contains("<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>"));
        assert!(e.contains("<RequestID>rid</RequestID>"));
    }
}
