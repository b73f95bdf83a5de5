//! The time source of sign-in: what time it is (token expiry) and how to wait (polling), so
//! tests can run a 15-minute device-code expiry without sleeping.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

/// Tells the time and waits. [`SystemClock`] is the real one; tests supply their own.
#[async_trait]
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;

    /// Waits for `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The real clock: [`SystemTime::now`] and [`tokio::time::sleep`] (so a paused tokio clock
/// works too).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
