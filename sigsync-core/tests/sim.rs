//! The simulated tenant behaves as Exchange Online does for connectors and rules.

mod common;

use common::*;
use serde_json::json;
use sigsync_core::exchange::sim::{Fault, SimFaults, SimGroup, SimSettings, SimTenant};
use sigsync_core::exchange::{CmdletInput, ExchangeClient, GroupKind};
use sigsync_core::model::{Params, TransportRule};
use sigsync_core::ErrorKind;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn params(v: serde_json::Value) -> Params {
    v.as_object().unwrap().clone()
}

fn rule_named(name: &str, priority: Option<u32>) -> TransportRule {
    let b = TransportRule::builder(name).set_header("X-Test", name);
    match priority {
        Some(p) => b.priority(p),
        None => b,
    }
    .build()
    .unwrap()
}

/// A tenant with the service's connectors and routing rule.
async fn configured() -> SimTenant {
    let t = SimTenant::new();
    t.create_outbound_connector(&outbound()).await.unwrap();
    t.create_inbound_connector(&inbound()).await.unwrap();
    t.create_transport_rule(&rule()).await.unwrap();
    t
}

#[test]
fn connectors_support_create_list_update_remove() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.create_outbound_connector(&outbound()).await.unwrap();
        t.create_inbound_connector(&inbound()).await.unwrap();
        t.update_outbound_connector(OUTBOUND, &params(json!({"Comment": "changed"})))
            .await
            .unwrap();
        t.update_inbound_connector(INBOUND, &params(json!({"EFSkipLastIP": true})))
            .await
            .unwrap();
        let out = t.list_outbound_connectors().await.unwrap();
        assert_eq!(out[0].definition.comment(), Some("changed"));
        let inb = t.list_inbound_connectors().await.unwrap();
        assert!(inb[0].definition.ef_skip_last_ip());
        t.remove_inbound_connector(INBOUND).await.unwrap();
        t.remove_outbound_connector(&out[0].guid).await.unwrap();
        assert!(t.list_outbound_connectors().await.unwrap().is_empty());
        assert!(t.list_inbound_connectors().await.unwrap().is_empty());
    });
}

#[test]
fn rules_support_create_update_enable_disable_remove() {
    rt().block_on(async {
        let t = configured().await;
        t.disable_transport_rule(RULE).await.unwrap();
        assert!(!t.list_transport_rules().await.unwrap()[0]
            .definition
            .enabled());
        t.enable_transport_rule(RULE).await.unwrap();
        assert!(t.list_transport_rules().await.unwrap()[0]
            .definition
            .enabled());
        t.update_transport_rule(
            RULE,
            &params(json!({"FromMemberOf": ["sales@contoso.com"]})),
        )
        .await
        .unwrap();
        assert_eq!(
            t.list_transport_rules().await.unwrap()[0]
                .definition
                .from_member_of(),
            ["sales@contoso.com"]
        );
        t.remove_transport_rule(RULE).await.unwrap();
        assert!(t.list_transport_rules().await.unwrap().is_empty());
    });
}

#[test]
fn names_are_unique_case_insensitively_per_kind() {
    rt().block_on(async {
        let t = configured().await;
        let dup = outbound()
            .to_builder()
            .name(OUTBOUND.to_uppercase())
            .build()
            .unwrap();
        let e = t.create_outbound_connector(&dup).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        assert!(e
            .code()
            .unwrap()
            .contains("ErrorOutboundConnectorAlreadyExistsException"));
        let dup = inbound()
            .to_builder()
            .name(INBOUND.to_lowercase())
            .build()
            .unwrap();
        assert_eq!(
            t.create_inbound_connector(&dup).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        // Rules report duplicates as a plain ArgumentException; the client confirms by reading.
        let dup = rule()
            .to_builder()
            .name(RULE.to_lowercase())
            .build()
            .unwrap();
        let e = t.create_transport_rule(&dup).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        assert_eq!(e.code(), Some("System.ArgumentException"));
        // The same name in the other direction is fine unless the shared-namespace setting is on.
        let same = inbound().to_builder().name(OUTBOUND).build().unwrap();
        t.create_inbound_connector(&same).await.unwrap();
        let strict = SimTenant::with_settings(SimSettings {
            shared_connector_names: true,
            ..Default::default()
        });
        strict.create_outbound_connector(&outbound()).await.unwrap();
        assert_eq!(
            strict
                .create_inbound_connector(&same)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists
        );
    });
}

#[test]
fn rename_to_a_taken_name_is_refused() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.create_transport_rule(&rule_named("A", None))
            .await
            .unwrap();
        t.create_transport_rule(&rule_named("B", None))
            .await
            .unwrap();
        let e = t
            .update_transport_rule("B", &params(json!({"Name": "a"})))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected);
    });
}

