//! Counters and latency histograms per tenant, a Prometheus text endpoint with a health check,
//! and the same counters as a snapshot for callers ([`RelayStats`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What became of a message, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Event {
    /// The next hop's 250 was passed on.
    Accepted,
    /// The signature was inserted.
    Injected,
    /// Passed through unsigned, for a reason that is not an error.
    Skipped,
    /// Passed through unsigned because injection failed (or ran past its deadline).
    Failed,
    /// A 4xx ended the transaction (Exchange retries).
    Deferred,
    /// A 5xx ended the transaction (Exchange sends an NDR).
    Rejected,
}

impl Event {
    const ALL: [Event; 6] = [
        Event::Accepted,
        Event::Injected,
        Event::Skipped,
        Event::Failed,
        Event::Deferred,
        Event::Rejected,
    ];

    fn label(self) -> &'static str {
        match self {
            Event::Accepted => "accepted",
            Event::Injected => "injected",
            Event::Skipped => "skipped",
            Event::Failed => "failed",
            Event::Deferred => "deferred",
            Event::Rejected => "rejected",
        }
    }
}

/// One tenant's metric handles, looked up once (the families hash their labels on every
/// lookup).
#[derive(Clone)]
pub(crate) struct TenantMetrics {
    counters: [Counter; 6],
    transaction: Histogram,
    injection: Histogram,
    next_hop: Histogram,
}

impl TenantMetrics {
    pub(crate) fn event(&self, event: Event) {
        self.counters[event as usize].inc();
    }

    pub(crate) fn transaction_time(&self, seconds: f64) {
        self.transaction.observe(seconds);
    }

    pub(crate) fn injection_time(&self, seconds: f64) {
        self.injection.observe(seconds);
    }

    pub(crate) fn next_hop_time(&self, seconds: f64) {
        self.next_hop.observe(seconds);
    }
}

