//! The relay (feature `relay`): the smart host Exchange Online's outbound connector points at.
//!
//! A stateless before-queue SMTP proxy (Postfix's `smtpd_proxy_filter` model): Exchange
//! connects with STARTTLS; at MAIL FROM the relay finds the tenant (by the sender's domain, or
//! XOORG when enabled) and opens a session to the tenant's Exchange Online endpoint with the
//! tenant's client certificate; each RCPT goes on verbatim and its reply comes back; at the end
//! of the data the message goes through the tenant's [`SignatureInjector`](crate::inject::SignatureInjector)
//! and on, and Exchange gets the next hop's final reply. The relay never answers 2xx before the
//! next hop did, answers 4xx for every failure of its own, and writes nothing to disk: Exchange
//! keeps the message queued and retries (24 h), so a crash or restart loses nothing.
//!
//! A message is sent on under a tenant only when its `X-MS-Exchange-CrossTenant-Id` (or, without
//! one, `X-OriginatorOrg`) names that tenant: Exchange Online's addresses are shared by every
//! Microsoft 365 tenant, so anyone could point a connector here with a customer's sender domain.
//! This check rests on the headers Exchange is observed to stamp, not on a documented contract.
//!
//! ```no_run
//! # async fn run() -> sigsync_core::Result<()> {
//! use std::time::Duration;
//! use sigsync_core::relay::{Relay, RelayConfig};
//!
//! let config = RelayConfig::load("/etc/sigsync/relay.toml")?;
//! let relay = Relay::start(config).await?;
//! println!("listening on {}", relay.local_addr());
//! // ... on SIGHUP:
//! relay.reload().await?;
//! // ... on SIGTERM:
//! let report = relay.stop(Some(Duration::from_secs(60))).await;
//! assert!(report.drained);
//! # Ok(()) }
//! ```

mod config;
mod headers;
mod injection;
mod io;
mod listener;
mod metrics;
mod next_hop;
mod pool;
mod proto;
mod resolver;
mod runtime;
mod session;
mod tenants;
mod tls;
mod transaction;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{
    DkimArc, GraphCredentials, Limits, ListenerConfig, MetricsConfig, NextHopConfig, RelayConfig,
    Roots, TenantConfig, Timeouts,
};
pub use metrics::{RelayStats, TenantStats};
pub use resolver::{DnsResolver, Resolver, StaticResolver};

use crate::{Error, Result};
use config::secs;
use runtime::{Budget, Runtime, Snapshot};

/// A running relay. Dropping it without [`Relay::stop`] leaves its tasks running until the
/// runtime ends.
pub struct Relay {
    rt: Arc<Runtime>,
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    accept: JoinHandle<()>,
    background: CancellationToken,
    reload_lock: tokio::sync::Mutex<()>,
}

