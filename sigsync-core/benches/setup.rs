//! Setup round trips and wall time against the simulated tenant with 50 ms per call, beside a
//! naive script that issues the same cmdlets one after another (the baseline, same run).
//!
//! Run: `cargo bench -p sigsync-core --features sim --bench setup`

use std::sync::Arc;
use std::time::{Duration, Instant};

use sigsync_core::exchange::sim::SimTenant;
use sigsync_core::exchange::ExchangeClient;
use sigsync_core::setup::{no_progress, ConnectorSetup, ServiceProfile, SetupEngine};

const LATENCY: Duration = Duration::from_millis(50);

fn tenant() -> SimTenant {
    let t = SimTenant::new();
    t.add_accepted_domain("contoso.com", true);
    t.add_accepted_domain("tenant1.smtp.signatures.example.com", false);
    t
}

fn setup() -> ConnectorSetup {
    let profile = ServiceProfile::builder()
        .smart_hosts(["smtp.signatures.example.com"])
        .certificate_name("tenant1.smtp.signatures.example.com")
        .build()
        .expect("valid profile");
    ConnectorSetup::builder(profile)
        .build()
        .expect("valid setup")
}

struct Figure {
    name: &'static str,
    wall: Duration,
    calls: usize,
    writes: usize,
}

impl Figure {
    fn rounds(&self) -> f64 {
        self.wall.as_secs_f64() / LATENCY.as_secs_f64()
    }
}

async fn measure<F: std::future::Future<Output = ()>>(
    name: &'static str,
    t: &SimTenant,
    f: F,
) -> Figure {
    t.reset_calls();
    let start = Instant::now();
    f.await;
    let wall = start.elapsed();
    Figure {
        name,
        wall,
        calls: t.calls().len(),
        writes: t.write_count(),
    }
}

/// What an admin's script does: check each object, then create or remove it, one call at a time.
async fn naive_configure(t: &SimTenant, s: &ConnectorSetup) {
    let d = s.desired();
    let outbound = t.list_outbound_connectors().await.expect("read");
    let inbound = t.list_inbound_connectors().await.expect("read");
    let rules = t.list_transport_rules().await.expect("read");
    let _domains = t.list_accepted_domains().await.expect("read");
    if !outbound.iter().any(|c| c.name() == d.outbound.name()) {
        t.create_outbound_connector(&d.outbound)
            .await
            .expect("create");
    }
    if !inbound.iter().any(|c| c.name() == d.inbound.name()) {
        t.create_inbound_connector(&d.inbound)
            .await
            .expect("create");
    }
    for rule in d.auto_reply_rule.iter().chain([&d.routing_rule]) {
        if !rules.iter().any(|r| r.name() == rule.name()) {
            t.create_transport_rule(rule).await.expect("create");
        }
    }
}

async fn naive_remove(t: &SimTenant, s: &ConnectorSetup) {
    let n = &s.profile.names;
    let rules = t.list_transport_rules().await.expect("read");
    let outbound = t.list_outbound_connectors().await.expect("read");
    let inbound = t.list_inbound_connectors().await.expect("read");
    for name in [&n.routing_rule, &n.auto_reply_rule] {
        if rules.iter().any(|r| r.name() == name) {
            t.remove_transport_rule(name).await.expect("remove");
        }
    }
    if outbound.iter().any(|c| c.name() == n.outbound_connector) {
        t.remove_outbound_connector(&n.outbound_connector)
            .await
            .expect("remove");
    }
    if inbound.iter().any(|c| c.name() == n.inbound_connector) {
        t.remove_inbound_connector(&n.inbound_connector)
            .await
            .expect("remove");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let s = setup();
    let figures = rt.block_on(async {
        let t = tenant();
        t.set_latency(LATENCY);
        let engine = SetupEngine::new(Arc::new(t.clone()));
        let mut f = Vec::new();
        f.push(
            measure("sigsync: fresh configure", &t, async {
                assert!(engine
                    .configure(&s, &no_progress)
                    .await
                    .expect("configure")
                    .succeeded());
            })
            .await,
        );
        f.push(
            measure("sigsync: converged re-run", &t, async {
                assert_eq!(
                    engine
                        .configure(&s, &no_progress)
                        .await
                        .expect("configure")
                        .writes,
                    0
                );
            })
            .await,
        );
        f.push(
            measure("sigsync: remove", &t, async {
                assert!(engine
                    .remove(&s, &no_progress)
                    .await
                    .expect("remove")
                    .succeeded());
            })
            .await,
        );
        f.push(measure("naive script: fresh configure", &t, naive_configure(&t, &s)).await);
        f.push(
            measure(
                "naive script: converged re-run",
                &t,
                naive_configure(&t, &s),
            )
            .await,
        );
        f.push(measure("naive script: remove", &t, naive_remove(&t, &s)).await);
        f
    });
    println!(
        "setup against the simulated tenant, {} ms per call",
        LATENCY.as_millis()
    );
    println!(
        "{:<34} {:>8} {:>7} {:>6} {:>7}",
        "operation", "wall ms", "rounds", "calls", "writes"
    );
    for f in &figures {
        println!(
            "{:<34} {:>8.0} {:>7.1} {:>6} {:>7}",
            f.name,
            f.wall.as_secs_f64() * 1000.0,
            f.rounds(),
            f.calls,
            f.writes
        );
    }
    for (ours, naive) in [(0, 3), (1, 4), (2, 5)] {
        println!(
            "{}: {:.1}x faster than the naive script",
            figures[ours].name,
            figures[naive].wall.as_secs_f64() / figures[ours].wall.as_secs_f64()
        );
    }
}
