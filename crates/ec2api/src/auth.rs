//! Who is calling: the SigV4 claims of a request, checked as far as this stage of imds does.
//!
//! Until IAM configuration exists (`--iam-config`, a later stage), any well-formed credential
//! acts as the root of the default account, and an unsigned request is accepted too. The
//! clock is checked already: a request signed more than 15 minutes away from now is
//! `RequestExpired`, as on EC2.

use crate::sigv4::{self, SigV4Error};
use model::{Ec2Error, DEFAULT_ACCOUNT, DEFAULT_REGION};

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// The access key that signed the request (`None` when unsigned).
    pub access_key_id: Option<String>,
    pub region: String,
    /// The ARN the caller acts as.
    pub arn: String,
}

fn to_ec2(e: SigV4Error) -> Ec2Error {
    match e {
        SigV4Error::Missing => Ec2Error::MissingAuthenticationToken,
        SigV4Error::Incomplete(m) => Ec2Error::IncompleteSignature(m),
        SigV4Error::Malformed(m) => Ec2Error::AuthFailureMessage(m),
        SigV4Error::Expired => Ec2Error::RequestExpired,
        SigV4Error::SignatureMismatch => Ec2Error::SignatureDoesNotMatch,
    }
}

/// The region of an unsigned request: from a regional host name (`ec2.eu-west-1.amazonaws.com`),
/// else the default region.
fn region_from_host(host: Option<&str>) -> String {
    host.and_then(|h| {
        let mut parts = h.split('.');
        match (parts.next(), parts.next()) {
            (Some("ec2"), Some(r)) if model::catalogue::REGIONS.contains(&r) => Some(r.to_string()),
            _ => None,
        }
    })
    .unwrap_or_else(|| DEFAULT_REGION.to_string())
}

/// Authenticate a request from its headers (lowercase names) and query-string pairs.
pub fn authenticate(
    method: &str,
    headers: &[(String, String)],
    query: &[(String, String)],
    now: time::OffsetDateTime,
) -> Result<Caller, Ec2Error> {
    let root = |account: &str| format!("arn:aws:iam::{account}:root");
    match sigv4::parse(method, headers, query) {
        Ok(signed) => {
            sigv4::check_time(&signed, now).map_err(to_ec2)?;
            Ok(Caller {
                account: DEFAULT_ACCOUNT.to_string(),
                access_key_id: Some(signed.access_key_id),
                region: signed.region,
                arn: root(DEFAULT_ACCOUNT),
            })
        }
        Err(SigV4Error::Missing) => {
            let host = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("host"))
                .map(|(_, v)| v.as_str());
            Ok(Caller {
                account: DEFAULT_ACCOUNT.to_string(),
                access_key_id: None,
                region: region_from_host(host),
                arn: root(DEFAULT_ACCOUNT),
            })
        }
        Err(e) => Err(to_ec2(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_uses_host_region() {
        let h = vec![(
            "host".to_string(),
            "ec2.eu-west-1.amazonaws.com".to_string(),
        )];
        let c = authenticate("POST", &h, &[], time::OffsetDateTime::now_utc()).unwrap();
        assert_eq!(c.region, "eu-west-1");
        let c = authenticate("POST", &[], &[], time::OffsetDateTime::now_utc()).unwrap();
        assert_eq!(c.region, "us-east-1");
    }

    #[test]
    fn old_signature_is_expired() {
        // spec ec2-api.md case 2: an X-Amz-Date 20 minutes old.
        let now = time::OffsetDateTime::now_utc();
        let then = now - time::Duration::minutes(20);
        let amz = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            then.year(),
            then.month() as u8,
            then.day(),
            then.hour(),
            then.minute(),
            then.second()
        );
        let headers = vec![
            ("host".to_string(), "localhost".to_string()),
            ("x-amz-date".to_string(), amz.clone()),
            ("authorization".to_string(), format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
                &amz[..8], "0".repeat(64)
            )),
        ];
        assert_eq!(
            authenticate("POST", &headers, &[], now),
            Err(Ec2Error::RequestExpired)
        );
    }
}
