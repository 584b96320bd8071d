//! The canonical request and the string to sign, byte for byte as AWS builds them, and the
//! encodings they rest on.

use crate::ALGORITHM;
use sha2::{Digest, Sha256};

/// The canonical request exactly as AWS builds it:
///
/// ```text
/// METHOD \n canonical URI \n canonical query \n canonical headers (each "name:value\n") \n signed headers \n payload hash
/// ```
///
/// * `path` is the path as received on the wire (still percent-encoded). It is normalised
///   (empty, `.` and `..` segments removed) and each segment URI-encoded once more: EC2, like every
///   service but S3, double-encodes the path.
/// * `raw_query` is the undecoded query string. Pairs are decoded (`%XX` only; `+` stays a plus),
///   re-encoded with the RFC 3986 unreserved set, and sorted by name then value. A POST with a
///   form body has an empty query here.
/// * Only the `signed_headers` appear: names lowercased and sorted, values trimmed with inner
///   whitespace runs collapsed to one space, repeated headers joined with `,` in received order.
pub fn canonical_request(
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    let names = normalise_signed_headers(signed_headers);
    let mut out = String::with_capacity(256);
    out.push_str(method);
    out.push('\n');
    out.push_str(&canonical_uri(path));
    out.push('\n');
    out.push_str(&canonical_query(raw_query));
    out.push('\n');
    for name in &names {
        out.push_str(name);
        out.push(':');
        out.push_str(&canonical_header_value(headers, name));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// `AWS4-HMAC-SHA256 \n amz_date \n scope \n hex(sha256(canonical_request))`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// First value of a header, names compared case-insensitively.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The payload hash that goes into the canonical request: the signed `X-Amz-Content-Sha256`
/// header when there is one, else SHA-256 of the body.
pub(crate) fn payload_hash(
    headers: &[(String, String)],
    signed_headers: &[String],
    body: &[u8],
) -> String {
    let signed = signed_headers
        .iter()
        .any(|h| h.trim().eq_ignore_ascii_case("x-amz-content-sha256"));
    match header(headers, "x-amz-content-sha256") {
        Some(v) if signed => v.trim().to_string(),
        _ => hex::encode(Sha256::digest(body)),
    }
}

/// Signed header names as the canonical request lists them: lowercase, sorted, no repeats.
pub(crate) fn normalise_signed_headers(signed_headers: &[String]) -> Vec<String> {
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn canonical_header_value(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(",")
}

/// Normalised, then each segment encoded once more (the SDKs' "double encoding" for non-S3).
pub(crate) fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(
        &segments
            .iter()
            .map(|s| uri_encode(s.as_bytes()))
            .collect::<Vec<_>>()
            .join("/"),
    );
    if !segments.is_empty() && path.ends_with('/') {
        out.push('/');
    }
    out
}

pub(crate) fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(name)),
                uri_encode(&percent_decode(value)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The raw query minus any `X-Amz-Signature` pair (presigned requests sign everything else).
pub(crate) fn without_signature_param(raw_query: &str) -> String {
    raw_query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| {
            let name = p.split_once('=').map_or(*p, |(n, _)| n);
            percent_decode(name) != b"X-Amz-Signature"
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 percent-encoding of everything but the unreserved set `A-Z a-z 0-9 - _ . ~`.
pub(crate) fn uri_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// `%XX` to bytes; a `%` not followed by two hex digits is kept literally, and `+` stays `+`
/// (the test suite's `get-query-plus` signs `c+d` as `c%2Bd`).
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex_value(*b)),
                bytes.get(i + 2).and_then(|b| hex_value(*b)),
            ) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
