//! AWS Signature Version 4 (SigV4) for the EC2 Query API (service `ec2`), seen from the server side:
//! parse what a request claims about its signer, rebuild the canonical request exactly as the
//! client did, and check the signature and the clock.
//!
//! # Why this is hand-written
//!
//! SigV4 is a small, fully specified algorithm (a canonical request, a string to sign, an HMAC-SHA256
//! key chain), but the Rust ecosystem has no well-kept crate that *verifies* it on the server side:
//!
//! * `aws-sigv4` (the official SDK's signer) only signs, and its canonicalisation is tied to its own
//!   `SignableRequest` types and settings, so a server cannot feed it a received request and get
//!   back the canonical request the client built.
//! * `scratchstack-aws-signature` does verify, but it is a single-maintainer crate built around
//!   `http::Request` and a `tower` service with `chrono`, `regex` and its own principal/error crates;
//!   far more than the ~400 lines needed here, and its errors do not carry the EC2 error codes.
//!
//! Everything here therefore uses only `hmac`, `sha2`, `hex`, `subtle` and `time`.
//!
//! # What it follows
//!
//! * IAM User Guide, "AWS Signature Version 4 for API requests" and "Create a signed AWS API request"
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html>,
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>): canonical
//!   request, string to sign, signing key, the `Authorization` header and the presigned query form.
//! * The (retired) "Signature Version 4 test suite" of the AWS General Reference
//!   (<https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html>), as vendored by
//!   the AWS SDKs; its vectors are the tests at the bottom of this file and settle the details the
//!   prose leaves open (path double-encoding, duplicate headers, `+` in the query).
//! * EC2 API Reference, "Common query parameters" and "Error codes for the Amazon EC2 API"
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/CommonParameters.html>,
//!   <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>): `X-Amz-*` query
//!   parameters, `RequestExpired` after 15 minutes of skew, `IncompleteSignature`, `AuthFailure`.
//!
//! Error messages use AWS's own wording where it is publicly observable (AWS responses quoted in
//! SDK issue trackers); see [`SigV4Error::message`].

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

/// The only algorithm SigV4 defines (SigV4a's `AWS4-ECDSA-P256-SHA256` is not supported).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The fixed last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";

/// AWS accepts header-signed requests whose `X-Amz-Date` is within 15 minutes of its own clock,
/// in either direction; outside that the request is `RequestExpired`.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);

/// The longest lifetime AWS allows a presigned request (`X-Amz-Expires`), one week.
pub const MAX_PRESIGNED_EXPIRES: u64 = 7 * 24 * 60 * 60;

type HmacSha256 = Hmac<Sha256>;

/// What a request says about who signed it, parsed from the `Authorization` header or the
/// presigned query form. Nothing in here has been checked against a secret yet; see [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The access key id, first element of the credential scope.
    pub access_key_id: String,
    /// `yyyymmdd` from the credential scope (checked to equal the date of `amz_date`).
    pub date: String,
    /// Region from the credential scope; the caller checks it (see [`check_scope`]).
    pub region: String,
    /// Service from the credential scope; `ec2` for us (see [`check_scope`]).
    pub service: String,
    /// `X-Amz-Date` (or, for header-signed requests without it, the `Date` header), in UTC.
    pub amz_date: OffsetDateTime,
    /// Signed header names, lowercased, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// The claimed signature, lowercased hex.
    pub signature: String,
    /// `X-Amz-Security-Token` (header or query), present for temporary credentials.
    pub security_token: Option<String>,
    /// `true` when the signature came from the query string (`X-Amz-Signature`).
    pub presigned: bool,
    /// `X-Amz-Expires` in seconds; presigned requests only.
    pub expires: Option<u64>,
}

impl SignedRequest {
    /// The credential scope, `date/region/service/aws4_request`, as it appears in the string to sign.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }

    /// `amz_date` back in ISO 8601 basic format (`20150830T123600Z`), as the string to sign wants it.
    pub fn amz_date_string(&self) -> String {
        format_amz_date(self.amz_date)
    }
}

