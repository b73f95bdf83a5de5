//! Issue 5 end to end: the setup engine driving the real REST client, signed in with the
//! real device-code flow, against the simulated tenant over HTTP, with 429s and 503s on a
//! third of the calls and directory replication lag.

use std::sync::Arc;

use sigsync_core::exchange::sim::{Fault, SimServer, SimServerOptions, SimSettings, SimTenant};
use sigsync_core::exchange::{RetryPolicy, RetryingClient};
use sigsync_core::setup::{no_progress, ConnectorSetup, SetupEngine, SetupStatus};
use sigsync_core::ErrorKind;

use crate::common::*;
use crate::setup_support::{groups_external_setup as sales_and_marketing_external, setup};
use crate::simulator::{rest, sign_in};

fn all_users() -> ConnectorSetup {
    setup()
}

fn tenant() -> SimTenant {
    crate::setup_support::tenant(SimSettings {
        replication_lag_reads: 1,
        ..Default::default()
    })
}

/// Reads the status until the tenant shows `want` (replication lag hides new objects from
/// the first reads), at most a few times.
async fn settle(engine: &SetupEngine, setup: &ConnectorSetup, want: SetupStatus) {
    let mut last = None;
    for _ in 0..4 {
        let status = engine.status(setup).await.unwrap().status;
        if status == want {
            return;
        }
        last = Some(status);
    }
    panic!("the tenant never showed {want}; last {last:?}");
}

#[tokio::test]
async fn setup_lifecycle_over_http_converges_through_throttling_busy_backends_and_lag() {
    let server = SimServer::start(
        tenant(),
        SimServerOptions {
            page_size: 1,
            ..Default::default()
        },
    )
    .await;
    let provider = sign_in(&server).await;
    let clock = TestClock::new();
    let client = RetryingClient::with_clock(
        rest(&server, Arc::new(provider)),
        RetryPolicy::default(),
        clock.clone(),
    );
    let engine = SetupEngine::new(Arc::new(client));
    let sim = server.tenant();
    sim.inject(Fault::every_nth(3, ErrorKind::Throttled));
    sim.inject(Fault::every_nth(7, ErrorKind::Transient));

    // Configure.
    let report = engine.configure(&all_users(), &no_progress).await.unwrap();
    assert!(report.succeeded(), "{report}");
    settle(&engine, &all_users(), SetupStatus::Configured).await;

    // Re-run: nothing to do, no write sent.
    let writes = sim.write_count();
    let (plan, _) = engine.plan(&all_users()).await.unwrap();
    assert!(plan.is_empty(), "{plan}");
    let rerun = engine.configure(&all_users(), &no_progress).await.unwrap();
    assert_eq!(rerun.writes, 0, "{rerun}");
    assert_eq!(sim.write_count(), writes);

    // Pause, then resume.
    let paused = engine.pause(&all_users(), &no_progress).await.unwrap();
    assert!(paused.succeeded(), "{paused}");
    settle(&engine, &all_users(), SetupStatus::Paused).await;
    let resumed = engine.resume(&all_users(), &no_progress).await.unwrap();
    assert!(resumed.succeeded(), "{resumed}");
    settle(&engine, &all_users(), SetupStatus::Configured).await;

    // Change the senders to two groups (resolved through Graph, one group per page).
    let changed = engine
        .configure(&sales_and_marketing_external(), &no_progress)
        .await
        .unwrap();
    assert!(changed.succeeded(), "{changed}");
    let (plan, _) = engine.plan(&sales_and_marketing_external()).await.unwrap();
    assert!(plan.is_empty(), "{plan}");
    let rules = sim.snapshot().rules;
    let routing = rules
        .iter()
        .find(|r| r.definition.route_message_outbound_connector().is_some())
        .expect("the routing rule");
    let params = sigsync_core::model::Definition::to_params(&routing.definition);
    assert_eq!(
        params["FromMemberOf"],
        serde_json::json!(["sales@contoso.com", "marketing@contoso.com"])
    );

    // Remove everything.
    let removed = engine
        .remove(&sales_and_marketing_external(), &no_progress)
        .await
        .unwrap();
    assert!(removed.succeeded(), "{removed}");
    settle(&engine, &all_users(), SetupStatus::Absent).await;
    let snapshot = sim.snapshot();
    assert!(
        snapshot.outbound.is_empty() && snapshot.inbound.is_empty() && snapshot.rules.is_empty()
    );

    let calls = sim.calls();
    let failed = |k| calls.iter().filter(|c| c.error == Some(k)).count();
    assert!(failed(ErrorKind::Throttled) >= calls.len() / 4, "{calls:?}");
    assert!(failed(ErrorKind::Transient) > 0, "{calls:?}");
}
