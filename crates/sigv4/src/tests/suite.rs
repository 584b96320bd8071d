//! The AWS SigV4 test suite's vectors, signed and verified.

use super::*;

// --- 2. AWS SigV4 test suite ------------------------------------------------------------

/// A header-signed vector from AWS's SigV4 test suite (service `service`, region `us-east-1`,
/// 20150830T123600Z, AKIDEXAMPLE).
struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    raw_query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    authz: &'static str,
}

// Requests and expected Authorization values from the suite as vendored in
// aws/aws-sdk-js-v3, packages/signature-v4/src/suite.fixture.ts (the `query` objects there
// are written out here in their on-the-wire, percent-encoded form, and duplicate headers as
// the original suite's .req files send them: separate header lines). `get-query-plus` is from
// smithy-lang/smithy-rs, aws/rust-runtime/aws-sigv4/aws-signing-test-suite/v4/get-query-plus/,
// and `get-vanilla-query-order-encoded` and `get-vanilla-with-session-token` from
// awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/<name>/header-signed-request.txt.
const VECTORS: &[Vector] = &[
    Vector {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        raw_query: "",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        raw_query: "",
        headers: &[
            HOST,
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
            D,
        ],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Vector {
        name: "get-header-value-order",
        method: "GET",
        path: "/",
        raw_query: "",
        headers: &[
            HOST,
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
            D,
        ],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        raw_query: "",
        headers: &[
            HOST,
            ("My-Header1", " value1"),
            ("My-Header2", " \"a   b   c\""),
            D,
        ],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "get-unreserved",
        method: "GET",
        path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        raw_query: "",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    },
    Vector {
        name: "get-utf8",
        method: "GET",
        path: "/\u{1234}",
        raw_query: "",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    },
    Vector {
        name: "get-vanilla-empty-query-key",
        method: "GET",
        path: "/",
        raw_query: "Param1=value1",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    Vector {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/",
        raw_query: "Param2=value2&Param1=value1",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    Vector {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        path: "/",
        raw_query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    Vector {
        name: "get-vanilla-utf8-query",
        method: "GET",
        path: "/",
        raw_query: "%E1%88%B4=bar",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    Vector {
        name: "post-header-key-case",
        method: "POST",
        path: "/",
        raw_query: "",
        headers: &[("HOST", "example.amazonaws.com"), ("X-AMZ-DATE", "20150830T123600Z")],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-header-key-sort",
        method: "POST",
        path: "/",
        raw_query: "",
        headers: &[HOST, ("My-Header1", "value1"), D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Vector {
        name: "post-header-value-case",
        method: "POST",
        path: "/",
        raw_query: "",
        headers: &[HOST, ("My-Header1", "VALUE1"), D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Vector {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        raw_query: "",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        path: "/",
        raw_query: "Param1=value1",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "post-vanilla-query-nonunreserved",
        method: "POST",
        path: "/",
        raw_query: "%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        raw_query: "",
        headers: &[("Content-Type", "application/x-www-form-urlencoded"), HOST, D],
        body: b"Param1=value1",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
    Vector {
        name: "post-x-www-form-urlencoded-parameters",
        method: "POST",
        path: "/",
        raw_query: "",
        headers: &[
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf8"),
            HOST,
            D,
        ],
        body: b"Param1=value1",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    },
    Vector {
        name: "get-vanilla-query-order-encoded",
        method: "GET",
        path: "/",
        raw_query: "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
    },
    Vector {
        name: "get-query-plus",
        method: "GET",
        path: "/",
        raw_query: "c+d",
        headers: &[HOST, D],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=ae684ce3aadc299e3ac7d9216fcc039c7edf40dea57cf5b3005821dd2f176654",
    },
    Vector {
        name: "get-vanilla-with-session-token",
        method: "GET",
        path: "/",
        raw_query: "",
        headers: &[
            HOST,
            D,
            (
                "X-Amz-Security-Token",
                "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
            ),
        ],
        body: b"",
        authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    },
];

#[test]
fn aws_suite_header_vectors_sign_and_verify() {
    for v in VECTORS {
        let headers = h(v.headers);
        let signed: Vec<String> = v
            .authz
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .map(names)
            .expect("vector lists signed headers");
        let auth = authorization_header(
            AKID,
            SECRET,
            "us-east-1",
            "service",
            "20150830T123600Z",
            v.method,
            v.path,
            v.raw_query,
            &headers,
            &signed,
            v.body,
        );
        assert_eq!(auth, v.authz, "signing {}", v.name);

        let mut with_auth = headers.clone();
        with_auth.push(("Authorization".into(), v.authz.to_string()));
        let req = parse(v.method, &with_auth, &decoded_query(v.raw_query))
            .unwrap_or_else(|e| panic!("parsing {}: {e}", v.name));
        assert_eq!(req.service, "service");
        verify(
            &req,
            SECRET,
            v.method,
            v.path,
            v.raw_query,
            &with_auth,
            v.body,
        )
        .unwrap_or_else(|e| panic!("verifying {}: {e}", v.name));
        assert_eq!(
            verify(
                &req,
                "not-the-secret",
                v.method,
                v.path,
                v.raw_query,
                &with_auth,
                v.body
            ),
            Err(SigV4Error::SignatureMismatch),
            "{} with a wrong secret",
            v.name
        );
    }
    assert!(VECTORS.len() >= 8);
}

/// Canonical request and string to sign, byte for byte, from vendored copies of the suite.
#[test]
fn aws_suite_canonical_requests_and_strings_to_sign() {
    struct Creq {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        raw_query: &'static str,
        headers: &'static [(&'static str, &'static str)],
        signed: &'static str,
        amz_date: &'static str,
        scope: &'static str,
        creq: &'static str,
        sts: &'static str,
    }
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let cases = [
        // smithy-lang/smithy-rs, aws/rust-runtime/aws-sigv4/aws-signing-test-suite/v4/get-query-plus/
        //   header-canonical-request.txt, header-string-to-sign.txt
        Creq {
            name: "get-query-plus",
            method: "GET",
            path: "/",
            raw_query: "c+d",
            headers: &[HOST, D],
            signed: "host;x-amz-date",
            amz_date: "20150830T123600Z",
            scope: "20150830/us-east-1/service/aws4_request",
            creq: "GET\n/\nc%2Bd=\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n4e8aace1e2037a6225f205f9cd633a67261068dede07745be24ece98db91f8eb",
        },
        // awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/get-vanilla-query-order-key-case/
        //   query-canonical-request.txt, query-string-to-sign.txt. This stored version (like
        //   get-header-value-trim's below) predates the suite adding X-Amz-Expires to its query
        //   form, so the input query leaves it out too; the current query-signed-request.txt
        //   files carry it and are checked in `aws_suite_presigned_vectors_verify`.
        Creq {
            name: "get-vanilla-query-order-key-case (query form)",
            method: "GET",
            path: "/",
            raw_query: "Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host",
            headers: &[HOST],
            signed: "host",
            amz_date: "20150830T123600Z",
            scope: "20150830/us-east-1/service/aws4_request",
            creq: "GET\n/\nParam1=value1&Param2=value2&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host\nhost:example.amazonaws.com\n\nhost\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\neb1512f5ed1470925b7b1072c2108953680032d6bc3ccbef8eb7c6fdf1639827",
        },
        // awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/get-header-value-trim/
        //   query-canonical-request.txt, query-string-to-sign.txt
        Creq {
            name: "get-header-value-trim (query form)",
            method: "GET",
            path: "/",
            raw_query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1%3Bmy-header2",
            headers: &[HOST, ("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            signed: "host;my-header1;my-header2",
            amz_date: "20150830T123600Z",
            scope: "20150830/us-east-1/service/aws4_request",
            creq: "GET\n/\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1%3Bmy-header2\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n\nhost;my-header1;my-header2\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n79b6cafb02b93e8b4cfc53cbf6dcf562477c321fe4af691f077f9213ad23876e",
        },
        // awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/get-vanilla-with-session-token/
        //   query-canonical-request.txt, query-string-to-sign.txt
        Creq {
            name: "get-vanilla-with-session-token (query form)",
            method: "GET",
            path: "/",
            raw_query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bx-amz-security-token&X-Amz-Expires=3600&X-Amz-Security-Token=6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
            headers: &[HOST, ("X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")],
            signed: "host;x-amz-security-token",
            amz_date: "20150830T123600Z",
            scope: "20150830/us-east-1/service/aws4_request",
            creq: "GET\n/\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-Security-Token=6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267&X-Amz-SignedHeaders=host%3Bx-amz-security-token\nhost:example.amazonaws.com\nx-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\nhost;x-amz-security-token\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n3ccf911b8d0ca9c791608b8f1550af1402a28ccc3a68f0d2023d6d7e334f2e72",
        },
        // boto/botocore, tests/unit/auth/aws4_testsuite/get-utf8.creq, get-utf8.sts (the 2011
        // edition of the suite: service `host`, signed with the Date header). The path arrives
        // percent-encoded and is encoded again.
        Creq {
            name: "get-utf8 (2011)",
            method: "GET",
            path: "/%E1%88%B4",
            raw_query: "",
            headers: &[("Date", "Mon, 09 Sep 2011 23:36:00 GMT"), ("Host", "host.foo.com")],
            signed: "date;host",
            amz_date: "20110909T233600Z",
            scope: "20110909/us-east-1/host/aws4_request",
            creq: "GET\n/%25E1%2588%25B4\n\ndate:Mon, 09 Sep 2011 23:36:00 GMT\nhost:host.foo.com\n\ndate;host\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20110909T233600Z\n20110909/us-east-1/host/aws4_request\n47f4456c465167f4db3490a68903fe057412e6e030de38f71d9006467eb4922a",
        },
        // boto/botocore, tests/unit/auth/aws4_testsuite/get-space.creq, get-space.sts
        Creq {
            name: "get-space (2011)",
            method: "GET",
            path: "/%20/foo",
            raw_query: "",
            headers: &[("Date", "Mon, 09 Sep 2011 23:36:00 GMT"), ("Host", "host.foo.com")],
            signed: "date;host",
            amz_date: "20110909T233600Z",
            scope: "20110909/us-east-1/host/aws4_request",
            creq: "GET\n/%2520/foo\n\ndate:Mon, 09 Sep 2011 23:36:00 GMT\nhost:host.foo.com\n\ndate;host\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            sts: "AWS4-HMAC-SHA256\n20110909T233600Z\n20110909/us-east-1/host/aws4_request\n35975885599128f8963ce9be7219598b2b5a344321bae304529556c891e9e6ba",
        },
    ];
    for c in &cases {
        let creq = canonical_request(
            c.method,
            c.path,
            c.raw_query,
            &h(c.headers),
            &names(c.signed),
            EMPTY,
        );
        assert_eq!(creq, c.creq, "canonical request of {}", c.name);
        assert_eq!(
            string_to_sign(c.amz_date, c.scope, &creq),
            c.sts,
            "string to sign of {}",
            c.name
        );
    }

    // Parameters sort by their *encoded* names: `%E1…` before `Param`, and `Param` before
    // `Param-3`. Query line of smithy-lang/smithy-rs,
    // aws/rust-runtime/aws-sigv4/aws-sig-v4a-test-suite/get-vanilla-query-order-encoded/
    // header-canonical-request.txt (query canonicalisation is the same in SigV4 and SigV4a).
    // An older stored copy of aws-c-auth's get-vanilla-utf8-query/query-canonical-request.txt
    // sorted by raw bytes instead; aws-c-auth's newer query-signed-request.txt for the same
    // case (checked in `aws_suite_presigned_vectors_verify`) agrees with the encoded order.
    assert_eq!(
        canonical_query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
        "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
    );
}

/// The 2011 edition signs with `Date` instead of `X-Amz-Date`; AWS still accepts that.
#[test]
fn aws_suite_2011_date_header_vectors_verify() {
    // boto/botocore, tests/unit/auth/aws4_testsuite/get-utf8.authz and get-space.authz
    for (path, authz) in [
        ("/%E1%88%B4", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, SignedHeaders=date;host, Signature=57b1eb3df3b16a8479c0097b66c0b261cfd65b829419a3f2c3d05319722490b8"),
        ("/%20/foo", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, SignedHeaders=date;host, Signature=2be9e587d1ee1f0fd02128724b86b4358ba3630d39f493b6e06610a19a50779e"),
    ] {
        let headers = h(&[
            ("Date", "Mon, 09 Sep 2011 23:36:00 GMT"),
            ("Host", "host.foo.com"),
            ("Authorization", authz),
        ]);
        let req = parse("GET", &headers, &[]).expect("parses");
        assert_eq!(req.amz_date_string(), "20110909T233600Z");
        verify(&req, SECRET, "GET", path, "", &headers, b"").expect(path);
    }
}

/// Presigned (query-signed) requests from awslabs/aws-c-auth,
/// tests/aws-signing-test-suite/v4/<name>/query-signed-request.txt.
#[test]
fn aws_suite_presigned_vectors_verify() {
    let cases = [
        (
            "get-vanilla-query",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d",
            &[HOST, D][..],
        ),
        (
            "get-vanilla-query-order-key-case",
            "Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5",
            &[HOST, D][..],
        ),
        (
            "get-header-value-trim",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host%3Bmy-header1%3Bmy-header2&X-Amz-Expires=3600&X-Amz-Signature=e7bb0fd515e125e1aec2ecc4c0c17484fb06f6846b927c35e46005dd3df3acd4",
            &[HOST, ("My-Header1", " value1"), ("My-Header2", " \"a   b   c\""), D][..],
        ),
        (
            "get-vanilla-utf8-query",
            "\u{1234}=bar&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600",
            &[HOST, D][..],
        ),
        (
            "get-vanilla-query-order-encoded",
            "Param-3=Value3&Param=Value2&%E1%88%B4=Value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=c5f1848ceec943ac2ca68ee720460c23aaae30a2300586597ada94c4a65e4787",
            &[HOST, D][..],
        ),
    ];
    for (name, raw_query, headers) in cases {
        let headers = h(headers);
        let req = parse("GET", &headers, &decoded_query(raw_query))
            .unwrap_or_else(|e| panic!("parsing {name}: {e}"));
        assert!(req.presigned);
        assert_eq!(req.expires, Some(3600));
        verify(&req, SECRET, "GET", "/", raw_query, &headers, b"")
            .unwrap_or_else(|e| panic!("verifying {name}: {e}"));
        let start = req.amz_date;
        check_time(&req, start + Duration::seconds(3600)).expect("last valid second");
        assert_eq!(
            check_time(&req, start + Duration::seconds(3601)),
            Err(SigV4Error::Expired)
        );
    }
}

#[test]
fn presign_round_trip() {
    let headers = h(&[("host", "ec2.us-east-1.amazonaws.com")]);
    let raw_query = presigned_query(
        AKID,
        SECRET,
        "us-east-1",
        "ec2",
        "20260115T120000Z",
        300,
        "GET",
        "/",
        "Action=DescribeInstances&Version=2016-11-15",
        &headers,
        &names("host"),
        b"",
    );
    let req = parse("GET", &headers, &decoded_query(&raw_query)).expect("parses");
    assert!(req.presigned);
    assert_eq!(req.expires, Some(300));
    verify(&req, SECRET, "GET", "/", &raw_query, &headers, b"").expect("verifies");
    // Any change to the signed query breaks it.
    let tampered = raw_query.replace("DescribeInstances", "TerminateInstances");
    assert_eq!(
        verify(&req, SECRET, "GET", "/", &tampered, &headers, b""),
        Err(SigV4Error::SignatureMismatch)
    );
    check_time(&req, req.amz_date + Duration::seconds(300)).expect("in time");
    assert_eq!(
        check_time(&req, req.amz_date + Duration::seconds(301)),
        Err(SigV4Error::Expired)
    );
    // A URL dated far in the future is refused rather than living longer.
    assert_eq!(
        check_time(&req, req.amz_date - Duration::minutes(16)),
        Err(SigV4Error::Expired)
    );
}
