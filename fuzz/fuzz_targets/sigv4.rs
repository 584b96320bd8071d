//! The SigV4 parser and what runs on what it parsed: the `Authorization` header and the
//! presigned query form, the scope and clock checks, the canonical request and the signature
//! check.
//!
//! Input: a request in the plain text form of `imds_fuzz::TextRequest`, so that seeds are
//! readable and realistic (botocore-signed requests).
#![no_main]

use ec2api::protocol::query::Params;
use imds_fuzz::TextRequest;
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

/// The secret the seeds were signed with (`AKIAIOSFODNN7EXAMPLE`'s, from the AWS docs).
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// hyper 1's default limit on the headers of one HTTP/1 request (`DEFAULT_MAX_HEADERS`).
const MAX_HEADERS: usize = 100;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let TextRequest {
        method,
        target,
        headers,
        body,
    } = TextRequest::parse(&text, "POST");
    // The server's HTTP layer (hyper) refuses a request with more headers than this; past it the
    // target would only measure the canonical request's per-header scan.
    if headers.len() > MAX_HEADERS {
        return;
    }
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let query = Params::parse(raw_query.as_bytes()).unwrap_or_default();

    // Whatever the signed headers claim, the canonical request is built without panicking.
    let claimed: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    let _ = sigv4::canonical_request(
        method,
        path,
        raw_query,
        &headers,
        &claimed,
        "UNSIGNED-PAYLOAD",
    );

    // The server's order of checks (clock before host, algorithm and credential), at a fixed
    // day; then the checks one by one on what parses.
    let fixed_day = OffsetDateTime::from_unix_timestamp(1_795_370_598).unwrap();
    let _ = sigv4::parse_at(method, &headers, query.pairs(), fixed_day);
    let Ok(req) = sigv4::parse(method, &headers, query.pairs()) else {
        return;
    };
    for service in ["ec2", "iam", "sts"] {
        let _ = sigv4::check_scope(&req, model::catalogue::REGIONS, service);
    }
    // The clock check at its own date, at a fixed day, and at the edges of time's range.
    for now in [
        req.amz_date,
        fixed_day,
        OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT),
        OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT),
    ] {
        let _ = sigv4::check_time(&req, now);
    }
    let _ = req.scope();
    let _ = req.amz_date_string();
    let _ = sigv4::verify(
        &req,
        SECRET,
        method,
        path,
        raw_query,
        &headers,
        body.as_bytes(),
    );
});
