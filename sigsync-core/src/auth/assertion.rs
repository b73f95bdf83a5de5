//! The certificate credential of app-only sign-in: a signed client-assertion JWT (reference
//! §4.3) from a PEM certificate and its RSA private key.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::digest;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::Serialize;

use crate::{Error, Result, Secret};

/// How long an assertion is valid (Microsoft suggests a short life, 5–10 minutes).
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The signature of the client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256 and the `x5t#S256` header (SHA-256 thumbprint), as Microsoft's
    /// current documentation shows.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and the `x5t` header (SHA-1 thumbprint), for older
    /// setups.
    Rs256,
}

/// An app's certificate and private key, which sign client assertions. `Debug` shows the
/// thumbprint, never the key.
#[derive(Clone)]
pub struct CertificateCredential {
    key: EncodingKey,
    x5t: String,
    x5t_s256: String,
    algorithm: AssertionAlgorithm,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t#S256", &self.x5t_s256)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

impl CertificateCredential {
    /// Reads the certificate (PEM, the first `CERTIFICATE` block) and its RSA private key
    /// (PEM, PKCS#8 or PKCS#1). Fails with [`Error::Validation`] when either is unusable.
    pub fn from_pem(certificate_pem: impl AsRef<[u8]>, private_key_pem: &Secret) -> Result<Self> {
        let cert = CertificateDer::from_pem_slice(certificate_pem.as_ref()).map_err(|e| {
            Error::validation("certificate", format!("no PEM certificate found: {e}"))
        })?;
        let key = EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes()).map_err(|_| {
            Error::validation(
                "private_key",
                "not a PEM RSA private key (PKCS#8 or PKCS#1)",
            )
        })?;
        let credential = CertificateCredential {
            key,
            x5t: URL_SAFE_NO_PAD.encode(digest::digest(
                &digest::SHA1_FOR_LEGACY_USE_ONLY,
                cert.as_ref(),
            )),
            x5t_s256: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, cert.as_ref())),
            algorithm: AssertionAlgorithm::Ps256,
        };
        // Sign once now so that a broken key fails here, not at the first token request.
        credential.assertion("check", "check", UNIX_EPOCH + Duration::from_secs(1))?;
        Ok(credential)
    }

    /// Chooses the algorithm (default [`AssertionAlgorithm::Ps256`]).
    pub fn algorithm(mut self, algorithm: AssertionAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The base64url SHA-1 thumbprint of the certificate (the `x5t` header).
    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// The base64url SHA-256 thumbprint of the certificate (the `x5t#S256` header).
    pub fn x5t_s256(&self) -> &str {
        &self.x5t_s256
    }

    /// A signed client assertion for `client_id`, addressed to `audience` (the token
    /// endpoint URL), valid from `now` for [`ASSERTION_LIFETIME`].
    pub fn assertion(&self, client_id: &str, audience: &str, now: SystemTime) -> Result<Secret> {
        let mut header = match self.algorithm {
            AssertionAlgorithm::Ps256 => {
                let mut h = Header::new(Algorithm::PS256);
                h.x5t_s256 = Some(self.x5t_s256.clone());
                h
            }
            AssertionAlgorithm::Rs256 => {
                let mut h = Header::new(Algorithm::RS256);
                h.x5t = Some(self.x5t.clone());
                h
            }
        };
        header.typ = Some("JWT".into());
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|_| Error::validation("private_key", "the private key cannot sign (not RSA?)"))
    }
}
