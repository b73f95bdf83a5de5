//! The device-code sign-in of the setup wizard: Microsoft shows the admin a sign-in page, the
//! admin types a short code there, and we poll until the sign-in completes. The admin's
//! credentials never reach us.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use oauth2::{DeviceAuthorizationResponse, ExtraDeviceAuthorizationFields, Scope};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::cache::TokenCache;
use super::config::AuthConfig;
use super::oauth::{map_request_error, oauth_client, Grant, MsClient, Stage};
use super::provider::{DelegatedTokenProvider, DELEGATED_SCOPES};
use super::Resource;
use crate::{Error, ErrorKind, Result};

/// Microsoft's extra device-authorization field: the instruction to show.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct MessageField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl ExtraDeviceAuthorizationFields for MessageField {}

/// What to show the admin: open `verification_uri`, enter `user_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodePrompt {
    /// The short code the admin types on the sign-in page.
    pub user_code: String,
    /// The page to open (e.g. `https://microsoft.com/devicelogin`); show it as given.
    pub verification_uri: String,
    /// How long the code stays valid after it was issued.
    pub expires_in: Duration,
    /// When the code stops being valid.
    pub expires_at: SystemTime,
    /// How often we poll for the result.
    pub interval: Duration,
    /// Microsoft's own instruction, ready to show, when it sent one.
    pub message: Option<String>,
}

/// Starts device-code sign-ins. Asks for `openid profile offline_access` and the first
/// resource's `.default` scope (Exchange unless changed).
#[derive(Debug, Clone)]
pub struct DeviceCodeFlow {
    config: AuthConfig,
    resource: Resource,
    cache: Option<Arc<dyn TokenCache>>,
}

impl DeviceCodeFlow {
    /// A flow for `config`.
    pub fn new(config: AuthConfig) -> Self {
        DeviceCodeFlow {
            config,
            resource: Resource::Exchange,
            cache: None,
        }
    }

    /// The resource of the first token (default [`Resource::Exchange`]); others come from the
    /// refresh token.
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resource = resource;
        self
    }

    /// Saves the sign-in to `cache`, and keeps it up to date as tokens rotate.
    pub fn token_cache(mut self, cache: Arc<dyn TokenCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Asks Microsoft for a code; show [`PendingSignIn::prompt`], then await
    /// [`PendingSignIn::wait`].
    pub async fn start(&self) -> Result<PendingSignIn> {
        let client = oauth_client(&self.config);
        let scopes = std::iter::once(self.config.scope(self.resource))
            .chain(DELEGATED_SCOPES.iter().map(|s| s.to_string()))
            .map(Scope::new);
        let issued = self.config.clock().now();
        let details: DeviceAuthorizationResponse<MessageField> = client
            .exchange_device_code()
            .add_scopes(scopes)
            .request_async(self.config.http_client())
            .await
            .map_err(|e| map_request_error(e, Stage::DeviceCode))?;
        let prompt = DeviceCodePrompt {
            user_code: details.user_code().secret().clone(),
            verification_uri: details.verification_uri().to_string(),
            expires_in: details.expires_in(),
            expires_at: issued + details.expires_in(),
            interval: details.interval(),
            message: details.extra_fields().message.clone(),
        };
        tracing::info!(verification_uri = %prompt.verification_uri, "device-code sign-in started");
        let (cancel, cancelled) = watch::channel(false);
        Ok(PendingSignIn {
            flow: self.clone(),
            client,
            details,
            prompt,
            cancel: SignInCanceller(Arc::new(cancel)),
            cancelled,
        })
    }

    /// Starts a sign-in, hands the prompt to `show`, and waits for the admin.
    pub async fn sign_in(
        &self,
        show: impl FnOnce(&DeviceCodePrompt) + Send,
    ) -> Result<DelegatedTokenProvider> {
        let pending = self.start().await?;
        show(pending.prompt());
        pending.wait().await
    }
}

/// A sign-in waiting for the admin. The device code inside is never shown by `Debug`.
pub struct PendingSignIn {
    flow: DeviceCodeFlow,
    client: MsClient,
    details: DeviceAuthorizationResponse<MessageField>,
    prompt: DeviceCodePrompt,
    cancel: SignInCanceller,
    cancelled: watch::Receiver<bool>,
}

impl fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("prompt", &self.prompt)
            .field("device_code", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Cancels a [`PendingSignIn`] from anywhere (another task, a UI button).
#[derive(Debug, Clone)]
pub struct SignInCanceller(Arc<watch::Sender<bool>>);

impl SignInCanceller {
    /// Makes the pending [`PendingSignIn::wait`] return [`ErrorKind::SignInCancelled`].
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
}

impl PendingSignIn {
    /// What to show the admin.
    pub fn prompt(&self) -> &DeviceCodePrompt {
        &self.prompt
    }

    /// A handle that cancels this sign-in.
    pub fn canceller(&self) -> SignInCanceller {
        self.cancel.clone()
    }

    /// Polls until the admin finishes, honouring `interval` and `slow_down` (+5 s), and
    /// returns a provider holding the tokens. Fails with [`ErrorKind::SignInDeclined`],
    /// [`ErrorKind::SignInExpired`], [`ErrorKind::SignInCancelled`], or [`ErrorKind::Auth`]
    /// (e.g. `bad_verification_code`) carrying Microsoft's code, AADSTS number and description.
    pub async fn wait(self) -> Result<DelegatedTokenProvider> {
        let PendingSignIn {
            flow,
            client,
            details,
            prompt,
            cancel: _cancel,
            mut cancelled,
        } = self;
        let clock = flow.config.clock().clone();
        let time_clock = clock.clone();
        let remaining = prompt
            .expires_at
            .duration_since(clock.now())
            .unwrap_or_default();
        let poll = client
            .exchange_device_access_token(&details)
            .set_time_fn(move || DateTime::<Utc>::from(time_clock.now()))
            .request_async(
                flow.config.http_client(),
                move |d| {
                    let clock = clock.clone();
                    async move { clock.sleep(d).await }
                },
                Some(remaining),
            );
        let response = tokio::select! {
            biased;
            _ = cancelled.wait_for(|c| *c) => {
                tracing::info!("device-code sign-in cancelled");
                return Err(Error::auth(
                    ErrorKind::SignInCancelled,
                    None,
                    None,
                    "the sign-in was cancelled",
                ));
            }
            result = poll => result.map_err(|e| map_request_error(e, Stage::DeviceCode))?,
        };
        let grant = Grant::from_response(&response, flow.config.clock().now());
        tracing::info!(tenant = ?grant.identity.as_ref().map(|i| &i.tenant_id), "device-code sign-in completed");
        Ok(DelegatedTokenProvider::from_grant(flow.config, flow.resource, grant, flow.cache).await)
    }
}