/// Why a request's signature was not accepted. [`SigV4Error::code`] gives the EC2 error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization` header and no `X-Amz-Algorithm` query parameter: the request is unsigned.
    Missing,
    /// The signature is syntactically incomplete (EC2 code `IncompleteSignature`); the message is
    /// AWS's wording.
    Incomplete(String),
    /// The signature parses but its credential is unusable: a credential without five elements,
    /// a bad `X-Amz-Expires`. EC2 reports these as `AuthFailure`.
    Malformed(String),
    /// `host` is not among the signed headers, so the signature would not bind the request to
    /// the endpoint it was meant for (Coral: `SignatureDoesNotMatch`, wave2 §3.2).
    HostNotSigned,
    /// The credential scope does not name this endpoint: a terminator other than
    /// `aws4_request`, a date other than `X-Amz-Date`'s, a Region imds does not know, or
    /// another service. The message is Coral's, which IAM and STS send (as
    /// `SignatureDoesNotMatch`); EC2 answers all of these with its generic `AuthFailure`
    /// (wave2 §3.2, cases 46–48).
    Scope(String),
    /// Outside the allowed clock skew, or a presigned request past its expiry (`RequestExpired`).
    Expired,
    /// The recomputed signature differs (`SignatureDoesNotMatch`).
    SignatureMismatch,
}

impl SigV4Error {
    /// The EC2 error code this maps to.
    ///
    /// `Malformed` is `AuthFailure` because that is what EC2 itself answered for a credential
    /// that did not have five elements (quoted in StreisandEffect/streisand#485), where other
    /// query-protocol services say `IncompleteSignature`. An unsigned request is
    /// `MissingParameter` (wave2 §3.4, conformance case 45).
    pub fn code(&self) -> &'static str {
        match self {
            SigV4Error::Missing => "MissingParameter",
            SigV4Error::Incomplete(_) => "IncompleteSignature",
            SigV4Error::Malformed(_) | SigV4Error::Scope(_) => "AuthFailure",
            SigV4Error::Expired => "RequestExpired",
            SigV4Error::HostNotSigned | SigV4Error::SignatureMismatch => "SignatureDoesNotMatch",
        }
    }

    /// The error message to send back, in AWS's wording (for [`SigV4Error::Scope`], Coral's:
    /// EC2 replaces it with its generic sentence).
    pub fn message(&self) -> String {
        match self {
            SigV4Error::Missing => {
                "The request must contain the parameter AWSAccessKeyId".to_string()
            }
            SigV4Error::Incomplete(m) | SigV4Error::Malformed(m) | SigV4Error::Scope(m) => {
                m.clone()
            }
            SigV4Error::HostNotSigned => {
                "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_string()
            }
            SigV4Error::Expired => "Request has expired.".to_string(),
            SigV4Error::SignatureMismatch => "The request signature we calculated does not match \
                the signature you provided. Check your AWS Secret Access Key and signing method. \
                Consult the service documentation for details."
                .to_string(),
        }
    }
}

impl std::fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for SigV4Error {}

/// Two `Authorization` headers: no AWS wording is published, and picking either one would let
/// a proxy and imds disagree on who signed (wave2 §3.2: UNCONFIRMED, "never pick one").
pub const DUPLICATE_AUTHORIZATION: &str =
    "The request must contain exactly one 'Authorization' header. ";

/// Both signature forms at once (Coral's wording, wave2 §3.2, conformance case 53).
pub const BOTH_FORMS: &str =
    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.";

/// Parse the signature claims of a request, without looking at the clock (see [`parse_at`]).
///
/// `headers` are (name, value) pairs as received (names are matched case-insensitively, so
/// lowercase or not does not matter; repeated headers are allowed, except `Authorization`);
/// `query` are the decoded query-string pairs. A request with both an `Authorization` header
/// and an `X-Amz-Algorithm` query parameter is refused rather than one of them chosen. The
/// method does not influence parsing; it is taken so that callers hand over the same request
/// facts everywhere.
///
/// Never panics, whatever the input.
pub fn parse(
    _method: &str,
    headers: &[(String, String)],
    query: &[(String, String)],
) -> Result<SignedRequest, SigV4Error> {
    claims(headers, query)?.check()
}

