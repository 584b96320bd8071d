//! Temporary credentials that need no storage: AssumeRole sessions and the role credentials
//! instances fetch from their metadata service.
//!
//! The session token carries the session's claims (account, role, session name, expiry,
//! session policy, and for instance credentials the instance and how they were delivered),
//! authenticated with an HMAC key only this server holds (`session.key` in the data dir). The
//! access key id and secret are derived from the claims with the same key. So credentials
//! handed out before a restart still verify after it, any API node holding the key can verify
//! them, and nobody without the key can mint or alter them.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

/// Session policies, parsed once: requests signed with session credentials carry their
/// session policy as text in the token, and parsing it on every request would put a JSON
/// parse on the request path. Bounded: when full it starts over.
#[derive(Debug, Default)]
pub struct ParsedPolicies(
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<crate::policy::Policy>>>,
);

impl ParsedPolicies {
    const MAX: usize = 1024;

    /// The parsed form of `text` (None if it does not parse; AssumeRole refused such).
    pub fn get(&self, text: &str) -> Option<std::sync::Arc<crate::policy::Policy>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = map.get(text) {
            return Some(p.clone());
        }
        let parsed = std::sync::Arc::new(crate::policy::Policy::parse_str(text).ok()?);
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(text.to_string(), parsed.clone());
        Some(parsed)
    }
}

/// What a session token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub account: String,
    pub role: String,
    #[serde(default = "slash")]
    pub role_path: String,
    /// The session name (the instance id for instance role credentials).
    pub session: String,
    pub expires_ms: i64,
    /// When the credentials were issued (`aws:TokenIssueTime`); 0 in tokens minted before it
    /// was kept (then the key is absent).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub issued_ms: i64,
    /// Session tags `(key, value)`: `aws:PrincipalTag/<key>` of the session, over the role's
    /// tag of the same key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The keys of `tags` that pass to the sessions this one assumes (AssumeRole's
    /// `TransitiveTagKeys`, and the transitive tags it inherited): IAM User Guide, "Chaining
    /// roles with session tags".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitive: Vec<String>,
    /// The session policy of AssumeRole's `Policy`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Set for credentials an instance fetched from its metadata service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceClaim>,
    /// Makes two sessions with otherwise equal claims distinct.
    #[serde(default)]
    pub nonce: String,
}

