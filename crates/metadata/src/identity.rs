//! Signatures of the instance identity document (EC2 User Guide, "Verify the instance
//! identity document"): `signature` (base64 RSA-SHA256 over the document), and `pkcs7` and
//! `rsa2048` (base64 PKCS #7 signed-data carrying the document, without PEM armour).
//!
//! EC2 signs with keys whose public certificates AWS publishes per Region; imds signs with one
//! RSA-2048 key kept in the data dir (`identity-key.pem`, made on first start) and a
//! self-signed certificate that `imds certificate` prints, so clients verify exactly as they
//! do against EC2 (`openssl smime -verify … -certfile cert.pem`, or RSA-SHA256 with the key).
//! EC2's `pkcs7` uses a DSA key; imds uses the RSA key for both (UNCONFIRMED whether any client
//! depends on DSA there).
//!
//! The document itself ([`document`]) is formatted here too, byte for byte as EC2 writes it.

use crate::view::InstanceView;
use base64::Engine;
use bytes::Bytes;
use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::{Decode, Encode, EncodePem};
use rsa::pkcs1v15::{Signature, SigningKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::Sha256;
use spki::{AlgorithmIdentifierOwned, EncodePublicKey, SubjectPublicKeyInfoOwned};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use x509_cert::Certificate;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read or write the identity key {0}: {1}")]
    Io(std::path::PathBuf, std::io::Error),
    #[error("identity key: {0}")]
    Key(String),
    #[error("identity certificate: {0}")]
    Cert(String),
}

/// The key and certificate that sign identity documents.
pub struct IdentitySigner {
    key: SigningKey<Sha256>,
    certificate: Certificate,
}

fn cert_err(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Cert(e.to_string())
}

impl IdentitySigner {
    /// Load the key from `path`, or make one and keep it there (`None`: a throw-away key).
    pub fn load_or_create(path: Option<&Path>) -> Result<IdentitySigner, IdentityError> {
        let pem = match path {
            Some(p) if p.exists() => {
                std::fs::read_to_string(p).map_err(|e| IdentityError::Io(p.to_path_buf(), e))?
            }
            _ => {
                let pem = IdentitySigner::generate_pem()?;
                if let Some(p) = path {
                    std::fs::write(p, pem.as_bytes())
                        .map_err(|e| IdentityError::Io(p.to_path_buf(), e))?;
                }
                pem
            }
        };
        IdentitySigner::from_pem(&pem)
    }

    /// A new key, as PKCS#8 PEM (what [`IdentitySigner::from_pem`] reads).
    pub fn generate_pem() -> Result<String, IdentityError> {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        Ok(pem.to_string())
    }

    /// The signer of a PKCS#8 PEM key (kept in the data dir, or shared through PostgreSQL by
    /// several nodes), with its certificate, the same for a key at every start.
    pub fn from_pem(pem: &str) -> Result<IdentitySigner, IdentityError> {
        let key =
            RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| IdentityError::Key(e.to_string()))?;
        let signing = SigningKey::<Sha256>::new(key.clone());
        let spki = SubjectPublicKeyInfoOwned::from_der(
            key.to_public_key()
                .to_public_key_der()
                .map_err(cert_err)?
                .as_bytes(),
        )
        .map_err(cert_err)?;
        // Stable for a given key: the serial is derived from the public key.
        let digest = {
            use sha2::Digest;
            Sha256::digest(spki.subject_public_key.raw_bytes())
        };
        let mut serial = digest[..16].to_vec();
        serial[0] &= 0x7f;
        let subject = Name::from_str("CN=imds instance identity,O=imds,C=US").map_err(cert_err)?;
        // Fixed dates, so that the certificate of a key is the same at every start.
        let at = |secs: u64| {
            der::asn1::UtcTime::from_unix_duration(Duration::from_secs(secs))
                .map(x509_cert::time::Time::UtcTime)
                .map_err(cert_err)
        };
        let validity = Validity {
            not_before: at(1_577_836_800)?,
            not_after: at(2_524_521_600)?,
        };
        let builder = CertificateBuilder::new(
            Profile::Root,
            SerialNumber::new(&serial).map_err(cert_err)?,
            validity,
            subject,
            spki,
            &signing,
        )
        .map_err(cert_err)?;
        let certificate = builder.build::<Signature>().map_err(cert_err)?;
        Ok(IdentitySigner {
            key: signing,
            certificate,
        })
    }

    /// The certificate, PEM (what `imds certificate` prints).
    pub fn certificate_pem(&self) -> String {
        self.certificate.to_pem(LineEnding::LF).unwrap_or_default()
    }

    /// `signature`: base64 RSA-SHA256 (PKCS #1 v1.5) over the document bytes.
    pub fn signature(&self, document: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key.sign(document).to_bytes())
    }

    /// `pkcs7` / `rsa2048`: base64 PKCS #7 signed-data with the document inside.
    pub(crate) fn pkcs7(&self, document: &[u8]) -> Result<String, IdentityError> {
        let content = EncapsulatedContentInfo {
            econtent_type: const_oid::db::rfc5911::ID_DATA,
            econtent: Some(der::Any::new(der::Tag::OctetString, document).map_err(cert_err)?),
        };
        let sha256 = AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ID_SHA_256,
            parameters: None,
        };
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: self.certificate.tbs_certificate.issuer.clone(),
            serial_number: self.certificate.tbs_certificate.serial_number.clone(),
        });
        let signer_info = SignerInfoBuilder::new(&self.key, sid, sha256.clone(), &content, None)
            .map_err(cert_err)?;
        let signed = SignedDataBuilder::new(&content)
            .add_digest_algorithm(sha256)
            .map_err(cert_err)?
            .add_certificate(CertificateChoices::Certificate(self.certificate.clone()))
            .map_err(cert_err)?
            .add_signer_info::<SigningKey<Sha256>, Signature>(signer_info)
            .map_err(cert_err)?
            .build()
            .map_err(cert_err)?;
        let der = signed.to_der().map_err(cert_err)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(der))
    }
}