/// [`parse`] with the clock checked where AWS checks it (wave2 §3.2, "Recommended check
/// order", Coral's): presence → syntax and required parts → date format → expiry → `host`
/// signed → algorithm → credential shape → scope terminator and date. The scope's Region and
/// service follow in [`check_scope`], which needs to know the endpoint.
pub fn parse_at(
    _method: &str,
    headers: &[(String, String)],
    query: &[(String, String)],
    now: OffsetDateTime,
) -> Result<SignedRequest, SigV4Error> {
    let claims = claims(headers, query)?;
    check_clock(claims.amz_date, claims.presigned, claims.expires, now)?;
    claims.check()
}

/// What a request claims, checked only for syntax, required parts and the date's format.
struct Claims<'a> {
    algorithm: &'a str,
    credential: &'a str,
    signed_headers: Vec<String>,
    signature: &'a str,
    amz_date: OffsetDateTime,
    security_token: Option<String>,
    presigned: bool,
    expires: Option<u64>,
}

impl Claims<'_> {
    /// The checks after the clock, in Coral's order: `host` signed, the algorithm, then the
    /// credential (see [`build`]).
    fn check(self) -> Result<SignedRequest, SigV4Error> {
        if !self.signed_headers.iter().any(|h| h == "host") {
            return Err(SigV4Error::HostNotSigned);
        }
        if self.algorithm != ALGORITHM {
            return Err(SigV4Error::Incomplete(format!(
                "Unsupported AWS 'algorithm': '{}' (only {ALGORITHM} for now). ",
                self.algorithm
            )));
        }
        let mut req = build(
            self.credential,
            self.signed_headers,
            self.signature,
            self.amz_date,
            self.security_token,
            self.expires,
        )?;
        req.presigned = self.presigned;
        Ok(req)
    }
}

/// Which form the request is signed in, refusing ambiguity: two `Authorization` headers, or a
/// header and a presigned query together.
fn claims<'a>(
    headers: &'a [(String, String)],
    query: &'a [(String, String)],
) -> Result<Claims<'a>, SigV4Error> {
    let mut authorizations = headers
        .iter()
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str());
    let authorization = authorizations.next();
    if authorizations.next().is_some() {
        return Err(SigV4Error::Incomplete(DUPLICATE_AUTHORIZATION.to_string()));
    }
    let presigned = query.iter().any(|(k, _)| k == "X-Amz-Algorithm");
    match (authorization, presigned) {
        (Some(_), true) => Err(SigV4Error::Incomplete(BOTH_FORMS.to_string())),
        (Some(auth), false) => header_claims(auth, headers),
        (None, true) => query_claims(query),
        (None, false) => Err(SigV4Error::Missing),
    }
}

/// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
fn header_claims<'a>(
    auth: &'a str,
    headers: &'a [(String, String)],
) -> Result<Claims<'a>, SigV4Error> {
    let trimmed = auth.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));

    let mut credential: Option<&str> = None;
    let mut signed_headers: Option<&str> = None;
    let mut signature: Option<&str> = None;
    // Any scheme but SigV4's (`Basic …`, SigV2's `AWS key:sig`, a bare token) gets AWS's
    // generic answer below: every part is missing. An unsupported `AWS4-…` algorithm is
    // refused once the parts are there (see [`Claims::check`]).
    if algorithm.starts_with("AWS4-") {
        for part in rest.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((key, value)) = part.split_once('=') else {
                return Err(SigV4Error::Incomplete(format!(
                    "'{part}' not a valid key=value pair (missing equal-sign) in Authorization \
                     header: '{auth}'."
                )));
            };
            let slot = match key.trim() {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => continue,
            };
            slot.get_or_insert(value.trim());
        }
    }

    let credential = credential.filter(|v| !v.is_empty());
    let signed_headers = signed_headers.map(split_signed_headers).unwrap_or_default();
    let signature = signature.filter(|v| !v.is_empty());
    let amz_date_header = header(headers, "x-amz-date");
    let date_header = header(headers, "date");

    let mut msg = String::new();
    if credential.is_none() {
        msg.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if signature.is_none() {
        msg.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if signed_headers.is_empty() {
        msg.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if amz_date_header.is_none() && date_header.is_none() {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    let (Some(credential), Some(signature), Some(date_value)) =
        (credential, signature, amz_date_header.or(date_header))
    else {
        msg.push_str("Authorization=");
        msg.push_str(auth);
        return Err(SigV4Error::Incomplete(msg));
    };
    if signed_headers.is_empty() {
        msg.push_str("Authorization=");
        msg.push_str(auth);
        return Err(SigV4Error::Incomplete(msg));
    }

    // X-Amz-Date overrides Date; Date may be ISO 8601 basic or an HTTP date.
    let amz_date = if amz_date_header.is_some() {
        parse_amz_date(date_value)
    } else {
        parse_amz_date(date_value).or_else(|| parse_http_date(date_value))
    }
    .ok_or_else(|| bad_date(date_value))?;

    Ok(Claims {
        algorithm,
        credential,
        signed_headers,
        signature,
        amz_date,
        security_token: header(headers, "x-amz-security-token").map(|v| v.trim().to_string()),
        presigned: false,
        expires: None,
    })
}

/// `?X-Amz-Algorithm=…&X-Amz-Credential=…&X-Amz-Date=…&X-Amz-Expires=…&X-Amz-SignedHeaders=…&X-Amz-Signature=…`.
fn query_claims(query: &[(String, String)]) -> Result<Claims<'_>, SigV4Error> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };

    let mut msg = String::new();
    for name in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ] {
        if param(name).is_none() {
            msg.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
    }
    let (Some(algorithm), Some(credential), Some(signature), Some(signed), Some(date)) = (
        param("X-Amz-Algorithm"),
        param("X-Amz-Credential"),
        param("X-Amz-Signature"),
        param("X-Amz-SignedHeaders"),
        param("X-Amz-Date"),
    ) else {
        msg.push_str("Re-examine the query-string parameters.");
        return Err(SigV4Error::Incomplete(msg));
    };

    let amz_date = parse_amz_date(date).ok_or_else(|| bad_date(date))?;
    let signed_headers = split_signed_headers(signed);
    if signed_headers.is_empty() {
        return Err(SigV4Error::Incomplete(
            "AWS query-string parameters must include 'X-Amz-SignedHeaders'. \
             Re-examine the query-string parameters."
                .to_string(),
        ));
    }

    // Wording as S3 words it; EC2's own is not published.
    let expires = match query.iter().find(|(k, _)| k == "X-Amz-Expires") {
        None => None,
        Some((_, v)) => {
            let secs: i64 = v.trim().parse().map_err(|_| {
                SigV4Error::Malformed("X-Amz-Expires should be a number".to_string())
            })?;
            let secs = u64::try_from(secs).map_err(|_| {
                SigV4Error::Malformed("X-Amz-Expires must be non-negative".to_string())
            })?;
            if secs > MAX_PRESIGNED_EXPIRES {
                return Err(SigV4Error::Malformed(format!(
                    "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}"
                )));
            }
            Some(secs)
        }
    };

    Ok(Claims {
        algorithm,
        credential,
        signed_headers,
        signature,
        amz_date,
        security_token: param("X-Amz-Security-Token").map(str::to_string),
        presigned: true,
        expires,
    })
}

/// The credential's shape, then the scope's terminator and date.
fn build(
    credential: &str,
    signed_headers: Vec<String>,
    signature: &str,
    amz_date: OffsetDateTime,
    security_token: Option<String>,
    expires: Option<u64>,
) -> Result<SignedRequest, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = parts.as_slice() else {
        return Err(bad_credential(credential));
    };
    if [key, date, region, service, terminator]
        .iter()
        .any(|p| p.is_empty())
    {
        return Err(bad_credential(credential));
    }
    if *terminator != TERMINATOR {
        return Err(SigV4Error::Scope(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
        )));
    }
    let amz_date_string = format_amz_date(amz_date);
    if amz_date_string.get(..8) != Some(*date) {
        return Err(SigV4Error::Scope(
            "Invalid credential date. Date is not the same as X-Amz-Date.".to_string(),
        ));
    }
    Ok(SignedRequest {
        access_key_id: (*key).to_string(),
        date: (*date).to_string(),
        region: (*region).to_string(),
        service: (*service).to_string(),
        amz_date,
        signed_headers,
        signature: signature.trim().to_ascii_lowercase(),
        security_token,
        presigned: false,
        expires,
    })
}

