//! Definition → cmdlet parameters → Get-* record → definition, for every modelled field.
#![cfg(feature = "sim")]

mod common;

use common::*;
use serde_json::Value;
use sigsync_core::exchange::sim::SimTenant;
use sigsync_core::exchange::{CmdletInput, ExchangeClient};
use sigsync_core::model::{Definition, OutboundConnector};

/// Every modelled parameter differs from its default in at least one of `fixtures`, so the
/// round trips really exercise every field.
fn assert_covers_every_field<D: Definition>(fixtures: &[D]) {
    let mut name_only = sigsync_core::model::Params::new();
    name_only.insert("Name".into(), Value::String("x".into()));
    let default = D::from_record(&name_only).unwrap().to_params();
    for (key, value) in &default {
        if key == "Name" {
            continue;
        }
        assert!(
            fixtures
                .iter()
                .any(|f| f.to_params().get(key) != Some(value)),
            "{key} is not exercised by the fixtures"
        );
    }
}

#[test]
fn fixtures_exercise_every_modelled_field() {
    assert_covers_every_field(&[outbound_full(), outbound()]);
    assert_covers_every_field(&[inbound_full(), inbound(), inbound_partner()]);
    assert_covers_every_field(&[rule_full(OUTBOUND)]);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn outbound_connector_round_trips_through_new_and_get() {
    rt().block_on(async {
        let tenant = SimTenant::new();
        for full in [outbound_full(), outbound()] {
            tenant.create_outbound_connector(&full).await.unwrap();
        }
        let read = tenant.list_outbound_connectors().await.unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].definition, outbound_full());
        assert_eq!(read[1].definition, outbound());
        assert!(!read[0].guid.is_empty());
        let created = read[0].when_created.as_deref().unwrap();
        assert_eq!(
            created.len(),
            "2026-07-24T18:58:31.0000000Z".len(),
            "{created}"
        );
    });
}

#[test]
fn inbound_connector_round_trips_through_new_and_get() {
    rt().block_on(async {
        let tenant = SimTenant::new();
        let fixtures = [inbound_full(), inbound(), inbound_partner()];
        for full in &fixtures {
            tenant.create_inbound_connector(full).await.unwrap();
        }
        // The raw record carries the address-space form, as the real service does.
        let raw = tenant
            .invoke_sync(&CmdletInput::new(
                "Get-InboundConnector",
                Default::default(),
            ))
            .unwrap();
        assert_eq!(
            raw[0]["SenderDomains"][0],
            Value::String("smtp:contoso.com;1".into())
        );
        let read = tenant.list_inbound_connectors().await.unwrap();
        let read: Vec<_> = read.into_iter().map(|e| e.definition).collect();
        assert_eq!(read, fixtures);
    });
}

#[test]
fn transport_rule_round_trips_through_new_and_get() {
    rt().block_on(async {
        let tenant = SimTenant::new();
        tenant.create_outbound_connector(&outbound()).await.unwrap();
        let full = rule_full(OUTBOUND);
        tenant.create_transport_rule(&full).await.unwrap();
        let raw = tenant
            .invoke_sync(&CmdletInput::new("Get-TransportRule", Default::default()))
            .unwrap();
        assert_eq!(raw[0]["State"], Value::String("Disabled".into()));
        assert!(raw[0].get("Enabled").is_none());
        assert_eq!(
            raw[0]["ExceptIfMessageSizeOver"],
            Value::String("22.5 MB (23,592,960 bytes)".into())
        );
        let read = tenant.list_transport_rules().await.unwrap();
        assert_eq!(read[0].definition, full);
    });
}

#[test]
fn records_with_unknown_fields_and_nulls_parse() {
    let json = r#"{
        "Enabled": true, "UseMXRecord": false, "Comment": null, "ConnectorType": "OnPremises",
        "ConnectorSource": "AdminUI", "RecipientDomains": [], "SmartHosts": ["smtp.example.net"],
        "TlsDomain": null, "TlsSettings": "CertificateValidation", "IsTransportRuleScoped": true,
        "RouteAllMessagesViaOnPremises": false, "CloudServicesMailEnabled": true,
        "AllAcceptedDomains": false, "SenderRewritingEnabled": false, "MtaStsMode": "Opportunistic",
        "SmtpDaneMode": "Opportunistic", "TestMode": false, "ValidationRecipients": ["admin@contoso.com"],
        "IsValidated": false, "LastValidationTimestamp": "2026-07-24T18:59:12.0000000",
        "AdminDisplayName": "", "Name": "X", "Identity": "X",
        "WhenChangedUTC": "2026-07-24T19:01:54.0000000Z", "WhenCreatedUTC": "2026-07-24T18:58:31.0000000Z",
        "WhenChangedUTC@data.type": "System.DateTime",
        "Guid": "d0d71cb9-0000-0000-0000-000000000000", "IsValid": true }"#;
    let record: sigsync_core::model::Params = serde_json::from_str(json).unwrap();
    let c = OutboundConnector::from_record(&record).unwrap();
    assert_eq!(c.name(), "X");
    assert_eq!(c.smart_hosts(), ["smtp.example.net"]);
    assert_eq!(c.comment(), None);
    assert_eq!(c.tls_domain(), None);
    c.validate().unwrap();
}
