//! TLS for both legs (rustls with the ring provider, TLS 1.2 and 1.3): PEM loading, the
//! listener's server configuration, each tenant's client configuration with its certificate
//! chain, and the certificate checks done at start (name in CN and SAN, key type, expiry).

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;

use crate::{Error, Result};

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Reads a PEM file of certificates (a chain: the certificate first).
pub(crate) fn load_certs(path: &Path, field: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::validation(field, format!("cannot read {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::validation(field, format!("{}: bad PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::validation(
            field,
            format!("{}: no certificate in the file", path.display()),
        ));
    }
    Ok(certs)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn load_key(path: &Path, field: &str) -> Result<PrivateKeyDer<'static>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::validation(field, format!("cannot read {}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        Error::validation(
            field,
            format!("{}: no PEM private key in the file", path.display()),
        )
    })
}

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    pub common_names: Vec<String>,
    pub dns_names: Vec<String>,
    pub rsa: bool,
    /// Seconds since the Unix epoch.
    pub not_after: i64,
}

impl CertInfo {
    pub(crate) fn read(cert: &CertificateDer<'_>, field: &str) -> Result<Self> {
        let (_, x) = x509_parser::parse_x509_certificate(cert.as_ref())
            .map_err(|e| Error::validation(field, format!("unreadable certificate: {e}")))?;
        let common_names = x
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
            .collect();
        let dns_names = x
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        GeneralName::DNSName(d) => Some((*d).to_owned()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(CertInfo {
            common_names,
            dns_names,
            rsa: x.public_key().algorithm.algorithm == OID_PKCS1_RSAENCRYPTION,
            not_after: x.validity().not_after.timestamp(),
        })
    }

    /// Seconds until the certificate expires (negative once expired).
    pub(crate) fn seconds_left(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.not_after - now
    }

    /// Checks that `name` is the certificate's CN and one of its SAN DNS names (Exchange's
    /// inbound connector matches either; Microsoft advises both, reference §3.2).
    pub(crate) fn check_name(&self, name: &str, field: &str) -> Result<()> {
        let has = |v: &[String]| v.iter().any(|n| n.eq_ignore_ascii_case(name));
        if !has(&self.common_names) || !has(&self.dns_names) {
            return Err(Error::validation(
                field,
                format!(
                    "the certificate must carry {name:?} (the profile's certificate_name) as CN \
                     and as a SAN DNS name; it has CN {:?} and SAN {:?}",
                    self.common_names, self.dns_names
                ),
            ));
        }
        Ok(())
    }
}

/// A root store from a PEM file.
pub(crate) fn roots_from_file(path: &Path, field: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path, field)? {
        roots
            .add(cert)
            .map_err(|e| Error::validation(field, format!("{}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// The bundled Mozilla roots.
pub(crate) fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The listener's TLS configuration. With `client_roots`, a client certificate is asked for
/// (not required) and verified against them.
pub(crate) fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
    field: &str,
) -> Result<Arc<ServerConfig>> {
    let provider = Arc::new(default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| Error::Internal(format!("TLS versions: {e}")))?;
    let builder = match client_roots {
        Some(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| {
                    Error::validation("listener.client_certificate_roots", e.to_string())
                })?,
        ),
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| Error::validation(field, format!("certificate and key do not fit: {e}")))?;
    Ok(Arc::new(config))
}

/// A tenant's return-leg TLS configuration: its client certificate chain and key, verifying
/// the endpoint against `roots`.
pub(crate) fn client_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Arc<RootCertStore>,
    field: &str,
) -> Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(VERSIONS)
        .map_err(|e| Error::Internal(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| Error::validation(field, format!("certificate and key do not fit: {e}")))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn pki(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/relay/pki")
            .join(name)
    }

    #[test]
    fn client_certificates_are_checked_for_name_in_cn_and_san_and_expiry() {
        let chain = load_certs(&pki("contoso.pem"), "c").unwrap();
        assert_eq!(chain.len(), 2, "certificate and intermediate");
        let info = CertInfo::read(&chain[0], "c").unwrap();
        assert!(info.rsa);
        info.check_name("contoso.relay.test", "c").unwrap();
        info.check_name("CONTOSO.relay.test", "c").unwrap();
        let e = info
            .check_name("fabrikam.relay.test", "tenants[0].client_certificate")
            .unwrap_err();
        assert!(
            e.to_string().contains("tenants[0].client_certificate"),
            "{e}"
        );
        assert!(info.seconds_left() > 50 * 365 * 86400);
        let expired = load_certs(&pki("contoso-expired.pem"), "c").unwrap();
        assert!(CertInfo::read(&expired[0], "c").unwrap().seconds_left() < 0);
    }

    #[test]
    fn keys_and_configs_load_from_the_test_pki() {
        let chain = load_certs(&pki("relay.pem"), "l").unwrap();
        let key = load_key(&pki("relay.key"), "l").unwrap();
        server_config(chain, key, None, "l").unwrap();
        let roots = Arc::new(roots_from_file(&pki("root.pem"), "r").unwrap());
        let chain = load_certs(&pki("contoso.pem"), "c").unwrap();
        let wrong_key = load_key(&pki("fabrikam.key"), "k").unwrap();
        let e = client_config(chain, wrong_key, roots, "tenants[0].client_key").unwrap_err();
        assert!(e.to_string().contains("tenants[0].client_key"), "{e}");
        let e = load_certs(&pki("missing.pem"), "listener.certificate").unwrap_err();
        assert!(e.to_string().contains("listener.certificate"), "{e}");
        assert!(!webpki_roots().is_empty());
    }
}