fn bad_credential(credential: &str) -> SigV4Error {
    SigV4Error::Malformed(format!(
        "Credential must have exactly 5 slash-delimited elements, e.g. \
         keyid/date/region/service/term, got '{credential}'"
    ))
}

fn bad_date(value: &str) -> SigV4Error {
    SigV4Error::Incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

/// Check the credential scope names a Region among `regions` (exactly: `US-EAST-1` is not
/// `us-east-1`) and the `service` of the endpoint the request reached. Kept out of [`parse`]
/// because only the caller knows its endpoint. The wording is Coral's, trailing space included
/// (wave2 §3.2; aws-sdk-go#1850, timkay/aws#111 quote it).
pub fn check_scope(req: &SignedRequest, regions: &[&str], service: &str) -> Result<(), SigV4Error> {
    if !regions.contains(&req.region.as_str()) {
        return Err(SigV4Error::Scope(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            req.region
        )));
    }
    if req.service != service {
        return Err(SigV4Error::Scope(format!(
            "Credential should be scoped to correct service: '{service}'. "
        )));
    }
    Ok(())
}

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

/// The signing key: HMAC-SHA256 chained over `"AWS4" + secret` → date → region → service →
/// `aws4_request`. It depends only on the day, so a server could cache it per key and day.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, TERMINATOR.as_bytes())
}

/// Recompute the signature with `secret` and compare it in constant time.
///
/// `raw_query` is the undecoded query string as received; for a presigned request its
/// `X-Amz-Signature` pair is left out of the canonical query, as the signer had not yet added it.
/// The payload hash is SHA-256 of `body`; if the client signed an `X-Amz-Content-Sha256` header,
/// its value is used in the canonical request (as AWS does) but must also equal the body's hash,
/// otherwise the body could be swapped under a valid signature.
///
/// The region/service of the scope are not checked here (see [`check_scope`]), nor the clock (see
/// [`check_time`]).
pub fn verify(
    req: &SignedRequest,
    secret: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), SigV4Error> {
    let body_hash = hex::encode(Sha256::digest(body));
    let payload_hash = payload_hash(headers, &req.signed_headers, body);
    if !payload_hash.eq_ignore_ascii_case(&body_hash) {
        return Err(SigV4Error::SignatureMismatch);
    }

    let query = if req.presigned {
        without_signature_param(raw_query)
    } else {
        raw_query.to_string()
    };
    let creq = canonical_request(
        method,
        path,
        &query,
        headers,
        &req.signed_headers,
        &payload_hash,
    );
    let sts = string_to_sign(&req.amz_date_string(), &req.scope(), &creq);
    let key = signing_key(secret, &req.date, &req.region, &req.service);
    let expected = hex::encode(hmac_sha256(&key, sts.as_bytes()));

    if bool::from(expected.as_bytes().ct_eq(req.signature.as_bytes())) {
        Ok(())
    } else {
        Err(SigV4Error::SignatureMismatch)
    }
}

