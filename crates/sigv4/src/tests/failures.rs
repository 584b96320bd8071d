//! Refusals: tampering, the clock, missing and malformed parts, the scope, garbage.

use super::*;

// --- 3. Failures ------------------------------------------------------------------------

fn spec_request() -> (Vec<(String, String)>, &'static [u8]) {
    let body: &[u8] = b"Action=ModifyInstanceMetadataOptions&Version=2016-11-15&InstanceId=i-0123456789abcdef0&HttpTokens=required";
    let mut headers = h(&[
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("host", "ec2.us-east-1.amazonaws.com"),
        ("x-amz-date", "20260115T120000Z"),
    ]);
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
    headers.push(("authorization".into(), auth));
    (headers, body)
}

#[test]
fn tampered_body_and_wrong_secret_do_not_verify() {
    let (headers, body) = spec_request();
    let req = parse("POST", &headers, &[]).expect("parses");
    verify(&req, SECRET, "POST", "/", "", &headers, body).expect("genuine");
    let tampered = b"Action=ModifyInstanceMetadataOptions&Version=2016-11-15&InstanceId=i-0123456789abcdef0&HttpTokens=optional";
    assert_eq!(
        verify(&req, SECRET, "POST", "/", "", &headers, tampered),
        Err(SigV4Error::SignatureMismatch)
    );
    assert_eq!(
        verify(
            &req,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ",
            "POST",
            "/",
            "",
            &headers,
            body
        ),
        Err(SigV4Error::SignatureMismatch)
    );
    assert_eq!(
        verify(&req, SECRET, "GET", "/", "", &headers, body),
        Err(SigV4Error::SignatureMismatch)
    );
    let mut other_host = headers.clone();
    other_host[1].1 = "ec2.us-west-2.amazonaws.com".into();
    assert_eq!(
        verify(&req, SECRET, "POST", "/", "", &other_host, body),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn declared_content_sha256_must_match_the_body() {
    let body = b"Action=DescribeRegions&Version=2016-11-15";
    let mut headers = h(&[
        ("host", "ec2.us-east-1.amazonaws.com"),
        ("x-amz-date", "20260115T120000Z"),
        ("x-amz-content-sha256", &sha256_hex(body)),
    ]);
    let signed = names("host;x-amz-content-sha256;x-amz-date");
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
        &signed,
        body,
    );
    headers.push(("authorization".into(), auth));
    let req = parse("POST", &headers, &[]).expect("parses");
    verify(&req, SECRET, "POST", "/", "", &headers, body).expect("genuine");
    assert_eq!(
        verify(&req, SECRET, "POST", "/", "", &headers, b"Action=Other"),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn clock_skew() {
    let (headers, _) = spec_request();
    let req = parse("POST", &headers, &[]).expect("parses");
    let t = req.amz_date;
    check_time(&req, t + Duration::minutes(15)).expect("15 minutes late is fine");
    check_time(&req, t - Duration::minutes(15)).expect("15 minutes early is fine");
    assert_eq!(
        check_time(&req, t + Duration::minutes(20)),
        Err(SigV4Error::Expired)
    );
    assert_eq!(
        check_time(&req, t - Duration::minutes(20)),
        Err(SigV4Error::Expired)
    );
    assert_eq!(SigV4Error::Expired.message(), "Request has expired.");
}

#[test]
fn presigned_expired() {
    let q = decoded_query("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=60&X-Amz-Signature=00");
    let req = parse("GET", &h(&[HOST]), &q).expect("parses");
    assert_eq!(
        check_time(&req, req.amz_date + Duration::seconds(61)),
        Err(SigV4Error::Expired)
    );
    assert_eq!(
        check_time(&req, OffsetDateTime::now_utc()),
        Err(SigV4Error::Expired)
    );
}

#[test]
fn missing_and_incomplete() {
    assert_eq!(parse("GET", &h(&[HOST]), &[]), Err(SigV4Error::Missing));
    // wave2 §3.4 / conformance case 45 (was MissingAuthenticationToken).
    assert_eq!(
        SigV4Error::Missing.message(),
        "The request must contain the parameter AWSAccessKeyId"
    );

    let err = parse(
        "GET",
        &h(&[HOST, ("Authorization", "Basic dXNlcjpwYXNz")]),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(
            "Authorization header requires 'Credential' parameter. \
             Authorization header requires 'Signature' parameter. \
             Authorization header requires 'SignedHeaders' parameter. \
             Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
             Authorization=Basic dXNlcjpwYXNz"
                .to_string()
        )
    );

    let err = parse(
        "GET",
        &h(&[
            HOST,
            D,
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request",
            ),
        ]),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(
            "Authorization header requires 'Signature' parameter. \
             Authorization header requires 'SignedHeaders' parameter. \
             Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request"
                .to_string()
        )
    );

    let err = parse(
        "GET",
        &h(&[
            HOST,
            D,
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential AKID, Signature=00",
            ),
        ]),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(
            "'Credential AKID' not a valid key=value pair (missing equal-sign) in \
             Authorization header: 'AWS4-HMAC-SHA256 Credential AKID, Signature=00'."
                .to_string()
        )
    );

    let err = parse(
        "GET",
        &h(&[HOST, ("X-Amz-Date", "2015-08-30T12:36:00Z"), ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00")]),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(
            "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601".to_string()
        )
    );

    let err = parse(
        "GET",
        &h(&[HOST]),
        &decoded_query("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20150830T123600Z"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(
            "AWS query-string parameters must include 'X-Amz-Credential'. \
             AWS query-string parameters must include 'X-Amz-Signature'. \
             AWS query-string parameters must include 'X-Amz-SignedHeaders'. \
             Re-examine the query-string parameters."
                .to_string()
        )
    );

    // Coral's wording, checked once the parts are all there (wave2 §3.2).
    let err = parse(
        "GET",
        &h(&[HOST, D, ("Authorization", "AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")]),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "
                .to_string()
        )
    );
}

#[test]
fn malformed_credentials() {
    let auth = |cred: &str| {
        h(&[
            HOST,
            D,
            (
                "Authorization",
                &format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host;x-amz-date, Signature=00"),
            ),
        ])
    };
    let err = parse(
        "GET",
        &auth("AK/ID/20150830/us-east-1/ec2/aws4_request"),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Malformed(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got 'AK/ID/20150830/us-east-1/ec2/aws4_request'"
                .to_string()
        )
    );
    // The scope's terminator and date: EC2's generic AuthFailure (wave2 §3.2), Coral's
    // message kept for IAM and STS.
    assert!(matches!(
        parse("GET", &auth("AKID/20150830/us-east-1/ec2/aws5_request"), &[]),
        Err(SigV4Error::Scope(m)) if m.contains("valid terminator")
    ));
    let err = parse(
        "GET",
        &auth("AKID/20150831/us-east-1/ec2/aws4_request"),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Scope(
            "Invalid credential date. Date is not the same as X-Amz-Date.".to_string()
        )
    );
    let req = parse(
        "GET",
        &auth("AKID/20150830/us-east-2/ec2/aws4_request"),
        &[],
    )
    .expect("parses");
    assert_eq!(
        check_scope(&req, &["us-east-1"], "ec2"),
        Err(SigV4Error::Scope(
            "Credential should be scoped to a valid region, not 'us-east-2'. ".to_string()
        ))
    );
    for expires in ["-1", "abc", "604801"] {
        let q = decoded_query(&format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires={expires}&X-Amz-Signature=00"));
        assert!(
            matches!(parse("GET", &h(&[HOST]), &q), Err(SigV4Error::Malformed(_))),
            "X-Amz-Expires={expires}"
        );
    }
}

const GOOD_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00";
const GOOD_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fec2%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-Signature=00";

/// wave2 §3.2, conformance case 51: `host` must be signed, in both forms.
#[test]
fn host_must_be_signed() {
    let no_host = GOOD_AUTH.replace("host;x-amz-date", "x-amz-date");
    let err = parse("GET", &h(&[HOST, D, ("Authorization", &no_host)]), &[]).unwrap_err();
    assert_eq!(err, SigV4Error::HostNotSigned);
    assert_eq!(
        err.message(),
        "'Host' must be a 'SignedHeader' in the AWS Authorization."
    );
    let q = decoded_query(&format!("{GOOD_QUERY}&X-Amz-SignedHeaders=content-type"));
    assert_eq!(
        parse("GET", &h(&[HOST]), &q),
        Err(SigV4Error::HostNotSigned)
    );
    let q = decoded_query(&format!("{GOOD_QUERY}&X-Amz-SignedHeaders=HOST"));
    assert!(
        parse("GET", &h(&[HOST]), &q).is_ok(),
        "names are case-insensitive"
    );
}

/// wave2 §3.2, conformance cases 52 and 53: never pick one of two signatures.
#[test]
fn one_signature_only() {
    let two = h(&[
        HOST,
        D,
        ("Authorization", GOOD_AUTH),
        ("authorization", GOOD_AUTH),
    ]);
    assert_eq!(
        parse("GET", &two, &[]),
        Err(SigV4Error::Incomplete(DUPLICATE_AUTHORIZATION.to_string()))
    );
    let q = decoded_query(&format!("{GOOD_QUERY}&X-Amz-SignedHeaders=host"));
    let err = parse("GET", &h(&[HOST, D, ("Authorization", GOOD_AUTH)]), &q).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as \
             HTTP header."
                .to_string()
        )
    );
    assert!(parse("GET", &h(&[HOST, D, ("Authorization", GOOD_AUTH)]), &[]).is_ok());
    assert!(parse("GET", &h(&[HOST]), &q).is_ok());
}

/// Issue 10: a Region imds does not know (or in the wrong case) and another service are
/// refused (wave2 §3.2, cases 46–48); the message is Coral's, trailing space included.
#[test]
fn scope_names_a_known_region_and_the_service() {
    let regions = &["us-east-1", "eu-west-1"];
    let scoped = |region: &str, service: &str| {
        let auth = GOOD_AUTH.replace("us-east-1/ec2", &format!("{region}/{service}"));
        let req = parse("GET", &h(&[HOST, D, ("Authorization", &auth)]), &[]).expect("parses");
        check_scope(&req, regions, "ec2")
    };
    assert_eq!(scoped("us-east-1", "ec2"), Ok(()));
    assert_eq!(scoped("eu-west-1", "ec2"), Ok(()));
    for region in ["mars-central-9", "US-EAST-1"] {
        let err = scoped(region, "ec2").unwrap_err();
        assert_eq!(
            err,
            SigV4Error::Scope(format!(
                "Credential should be scoped to a valid region, not '{region}'. "
            ))
        );
    }
    for service in ["s3", "monitoring", "EC2", "sts"] {
        assert_eq!(
            scoped("us-east-1", service),
            Err(SigV4Error::Scope(
                "Credential should be scoped to correct service: 'ec2'. ".to_string()
            )),
            "{service}"
        );
    }
}

/// wave2 §3.2 "Recommended check order": the clock is checked after the syntax and the
/// date's format but before `host`, the algorithm and the credential.
#[test]
fn parse_at_checks_in_corals_order() {
    let then = OffsetDateTime::new_utc(
        time::Date::from_calendar_date(2015, time::Month::August, 30).unwrap(),
        time::Time::from_hms(12, 36, 0).unwrap(),
    );
    let late = then + Duration::hours(1);
    let with = |auth: &str| h(&[HOST, D, ("Authorization", auth)]);
    let no_host = GOOD_AUTH.replace("host;x-amz-date", "x-amz-date");
    let bad_alg = GOOD_AUTH.replace("HMAC-SHA256", "HMAC-SHA512");
    let bad_scope = GOOD_AUTH.replace("20150830", "20150831");
    let bad_shape = GOOD_AUTH.replace("AKIDEXAMPLE/", "AK/ID/");
    for auth in [&no_host, &bad_alg, &bad_scope, &bad_shape, GOOD_AUTH] {
        assert_eq!(
            parse_at("GET", &with(auth), &[], late),
            Err(SigV4Error::Expired),
            "{auth}"
        );
    }
    // On time, each gets its own refusal; `host` before the algorithm, the algorithm
    // before the credential.
    let no_host_bad_alg = no_host.replace("HMAC-SHA256", "HMAC-SHA512");
    assert_eq!(
        parse_at("GET", &with(&no_host_bad_alg), &[], then),
        Err(SigV4Error::HostNotSigned)
    );
    let bad_alg_bad_scope = bad_scope.replace("HMAC-SHA256", "HMAC-SHA512");
    assert!(matches!(
        parse_at("GET", &with(&bad_alg_bad_scope), &[], then),
        Err(SigV4Error::Incomplete(m)) if m.starts_with("Unsupported AWS 'algorithm'")
    ));
    assert!(matches!(
        parse_at("GET", &with(&bad_scope), &[], then),
        Err(SigV4Error::Scope(_))
    ));
    assert!(parse_at("GET", &with(GOOD_AUTH), &[], then).is_ok());
    // Syntax and the date's format come before the clock.
    let missing = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request";
    assert!(matches!(
        parse_at("GET", &with(missing), &[], late),
        Err(SigV4Error::Incomplete(_))
    ));
}

/// Garbage in, errors out; never a panic. A small deterministic xorshift keeps the test
/// free of extra dependencies.
#[test]
fn garbage_never_panics() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: Vec<char> = "AWS4-HMAC-SHA256 Credential=/,;=Signature SignedHeaders x-amz-date %%2F\u{0}\t\n\r ሴé\u{7f}0123456789abcdef"
        .chars()
        .collect();
    let valid = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    let mut inputs: Vec<String> = Vec::new();
    // Every truncation of a valid header, and of a valid presigned query.
    for (i, _) in valid.char_indices() {
        inputs.push(valid[..i].to_string());
        inputs.push(valid[i..].to_string());
    }
    // Random strings over an alphabet full of separators.
    for _ in 0..400 {
        let len = (next() % 120) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        inputs.push(s);
    }
    // Random mutations of the valid header.
    for _ in 0..200 {
        let mut chars: Vec<char> = valid.chars().collect();
        for _ in 0..(next() % 5 + 1) {
            let at = (next() % chars.len() as u64) as usize;
            chars[at] = alphabet[(next() % alphabet.len() as u64) as usize];
        }
        inputs.push(chars.into_iter().collect());
    }
    inputs.extend(
        [
            "",
            " ",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 ",
            "AWS4-HMAC-SHA256 ,,,",
            "AWS4-HMAC-SHA256 =,=,=",
            "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature=",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=zz",
        ]
        .map(str::to_string),
    );

    let dates = [
        "20150830T123600Z",
        "",
        "2015",
        "99999999T999999Z",
        "20150230T123600Z",
        "ሴ",
    ];
    let mut checked = 0usize;
    for (n, input) in inputs.iter().enumerate() {
        let date = dates[n % dates.len()];
        let headers = h(&[HOST, ("X-Amz-Date", date), ("Authorization", input)]);
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(16_000);
        if let Ok(req) = parse("GET", &headers, &[]) {
            let _ = check_time(&req, now);
            let _ = verify(
                &req,
                SECRET,
                "GET",
                input,
                input,
                &headers,
                input.as_bytes(),
            );
        }
        // The same garbage as query parameters, paths and queries.
        let q = vec![
            ("X-Amz-Algorithm".to_string(), input.clone()),
            ("X-Amz-Credential".to_string(), input.clone()),
            ("X-Amz-Date".to_string(), date.to_string()),
            ("X-Amz-SignedHeaders".to_string(), input.clone()),
            ("X-Amz-Signature".to_string(), input.clone()),
            ("X-Amz-Expires".to_string(), input.clone()),
        ];
        if let Ok(req) = parse("GET", &h(&[HOST]), &q) {
            let _ = check_time(&req, now);
            let _ = verify(&req, SECRET, "GET", "/", input, &h(&[HOST]), b"");
        }
        let _ = canonical_request("GET", input, input, &headers, &names(input), "");
        let _ = authorization_header(
            input,
            input,
            input,
            input,
            input,
            input,
            input,
            input,
            &headers,
            &names(input),
            b"",
        );
        checked += 1;
    }
    assert!(checked > 700, "{checked} inputs");

    // Percent-decoding edge cases.
    for q in [
        "%", "%%", "%Z", "%4", "a=%", "=&=&", "&&&", "%E1%88", "x=%zz%41",
    ] {
        let _ = canonical_query(q);
        let _ = canonical_uri(q);
    }
    assert_eq!(canonical_query("x=%zz%41"), "x=%25zzA");
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
    assert_eq!(canonical_uri("/.."), "/");
}