impl SessionClaims {
    /// The session's tags whose keys are transitive: what a session it assumes inherits.
    pub fn transitive_tags(&self) -> Vec<(String, String)> {
        self.tags
            .iter()
            .filter(|(k, _)| self.transitive.iter().any(|t| t.eq_ignore_ascii_case(k)))
            .cloned()
            .collect()
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn slash() -> String {
    "/".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceClaim {
    pub instance_id: String,
    pub region: String,
    /// `1.0` (fetched without an IMDSv2 token) or `2.0`.
    pub delivery: String,
}

/// Credentials as STS and the metadata service hand them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires_ms: i64,
}

/// The prefix real STS tokens start with (base64 of their version bytes); clients treat the
/// token as opaque.
const TOKEN_PREFIX: &str = "IQoJb3JpZ2luX2Vj";

pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

impl SessionKey {
    pub fn random() -> SessionKey {
        use rand::RngCore;
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        SessionKey(k)
    }

    /// A key shared by every node of one database (`store::postgres::secrets`).
    pub fn from_bytes(key: [u8; 32]) -> SessionKey {
        SessionKey(key)
    }

    /// 32 fresh random bytes, for a key to be kept elsewhere.
    pub fn random_bytes() -> Vec<u8> {
        SessionKey::random().0.to_vec()
    }

    /// The key kept at `path` (created, readable by the owner only, on first use).
    pub fn load_or_create(path: &Path) -> std::io::Result<SessionKey> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&bytes);
                Ok(SessionKey(k))
            }
            Ok(_) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a 32-byte key", path.display()),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SessionKey::random();
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let tmp = path.with_extension("tmp");
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)?;
                f.write_all(&key.0)?;
                f.sync_all()?;
                std::fs::rename(&tmp, path)?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    fn mac(&self, label: &[u8], payload: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        m.update(label);
        m.update(payload);
        m.finalize().into_bytes().into()
    }

    fn derive(&self, payload: &[u8]) -> (String, String) {
        const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let id = self.mac(b"access-key-id|", payload);
        let akid: String = "ASIA"
            .chars()
            .chain(id[..16].iter().map(|b| BASE32[(*b as usize) % 32] as char))
            .collect();
        let secret = base64::engine::general_purpose::STANDARD
            .encode(self.mac(b"secret|", payload))
            .chars()
            .take(40)
            .collect();
        (akid, secret)
    }

    /// Credentials for `claims`: the same claims always give the same credentials.
    pub fn mint(&self, claims: &SessionClaims) -> TemporaryCredentials {
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (access_key_id, secret_access_key) = self.derive(&payload);
        TemporaryCredentials {
            access_key_id,
            secret_access_key,
            session_token: format!(
                "{TOKEN_PREFIX}{}.{}",
                b64.encode(&payload),
                b64.encode(self.mac(b"token|", &payload))
            ),
            expires_ms: claims.expires_ms,
        }
    }

    /// The claims and secret of a token presented with `access_key_id`, if this key made it
    /// (expiry is the caller's to check: an expired token is a different error).
    pub fn open(&self, access_key_id: &str, token: &str) -> Option<(SessionClaims, String)> {
        let body = token.strip_prefix(TOKEN_PREFIX)?;
        let (payload, mac) = body.split_once('.')?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = b64.decode(payload).ok()?;
        let mac = b64.decode(mac).ok()?;
        let want = self.mac(b"token|", &payload);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            mac.as_slice(),
            want.as_slice(),
        )) {
            return None;
        }
        let (akid, secret) = self.derive(&payload);
        if akid != access_key_id {
            return None;
        }
        let claims = serde_json::from_slice(&payload).ok()?;
        Some((claims, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> SessionClaims {
        SessionClaims {
            account: "111122223333".into(),
            role: "dev".into(),
            role_path: "/".into(),
            session: "s1".into(),
            expires_ms: 1_000,
            issued_ms: 100,
            tags: Vec::new(),
            transitive: Vec::new(),
            policy: None,
            instance: None,
            nonce: "n".into(),
        }
    }

    #[test]
    fn transitive_tags_are_the_tags_whose_keys_are_transitive() {
        let c = SessionClaims {
            tags: vec![("Team".into(), "blue".into()), ("cost".into(), "1".into())],
            transitive: vec!["team".into()],
            ..claims()
        };
        assert_eq!(
            c.transitive_tags(),
            vec![("Team".to_string(), "blue".to_string())]
        );
        assert!(claims().transitive_tags().is_empty());
    }

    #[test]
    fn minted_credentials_open_with_the_same_key_only() {
        let k = SessionKey::random();
        let c = k.mint(&claims());
        assert!(c.access_key_id.starts_with("ASIA") && c.access_key_id.len() == 20);
        let (back, secret) = k.open(&c.access_key_id, &c.session_token).unwrap();
        assert_eq!(back, claims());
        assert_eq!(secret, c.secret_access_key);
        assert!(SessionKey::random()
            .open(&c.access_key_id, &c.session_token)
            .is_none());
        assert!(k.open("ASIAAAAAAAAAAAAAAAAA", &c.session_token).is_none());
        // A token with altered claims no longer opens.
        let mut other = claims();
        other.role = "admin".into();
        let forged = k.mint(&other).session_token;
        let (head, _) = forged.split_once('.').unwrap();
        let (_, mac) = c.session_token.split_once('.').unwrap();
        assert!(k.open(&c.access_key_id, &format!("{head}.{mac}")).is_none());
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = std::env::temp_dir().join(format!("imds-session-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("session.key");
        let a = SessionKey::load_or_create(&p).unwrap();
        let b = SessionKey::load_or_create(&p).unwrap();
        let c = a.mint(&claims());
        assert!(b.open(&c.access_key_id, &c.session_token).is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
