//! The client's side, for imds's own clients (`imds exec`, the benchmarks) and the tests:
//! signing a request in the header form or presigning it in the query form.

use crate::canonical::{
    canonical_request, normalise_signed_headers, payload_hash, string_to_sign, uri_encode,
};
use crate::date::format_amz_date;
use crate::signature::{hmac_sha256, signing_key};
use crate::{ALGORITHM, TERMINATOR};
use time::OffsetDateTime;

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

/// A request one of imds's own clients sends: what [`sign_request`](crate::sign_request) signs.
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
/// if `x-amz-date` is signed. The arguments mirror [`verify`](crate::verify) plus the credentials, hence their
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
