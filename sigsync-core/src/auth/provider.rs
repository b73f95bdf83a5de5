//! The delegated [`TokenProvider`]: tokens for Exchange and Graph from one sign-in, through
//! the refresh token.

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oauth2::{RefreshToken, Scope};

use super::cache::{StoredSignIn, TokenCache};
use super::config::AuthConfig;
use super::oauth::{map_request_error, oauth_client, Grant, MsClient, Stage};
use super::slots::{SlotSource, TokenSlots};
use super::{AccessToken, Resource, SignedInIdentity, TokenProvider};
use crate::{Error, ErrorKind, Result, Secret};

/// The scopes asked for next to the resource's `.default`: a refresh token and an ID token.
pub(crate) const DELEGATED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// Access tokens for an admin who signed in (device code): cached per resource, replaced
/// before expiry through the refresh token, one refresh at a time per resource.
///
/// When Microsoft refuses the refresh token (`invalid_grant`: expired, revoked, password
/// changed, or no consent for that resource), the call fails with
/// [`ErrorKind::SignInRequired`]: run the device-code flow again. The refresh token is kept,
/// because `invalid_grant` can concern one resource only (AADSTS65001, no consent) while the
/// token still serves the other. Cloning shares the same tokens.
#[derive(Clone)]
pub struct DelegatedTokenProvider {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    client: MsClient,
    refresh_token: Mutex<Option<Secret>>,
    identity: Mutex<Option<SignedInIdentity>>,
    slots: TokenSlots,
    cache: Option<Arc<dyn TokenCache>>,
}

impl fmt::Debug for DelegatedTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelegatedTokenProvider")
            .field("config", &self.inner.config)
            .field("identity", &self.identity())
            .field("signed_in", &self.inner.current_refresh_token().is_some())
            .finish_non_exhaustive()
    }
}

impl DelegatedTokenProvider {
    /// A provider from a refresh token kept from an earlier sign-in (nothing is fetched until
    /// the first [`TokenProvider::token`]).
    pub fn from_refresh_token(config: AuthConfig, refresh_token: impl Into<Secret>) -> Self {
        Self::new(config, Some(refresh_token.into()), None, None)
    }

    /// A provider from what `cache` holds, keeping `cache` up to date; `None` when the cache is
    /// empty (the admin must sign in).
    pub async fn from_cache(
        config: AuthConfig,
        cache: Arc<dyn TokenCache>,
    ) -> Result<Option<Self>> {
        Ok(cache.load().await?.map(|stored| {
            Self::new(
                config,
                Some(stored.refresh_token),
                stored.identity,
                Some(cache),
            )
        }))
    }

    pub(crate) fn new(
        config: AuthConfig,
        refresh_token: Option<Secret>,
        identity: Option<SignedInIdentity>,
        cache: Option<Arc<dyn TokenCache>>,
    ) -> Self {
        DelegatedTokenProvider {
            inner: Arc::new(Inner {
                client: oauth_client(&config),
                slots: TokenSlots::new(&config),
                config,
                refresh_token: Mutex::new(refresh_token),
                identity: Mutex::new(identity),
                cache,
            }),
        }
    }

    /// A provider holding the tokens of a completed sign-in for `resource`.
    pub(crate) async fn from_grant(
        config: AuthConfig,
        resource: Resource,
        grant: Grant,
        cache: Option<Arc<dyn TokenCache>>,
    ) -> Self {
        let provider = Self::new(config, None, None, cache);
        let inner = &provider.inner;
        inner.slots.put(resource, grant.access.clone()).await;
        inner.keep(grant).await;
        provider
    }

    /// Whether the provider holds a refresh token (false when the sign-in returned none, i.e.
    /// `offline_access` was not granted).
    pub fn is_signed_in(&self) -> bool {
        self.inner.current_refresh_token().is_some()
    }
}

impl Inner {
    fn current_refresh_token(&self) -> Option<Secret> {
        self.refresh_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Keeps the refresh token and identity of `grant` and saves them to the cache.
    async fn keep(&self, grant: Grant) {
        if let Some(identity) = grant.identity {
            *self.identity.lock().unwrap_or_else(|e| e.into_inner()) = Some(identity);
        }
        if let Some(rt) = grant.refresh_token {
            *self.refresh_token.lock().unwrap_or_else(|e| e.into_inner()) = Some(rt.clone());
            if let Some(cache) = &self.cache {
                let stored = StoredSignIn {
                    refresh_token: rt,
                    identity: self
                        .identity
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                };
                if let Err(e) = cache.save(&stored).await {
                    tracing::warn!(error = %e, "could not save the sign-in to the token cache");
                }
            }
        }
    }

    async fn refresh(&self, resource: Resource) -> Result<AccessToken> {
        let Some(rt) = self.current_refresh_token() else {
            return Err(Error::auth(
                ErrorKind::SignInRequired,
                None,
                None,
                "no refresh token: the admin must sign in again",
            ));
        };
        let now = self.config.clock().now();
        let refresh_token = RefreshToken::new(rt.expose().to_owned());
        let scopes = std::iter::once(self.config.scope(resource))
            .chain(DELEGATED_SCOPES.iter().map(|s| s.to_string()))
            .map(Scope::new);
        let result = self
            .client
            .exchange_refresh_token(&refresh_token)
            .add_scopes(scopes)
            .request_async(self.config.http_client())
            .await;
        match result {
            Ok(response) => {
                let grant = Grant::from_response(&response, now);
                let access = grant.access.clone();
                tracing::debug!(?resource, "refreshed an access token");
                self.keep(grant).await;
                Ok(access)
            }
            Err(e) => {
                let err = map_request_error(e, Stage::Refresh);
                if err.kind() == ErrorKind::SignInRequired {
                    tracing::info!(error = %err, "refresh token refused; sign-in required");
                }
                Err(err)
            }
        }
    }
}

#[async_trait]
impl SlotSource for DelegatedTokenProvider {
    fn slots(&self) -> &TokenSlots {
        &self.inner.slots
    }

    /// Refreshes through the refresh token.
    async fn fetch(&self, resource: Resource) -> Result<AccessToken> {
        self.inner.refresh(resource).await
    }

    fn signed_in(&self) -> Option<SignedInIdentity> {
        self.inner
            .identity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
