//! What a request claims about its signer, once parsed.

use crate::date::format_amz_date;
use crate::TERMINATOR;
use time::OffsetDateTime;

/// What a request says about who signed it, parsed from the `Authorization` header or the
/// presigned query form. Nothing in here has been checked against a secret yet; see [`verify`](crate::verify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The access key id, first element of the credential scope.
    pub access_key_id: String,
    /// `yyyymmdd` from the credential scope (checked to equal the date of `amz_date`).
    pub date: String,
    /// Region from the credential scope; the caller checks it (see [`check_scope`](crate::check_scope)).
    pub region: String,
    /// Service from the credential scope; `ec2`, `iam` or `sts` (see [`check_scope`](crate::check_scope)).
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