/// Clock check. Header-signed requests may be up to 15 minutes early or late (`RequestExpired`
/// otherwise). A presigned request is expired when `now > X-Amz-Date + X-Amz-Expires`; without
/// `X-Amz-Expires` it gets the same 15 minutes, and one dated more than 15 minutes in the future
/// is refused too, so that a far-future date cannot stretch its lifetime.
pub fn check_time(req: &SignedRequest, now: OffsetDateTime) -> Result<(), SigV4Error> {
    check_clock(req.amz_date, req.presigned, req.expires, now)
}

fn check_clock(
    amz_date: OffsetDateTime,
    presigned: bool,
    expires: Option<u64>,
    now: OffsetDateTime,
) -> Result<(), SigV4Error> {
    let age = now - amz_date;
    let ok = if presigned {
        let lifetime = match expires {
            Some(secs) => Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)),
            None => MAX_CLOCK_SKEW,
        };
        age >= -MAX_CLOCK_SKEW && age <= lifetime
    } else {
        age.abs() <= MAX_CLOCK_SKEW
    };
    if ok {
        Ok(())
    } else {
        Err(SigV4Error::Expired)
    }
}

/// Sign a form-encoded `POST /` for EC2 as a client does (for imds's own clients: `imds
/// exec`, the benchmarks): the `X-Amz-Date` and `Authorization` header values.
pub fn sign_form_post(
    access_key: &str,
    secret: &str,
    region: &str,
    host: &str,
    body: &[u8],
) -> (String, String) {
    let content_type = (
        "content-type".to_string(),
        "application/x-www-form-urlencoded; charset=utf-8".to_string(),
    );
    let request = OwnRequest {
        method: "POST",
        host,
        path: "/",
        raw_query: "",
        headers: vec![content_type],
        body,
    };
    sign_request(access_key, secret, region, "ec2", &request)
}

/// A request one of imds's own clients sends: what [`sign_request`] signs.
pub struct OwnRequest<'a> {
    pub method: &'a str,
    pub host: &'a str,
    /// The path as sent (already percent-encoded).
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub raw_query: &'a str,
    /// Headers to sign besides `host` and `x-amz-date` (lowercase names), such as
    /// `x-amz-security-token`.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// Sign `request` for `service` now, signing every header it carries plus `host` and
/// `x-amz-date`: the `X-Amz-Date` and `Authorization` header values.
pub fn sign_request(
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    request: &OwnRequest<'_>,
) -> (String, String) {
    let amz = format_amz_date(OffsetDateTime::now_utc());
    let mut headers = request.headers.clone();
    headers.push(("host".to_string(), request.host.to_string()));
    headers.push(("x-amz-date".to_string(), amz.clone()));
    let names: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    let auth = authorization_header(
        access_key,
        secret,
        region,
        service,
        &amz,
        request.method,
        request.path,
        request.raw_query,
        &headers,
        &names,
        request.body,
    );
    (amz, auth)
}

/// Sign (for tests and for our own clients): returns the `Authorization` header value.
///
/// `amz_date` is the `X-Amz-Date` value (`yyyymmddThhmmssZ`), which must also be among `headers`
/// if `x-amz-date` is signed. The arguments mirror [`verify`] plus the credentials, hence their
/// number.
#[allow(clippy::too_many_arguments)]
pub fn authorization_header(
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    amz_date: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    signed_headers: &[String],
    body: &[u8],
) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/{TERMINATOR}");
    let payload_hash = payload_hash(headers, signed_headers, body);
    let creq = canonical_request(
        method,
        path,
        raw_query,
        headers,
        signed_headers,
        &payload_hash,
    );
    let sts = string_to_sign(amz_date, &scope, &creq);
    let signature = hex::encode(hmac_sha256(
        &signing_key(secret, date, region, service),
        sts.as_bytes(),
    ));
    format!(
        "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={}, Signature={signature}",
        normalise_signed_headers(signed_headers).join(";")
    )
}

