//! Who is calling: the SigV4 claims of a request.
//!
//! Without IAM configuration, any well-formed credential acts as the root of the default
//! account, and an unsigned request is accepted too; only the clock is checked (a request
//! signed more than 15 minutes away from now is `RequestExpired`, as on EC2). With
//! `--iam-config`, every request must be signed by a known access key, and the signature is
//! verified (`MissingAuthenticationToken`, `AuthFailure`, `SignatureDoesNotMatch`).

use crate::sigv4::{self, SigV4Error};
use model::{Ec2Error, DEFAULT_ACCOUNT, DEFAULT_REGION};

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// The access key that signed the request (`None` when unsigned).
    pub access_key_id: Option<String>,
    pub region: String,
    /// The ARN the caller acts as (an assumed-role session for instance credentials).
    pub arn: String,
    /// `aws:PrincipalArn`: the role's ARN for a role session, else `arn`.
    pub principal_arn: String,
    /// Request context that comes with the credentials (`ec2:RoleDelivery`,
    /// `ec2:SourceInstanceARN` for instance role credentials).
    pub context: Vec<(String, String)>,
}

/// Temporary credentials an instance fetched from its metadata service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceCredentials {
    pub secret_access_key: String,
    pub session_token: String,
    pub account: String,
    pub region: String,
    pub role: String,
    pub instance_id: String,
    /// `1.0` (fetched without a token) or `2.0`.
    pub delivery: String,
}

/// Where the API finds the credentials the metadata service handed out.
pub trait CredentialSource: Send + Sync {
    fn instance_credentials(&self, access_key_id: &str) -> Option<InstanceCredentials>;
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

/// The request as the signature covers it.
pub struct SignedParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The undecoded query string.
    pub raw_query: &'a str,
    /// Header (lowercase name, value) pairs.
    pub headers: &'a [(String, String)],
    /// The decoded query-string pairs.
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Authenticate a request.
pub fn authenticate(
    req: &SignedParts<'_>,
    now: time::OffsetDateTime,
    directory: Option<&iam::Directory>,
    instance_credentials: Option<&dyn CredentialSource>,
) -> Result<Caller, Ec2Error> {
    let (method, headers, query) = (req.method, req.headers, req.query);
    let root = |account: &str| format!("arn:aws:iam::{account}:root");
    if let Some(dir) = directory {
        let signed = sigv4::parse(method, headers, query).map_err(to_ec2)?;
        sigv4::check_time(&signed, now).map_err(to_ec2)?;
        let verify = |secret: &str| {
            sigv4::verify(
                &signed,
                secret,
                method,
                req.path,
                req.raw_query,
                headers,
                req.body,
            )
            .map_err(to_ec2)
        };
        if let Some((principal, secret)) = dir.key(&signed.access_key_id) {
            verify(secret)?;
            return Ok(Caller {
                account: principal.account.clone(),
                access_key_id: Some(signed.access_key_id.clone()),
                region: signed.region.clone(),
                arn: principal.arn.clone(),
                principal_arn: principal.arn.clone(),
                context: Vec::new(),
            });
        }
        let c = instance_credentials
            .and_then(|src| src.instance_credentials(&signed.access_key_id))
            .ok_or(Ec2Error::AuthFailure)?;
        verify(&c.secret_access_key)?;
        // Temporary credentials are only good with their session token.
        let token_ok = signed.security_token.as_deref().is_some_and(|t| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                t.as_bytes(),
                c.session_token.as_bytes(),
            ))
        });
        if !token_ok {
            return Err(Ec2Error::AuthFailure);
        }
        return Ok(Caller {
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                c.account, c.role, c.instance_id
            ),
            principal_arn: format!("arn:aws:iam::{}:role/{}", c.account, c.role),
            context: vec![
                ("ec2:RoleDelivery".into(), c.delivery.clone()),
                (
                    "ec2:SourceInstanceARN".into(),
                    format!(
                        "arn:aws:ec2:{}:{}:instance/{}",
                        c.region, c.account, c.instance_id
                    ),
                ),
            ],
            account: c.account,
            access_key_id: Some(signed.access_key_id.clone()),
            region: signed.region.clone(),
        });
    }
    match sigv4::parse(method, headers, query) {
        Ok(signed) => {
            sigv4::check_time(&signed, now).map_err(to_ec2)?;
            Ok(Caller {
                account: DEFAULT_ACCOUNT.to_string(),
                access_key_id: Some(signed.access_key_id),
                region: signed.region,
                arn: root(DEFAULT_ACCOUNT),
                principal_arn: root(DEFAULT_ACCOUNT),
                context: Vec::new(),
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
                principal_arn: root(DEFAULT_ACCOUNT),
                context: Vec::new(),
            })
        }
        Err(e) => Err(to_ec2(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(String, String)]) -> SignedParts<'_> {
        SignedParts {
            method: "POST",
            path: "/",
            raw_query: "",
            headers,
            query: &[],
            body: b"",
        }
    }

    #[test]
    fn unsigned_uses_host_region() {
        let h = vec![(
            "host".to_string(),
            "ec2.eu-west-1.amazonaws.com".to_string(),
        )];
        let c = authenticate(&parts(&h), time::OffsetDateTime::now_utc(), None, None).unwrap();
        assert_eq!(c.region, "eu-west-1");
        let c = authenticate(&parts(&[]), time::OffsetDateTime::now_utc(), None, None).unwrap();
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
            authenticate(&parts(&headers), now, None, None),
            Err(Ec2Error::RequestExpired)
        );
    }

    #[test]
    fn with_a_directory_signatures_count() {
        let dir = iam::Directory::new(vec![iam::config::Account {
            id: "111122223333".into(),
            root_access_key_id: "AKIDEXAMPLE0000000000".into(),
            root_secret_access_key: "secret".into(),
            scps: vec![],
        }]);
        let now = time::OffsetDateTime::now_utc();
        let amz = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            now.month() as u8,
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let body = b"Action=DescribeInstances&Version=2016-11-15";
        let mut headers = vec![
            (
                "content-type".to_string(),
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            ),
            ("host".to_string(), "localhost".to_string()),
            ("x-amz-date".to_string(), amz.clone()),
        ];
        let signed_headers: Vec<String> = ["content-type", "host", "x-amz-date"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let base = headers.clone();
        let sign = |key: &str, secret: &str| {
            sigv4::authorization_header(
                key,
                secret,
                "us-east-1",
                "ec2",
                &amz,
                "POST",
                "/",
                "",
                &base,
                &signed_headers,
                body,
            )
        };
        let req = |h: &[(String, String)]| {
            let p = SignedParts {
                method: "POST",
                path: "/",
                raw_query: "",
                headers: h,
                query: &[],
                body,
            };
            authenticate(&p, now, Some(&dir), None)
        };
        assert_eq!(
            req(&headers),
            Err(Ec2Error::MissingAuthenticationToken),
            "unsigned"
        );
        headers.push((
            "authorization".into(),
            sign("AKIDEXAMPLE0000000000", "secret"),
        ));
        let caller = req(&headers).unwrap();
        assert_eq!(caller.account, "111122223333");
        assert_eq!(caller.arn, "arn:aws:iam::111122223333:root");
        headers.pop();
        headers.push((
            "authorization".into(),
            sign("AKIDEXAMPLE0000000000", "wrong"),
        ));
        assert_eq!(req(&headers), Err(Ec2Error::SignatureDoesNotMatch));
        headers.pop();
        headers.push((
            "authorization".into(),
            sign("AKIDUNKNOWN000000000", "secret"),
        ));
        assert_eq!(req(&headers), Err(Ec2Error::AuthFailure));
    }
}
