//! Per-resource access-token slots: a cached token, replaced shortly before it expires, with
//! one fetch at a time per resource so that concurrent callers share it.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;

use super::{AccessToken, Resource};
use crate::Result;

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    /// When to stop handing the token out and fetch a new one.
    refresh_at: Option<SystemTime>,
}

/// One slot per [`Resource`]; the lock of a slot is held across its fetch (single flight).
#[derive(Default)]
pub(crate) struct TokenSlots {
    exchange: Mutex<Option<Cached>>,
    graph: Mutex<Option<Cached>>,
}

impl TokenSlots {
    fn slot(&self, resource: Resource) -> &Mutex<Option<Cached>> {
        match resource {
            Resource::Exchange => &self.exchange,
            Resource::Graph => &self.graph,
        }
    }

    /// The cached token for `resource` while it is fresh at `now`; otherwise waits for any
    /// fetch in flight, then (if still needed) runs `fetch` and caches its token.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        resource: Resource,
        now: impl Fn() -> SystemTime,
        margin: Duration,
        fetch: F,
    ) -> Result<AccessToken>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken>>,
    {
        let mut slot = self.slot(resource).lock().await;
        if let Some(cached) = slot.as_ref() {
            if cached.refresh_at.is_none_or(|at| now() < at) {
                return Ok(cached.token.clone());
            }
        }
        let token = fetch().await?;
        *slot = Some(Cached {
            refresh_at: refresh_time(&token, now(), margin),
            token: token.clone(),
        });
        Ok(token)
    }

    /// Caches `token` for `resource` as if it had just been fetched at `now`.
    pub async fn put(
        &self,
        resource: Resource,
        token: AccessToken,
        now: SystemTime,
        margin: Duration,
    ) {
        *self.slot(resource).lock().await = Some(Cached {
            refresh_at: refresh_time(&token, now, margin),
            token,
        });
    }

    /// Forgets the token of `resource`.
    pub async fn clear(&self, resource: Resource) {
        *self.slot(resource).lock().await = None;
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