/// `dynamic/instance-identity/document`: 2-space indent, `" : "`, EC2's key order, JSON
/// nulls for what does not apply (spec imds.md §12).
pub fn document(v: &InstanceView) -> String {
    let s = |x: &str| serde_json::Value::String(x.to_string()).to_string();
    format!(
        "{{\n  \"accountId\" : {},\n  \"architecture\" : {},\n  \"availabilityZone\" : {},\n  \"billingProducts\" : null,\n  \"devpayProductCodes\" : null,\n  \"marketplaceProductCodes\" : null,\n  \"imageId\" : {},\n  \"instanceId\" : {},\n  \"instanceType\" : {},\n  \"kernelId\" : null,\n  \"pendingTime\" : {},\n  \"privateIp\" : {},\n  \"ramdiskId\" : null,\n  \"region\" : {},\n  \"version\" : \"2017-09-30\"\n}}",
        s(&v.account),
        s(v.architecture),
        s(&v.availability_zone),
        s(&v.image_id),
        s(&v.instance_id),
        s(&v.instance_type),
        s(&iso_seconds(v.launch_time_ms)),
        s(&v.private_ip.to_string()),
        s(&v.region),
    )
}

/// `2026-11-22T17:00:00Z`: how the identity document and role credentials write times.
pub(crate) fn iso_seconds(ms: i64) -> String {
    model::time::iso8601(ms, false)
}

impl IdentitySigner {
    /// `signature` and `pkcs7` of a document (an RSA signature each). A document that cannot
    /// be wrapped in PKCS #7 gets an empty `pkcs7` (logged), never a wrong one.
    pub(crate) fn sign_document(&self, document: &[u8]) -> (Bytes, Bytes) {
        let pkcs7 = self.pkcs7(document).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot sign an identity document");
            String::new()
        });
        (Bytes::from(self.signature(document)), Bytes::from(pkcs7))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::VerifyingKey;
    use rsa::signature::Verifier;

    #[test]
    fn signs_and_keeps_its_key() {
        let dir = std::env::temp_dir().join(format!("imds-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("identity-key.pem");
        let a = IdentitySigner::load_or_create(Some(&path)).unwrap();
        let b = IdentitySigner::load_or_create(Some(&path)).unwrap();
        let doc = b"{\n  \"accountId\" : \"123456789012\"\n}";
        let sig = base64::engine::general_purpose::STANDARD
            .decode(a.signature(doc))
            .unwrap();
        assert_eq!(sig.len(), 256);
        let verifying = VerifyingKey::<Sha256>::new(b.key.as_ref().to_public_key());
        verifying
            .verify(doc, &Signature::try_from(sig.as_slice()).unwrap())
            .unwrap();
        assert!(a
            .certificate_pem()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        let p7 = base64::engine::general_purpose::STANDARD
            .decode(a.pkcs7(doc).unwrap())
            .unwrap();
        let info = cms::content_info::ContentInfo::from_der(&p7).unwrap();
        assert_eq!(info.content_type, const_oid::db::rfc5911::ID_SIGNED_DATA);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
