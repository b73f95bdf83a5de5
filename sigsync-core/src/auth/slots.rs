//! Per-resource access-token slots: a cached token, replaced shortly before it expires, with
//! one fetch at a time per resource so that concurrent callers share it; and the one
//! [`TokenProvider`] impl of every provider built on them (delegated and app-only), which
//! supply only how to fetch a token and who signed in ([`SlotSource`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{AccessToken, AuthConfig, Clock, Resource, SignedInIdentity, TokenProvider};
use crate::Result;

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    /// When to stop handing the token out and fetch a new one.
    refresh_at: Option<SystemTime>,
}

/// One slot per [`Resource`]; the lock of a slot is held across its fetch (single flight).
pub struct TokenSlots {
    clock: Arc<dyn Clock>,
    /// How long before expiry a token is replaced.
    margin: Duration,
    exchange: Mutex<Option<Cached>>,
    graph: Mutex<Option<Cached>>,
}

impl TokenSlots {
    /// Empty slots on the clock and refresh margin of `config`.
    pub fn new(config: &AuthConfig) -> Self {
        TokenSlots {
            clock: config.clock().clone(),
            margin: config.refresh_margin(),
            exchange: Mutex::new(None),
            graph: Mutex::new(None),
        }
    }

    fn slot(&self, resource: Resource) -> &Mutex<Option<Cached>> {
        match resource {
            Resource::Exchange => &self.exchange,
            Resource::Graph => &self.graph,
        }
    }

    fn cached(&self, token: AccessToken) -> Cached {
        Cached {
            refresh_at: refresh_time(&token, self.clock.now(), self.margin),
            token,
        }
    }

    /// The cached token for `resource` while it is fresh; otherwise waits for any fetch in
    /// flight, then (if still needed) fetches one from `source` and caches it.
    async fn get_or_fetch(
        &self,
        resource: Resource,
        source: &(impl SlotSource + ?Sized),
    ) -> Result<AccessToken> {
        let mut slot = self.slot(resource).lock().await;
        if let Some(cached) = slot.as_ref() {
            if cached.refresh_at.is_none_or(|at| self.clock.now() < at) {
                return Ok(cached.token.clone());
            }
        }
        let token = source.fetch(resource).await?;
        *slot = Some(self.cached(token.clone()));
        Ok(token)
    }

    /// Caches `token` for `resource` as if it had just been fetched.
    pub async fn put(&self, resource: Resource, token: AccessToken) {
        *self.slot(resource).lock().await = Some(self.cached(token));
    }

    /// Forgets the token of `resource`.
    async fn clear(&self, resource: Resource) {
        *self.slot(resource).lock().await = None;
    }
}

/// What a provider built on [`TokenSlots`] supplies; the rest of [`TokenProvider`] is the
/// same for all of them. (Public in a private module: sealed, so only sigsync's providers
/// implement it.)
#[async_trait]
pub trait SlotSource: Send + Sync {
    /// The provider's slots.
    fn slots(&self) -> &TokenSlots;

    /// A new token for `resource` from Microsoft (the slots hold at most one call per
    /// resource in flight).
    async fn fetch(&self, resource: Resource) -> Result<AccessToken>;

    /// Who signed in, when known.
    fn signed_in(&self) -> Option<SignedInIdentity>;
}

#[async_trait]
impl<T: SlotSource> TokenProvider for T {
    async fn token(&self, resource: Resource) -> Result<AccessToken> {
        self.slots().get_or_fetch(resource, self).await
    }

    async fn invalidate(&self, resource: Resource) {
        self.slots().clear(resource).await;
    }

    fn identity(&self) -> Option<SignedInIdentity> {
        self.signed_in()
    }
}

/// `margin` before expiry, but never earlier than halfway through a short-lived token's life.
fn refresh_time(token: &AccessToken, now: SystemTime, margin: Duration) -> Option<SystemTime> {
    let expires_at = token.expires_at?;
    let life = expires_at.duration_since(now).unwrap_or_default();
    Some(expires_at - margin.min(life / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_replaced_margin_before_expiry_or_at_half_life() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = AccessToken::new("t", Some(now + Duration::from_secs(3600)));
        assert_eq!(
            refresh_time(&hour, now, Duration::from_secs(300)),
            Some(now + Duration::from_secs(3300))
        );
        let minute = AccessToken::new("t", Some(now + Duration::from_secs(60)));
        assert_eq!(
            refresh_time(&minute, now, Duration::from_secs(300)),
            Some(now + Duration::from_secs(30))
        );
        assert_eq!(
            refresh_time(&AccessToken::new("t", None), now, Duration::from_secs(300)),
            None
        );
    }
}