/// Starts a relay with options beyond the configuration.
pub struct RelayBuilder {
    config: RelayConfig,
    resolver: Option<Arc<dyn Resolver>>,
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopReport {
    /// Every session ended within the grace period (no transaction was cut).
    pub drained: bool,
    /// Sessions still open when the grace period ended (closed then, nothing acknowledged).
    pub cut: i64,
}

impl RelayBuilder {
    /// The MX and address resolver (default: [`DnsResolver`] with the system configuration).
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Checks every file, binds the listener (and the metrics endpoint) and starts accepting.
    pub async fn start(self) -> Result<Relay> {
        let config = self.config;
        config.validate()?;
        let resolver = match self.resolver {
            Some(r) => r,
            None => Arc::new(DnsResolver::from_system().map_err(|e| Error::Config(e.to_string()))?),
        };
        let limits = config.limits.clone();
        let backlog = config.listener.backlog;
        let address: SocketAddr = config.listener.address.parse().expect("validated");
        let metrics_address = config
            .metrics
            .as_ref()
            .map(|m| m.address.parse::<SocketAddr>().expect("validated"));
        let snapshot = Snapshot::build(config)?;
        let metrics = Arc::new(metrics::Metrics::new());
        let threads = limits
            .injection_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let rt = Arc::new(Runtime {
            budget: Budget::new(limits.bytes_in_flight, metrics.bytes_in_flight().clone()),
            snapshot: ArcSwap::from_pointee(snapshot),
            metrics,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            injection: pool::InjectionPool::new(threads)
                .map_err(|e| Error::Internal(format!("cannot start the injection threads: {e}")))?,
            resolver,
            shutdown: CancellationToken::new(),
            abort: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        rt.publish_certificates();
        let listener = listener::listen(address, backlog).map_err(|e| {
            Error::validation(
                "listener.address",
                format!("cannot listen on {address}: {e}"),
            )
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let background = CancellationToken::new();
        let metrics_addr = match metrics_address {
            Some(addr) => {
                let l = metrics::bind(addr).await.map_err(|e| {
                    Error::validation("metrics.address", format!("cannot listen on {addr}: {e}"))
                })?;
                let bound = l.local_addr().ok();
                tokio::spawn(metrics::serve(l, rt.metrics.clone(), background.clone()));
                bound
            }
            None => None,
        };
        tokio::spawn(reap_pools(rt.clone(), background.clone()));
        let accept = tokio::spawn(listener::accept_loop(listener, rt.clone()));
        tracing::info!(%local_addr, tenants = rt.snapshot.load().tenants.list.len(), "relay listening");
        Ok(Relay {
            rt,
            local_addr,
            metrics_addr,
            accept,
            background,
            reload_lock: tokio::sync::Mutex::new(()),
        })
    }
}

impl Relay {
    /// A builder for `config`.
    pub fn builder(config: RelayConfig) -> RelayBuilder {
        RelayBuilder {
            config,
            resolver: None,
        }
    }

    /// Starts a relay for `config` with the system's DNS.
    pub async fn start(config: RelayConfig) -> Result<Relay> {
        Self::builder(config).start().await
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the metrics endpoint, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The counters, per tenant.
    pub fn stats(&self) -> RelayStats {
        let snapshot = self.rt.snapshot();
        self.rt.metrics.stats(snapshot.tenants.names())
    }

    /// Reads the configuration file again (the one it was loaded from) and swaps in the
    /// listener certificate, the tenants with their client certificates, and the allow-list,
    /// without dropping sessions. On any error nothing changes.
    pub async fn reload(&self) -> Result<()> {
        let source = self.rt.snapshot().config.source.clone().ok_or_else(|| {
            Error::Config("the configuration was not loaded from a file: use reload_with".into())
        })?;
        self.reload_with(RelayConfig::load(source)?).await
    }

    /// As [`Relay::reload`], with a configuration the caller read. The listener address and
    /// the limits stay as they were at start.
    pub async fn reload_with(&self, config: RelayConfig) -> Result<()> {
        let _one_at_a_time = self.reload_lock.lock().await;
        config.validate()?;
        let old = self.rt.snapshot();
        if config.listener.address != old.config.listener.address
            || config.limits != old.config.limits
        {
            tracing::warn!("listener.address and [limits] change only on restart");
        }
        let snapshot = Snapshot::build(config)?;
        self.rt.snapshot.store(Arc::new(snapshot));
        self.rt.publish_certificates();
        tracing::info!(
            tenants = self.rt.snapshot.load().tenants.list.len(),
            "configuration reloaded"
        );
        Ok(())
    }

    /// Stops accepting, answers 421 to new transactions, lets those in flight finish within
    /// `grace` (default: `timeouts.shutdown_grace`), then closes what is left.
    pub async fn stop(self, grace: Option<Duration>) -> StopReport {
        let grace =
            grace.unwrap_or_else(|| secs(self.rt.snapshot().config.timeouts.shutdown_grace));
        self.rt.shutdown.cancel();
        self.rt.metrics.set_shutting_down();
        let _ = self.accept.await;
        self.rt.tracker.close();
        let drained = tokio::time::timeout(grace, self.rt.tracker.wait())
            .await
            .is_ok();
        let mut cut = 0;
        if !drained {
            cut = self.rt.metrics.stats([]).connections;
            tracing::warn!(
                sessions = cut,
                "grace period over; closing the sessions left"
            );
            self.rt.abort.cancel();
            self.rt.tracker.wait().await;
        }
        for t in &self.rt.snapshot().tenants.list {
            t.pool.close_all().await;
        }
        self.background.cancel();
        tracing::info!(drained, "relay stopped");
        StopReport { drained, cut }
    }
}

impl RelayConfig {
    /// Checks everything start would, without listening: every file is read and every
    /// certificate checked (names, key types, the loop header against the profile). For
    /// operators before a reload, and for `--check`.
    pub fn check(&self) -> Result<()> {
        self.validate()?;
        let snapshot = Snapshot::build(self.clone())?;
        for t in &snapshot.tenants.list {
            if t.certificate.seconds_left() <= 0 {
                return Err(Error::validation(
                    format!(
                        "tenants[{}].client_certificate",
                        self.tenants
                            .iter()
                            .position(|c| c.name == t.name)
                            .unwrap_or(0)
                    ),
                    "the certificate has expired",
                ));
            }
        }
        Ok(())
    }
}

/// Closes idle next-hop connections that are too old or idle too long.
async fn reap_pools(rt: Arc<Runtime>, stop: CancellationToken) {
    loop {
        let period = secs(rt.snapshot().config.next_hop.idle_timeout).min(Duration::from_secs(10));
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let snapshot = rt.snapshot();
        for t in &snapshot.tenants.list {
            t.pool.reap(&snapshot.config);
        }
        rt.publish_certificates();
    }
}