#[test]
fn priorities_stay_contiguous_with_insert_and_shift() {
    rt().block_on(async {
        let t = SimTenant::new();
        for n in ["A", "B", "C"] {
            t.create_transport_rule(&rule_named(n, None)).await.unwrap();
        }
        t.create_transport_rule(&rule_named("First", Some(0)))
            .await
            .unwrap();
        let order = |rules: Vec<sigsync_core::exchange::Existing<TransportRule>>| {
            rules
                .iter()
                .map(|r| (r.name().to_owned(), r.definition.priority().unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            order(t.list_transport_rules().await.unwrap()),
            [
                ("First".into(), 0),
                ("A".into(), 1),
                ("B".into(), 2),
                ("C".into(), 3)
            ]
        );
        t.update_transport_rule("C", &params(json!({"Priority": 1})))
            .await
            .unwrap();
        assert_eq!(
            order(t.list_transport_rules().await.unwrap()),
            [
                ("First".into(), 0),
                ("C".into(), 1),
                ("A".into(), 2),
                ("B".into(), 3)
            ]
        );
        t.remove_transport_rule("First").await.unwrap();
        assert_eq!(
            order(t.list_transport_rules().await.unwrap()),
            [("C".into(), 0), ("A".into(), 1), ("B".into(), 2)]
        );
        let e = t
            .create_transport_rule(&rule_named("Far", Some(9)))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert!(e.to_string().contains("Priority"));
    });
}

#[test]
fn rule_limit_is_enforced() {
    rt().block_on(async {
        let t = SimTenant::with_settings(SimSettings {
            max_rules: 3,
            ..Default::default()
        });
        for n in ["A", "B", "C"] {
            t.create_transport_rule(&rule_named(n, None)).await.unwrap();
        }
        let e = t
            .create_transport_rule(&rule_named("D", None))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("maximum number of transport rules"),
            "{e}"
        );
        assert_eq!(SimSettings::default().max_rules, 300);
    });
}

#[test]
fn rule_must_route_to_an_existing_enabled_rule_scoped_connector() {
    rt().block_on(async {
        let t = SimTenant::new();
        let e = t.create_transport_rule(&rule()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert!(e.to_string().contains("couldn't be found"), "{e}");

        let disabled = outbound().to_builder().enabled(false).build().unwrap();
        t.create_outbound_connector(&disabled).await.unwrap();
        let e = t.create_transport_rule(&rule()).await.unwrap_err();
        assert!(e.to_string().contains("is disabled"), "{e}");

        t.update_outbound_connector(OUTBOUND, &params(json!({"Enabled": true, "IsTransportRuleScoped": false, "RecipientDomains": ["fabrikam.com"]})))
            .await
            .unwrap();
        let e = t.create_transport_rule(&rule()).await.unwrap_err();
        assert!(e.to_string().contains("IsTransportRuleScoped"), "{e}");

        t.update_outbound_connector(OUTBOUND, &params(json!({"IsTransportRuleScoped": true, "RecipientDomains": []})))
            .await
            .unwrap();
        // Any case of the name resolves; the rule stores the connector's own name.
        let lower = rule().to_builder().route_message_outbound_connector(OUTBOUND.to_lowercase()).build().unwrap();
        t.create_transport_rule(&lower).await.unwrap();
        assert_eq!(
            t.list_transport_rules().await.unwrap()[0].definition.route_message_outbound_connector(),
            Some(OUTBOUND)
        );
    });
}

#[test]
fn referenced_connector_cannot_be_removed_disabled_unscoped_or_renamed() {
    rt().block_on(async {
        let t = configured().await;
        for change in [
            json!({"Enabled": false}),
            json!({"IsTransportRuleScoped": false, "RecipientDomains": ["fabrikam.com"]}),
            json!({"Name": "Renamed"}),
        ] {
            let e = t
                .update_outbound_connector(OUTBOUND, &params(change))
                .await
                .unwrap_err();
            assert!(
                e.code()
                    .unwrap()
                    .ends_with("ConnectorIncorrectUsageConnectorStillReferencedException"),
                "{e}"
            );
        }
        let e = t.remove_outbound_connector(OUTBOUND).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected);
        // After the rule goes, the connector can go.
        t.remove_transport_rule(RULE).await.unwrap();
        t.remove_outbound_connector(OUTBOUND).await.unwrap();
    });
}

#[test]
fn permissive_setting_lets_dangerous_states_through() {
    rt().block_on(async {
        let t = SimTenant::with_settings(SimSettings {
            permissive: true,
            ..Default::default()
        });
        t.create_transport_rule(&rule()).await.unwrap();
        t.create_outbound_connector(&outbound()).await.unwrap();
        t.update_outbound_connector(OUTBOUND, &params(json!({"Enabled": false})))
            .await
            .unwrap();
        t.remove_outbound_connector(OUTBOUND).await.unwrap();
        assert_eq!(t.snapshot().rules.len(), 1);
    });
}

#[test]
fn config_time_connector_check_can_be_switched_off() {
    rt().block_on(async {
        let t = SimTenant::with_settings(SimSettings {
            check_rule_connector: false,
            ..Default::default()
        });
        t.create_transport_rule(&rule()).await.unwrap();
    });
}

#[test]
fn unknown_identity_is_not_found_and_unmodelled_parameter_is_refused() {
    rt().block_on(async {
        let t = configured().await;
        let e = t.remove_inbound_connector("nope").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.status(), Some(404));
        let e = t
            .update_transport_rule(RULE, &params(json!({"Enabled": false})))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("parameter name 'Enabled'"), "{e}");
        let e = t
            .invoke_sync(&CmdletInput::new("Get-Mailbox", Params::new()))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected);
    });
}