/// Presign (for tests and for our own clients): returns `raw_query` with the `X-Amz-Algorithm`,
/// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders` and finally
/// `X-Amz-Signature` parameters appended. Temporary credentials go in `raw_query` as
/// `X-Amz-Security-Token` beforehand, so that they are signed.
#[allow(clippy::too_many_arguments)]
pub fn presigned_query(
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    amz_date: &str,
    expires: u64,
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    signed_headers: &[String],
    body: &[u8],
) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/{TERMINATOR}");
    let names = normalise_signed_headers(signed_headers);
    let mut query = raw_query.trim_start_matches('?').to_string();
    for (name, value) in [
        ("X-Amz-Algorithm", ALGORITHM.to_string()),
        ("X-Amz-Credential", format!("{access_key}/{scope}")),
        ("X-Amz-Date", amz_date.to_string()),
        ("X-Amz-Expires", expires.to_string()),
        ("X-Amz-SignedHeaders", names.join(";")),
    ] {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&uri_encode(value.as_bytes()));
    }
    let payload_hash = payload_hash(headers, &names, body);
    let creq = canonical_request(method, path, &query, headers, &names, &payload_hash);
    let sts = string_to_sign(amz_date, &scope, &creq);
    let signature = hex::encode(hmac_sha256(
        &signing_key(secret, date, region, service),
        sts.as_bytes(),
    ));
    query.push_str("&X-Amz-Signature=");
    query.push_str(&signature);
    query
}

// ---------------------------------------------------------------------------------------------
// Canonicalisation helpers.

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC is defined for keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// First value of a header, names compared case-insensitively.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The payload hash that goes into the canonical request: the signed `X-Amz-Content-Sha256`
/// header when there is one, else SHA-256 of the body.
fn payload_hash(headers: &[(String, String)], signed_headers: &[String], body: &[u8]) -> String {
    let signed = signed_headers
        .iter()
        .any(|h| h.trim().eq_ignore_ascii_case("x-amz-content-sha256"));
    match header(headers, "x-amz-content-sha256") {
        Some(v) if signed => v.trim().to_string(),
        _ => hex::encode(Sha256::digest(body)),
    }
}

fn split_signed_headers(list: &str) -> Vec<String> {
    list.split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// Signed header names as the canonical request lists them: lowercase, sorted, no repeats.
fn normalise_signed_headers(signed_headers: &[String]) -> Vec<String> {
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
fn canonical_uri(path: &str) -> String {
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

fn canonical_query(raw_query: &str) -> String {
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
fn without_signature_param(raw_query: &str) -> String {
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
fn uri_encode(bytes: &[u8]) -> String {
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
fn percent_decode(s: &str) -> Vec<u8> {
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

// ---------------------------------------------------------------------------------------------
// Dates.

/// ISO 8601 basic format, exactly `yyyymmddThhmmssZ`; anything looser is refused, as AWS does.
fn parse_amz_date(value: &str) -> Option<OffsetDateTime> {
    let b = value.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if !shape_ok {
        return None;
    }
    PrimitiveDateTime::parse(
        value,
        format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .ok()
    .map(PrimitiveDateTime::assume_utc)
}

/// An HTTP `Date` header (IMF-fixdate, `Mon, 09 Sep 2011 23:36:00 GMT`).
fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(
        value.trim(),
        format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ),
    )
    .ok()
    .map(PrimitiveDateTime::assume_utc)
}

pub fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let expected =
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260115/us-east-1/ec2/aws4_request, \
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

    const D: (&str, &str) = ("X-Amz-Date", "20150830T123600Z");
    const HOST: (&str, &str) = ("Host", "example.amazonaws.com");

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
        assert_eq!(SigV4Error::Expired.code(), "RequestExpired");
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
        assert_eq!(SigV4Error::Missing.code(), "MissingParameter");
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
        assert_eq!(err.code(), "IncompleteSignature");

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
        assert_eq!(err.code(), "AuthFailure");
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
        assert_eq!(err.code(), "AuthFailure");
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
        assert_eq!(err.code(), "SignatureDoesNotMatch");
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
        assert_eq!(err.code(), "IncompleteSignature");
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
            assert_eq!(err.code(), "AuthFailure");
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
}
