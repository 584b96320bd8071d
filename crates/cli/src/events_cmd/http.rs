//! One JSON exchange with the server's event controls: HTTP/1.1 on the API's address, SigV4
//! for `ec2` with the environment's credentials when it has them (a server with
//! `--iam-config` refuses unsigned controls), the answer's JSON or its EC2 error.
//!
//! The exchange itself is `exec::client`'s (as for the other admin routes); the controls'
//! refusals are worth reading (code and message), not only passing on.

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("{0}")]
    Discovery(String),
    #[error("the EC2 API at {0} did not answer: {1}")]
    Unreachable(String, String),
    /// The server refused: EC2's code and message.
    #[error("{code}: {message}")]
    Refused { code: String, message: String },
    #[error("the EC2 API at {0} answered {1}: {2}")]
    Unexpected(String, String, String),
}

/// `method path` with `body` (JSON, or nothing when empty) to the server at `endpoint`
/// (`http://host:port`): the answer's JSON.
pub(super) fn send(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<serde_json::Value, EventsError> {
    let (status, text) = crate::exec::client::json_exchange(endpoint, method, path, body)
        .map_err(|e| EventsError::Unreachable(endpoint.into(), e.to_string()))?;
    let unexpected =
        || EventsError::Unexpected(endpoint.into(), status.to_string(), text.trim().into());
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|_| unexpected());
    }
    Err(refusal(&text).unwrap_or_else(unexpected))
}

/// EC2's code and message out of its error envelope.
fn refusal(xml: &str) -> Option<EventsError> {
    let code = crate::exec::client::between(xml, "<Code>", "</Code>")?;
    let message = crate::exec::client::between(xml, "<Message>", "</Message>").unwrap_or("");
    let unescape = |s: &str| {
        quick_xml::escape::unescape(s)
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| s.to_string())
    };
    Some(EventsError::Refused {
        code: unescape(code),
        message: unescape(message),
    })
}

/// `value` as one path segment: anything but RFC 3986's unreserved characters is
/// percent-encoded, so an id cannot reach another route.
pub(super) fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_from_the_envelope() {
        let xml = "<?xml version=\"1.0\"?><Response><Errors><Error><Code>InvalidParameterValue</Code>\
                   <Message>Value (x) for parameter code isn&apos;t valid.</Message></Error></Errors>\
                   <RequestID>r</RequestID></Response>";
        match refusal(xml) {
            Some(EventsError::Refused { code, message }) => {
                assert_eq!(code, "InvalidParameterValue");
                assert_eq!(message, "Value (x) for parameter code isn't valid.");
            }
            other => panic!("{other:?}"),
        }
        assert!(refusal("not found").is_none());
    }

    #[test]
    fn ids_stay_one_segment() {
        assert_eq!(path_segment("i-0123abc"), "i-0123abc");
        assert_eq!(path_segment("../netns/x?y"), "..%2Fnetns%2Fx%3Fy");
    }
}
