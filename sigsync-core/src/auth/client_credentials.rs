//! App-only sign-in (client credentials) with a client secret or a certificate: for
//! automation that runs without an admin at the keyboard.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use oauth2::{ClientSecret, Scope};

use super::assertion::CertificateCredential;
use super::cloud::Tenant;
use super::config::AuthConfig;
use super::oauth::{map_request_error, oauth_client, Grant, MsClient, Stage};
use super::slots::{SlotSource, TokenSlots};
use super::{AccessToken, Resource, SignedInIdentity};
use crate::{Error, Result, Secret};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the app proves who it is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret (never shown by `Debug`).
    Secret(Secret),
    /// A certificate whose private key signs a client assertion.
    Certificate(CertificateCredential),
}

/// App-only access tokens for Exchange and Graph, cached per resource and fetched again
/// shortly before expiry, one request at a time per resource. Cloning shares the tokens.
#[derive(Clone)]
pub struct AppOnlyTokenProvider {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    client: MsClient,
    credential: ClientCredential,
    slots: TokenSlots,
    identity: SignedInIdentity,
}

impl fmt::Debug for AppOnlyTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppOnlyTokenProvider")
            .field("config", &self.inner.config)
            .field("credential", &self.inner.credential)
            .finish_non_exhaustive()
    }
}

impl AppOnlyTokenProvider {
    /// A provider for `config`, whose tenant must be a tenant id or domain (not
    /// `organizations`). The credentials carry that tenant: the Exchange client needs no
    /// second `tenant` setting, and the access tokens are never decoded.
    pub fn new(config: AuthConfig, credential: ClientCredential) -> Result<Self> {
        if !config.tenant().is_specific() {
            return Err(Error::validation(
                "tenant",
                "app-only sign-in needs the tenant id or domain, not \"organizations\"",
            ));
        }
        let mut client = oauth_client(&config);
        if let ClientCredential::Secret(secret) = &credential {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        let identity = SignedInIdentity {
            tenant_id: match config.tenant() {
                Tenant::Id(id) => id.to_string(),
                other => other.to_string(),
            },
            user_principal_name: None,
        };
        let slots = TokenSlots::new(&config);
        Ok(AppOnlyTokenProvider {
            inner: Arc::new(Inner {
                config,
                client,
                credential,
                slots,
                identity,
            }),
        })
    }

    /// A provider authenticating with a client secret.
    pub fn with_secret(config: AuthConfig, secret: impl Into<Secret>) -> Result<Self> {
        Self::new(config, ClientCredential::Secret(secret.into()))
    }

    /// A provider authenticating with a certificate.
    pub fn with_certificate(
        config: AuthConfig,
        certificate: CertificateCredential,
    ) -> Result<Self> {
        Self::new(config, ClientCredential::Certificate(certificate))
    }
}

#[async_trait]
impl SlotSource for AppOnlyTokenProvider {
    fn slots(&self) -> &TokenSlots {
        &self.inner.slots
    }

    async fn fetch(&self, resource: Resource) -> Result<AccessToken> {
        let inner = &self.inner;
        let now = inner.config.clock().now();
        let mut request = inner
            .client
            .exchange_client_credentials()
            .add_scope(Scope::new(inner.config.scope(resource)));
        let assertion;
        if let ClientCredential::Certificate(cert) = &inner.credential {
            assertion = cert.assertion(
                inner.config.client_id(),
                inner.config.token_url().as_str(),
                now,
            )?;
            request = request
                .add_extra_param("client_assertion_type", JWT_BEARER)
                .add_extra_param("client_assertion", assertion.expose());
        }
        let response = request
            .request_async(inner.config.http_client())
            .await
            .map_err(|e| map_request_error(e, Stage::ClientCredentials))?;
        let grant = Grant::from_response(&response, now);
        tracing::debug!(?resource, "fetched an app-only access token");
        Ok(grant.access)
    }

    /// The tenant the credentials were made for (its id or domain); no user.
    fn signed_in(&self) -> Option<SignedInIdentity> {
        Some(self.inner.identity.clone())
    }
}
