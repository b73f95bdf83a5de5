//! Microsoft sign-in: access tokens for Exchange Online and Microsoft Graph.
//!
//! The Exchange and Graph clients only see [`TokenProvider`]; how the tokens were obtained
//! (device code, client credentials, a static token in tests) is the provider's business.
//!
//! - [`DeviceCodeFlow`]: the wizard's sign-in; yields a [`DelegatedTokenProvider`] that gets
//!   Exchange and Graph tokens from one sign-in through the refresh token.
//! - [`AppOnlyTokenProvider`]: client credentials with a secret or a [`CertificateCredential`].
//! - [`AuthConfig`]: client id, [`Tenant`], [`Cloud`], an optional custom login URL.
//!
//! ```no_run
//! use sigsync_core::auth::{AuthConfig, DeviceCodeFlow, Resource, TokenProvider};
//!
//! # async fn run() -> sigsync_core::Result<()> {
//! let config = AuthConfig::builder("00000000-0000-0000-0000-000000000001", "organizations")
//!     .build()?;
//! let provider = DeviceCodeFlow::new(config)
//!     .sign_in(|prompt| println!("Open {} and enter {}", prompt.verification_uri, prompt.user_code))
//!     .await?;
//! let who = provider.identity().expect("the ID token names the tenant");
//! let exchange = provider.token(Resource::Exchange).await?;
//! let graph = provider.token(Resource::Graph).await?; // same sign-in, via the refresh token
//! # let _ = (who, exchange, graph);
//! # Ok(())
//! # }
//! ```

mod assertion;
mod cache;
mod client_credentials;
mod clock;
mod cloud;
mod config;
mod device_code;
mod oauth;
mod provider;
mod slots;

pub use assertion::{AssertionAlgorithm, CertificateCredential, ASSERTION_LIFETIME};
pub use cache::{MemoryTokenCache, StoredSignIn, TokenCache};
pub use client_credentials::{AppOnlyTokenProvider, ClientCredential};
pub use clock::{Clock, SystemClock};
pub use cloud::{Cloud, Tenant};
pub use config::{AuthConfig, AuthConfigBuilder, DEFAULT_REFRESH_MARGIN};
pub use device_code::{DeviceCodeFlow, DeviceCodePrompt, PendingSignIn, SignInCanceller};
pub use provider::DelegatedTokenProvider;

use std::time::SystemTime;

use async_trait::async_trait;

use crate::{Result, Secret};

/// The API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// Exchange Online (`https://outlook.office365.com/.default` in the commercial cloud).
    Exchange,
    /// Microsoft Graph (`https://graph.microsoft.com/.default` in the commercial cloud).
    Graph,
}

/// A bearer token for one resource.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token itself, never shown by `Debug`.
    pub secret: Secret,
    /// When the token stops being valid, if known.
    pub expires_at: Option<SystemTime>,
}

impl AccessToken {
    /// A token with an optional expiry.
    pub fn new(secret: impl Into<Secret>, expires_at: Option<SystemTime>) -> Self {
        AccessToken {
            secret: secret.into(),
            expires_at,
        }
    }
}

/// Who signed in, and to which tenant: what the Exchange client needs for its URL and the
/// `X-AnchorMailbox` header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignedInIdentity {
    /// The tenant: its id (the ID token's `tid` claim, a GUID), or the domain app-only
    /// credentials were made for.
    pub tenant_id: String,
    /// The user principal name of a delegated sign-in; `None` for app-only.
    pub user_principal_name: Option<String>,
}

/// Supplies access tokens to the Exchange and Graph clients.
///
/// Implementations cache tokens and refresh them before expiry; concurrent callers share one
/// refresh.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// A valid token for `resource`.
    async fn token(&self, resource: Resource) -> Result<AccessToken>;

    /// Drops any cached token for `resource`, so the next [`TokenProvider::token`] fetches a
    /// fresh one (called once after an HTTP 401).
    async fn invalidate(&self, resource: Resource);

    /// Who signed in, when known.
    fn identity(&self) -> Option<SignedInIdentity> {
        None
    }
}

/// A provider that hands out fixed tokens: for tests and for callers that obtain tokens
/// elsewhere.
#[derive(Debug, Clone)]
pub struct StaticTokenProvider {
    exchange: Secret,
    graph: Secret,
    identity: Option<SignedInIdentity>,
}

impl StaticTokenProvider {
    /// One token for Exchange and one for Graph.
    pub fn new(exchange: impl Into<Secret>, graph: impl Into<Secret>) -> Self {
        StaticTokenProvider {
            exchange: exchange.into(),
            graph: graph.into(),
            identity: None,
        }
    }

    /// Sets who the tokens belong to.
    pub fn with_identity(mut self, identity: SignedInIdentity) -> Self {
        self.identity = Some(identity);
        self
    }
}

#[async_trait]
impl TokenProvider for StaticTokenProvider {
    async fn token(&self, resource: Resource) -> Result<AccessToken> {
        let secret = match resource {
            Resource::Exchange => self.exchange.clone(),
            Resource::Graph => self.graph.clone(),
        };
        Ok(AccessToken::new(secret, None))
    }

    async fn invalidate(&self, _resource: Resource) {}

    fn identity(&self) -> Option<SignedInIdentity> {
        self.identity.clone()
    }
}
