//! IMDSv2 session tokens.
//!
//! A token is 40 bytes, URL-safe base64 with padding (56 characters, starting `AQAE` like
//! EC2's): a version header, the expiry, a random nonce, and an HMAC-SHA256 (truncated to 20
//! bytes) over those, the instance id and the instance's boot. Only this process holds the key,
//! so tokens cannot be forged; one instance's token fails on another; a token dies at expiry
//! and when the instance restarts (EC2 does not say whether tokens survive a stop/start:
//! spec imds.md §3, treated as invalidated).

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const HEADER: [u8; 4] = [0x01, 0x00, 0x04, 0x00];
const LEN: usize = 40;
const MAC_LEN: usize = 20;

/// The largest TTL a token may ask for (6 hours).
pub(crate) const MAX_TTL: u64 = 21_600;

pub struct TokenKey([u8; 32]);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    Forged,
    Expired,
}

impl TokenKey {
    pub fn random() -> TokenKey {
        TokenKey(rand::random())
    }

    /// The key of tokens every node of one database accepts alike (a token is then good
    /// on whichever host serves its instance).
    pub fn from_bytes(key: [u8; 32]) -> TokenKey {
        TokenKey(key)
    }

    fn mac(&self, signed: &[u8], instance_id: &str, boot: i64) -> [u8; MAC_LEN] {
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(signed);
        m.update(instance_id.as_bytes());
        m.update(&boot.to_be_bytes());
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A token for `instance_id` (booted at `boot`), valid `ttl` seconds from `now_s`.
    pub fn issue(&self, instance_id: &str, boot: i64, now_s: u64, ttl: u64) -> String {
        let mut raw = [0u8; LEN];
        raw[..4].copy_from_slice(&HEADER);
        raw[4..12].copy_from_slice(&(now_s + ttl).to_be_bytes());
        raw[12..20].copy_from_slice(&rand::random::<[u8; 8]>());
        let mac = self.mac(&raw[..20], instance_id, boot);
        raw[20..].copy_from_slice(&mac);
        URL_SAFE.encode(raw)
    }

    /// Check a token presented by `instance_id`; returns the seconds it has left.
    pub fn check(
        &self,
        token: &str,
        instance_id: &str,
        boot: i64,
        now_s: u64,
    ) -> Result<u64, TokenError> {
        let raw = URL_SAFE
            .decode(token.trim())
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() != LEN || raw[..4] != HEADER {
            return Err(TokenError::Malformed);
        }
        let mac = self.mac(&raw[..20], instance_id, boot);
        if !bool::from(mac.ct_eq(&raw[20..])) {
            return Err(TokenError::Forged);
        }
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&raw[4..12]);
        let expiry = u64::from_be_bytes(exp);
        if now_s >= expiry {
            return Err(TokenError::Expired);
        }
        Ok(expiry - now_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_and_check() {
        let k = TokenKey::random();
        let t = k.issue("i-1", 7, 1000, 21_600);
        assert_eq!(t.len(), 56);
        assert!(t.starts_with("AQAE"));
        assert_eq!(k.check(&t, "i-1", 7, 1000), Ok(21_600));
        assert_eq!(k.check(&t, "i-1", 7, 1100), Ok(21_500));
        assert_eq!(
            k.check(&t, "i-2", 7, 1000),
            Err(TokenError::Forged),
            "foreign instance"
        );
        assert_eq!(
            k.check(&t, "i-1", 8, 1000),
            Err(TokenError::Forged),
            "after a restart"
        );
        assert_eq!(k.check(&t, "i-1", 7, 22_600), Err(TokenError::Expired));
        assert_eq!(
            TokenKey::random().check(&t, "i-1", 7, 1000),
            Err(TokenError::Forged),
            "other key"
        );
        assert_eq!(k.check("bogus", "i-1", 7, 1000), Err(TokenError::Malformed));
        let mut tampered = t.into_bytes();
        tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
        assert!(k
            .check(&String::from_utf8(tampered).unwrap(), "i-1", 7, 1000)
            .is_err());
    }
}