/// The tenant label of transactions no tenant could be found for.
pub(crate) const UNATTRIBUTED: &str = "unattributed";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MessageLabels {
    tenant: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    tenant: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

type HistogramFamily = Family<TenantLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// The relay's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    messages: Family<MessageLabels, Counter>,
    config_replies: Family<ReasonLabels, Counter>,
    transaction_seconds: HistogramFamily,
    injection_seconds: HistogramFamily,
    next_hop_seconds: HistogramFamily,
    certificate_expiry: Family<TenantLabels, Gauge>,
    connections: Gauge,
    refused_connections: Family<ReasonLabels, Counter>,
    bytes_in_flight: Gauge,
    shutting_down: AtomicBool,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("sigsync_relay");
        let messages = Family::<MessageLabels, Counter>::default();
        registry.register(
            "messages",
            "Messages by tenant and outcome (accepted, injected, skipped, failed, deferred, rejected)",
            messages.clone(),
        );
        let config_replies = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "configuration_replies",
            "Next-hop replies that point at our configuration (5.7.64, ATTR35, ATTR46, certificate), turned into 4xx",
            config_replies.clone(),
        );
        let hist = || HistogramFamily::new_with_constructor(latency_histogram as fn() -> Histogram);
        let transaction_seconds = hist();
        registry.register(
            "transaction_seconds",
            "From the sender's end of data to our final reply",
            transaction_seconds.clone(),
        );
        let injection_seconds = hist();
        registry.register(
            "injection_seconds",
            "Signature injection of one message",
            injection_seconds.clone(),
        );
        let next_hop_seconds = hist();
        registry.register(
            "next_hop_seconds",
            "From our end of data to the next hop's final reply",
            next_hop_seconds.clone(),
        );
        let certificate_expiry = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "client_certificate_expiry_seconds",
            "Seconds until the tenant's client certificate expires (negative: expired)",
            certificate_expiry.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open connections from senders",
            connections.clone(),
        );
        let refused_connections = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "refused_connections",
            "Connections refused (reason: allow_list, limit, shutdown)",
            refused_connections.clone(),
        );
        let bytes_in_flight = Gauge::default();
        registry.register(
            "bytes_in_flight",
            "Bytes of messages held in memory (reserved from the budget)",
            bytes_in_flight.clone(),
        );
        Metrics {
            registry,
            messages,
            config_replies,
            transaction_seconds,
            injection_seconds,
            next_hop_seconds,
            certificate_expiry,
            connections,
            refused_connections,
            bytes_in_flight,
            shutting_down: AtomicBool::new(false),
        }
    }

    /// The handles of one tenant's counters and histograms.
    pub(crate) fn tenant(&self, tenant: &str) -> TenantMetrics {
        let labels = TenantLabels {
            tenant: tenant.to_owned(),
        };
        TenantMetrics {
            counters: Event::ALL.map(|e| {
                self.messages
                    .get_or_create(&MessageLabels {
                        tenant: tenant.to_owned(),
                        outcome: e.label().to_owned(),
                    })
                    .clone()
            }),
            transaction: self.transaction_seconds.get_or_create(&labels).clone(),
            injection: self.injection_seconds.get_or_create(&labels).clone(),
            next_hop: self.next_hop_seconds.get_or_create(&labels).clone(),
        }
    }

    pub(crate) fn event(&self, tenant: &str, event: Event) {
        self.messages
            .get_or_create(&MessageLabels {
                tenant: tenant.to_owned(),
                outcome: event.label().to_owned(),
            })
            .inc();
    }

    pub(crate) fn config_reply(&self, tenant: &str, reason: &str) {
        self.config_replies
            .get_or_create(&ReasonLabels {
                tenant: tenant.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub(crate) fn certificate_expiry(&self, tenant: &str, seconds_left: i64) {
        self.certificate_expiry
            .get_or_create(&TenantLabels {
                tenant: tenant.to_owned(),
            })
            .set(seconds_left);
    }

    pub(crate) fn connection_opened(&self) {
        self.connections.inc();
    }

    pub(crate) fn connection_closed(&self) {
        self.connections.dec();
    }

    pub(crate) fn connection_refused(&self, reason: &str) {
        self.refused_connections
            .get_or_create(&ReasonLabels {
                tenant: String::new(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub(crate) fn bytes_in_flight(&self) -> &Gauge {
        &self.bytes_in_flight
    }

    pub(crate) fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// The counters of these tenants (and of unattributed transactions).
    pub(crate) fn stats<'a>(&self, tenants: impl IntoIterator<Item = &'a str>) -> RelayStats {
        let mut out = RelayStats {
            connections: self.connections.get(),
            bytes_in_flight: self.bytes_in_flight.get(),
            ..RelayStats::default()
        };
        for tenant in tenants.into_iter().chain([UNATTRIBUTED]) {
            let get = |e: Event| {
                self.messages
                    .get_or_create(&MessageLabels {
                        tenant: tenant.to_owned(),
                        outcome: e.label().to_owned(),
                    })
                    .get()
            };
            let mut s = TenantStats::default();
            for e in Event::ALL {
                let n = get(e);
                match e {
                    Event::Accepted => s.accepted = n,
                    Event::Injected => s.injected = n,
                    Event::Skipped => s.skipped = n,
                    Event::Failed => s.failed = n,
                    Event::Deferred => s.deferred = n,
                    Event::Rejected => s.rejected = n,
                }
            }
            out.tenants.insert(tenant.to_owned(), s);
        }
        out
    }
}

/// Message counters of one tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TenantStats {
    /// Messages the next hop accepted (its 250 passed on).
    pub accepted: u64,
    /// Messages that got the signature.
    pub injected: u64,
    /// Messages passed through unsigned, not an error (policy, kind, already processed).
    pub skipped: u64,
    /// Messages passed through unsigned because injection failed.
    pub failed: u64,
    /// Transactions that ended in a 4xx (Exchange retries).
    pub deferred: u64,
    /// Transactions that ended in a 5xx.
    pub rejected: u64,
}

/// A snapshot of the relay's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RelayStats {
    /// Per tenant name; `unattributed` holds transactions no tenant could be found for.
    pub tenants: BTreeMap<String, TenantStats>,
    /// Open connections from senders.
    pub connections: i64,
    /// Bytes of messages held in memory.
    pub bytes_in_flight: i64,
}

/// Serves `/metrics` and `/healthz` until `stop` is cancelled.
pub(crate) async fn serve(listener: TcpListener, metrics: Arc<Metrics>, stop: CancellationToken) {
    loop {
        let (tcp, _) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(respond(&metrics, req.uri().path())) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn respond(metrics: &Metrics, path: &str) -> Response<Full<Bytes>> {
    let (status, ctype, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        "/healthz" if metrics.shutting_down.load(Ordering::Relaxed) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "shutting down\n".into(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".into()),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    };
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

/// Binds the metrics endpoint.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_in_the_exposition_and_in_the_snapshot() {
        let m = Metrics::new();
        m.event("contoso", Event::Accepted);
        m.event("contoso", Event::Injected);
        m.event(UNATTRIBUTED, Event::Deferred);
        m.config_reply("contoso", "5.7.64");
        m.tenant("contoso").transaction_time(0.01);
        m.tenant("contoso").event(Event::Rejected);
        m.certificate_expiry("contoso", -5);
        let text = m.encode();
        assert!(
            text.contains(
                "sigsync_relay_messages_total{tenant=\"contoso\",outcome=\"accepted\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains(
            "sigsync_relay_configuration_replies_total{tenant=\"contoso\",reason=\"5.7.64\"} 1"
        ));
        assert!(
            text.contains("sigsync_relay_client_certificate_expiry_seconds{tenant=\"contoso\"} -5")
        );
        assert!(text.contains("sigsync_relay_transaction_seconds_count{tenant=\"contoso\"} 1"));
        let s = m.stats(["contoso", "fabrikam"]);
        assert_eq!(s.tenants["contoso"].accepted, 1);
        assert_eq!(s.tenants["contoso"].injected, 1);
        assert_eq!(s.tenants["contoso"].rejected, 1);
        assert_eq!(s.tenants["fabrikam"], TenantStats::default());
        assert_eq!(s.tenants[UNATTRIBUTED].deferred, 1);
    }
}
