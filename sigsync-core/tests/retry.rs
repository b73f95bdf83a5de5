//! The one retry layer: what it retries, how long it waits, and where it stops.

mod common;
#[path = "common/http.rs"]
mod http_fixtures;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use http_fixtures::TestClock;
use sigsync_core::exchange::sim::{Fault, SimSettings, SimTenant};
use sigsync_core::exchange::{ExchangeClient, RetryPolicy, RetryingClient};
use sigsync_core::ErrorKind;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client(t: &SimTenant, clock: &Arc<TestClock>) -> RetryingClient<SimTenant> {
    RetryingClient::with_clock(t.clone(), RetryPolicy::default(), clock.clone())
}

#[test]
fn throttling_is_retried_after_the_servers_retry_after() {
    rt().block_on(async {
        let t = SimTenant::with_settings(SimSettings {
            throttle_retry_after_ms: 7000,
            ..Default::default()
        });
        t.inject(Fault::on_call(1, ErrorKind::Throttled));
        let clock = TestClock::new();
        client(&t, &clock).list_transport_rules().await.unwrap();
        assert_eq!(clock.sleeps(), [Duration::from_secs(7)]);
    });
}

#[test]
fn transient_errors_back_off_exponentially_then_give_up() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.inject(Fault::on_cmdlet(
            "Get-InboundConnector",
            ErrorKind::Transient,
        ));
        let clock = TestClock::new();
        let e = client(&t, &clock)
            .list_inbound_connectors()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert_eq!(clock.sleeps(), [2, 4, 8, 16].map(Duration::from_secs));
        assert_eq!(t.calls().len(), 5);
    });
}

#[test]
fn total_wait_is_bounded() {
    rt().block_on(async {
        let t = SimTenant::with_settings(SimSettings {
            throttle_retry_after_ms: 25_000,
            ..Default::default()
        });
        t.inject(Fault::on_cmdlet("Get-TransportRule", ErrorKind::Throttled));
        let clock = TestClock::new();
        let policy = RetryPolicy {
            max_total: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let c = RetryingClient::with_clock(t.clone(), policy, clock.clone());
        assert!(c.list_transport_rules().await.is_err());
        assert_eq!(
            clock.sleeps(),
            [Duration::from_secs(25), Duration::from_secs(25)]
        );
    });
}

#[test]
fn validation_errors_are_not_retried() {
    rt().block_on(async {
        let t = SimTenant::new();
        let clock = TestClock::new();
        let e = client(&t, &clock)
            .create_transport_rule(&rule())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert!(clock.sleeps().is_empty());
        let creates = t
            .calls()
            .iter()
            .filter(|c| c.cmdlet == "New-TransportRule")
            .count();
        assert_eq!(creates, 1);
    });
}

#[test]
fn not_found_is_retried_only_shortly_after_our_own_create() {
    rt().block_on(async {
        let t = SimTenant::with_settings(SimSettings {
            replication_lag_reads: 1,
            ..Default::default()
        });
        let clock = TestClock::new();
        let c = client(&t, &clock);
        // Unknown objects are not retried.
        assert_eq!(
            c.remove_inbound_connector("never created")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert!(clock.sleeps().is_empty());
        // Right after the create, the connector is invisible once: the rule creation retries.
        c.create_outbound_connector(&outbound()).await.unwrap();
        c.create_transport_rule(&rule()).await.unwrap();
        assert_eq!(clock.sleeps().len(), 1);
    });
}

#[test]
fn a_retried_create_that_landed_is_success() {
    rt().block_on(async {
        // The first New-* fails after the server acted on it: simulate by creating behind the
        // client's back, then failing the client's first attempt.
        let t = SimTenant::new();
        t.create_inbound_connector(&inbound()).await.unwrap();
        t.reset_calls();
        t.inject(Fault::on_call(1, ErrorKind::Network));
        let clock = TestClock::new();
        let created = client(&t, &clock)
            .create_inbound_connector(&inbound())
            .await
            .unwrap();
        assert_eq!(created.definition, inbound());
    });
}

#[test]
fn a_retried_create_that_meets_a_different_object_reports_already_exists() {
    rt().block_on(async {
        // An object of that name existed before (unlike the one asked for): the retry's
        // "already exists" is not the first attempt landing, and must not pass for it.
        let t = SimTenant::new();
        let older = inbound()
            .to_builder()
            .tls_sender_certificate_name("old.signatures.example.com")
            .build()
            .unwrap();
        t.create_inbound_connector(&older).await.unwrap();
        t.reset_calls();
        t.inject(Fault::on_call(1, ErrorKind::Throttled));
        let clock = TestClock::new();
        let e = client(&t, &clock)
            .create_inbound_connector(&inbound())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        // The same thing applied and then reported lost: that one is success.
        t.clear_faults();
        t.remove_inbound_connector(INBOUND).await.unwrap();
        t.reset_calls();
        t.inject(Fault::on_call(1, ErrorKind::Network).after_commit());
        let created = client(&t, &clock)
            .create_inbound_connector(&inbound())
            .await
            .unwrap();
        assert_eq!(created.definition, inbound());
    });
}

#[test]
fn a_write_that_ends_refused_after_an_attempt_that_may_have_landed_stays_uncertain() {
    rt().block_on(async {
        // The first attempt lands and its answer is lost; the retry is refused (here: the rule
        // name is taken, as the first attempt took it, but the read that would show it lags).
        let t = SimTenant::with_settings(SimSettings {
            replication_lag_reads: 5,
            ..Default::default()
        });
        t.inject(Fault::on_call(1, ErrorKind::Transient).after_commit());
        let clock = TestClock::new();
        let rule = sigsync_core::model::TransportRule::builder("R")
            .set_header("X-A", "b")
            .build()
            .unwrap();
        let e = client(&t, &clock)
            .create_transport_rule(&rule)
            .await
            .unwrap_err();
        assert!(sigsync_core::exchange::may_have_applied(&e), "{e}");
        assert!(e.to_string().contains("may have taken effect"), "{e}");
        assert_eq!(t.snapshot().rules.len(), 1);
        // A read that failed the same way is just the last error.
        t.reset_calls();
        t.inject(Fault::on_call(1, ErrorKind::Transient));
        t.inject(Fault::on_call(2, ErrorKind::Forbidden));
        let e = client(&t, &clock).list_transport_rules().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Forbidden);
    });
}

#[test]
fn a_retried_removal_that_landed_is_success() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.create_inbound_connector(&inbound()).await.unwrap();
        t.remove_inbound_connector(INBOUND).await.unwrap();
        t.reset_calls();
        t.inject(Fault::on_call(1, ErrorKind::Transient));
        // A first attempt "failed" (in truth the object is already gone): the retry's NotFound is success.
        let clock = TestClock::new();
        client(&t, &clock)
            .remove_inbound_connector(INBOUND)
            .await
            .unwrap();
    });
}