#[test]
fn invalid_definitions_are_refused_with_the_field() {
    rt().block_on(async {
        let t = configured().await;
        let e = t
            .update_outbound_connector(OUTBOUND, &params(json!({"SmartHosts": [], "UseMXRecord": false})))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert!(e.to_string().contains("SmartHosts"), "{e}");
        let e = t
            .invoke_sync(&CmdletInput::new("New-InboundConnector", params(json!({"Name": "x", "SenderDomains": ["*"], "SenderIPAddresses": ["1.2.0.0/16"]}))))
            .unwrap_err();
        assert!(e.to_string().contains("SenderIPAddresses"), "{e}");
    });
}

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

#[test]
fn only_mail_enabled_groups_are_listed() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.add_group(SimGroup::new(
            "Sales",
            Some("sales@contoso.com"),
            GroupKind::Distribution,
        ));
        t.add_group(SimGroup::new(
            "Team",
            Some("team@contoso.com"),
            GroupKind::Microsoft365,
        ));
        t.add_group(SimGroup::new("Admins", None, GroupKind::Security));
        let groups = t.list_mail_enabled_groups().await.unwrap();
        let names: Vec<_> = groups.iter().map(|g| g.display_name.as_str()).collect();
        assert_eq!(names, ["Sales", "Team"]);
    });
}
