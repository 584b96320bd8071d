//! Why a signature was not accepted, in AWS's words. Which code and HTTP status each reason
//! gets is the API's business (EC2, IAM and STS word some of them differently), not this crate's.

/// Why a request's signature was not accepted. The EC2 codes named below are how `ec2api` maps
/// each reason; IAM and STS code some differently.
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
        f.write_str(&self.message())
    }
}

impl std::error::Error for SigV4Error {}
