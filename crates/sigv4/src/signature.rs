//! The server's side: the signing key, and the signature recomputed and compared in constant
//! time.

use crate::canonical::{canonical_request, payload_hash, string_to_sign, without_signature_param};
use crate::{SigV4Error, SignedRequest, TERMINATOR};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

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
/// The region/service of the scope are not checked here (see [`check_scope`](crate::check_scope)), nor the clock (see
/// [`check_time`](crate::check_time)).
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

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC is defined for keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}
