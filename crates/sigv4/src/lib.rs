//! AWS Signature Version 4 (SigV4) for imds's Query APIs (EC2, IAM, STS), seen from the server side:
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
//!   far more than the ~400 lines needed here, and it decides the answer to a refusal itself
//!   (here each API codes a [`SigV4Error`] its own way).
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
//!
//! # Modules
//!
//! * `parse`: what a request claims ([`SignedRequest`]), read from the
//!   `Authorization` header or the presigned query, in the order AWS checks it; the scope check.
//! * `clock`: how far the signature's date may be from now.
//! * `canonical`: the canonical request and the string to sign.
//! * `signature`: the signing key, and [`verify`], the signature recomputed and compared.
//! * `sign`: the client's side, for imds's own clients and the tests.
//! * `error`: [`SigV4Error`], why a signature was refused, in AWS's words.
//! * `date`: the two date formats a signature may carry.

mod canonical;
mod clock;
mod date;
mod error;
mod parse;
mod request;
mod sign;
mod signature;

pub use canonical::{canonical_request, string_to_sign};
pub use clock::{check_time, MAX_CLOCK_SKEW};
pub use date::format_amz_date;
pub use error::SigV4Error;
pub use parse::{
    check_scope, parse, parse_at, BOTH_FORMS, DUPLICATE_AUTHORIZATION, MAX_PRESIGNED_EXPIRES,
};
pub use request::SignedRequest;
pub use sign::{authorization_header, presigned_query, sign_form_post, sign_request, OwnRequest};
pub use signature::{signing_key, verify};

/// The only algorithm SigV4 defines (SigV4a's `AWS4-ECDSA-P256-SHA256` is not supported).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The fixed last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";

#[cfg(test)]
mod tests;
