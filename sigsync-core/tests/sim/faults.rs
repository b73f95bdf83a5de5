//! Faults (before and after the write applies), replication lag, history, latency, the
//! faults file, and the state saved as JSON.

use serde_json::json;
use sigsync_core::exchange::sim::{Fault, SimFaults, SimGroup, SimSettings, SimTenant};
use sigsync_core::exchange::{CmdletInput, ExchangeClient, GroupKind};
use sigsync_core::ErrorKind;

use crate::common::*;
use crate::*;

#[test]
fn faults_fail_the_chosen_calls_with_the_chosen_class() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.inject(Fault::on_call(2, ErrorKind::Throttled));
        t.inject(Fault::on_cmdlet("New-InboundConnector", ErrorKind::Transient).times(1));
        t.list_outbound_connectors().await.unwrap();
        let e = t.list_outbound_connectors().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert_eq!(e.status(), Some(429));
        assert!(e.retry_after().is_some());
        t.list_outbound_connectors().await.unwrap();
        let e = t.create_inbound_connector(&inbound()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transient);
        t.create_inbound_connector(&inbound()).await.unwrap();
        let calls = t.calls();
        assert_eq!(calls.len(), 5);
        assert_eq!(calls[1].error, Some(ErrorKind::Throttled));
        assert_eq!(calls[3].error, Some(ErrorKind::Transient));
        assert_eq!(t.write_count(), 2);

        t.clear_faults();
        t.reset_calls();
        t.inject(Fault::every_nth(3, ErrorKind::Forbidden));
        let results: Vec<bool> = futures_lite(&t).await;
        assert_eq!(results, [true, true, false, true, true, false]);
    });
}

async fn futures_lite(t: &SimTenant) -> Vec<bool> {
    let mut out = Vec::new();
    for _ in 0..6 {
        out.push(t.list_transport_rules().await.is_ok());
    }
    out
}

#[test]
fn failed_call_changes_nothing() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.inject(Fault::on_writes(ErrorKind::Transient));
        assert!(t.create_outbound_connector(&outbound()).await.is_err());
        assert!(t.snapshot().outbound.is_empty());
    });
}

#[test]
fn replication_lag_hides_new_objects_from_the_next_reads() {
    rt().block_on(async {
        let t = SimTenant::with_settings(SimSettings {
            replication_lag_reads: 2,
            ..Default::default()
        });
        t.create_outbound_connector(&outbound()).await.unwrap();
        assert!(t.list_outbound_connectors().await.unwrap().is_empty());
        // The rule's connector lookup is a read too, and fails while the connector is invisible.
        let e = t.create_transport_rule(&rule()).await.unwrap_err();
        assert!(e.to_string().contains("couldn't be found"), "{e}");
        assert_eq!(t.list_outbound_connectors().await.unwrap().len(), 1);
        t.create_transport_rule(&rule()).await.unwrap();
    });
}

