//! What the relay's tasks share: the reloadable snapshot (configuration, tenants, listener TLS,
//! allow-list) behind `arc-swap`, and what lives as long as the relay (metrics, the byte
//! budget, semaphores, the resolver, the shutdown tokens and the task tracker).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use ipnet::IpNet;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::{RelayConfig, Roots};
use super::metrics::Metrics;
use super::pool::InjectionPool;
use super::resolver::Resolver;
use super::tenants::TenantTable;
use super::tls;
use crate::{Error, Result};

/// Everything a reload replaces, built and checked as a whole before it is swapped in.
pub(crate) struct Snapshot {
    pub config: RelayConfig,
    pub tenants: TenantTable,
    pub acceptor: TlsAcceptor,
    pub allow: AllowList,
}

impl Snapshot {
    /// Reads every file the configuration names and checks it.
    pub(crate) fn build(config: RelayConfig) -> Result<Snapshot> {
        let l = &config.listener;
        let chain = tls::load_certs(&config.resolve(&l.certificate), "listener.certificate")?;
        let key = tls::load_key(&config.resolve(&l.private_key), "listener.private_key")?;
        let info = tls::CertInfo::read(&chain[0], "listener.certificate")?;
        if !info.rsa && !l.allow_non_rsa_certificate {
            return Err(Error::validation(
                "listener.certificate",
                "Exchange Online's cipher suites are RSA-only: use an RSA certificate \
                 (or set allow_non_rsa_certificate = true)",
            ));
        }
        if info.seconds_left() <= 0 {
            return Err(Error::validation(
                "listener.certificate",
                "the certificate has expired",
            ));
        }
        let client_roots = l
            .client_certificate_roots
            .as_ref()
            .map(|p| tls::roots_from_file(&config.resolve(p), "listener.client_certificate_roots"))
            .transpose()?;
        let server = tls::server_config(chain, key, client_roots, "listener.private_key")?;
        let roots = Arc::new(match &config.next_hop.roots {
            Roots::Named(_) => tls::webpki_roots(),
            Roots::File { file } => tls::roots_from_file(&config.resolve(file), "next_hop.roots")?,
        });
        let tenants = TenantTable::build(&config, roots)?;
        let allow = match &l.allow_list {
            Some(p) if !l.allow_any_source => AllowList::load(&config.resolve(p))?,
            _ => AllowList::Any,
        };
        Ok(Snapshot {
            acceptor: TlsAcceptor::from(server),
            tenants,
            allow,
            config,
        })
    }
}

/// Source addresses allowed to connect.
#[derive(Debug, Clone)]
pub(crate) enum AllowList {
    Any,
    Ranges(Vec<IpNet>),
}

impl AllowList {
    /// Reads one address or CIDR range per line; `#` starts a comment.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::validation(
                "listener.allow_list",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let mut ranges = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let net = line
                .parse::<IpNet>()
                .or_else(|_| line.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    Error::validation(
                        "listener.allow_list",
                        format!(
                            "{} line {}: {line:?} is not an address or CIDR range",
                            path.display(),
                            n + 1
                        ),
                    )
                })?;
            ranges.push(net);
        }
        Ok(AllowList::Ranges(ranges))
    }

    pub(crate) fn allows(&self, ip: IpAddr) -> bool {
        match self {
            AllowList::Any => true,
            AllowList::Ranges(r) => {
                let ip = ip.to_canonical();
                r.iter().any(|n| n.contains(&ip))
            }
        }
    }
}

/// The memory budget for messages in flight, in bytes.
pub(crate) struct Budget {
    sem: Arc<Semaphore>,
    gauge: Gauge,
}

/// Bytes reserved for one transaction, given back when dropped.
pub(crate) struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
    sem: Arc<Semaphore>,
    bytes: u64,
    gauge: Gauge,
}

/// Reservations grow in steps of at least this much.
const STEP: u64 = 16 * 1024;

impl Budget {
    pub(crate) fn new(bytes: u64, gauge: Gauge) -> Self {
        let permits = (bytes as usize).min(Semaphore::MAX_PERMITS);
        Budget {
            sem: Arc::new(Semaphore::new(permits)),
            gauge,
        }
    }

    /// An empty reservation to grow.
    pub(crate) fn reservation(&self) -> Reservation {
        Reservation {
            permit: None,
            sem: self.sem.clone(),
            bytes: 0,
            gauge: self.gauge.clone(),
        }
    }
}

impl Reservation {
    /// Makes sure `bytes` are reserved; `false` when the budget cannot give them now.
    pub(crate) fn ensure(&mut self, bytes: u64) -> bool {
        if bytes <= self.bytes {
            return true;
        }
        let want = (bytes - self.bytes).max(STEP).max(self.bytes / 4);
        let Ok(n) = u32::try_from(want) else {
            return false;
        };
        match self.sem.clone().try_acquire_many_owned(n) {
            Ok(p) => {
                match &mut self.permit {
                    Some(held) => held.merge(p),
                    None => self.permit = Some(p),
                }
                self.bytes += want;
                self.gauge.inc_by(want as i64);
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.gauge.dec_by(self.bytes as i64);
    }
}

/// What lives as long as the relay.
pub(crate) struct Runtime {
    pub snapshot: ArcSwap<Snapshot>,
    pub metrics: Arc<Metrics>,
    pub budget: Budget,
    pub connections: Arc<Semaphore>,
    /// The threads that sign messages off the async workers.
    pub injection: InjectionPool,
    pub resolver: Arc<dyn Resolver>,
    /// Stop accepting; sessions answer 421 to new transactions.
    pub shutdown: CancellationToken,
    /// Drop every session now (after the grace period).
    pub abort: CancellationToken,
    pub tracker: TaskTracker,
}

impl Runtime {
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Sets the certificate expiry gauges of the current tenants.
    pub(crate) fn publish_certificates(&self) {
        for t in &self.snapshot.load().tenants.list {
            self.metrics
                .certificate_expiry(&t.name, t.certificate.seconds_left());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_reads_ranges_and_addresses_and_names_a_bad_line() {
        let dir = std::env::temp_dir().join(format!("sigsync-allow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("allow.txt");
        std::fs::write(
            &p,
            "# Exchange Online\n40.92.0.0/15\n2a01:111:f400::/48 # v6\n\n127.0.0.1\n",
        )
        .unwrap();
        let a = AllowList::load(&p).unwrap();
        assert!(a.allows("40.93.214.103".parse().unwrap()));
        assert!(a.allows("2a01:111:f400::1".parse().unwrap()));
        assert!(
            a.allows("::ffff:127.0.0.1".parse().unwrap()),
            "v4-mapped v6"
        );
        assert!(!a.allows("10.0.0.1".parse().unwrap()));
        std::fs::write(&p, "40.92.0.0/15\nnot-an-ip\n").unwrap();
        let e = AllowList::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("listener.allow_list") && e.contains("line 2"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reservations_grow_within_the_budget_and_give_back_on_drop() {
        let gauge = Gauge::default();
        let b = Budget::new(1 << 20, gauge.clone());
        let mut r1 = b.reservation();
        assert!(r1.ensure(600 * 1024));
        let mut r2 = b.reservation();
        assert!(!r2.ensure(600 * 1024), "over the budget");
        assert!(r2.ensure(100 * 1024));
        assert!(r2.ensure(101 * 1024), "grows by a step");
        assert!(gauge.get() > 0);
        drop(r1);
        drop(r2);
        assert_eq!(gauge.get(), 0);
        let mut r3 = b.reservation();
        assert!(r3.ensure(1 << 20));
    }
}
