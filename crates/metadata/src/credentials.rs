//! Role credentials and `iam/info`, as EC2 formats them.
//!
//! Credentials are minted, not stored: their session token carries their claims (instance,
//! role, delivery), HMAC-authenticated with the session key, so the API verifies them without
//! asking the metadata host, even after a restart. They are the same all hour for one
//! (instance, role, delivery), renewed every hour and living six, so new ones are always
//! served well before the old ones expire (EC2: at least five minutes before).

use crate::identity::iso_seconds;
use crate::service::CredentialRequest;
use crate::view::InstanceView;
use bytes::Bytes;
use std::sync::Arc;

const ROTATE_MS: i64 = 3_600_000;
const LIFETIME_MS: i64 = 6 * 3_600_000;

/// Mints the role credentials of instances.
pub(crate) struct Credentials {
    sessions: Arc<iam::session::SessionKey>,
}

impl Credentials {
    pub(crate) fn new(sessions: Arc<iam::session::SessionKey>) -> Credentials {
        Credentials { sessions }
    }

    /// The body of a role-credential category for instance `v` at `now_ms`.
    pub(crate) fn answer(
        &self,
        v: &InstanceView,
        req: CredentialRequest<'_>,
        now_ms: i64,
    ) -> Bytes {
        let epoch = now_ms.div_euclid(ROTATE_MS);
        let updated = iso_seconds(epoch * ROTATE_MS);
        match req {
            CredentialRequest::IdentityInfo => Bytes::from(format!(
                "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"{updated}\",\n  \"AccountId\" : \"{}\"\n}}",
                v.account
            )),
            CredentialRequest::Info => {
                let Some(profile) = v.iam_profile.as_ref() else {
                    return Bytes::new();
                };
                Bytes::from(format!(
                "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"{updated}\",\n  \"InstanceProfileArn\" : \"{}\",\n  \"InstanceProfileId\" : \"{}\"\n}}",
                profile.arn, profile.id
            ))
            }
            CredentialRequest::Role { name, v2 } => {
                let c = self.issue(v, name, v2, epoch);
                Bytes::from(format!(
                    "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"{updated}\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"{}\",\n  \"SecretAccessKey\" : \"{}\",\n  \"Token\" : \"{}\",\n  \"Expiration\" : \"{}\"\n}}",
                    c.access_key_id, c.secret_access_key, c.session_token, iso_seconds(c.expires_ms)
                ))
            }
        }
    }

    /// The credentials of (instance, role, delivery, hour): the same all hour, living six
    /// hours, and carrying how they were delivered (`ec2:RoleDelivery`).
    fn issue(
        &self,
        v: &InstanceView,
        role: &str,
        v2: bool,
        epoch: i64,
    ) -> iam::session::TemporaryCredentials {
        let claims = iam::session::SessionClaims {
            account: v.account.clone(),
            role: role.to_string(),
            role_path: "/".into(),
            session: v.instance_id.clone(),
            expires_ms: epoch * ROTATE_MS + LIFETIME_MS,
            issued_ms: epoch * ROTATE_MS,
            tags: Vec::new(),
            transitive: Vec::new(),
            policy: None,
            instance: Some(iam::session::InstanceClaim {
                instance_id: v.instance_id.clone(),
                region: v.region.clone(),
                delivery: if v2 { "2.0" } else { "1.0" }.into(),
            }),
            nonce: format!("{epoch}-{}", v.launch_time_ms),
        };
        self.sessions.mint(&claims)
    }
}