#[test]
fn fault_after_commit_applies_every_write_kind_and_then_reports_the_failure() {
    rt().block_on(async {
        let t = SimTenant::new();
        for kind in [ErrorKind::Transient, ErrorKind::Network] {
            t.inject(Fault::on_writes(kind).after_commit());
        }
        // Each write kind takes effect although the caller is told it failed.
        let e = t.create_outbound_connector(&outbound()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert_eq!(t.snapshot().outbound.len(), 1);
        t.create_inbound_connector(&inbound()).await.unwrap_err();
        t.create_transport_rule(&rule()).await.unwrap_err();
        let change = params(json!({"Comment": "after commit"}));
        t.update_outbound_connector(OUTBOUND, &change)
            .await
            .unwrap_err();
        t.disable_transport_rule(RULE).await.unwrap_err();
        let snap = t.snapshot();
        assert_eq!(snap.outbound[0].definition.comment(), Some("after commit"));
        assert!(!snap.rules[0].definition.enabled());
        t.enable_transport_rule(RULE).await.unwrap_err();
        assert!(t.snapshot().rules[0].definition.enabled());
        t.remove_transport_rule(RULE).await.unwrap_err();
        assert!(t.snapshot().rules.is_empty());
        assert!(t.calls().iter().all(|c| c.applied && c.error.is_some()));
        // A write that fails on its own merits is not applied, and reads never are.
        let e = t.remove_transport_rule(RULE).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        t.inject(Fault::on_cmdlet("Get-TransportRule", ErrorKind::Transient).after_commit());
        t.list_transport_rules().await.unwrap_err();
        let calls = t.calls();
        assert!(calls.iter().rev().take(2).all(|c| !c.applied));
    });
}

#[test]
fn lag_shows_the_old_state_after_every_write_kind() {
    rt().block_on(async {
        let t = configured().await;
        t.set_settings(SimSettings {
            change_lag_reads: 1,
            removal_lag_reads: 1,
            ..Default::default()
        });
        // Update: the next read still shows the old value, the one after the new.
        let change = params(json!({"SmartHosts": ["smtp2.signatures.example.com"]}));
        t.update_outbound_connector(OUTBOUND, &change)
            .await
            .unwrap();
        let hosts = |c: &[sigsync_core::exchange::Existing<
            sigsync_core::model::OutboundConnector,
        >]| { c[0].definition.smart_hosts().to_vec() };
        assert_eq!(
            hosts(&t.list_outbound_connectors().await.unwrap()),
            ["smtp.signatures.example.com"]
        );
        assert_eq!(
            hosts(&t.list_outbound_connectors().await.unwrap()),
            ["smtp2.signatures.example.com"]
        );
        // Disable and enable: one stale read each.
        t.disable_transport_rule(RULE).await.unwrap();
        assert!(t.list_transport_rules().await.unwrap()[0]
            .definition
            .enabled());
        assert!(!t.list_transport_rules().await.unwrap()[0]
            .definition
            .enabled());
        t.enable_transport_rule(RULE).await.unwrap();
        assert!(!t.list_transport_rules().await.unwrap()[0]
            .definition
            .enabled());
        assert!(t.list_transport_rules().await.unwrap()[0]
            .definition
            .enabled());
        // Removal: the next read (a list or a Get by name) still finds it.
        t.remove_transport_rule(RULE).await.unwrap();
        assert_eq!(t.list_transport_rules().await.unwrap().len(), 1);
        assert!(t.list_transport_rules().await.unwrap().is_empty());
        t.remove_inbound_connector(INBOUND).await.unwrap();
        let got = t
            .invoke_sync(&CmdletInput::new(
                "Get-InboundConnector",
                params(json!({"Identity": INBOUND})),
            ))
            .unwrap();
        assert_eq!(got.len(), 1);
        assert!(t.list_inbound_connectors().await.unwrap().is_empty());
        // The tenant itself changed at once.
        let snap = t.snapshot();
        assert!(snap.rules.is_empty() && snap.inbound.is_empty());
    });
}

#[test]
fn history_keeps_the_state_after_each_write() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.record_history();
        t.create_outbound_connector(&outbound()).await.unwrap();
        t.list_outbound_connectors().await.unwrap();
        t.inject(Fault::on_writes(ErrorKind::Rejected).times(1));
        t.create_inbound_connector(&inbound()).await.unwrap_err();
        t.create_inbound_connector(&inbound()).await.unwrap();
        let history = t.history();
        let seen: Vec<(String, bool, usize)> = history
            .iter()
            .map(|(c, s)| (c.cmdlet.clone(), c.applied, s.inbound.len()))
            .collect();
        assert_eq!(
            seen,
            [
                ("New-OutboundConnector".to_owned(), true, 0),
                ("New-InboundConnector".to_owned(), false, 0),
                ("New-InboundConnector".to_owned(), true, 1),
            ]
        );
    });
}

#[test]
fn faults_file_sets_faults_and_lag() {
    let faults = SimFaults::from_json(
        r#"{"redirects": 1, "replication_lag_reads": 2, "change_lag_reads": 1,
            "removal_lag_reads": 3, "throttle_retry_after_ms": 10,
            "faults": [{"trigger": {"every_nth": 3}, "kind": "throttled"},
                       {"trigger": {"cmdlet": "New-TransportRule"}, "kind": "transient",
                        "times": 1, "after_commit": true},
                       {"trigger": "writes", "kind": "rejected", "times": 1}]}"#,
    )
    .unwrap();
    assert_eq!(faults.redirects, 1);
    assert!(faults.faults[1].after_commit);
    let t = SimTenant::new();
    faults.apply_to(&t);
    let s = t.settings();
    assert_eq!(
        (
            s.replication_lag_reads,
            s.change_lag_reads,
            s.removal_lag_reads,
            s.throttle_retry_after_ms
        ),
        (2, 1, 3, 10)
    );
    let e = SimFaults::from_json(r#"{"fault": []}"#).unwrap_err();
    assert!(e.to_string().contains("fault"), "{e}");
    let e =
        SimFaults::from_json(r#"{"faults": [{"trigger": "writes", "kind": "nope"}]}"#).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn latency_delays_each_call() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.set_latency(std::time::Duration::from_millis(30));
        let start = std::time::Instant::now();
        t.list_transport_rules().await.unwrap();
        assert!(start.elapsed() >= std::time::Duration::from_millis(30));
    });
}

#[test]
fn state_saves_and_loads_as_json() {
    rt().block_on(async {
        let t = configured().await;
        t.add_accepted_domain("contoso.com", true);
        t.add_group(SimGroup::new(
            "Sales",
            Some("sales@contoso.com"),
            GroupKind::Distribution,
        ));
        let dir = std::env::temp_dir().join(format!("sigsync-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tenant.json");
        t.save_to(&path).unwrap();
        let back = SimTenant::load_from(&path).unwrap();
        assert_eq!(back.snapshot(), t.snapshot());
        assert_eq!(
            back.list_accepted_domains().await.unwrap(),
            t.list_accepted_domains().await.unwrap()
        );
        assert_eq!(
            back.list_mail_enabled_groups().await.unwrap(),
            t.list_mail_enabled_groups().await.unwrap()
        );
        assert!(SimTenant::load_json("{not json").is_err());
        std::fs::remove_dir_all(dir).ok();
    });
}
