//! Exchange Online's rules: names, priorities, the rule limit, references, validation, and
//! which groups are listed.

use serde_json::json;
use sigsync_core::exchange::sim::{SimGroup, SimSettings, SimTenant};
use sigsync_core::exchange::{CmdletInput, ExchangeClient, GroupKind};
use sigsync_core::model::{Params, TransportRule};
use sigsync_core::ErrorKind;

use crate::common::*;
use crate::*;

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
