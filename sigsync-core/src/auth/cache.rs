//! Persisting a delegated sign-in: a trait the product implements to keep the refresh token
//! its own way (keychain, database). sigsync writes nothing to disk.

use std::sync::Mutex;

use async_trait::async_trait;

use super::SignedInIdentity;
use crate::{Result, Secret};

/// What a delegated sign-in leaves to persist: the refresh token and who it belongs to.
/// `Debug` never shows the refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSignIn {
    /// The latest refresh token (Microsoft rotates it on every redeem).
    pub refresh_token: Secret,
    /// Who signed in, when known.
    pub identity: Option<SignedInIdentity>,
}

/// A caller-supplied store for one sign-in (one tenant): the
/// [`DelegatedTokenProvider`](super::DelegatedTokenProvider) saves after sign-in and after
/// every rotation. A new sign-in with the same cache replaces what it holds.
///
/// Errors from `save` are logged and do not fail the token request.
#[async_trait]
pub trait TokenCache: Send + Sync {
    /// The stored sign-in, if any.
    async fn load(&self) -> Result<Option<StoredSignIn>>;

    /// Replaces the stored sign-in.
    async fn save(&self, sign_in: &StoredSignIn) -> Result<()>;
}

impl std::fmt::Debug for dyn TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache")
    }
}

/// A [`TokenCache`] in memory only: for tests, and for sharing one sign-in between providers
/// within a process.
#[derive(Debug, Default)]
pub struct MemoryTokenCache {
    stored: Mutex<Option<StoredSignIn>>,
}

impl MemoryTokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the cache holds now.
    pub fn get(&self) -> Option<StoredSignIn> {
        self.stored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl TokenCache for MemoryTokenCache {
    async fn load(&self) -> Result<Option<StoredSignIn>> {
        Ok(self.get())
    }

    async fn save(&self, sign_in: &StoredSignIn) -> Result<()> {
        *self.stored.lock().unwrap_or_else(|e| e.into_inner()) = Some(sign_in.clone());
        Ok(())
    }
}
