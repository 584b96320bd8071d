//! Reading the signature claims of a request, in either form: the `Authorization` header or
//! the presigned query (`X-Amz-Algorithm=…`), in the order AWS checks them, and the scope check
//! that only the caller (who knows its endpoint) can make.

use crate::canonical::header;
use crate::clock::check_clock;
use crate::date::{format_amz_date, parse_amz_date, parse_http_date};
use crate::{SigV4Error, SignedRequest, ALGORITHM, TERMINATOR};
use time::OffsetDateTime;

/// The longest lifetime AWS allows a presigned request (`X-Amz-Expires`), one week.
pub const MAX_PRESIGNED_EXPIRES: u64 = 7 * 24 * 60 * 60;

/// Two `Authorization` headers: no AWS wording is published, and picking either one would let
/// a proxy and imds disagree on who signed (wave2 §3.2: UNCONFIRMED, "never pick one").
pub const DUPLICATE_AUTHORIZATION: &str =
    "The request must contain exactly one 'Authorization' header. ";

/// Both signature forms at once (Coral's wording, wave2 §3.2, conformance case 53).
pub const BOTH_FORMS: &str =
    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.";

/// Parse the signature claims of a request, without looking at the clock (see [`parse_at`](crate::parse_at)).
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

/// [`parse`](crate::parse()) with the clock checked where AWS checks it (wave2 §3.2, "Recommended check
/// order", Coral's): presence → syntax and required parts → date format → expiry → `host`
/// signed → algorithm → credential shape → scope terminator and date. The scope's Region and
/// service follow in [`check_scope`](crate::check_scope), which needs to know the endpoint.
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
    /// credential (see `build`).
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
/// `us-east-1`) and the `service` of the endpoint the request reached. Kept out of [`parse`](crate::parse())
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

/// `SignedHeaders=a;b;c`: names lowercased, empty ones dropped, in the client's order.
fn split_signed_headers(list: &str) -> Vec<String> {
    list.split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}
