//! The one retry layer: wraps any [`ExchangeClient`] (real or simulated) and retries
//! throttling (honouring Retry-After), transient failures and the "not found" that directory
//! replication produces shortly after a create, bounded in attempts and total time. The setup
//! engine does not retry on top of it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{may_have_applied, AcceptedDomain, ExchangeClient, Existing, MailGroup};
use crate::model::{InboundConnector, ObjectKind, OutboundConnector, Params, TransportRule};
use crate::{ApiError, Error, ErrorKind, Result};

/// Time as the retry layer sees it; tests inject one that does not sleep.
#[async_trait]
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits for `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The real clock, through `tokio::time` (so `tokio::time::pause` also applies).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// How hard to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first back-off delay; doubled after each failure.
    pub base_delay: Duration,
    /// The longest single delay (also caps a server's Retry-After).
    pub max_delay: Duration,
    /// The most time one call may spend waiting between attempts.
    pub max_total: Duration,
    /// How long after a create a "not found" counts as replication lag.
    pub replication_window: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 2 s doubling to at most 30 s, at most 2 minutes of waiting per call,
    /// and a replication window of 5 minutes (the Exchange module's own policy, bounded).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(120),
            replication_window: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The delay before attempt `attempt + 1` after `error`.
    fn delay(&self, attempt: u32, error: &Error) -> Duration {
        let backoff = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        error.retry_after().unwrap_or(backoff).min(self.max_delay)
    }
}

/// An [`ExchangeClient`] that retries what is worth retrying; see the module docs.
pub struct RetryingClient<C> {
    inner: C,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
    created: Mutex<HashMap<(ObjectKind, String), Instant>>,
}

impl<C: ExchangeClient> RetryingClient<C> {
    /// Wraps `inner` with `policy` on the real clock.
    pub fn new(inner: C, policy: RetryPolicy) -> Self {
        Self::with_clock(inner, policy, Arc::new(TokioClock))
    }

    /// Wraps `inner` with `policy` on `clock`.
    pub fn with_clock(inner: C, policy: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        RetryingClient {
            inner,
            policy,
            clock,
            created: Mutex::new(HashMap::new()),
        }
    }

    /// The wrapped client.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    fn recently_created(&self, kind: ObjectKind, identity: &str) -> bool {
        let now = self.clock.now();
        let created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        created.iter().any(|((k, name), at)| {
            *k == kind
                && (identity.is_empty() || name.eq_ignore_ascii_case(identity))
                && now.saturating_duration_since(*at) < self.policy.replication_window
        })
    }

    fn note_created(&self, kind: ObjectKind, name: &str) {
        let mut created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        created.insert((kind, name.to_ascii_lowercase()), self.clock.now());
    }

    /// Runs `call` until it succeeds, fails for good, or the budget is spent. `lag` says
    /// whether an error is replication lag for this call.
    async fn retry<T, F, Fut>(&self, op: &str, lag: impl Fn(&Error) -> bool, call: F) -> Result<T>
    where
        F: Fn(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        let write = !op.starts_with("Get-") && !op.starts_with("list");
        let mut uncertain: Option<Error> = None;
        loop {
            let error = match call(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let retryable = error.is_retryable() || lag(&error);
            let delay = self.policy.delay(attempt, &error);
            if !retryable
                || attempt >= self.policy.max_attempts
                || waited + delay > self.policy.max_total
            {
                return Err(match uncertain {
                    Some(earlier) if !may_have_applied(&error) => {
                        still_uncertain(op, &earlier, &error)
                    }
                    _ => error,
                });
            }
            if write && uncertain.is_none() && may_have_applied(&error) {
                uncertain = Some(error.clone());
            }
            tracing::debug!(op, attempt, delay_ms = delay.as_millis() as u64, %error, "retrying");
            self.clock.sleep(delay).await;
            waited += delay;
            attempt += 1;
        }
    }

    fn lag_for(&self, kind: ObjectKind, identity: &str) -> impl Fn(&Error) -> bool + '_ {
        let recent = self.recently_created(kind, identity);
        move |e: &Error| recent && e.kind() == ErrorKind::NotFound
    }

    /// New-/Set-TransportRule refuse a connector that has not replicated yet with an
    /// ArgumentException naming it as not found.
    fn rule_connector_lag(&self) -> impl Fn(&Error) -> bool + '_ {
        let recent = self.recently_created(ObjectKind::OutboundConnector, "");
        move |e: &Error| {
            recent
                && (e.kind() == ErrorKind::NotFound
                    || (e.kind() == ErrorKind::Rejected
                        && e.to_string()
                            .to_ascii_lowercase()
                            .contains("couldn't be found")))
        }
    }

    async fn create<D, F, Fut, L, LFut>(
        &self,
        desired: &D,
        lag: impl Fn(&Error) -> bool,
        create: F,
        list: L,
    ) -> Result<Existing<D>>
    where
        D: crate::model::Definition,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Existing<D>>>,
        L: Fn() -> LFut,
        LFut: Future<Output = Result<Vec<Existing<D>>>>,
    {
        let (kind, name) = (D::KIND, desired.name());
        let op = format!("New-{}", kind.noun());
        let result = self
            .retry(&op, lag, |attempt| {
                let fut = create();
                let list = &list;
                async move {
                    match fut.await {
                        // A retried create whose earlier attempt landed after all: the object
                        // is there, as asked. One that differs existed before: the caller
                        // decides (it gets "already exists").
                        Err(e) if attempt > 1 && e.kind() == ErrorKind::AlreadyExists => list()
                            .await?
                            .into_iter()
                            .find(|x| {
                                x.name().eq_ignore_ascii_case(name)
                                    && desired.changes_from(&x.definition).is_empty()
                            })
                            .ok_or(e),
                        other => other,
                    }
                }
            })
            .await?;
        self.note_created(kind, name);
        Ok(result)
    }

    async fn remove<F, Fut>(&self, kind: ObjectKind, identity: &str, call: F) -> Result<()>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        let op = format!("Remove-{}", kind.noun());
        let lag = self.lag_for(kind, identity);
        self.retry(&op, lag, |attempt| {
            let fut = call();
            async move {
                match fut.await {
                    // A retried removal whose first attempt landed after all.
                    Err(e) if attempt > 1 && e.kind() == ErrorKind::NotFound => Ok(()),
                    other => other,
                }
            }
        })
        .await
    }
}

fn never(_: &Error) -> bool {
    false
}

/// A write that gave up with a definite error after an earlier attempt failed in a way that
/// may have taken effect: still of unknown outcome (kind `Transient`), saying both.
fn still_uncertain(op: &str, earlier: &Error, last: &Error) -> Error {
    let mut e = ApiError::new(
        ErrorKind::Transient,
        format!("{last}; an earlier attempt failed with \"{earlier}\" and may have taken effect"),
    );
    tracing::debug!(op, "a write gave up after an attempt of unknown outcome");
    if let Some(status) = earlier.status() {
        e = e.with_status(status);
    }
    Error::Api(e)
}

#[async_trait]
impl<C: ExchangeClient> ExchangeClient for RetryingClient<C> {
    async fn list_outbound_connectors(&self) -> Result<Vec<Existing<OutboundConnector>>> {
        self.retry("Get-OutboundConnector", never, |_| {
            self.inner.list_outbound_connectors()
        })
        .await
    }
    async fn create_outbound_connector(
        &self,
        c: &OutboundConnector,
    ) -> Result<Existing<OutboundConnector>> {
        self.create(
            c,
            never,
            || self.inner.create_outbound_connector(c),
            || self.inner.list_outbound_connectors(),
        )
        .await
    }
    async fn update_outbound_connector(&self, identity: &str, changes: &Params) -> Result<()> {
        let lag = self.lag_for(ObjectKind::OutboundConnector, identity);
        self.retry("Set-OutboundConnector", lag, |_| {
            self.inner.update_outbound_connector(identity, changes)
        })
        .await
    }
    async fn remove_outbound_connector(&self, identity: &str) -> Result<()> {
        self.remove(ObjectKind::OutboundConnector, identity, || {
            self.inner.remove_outbound_connector(identity)
        })
        .await
    }

    async fn list_inbound_connectors(&self) -> Result<Vec<Existing<InboundConnector>>> {
        self.retry("Get-InboundConnector", never, |_| {
            self.inner.list_inbound_connectors()
        })
        .await
    }
    async fn create_inbound_connector(
        &self,
        c: &InboundConnector,
    ) -> Result<Existing<InboundConnector>> {
        self.create(
            c,
            never,
            || self.inner.create_inbound_connector(c),
            || self.inner.list_inbound_connectors(),
        )
        .await
    }
    async fn update_inbound_connector(&self, identity: &str, changes: &Params) -> Result<()> {
        let lag = self.lag_for(ObjectKind::InboundConnector, identity);
        self.retry("Set-InboundConnector", lag, |_| {
            self.inner.update_inbound_connector(identity, changes)
        })
        .await
    }
    async fn remove_inbound_connector(&self, identity: &str) -> Result<()> {
        self.remove(ObjectKind::InboundConnector, identity, || {
            self.inner.remove_inbound_connector(identity)
        })
        .await
    }

    async fn list_transport_rules(&self) -> Result<Vec<Existing<TransportRule>>> {
        self.retry("Get-TransportRule", never, |_| {
            self.inner.list_transport_rules()
        })
        .await
    }
    async fn create_transport_rule(&self, rule: &TransportRule) -> Result<Existing<TransportRule>> {
        self.create(
            rule,
            self.rule_connector_lag(),
            || self.inner.create_transport_rule(rule),
            || self.inner.list_transport_rules(),
        )
        .await
    }
    async fn update_transport_rule(&self, identity: &str, changes: &Params) -> Result<()> {
        let own = self.lag_for(ObjectKind::TransportRule, identity);
        let connector = self.rule_connector_lag();
        self.retry(
            "Set-TransportRule",
            |e| own(e) || connector(e),
            |_| self.inner.update_transport_rule(identity, changes),
        )
        .await
    }
    async fn remove_transport_rule(&self, identity: &str) -> Result<()> {
        self.remove(ObjectKind::TransportRule, identity, || {
            self.inner.remove_transport_rule(identity)
        })
        .await
    }
    async fn enable_transport_rule(&self, identity: &str) -> Result<()> {
        let own = self.lag_for(ObjectKind::TransportRule, identity);
        let connector = self.rule_connector_lag();
        self.retry(
            "Enable-TransportRule",
            |e| own(e) || connector(e),
            |_| self.inner.enable_transport_rule(identity),
        )
        .await
    }
    async fn disable_transport_rule(&self, identity: &str) -> Result<()> {
        let lag = self.lag_for(ObjectKind::TransportRule, identity);
        self.retry("Disable-TransportRule", lag, |_| {
            self.inner.disable_transport_rule(identity)
        })
        .await
    }

    async fn list_mail_enabled_groups(&self) -> Result<Vec<MailGroup>> {
        self.retry("list mail-enabled groups", never, |_| {
            self.inner.list_mail_enabled_groups()
        })
        .await
    }
    async fn list_accepted_domains(&self) -> Result<Vec<AcceptedDomain>> {
        self.retry("Get-AcceptedDomain", never, |_| {
            self.inner.list_accepted_domains()
        })
        .await
    }
}
