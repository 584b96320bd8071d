//! The tests: the project's spec case here, the AWS SigV4 test suite in [`suite`], refusals in
//! [`failures`].

mod failures;
mod suite;

use crate::canonical::{canonical_query, canonical_uri, percent_decode};
use crate::*;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn names(list: &str) -> Vec<String> {
    list.split(';').map(str::to_string).collect()
}

/// Decoded query pairs, as the HTTP layer would hand them to `parse`.
fn decoded_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                String::from_utf8_lossy(&percent_decode(k)).into_owned(),
                String::from_utf8_lossy(&percent_decode(v)).into_owned(),
            )
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

const D: (&str, &str) = ("X-Amz-Date", "20150830T123600Z");
const HOST: (&str, &str) = ("Host", "example.amazonaws.com");

// --- 1. The project's spec case ---------------------------------------------------------

#[test]
fn spec_modify_instance_metadata_options() {
    let body = b"Action=ModifyInstanceMetadataOptions&Version=2016-11-15&InstanceId=i-0123456789abcdef0&HttpTokens=required";
    let headers = h(&[
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("host", "ec2.us-east-1.amazonaws.com"),
        ("x-amz-date", "20260115T120000Z"),
    ]);
    assert_eq!(
        sha256_hex(body),
        "21cb6b0ef129ab1c574774bbf2ead839a233686a95452b306c9901a3e8170eb1"
    );
    let auth = authorization_header(
        AKID,
        SECRET,
        "us-east-1",
        "ec2",
        "20260115T120000Z",
        "POST",
        "/",
        "",
        &headers,
        &names("content-type;host;x-amz-date"),
        body,
    );
    let expected = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260115/us-east-1/ec2/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=9e7759a3f770c401d8ee620ea6dfc0615c91ca452eb13b1a36b3901f76e3b5e5";
    assert_eq!(auth, expected);

    let mut with_auth = headers.clone();
    with_auth.push(("authorization".into(), auth));
    let req = parse("POST", &with_auth, &[]).expect("parses");
    assert_eq!(req.access_key_id, AKID);
    assert_eq!(req.date, "20260115");
    assert_eq!(req.region, "us-east-1");
    assert_eq!(req.service, "ec2");
    assert!(!req.presigned);
    check_scope(&req, &["us-east-1"], "ec2").expect("scope");
    verify(&req, SECRET, "POST", "/", "", &with_auth, body).expect("verifies");
    let now = req.amz_date + Duration::minutes(5);
    check_time(&req, now).expect("fresh");
}
