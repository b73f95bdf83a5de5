//! Definitions shared by the integration tests.
#![allow(dead_code)]

use sigsync_core::model::*;

pub const OUTBOUND: &str = "Signature service (outbound)";
pub const INBOUND: &str = "Signature service (inbound)";
pub const RULE: &str = "Route to signature service";

pub fn outbound() -> OutboundConnector {
    OutboundConnector::builder(OUTBOUND)
        .connector_type(ConnectorType::OnPremises)
        .use_mx_record(false)
        .smart_hosts(["smtp.signatures.example.com"])
        .tls_settings(TlsSettings::DomainValidation)
        .tls_domain("smtp.signatures.example.com")
        .is_transport_rule_scoped(true)
        .cloud_services_mail_enabled(true)
        .build()
        .unwrap()
}

pub fn inbound() -> InboundConnector {
    InboundConnector::builder(INBOUND)
        .connector_type(ConnectorType::OnPremises)
        .sender_domains(["*"])
        .require_tls(true)
        .tls_sender_certificate_name("tenant1.smtp.signatures.example.com")
        .restrict_domains_to_certificate(true)
        .cloud_services_mail_enabled(true)
        .build()
        .unwrap()
}

pub fn rule() -> TransportRule {
    TransportRule::builder(RULE)
        .from_scope(FromScope::InOrganization)
        .except_if_header_matches("X-Sigsync-Processed", ["true"])
        .route_message_outbound_connector(OUTBOUND)
        .stop_rule_processing(true)
        .build()
        .unwrap()
}

/// An outbound connector with every modelled field away from its default.
pub fn outbound_full() -> OutboundConnector {
    OutboundConnector::builder("Full outbound")
        .connector_type(ConnectorType::OnPremises)
        .use_mx_record(false)
        .smart_hosts(["smtp1.signatures.example.com", "52.10.20.0/28"])
        .tls_settings(TlsSettings::DomainValidation)
        .tls_domain("*.signatures.example.com")
        .is_transport_rule_scoped(false)
        .recipient_domains(["fabrikam.com", "*.tailspin.example"])
        .cloud_services_mail_enabled(true)
        .enabled(false)
        .comment("managed by sigsync")
        .test_mode(true)
        .route_all_messages_via_on_premises(true)
        .all_accepted_domains(true)
        .sender_rewriting_enabled(true)
        .build()
        .unwrap()
}

/// An inbound connector with every modelled field away from its default.
pub fn inbound_full() -> InboundConnector {
    InboundConnector::builder("Full inbound")
        .connector_type(ConnectorType::OnPremises)
        .sender_domains(["contoso.com", "*.fabrikam.com"])
        .sender_ip_addresses(["52.10.20.0/24", "52.10.21.7"])
        .require_tls(true)
        .tls_sender_certificate_name("tenant1.smtp.signatures.example.com")
        .restrict_domains_to_certificate(false)
        .restrict_domains_to_ip_addresses(true)
        .cloud_services_mail_enabled(false)
        .treat_messages_as_internal(true)
        .ef_skip_last_ip(true)
        .ef_skip_ips(["52.10.20.0/24", "52.10.22.1-52.10.22.9"])
        .associated_accepted_domains(["contoso.com"])
        .enabled(false)
        .comment("managed by sigsync")
        .build()
        .unwrap()
}

/// A transport rule with every modelled field away from its default.
pub fn rule_full(connector: &str) -> TransportRule {
    TransportRule::builder("Full rule")
        .priority(0)
        .mode(RuleMode::Audit)
        .enabled(false)
        .from_scope(FromScope::InOrganization)
        .sent_to_scope(SentToScope::NotInOrganization)
        .from(["ceo@contoso.com"])
        .from_member_of(["sales@contoso.com", "marketing@contoso.com"])
        .except_if_from_member_of(["legal@contoso.com"])
        .header_contains("X-Include", ["yes"])
        .header_matches("X-Pattern", ["^a.*"])
        .except_if_header_contains(
            "X-MS-Exchange-UnifiedGroup-SubmittedViaGroupAddress",
            ["/o=ExchangeLabs/ou=Exchange Administrative Group"],
        )
        .except_if_header_matches("X-Sigsync-Processed", ["true"])
        .message_type_matches(MessageType::Signed)
        .except_if_message_type_matches(MessageType::Calendaring)
        .except_if_message_size_over(23_592_960)
        .except_if_from_address_matches_patterns(["<>"])
        .except_if_sender_ip_ranges(["52.10.20.0/24"])
        .route_message_outbound_connector(connector)
        .set_header("X-Routed", "sigsync")
        .stop_rule_processing(true)
        .rule_error_action(RuleErrorAction::Defer)
        .sender_address_location(SenderAddressLocation::Envelope)
        .comments("managed by sigsync")
        .build()
        .unwrap()
}

/// A partner inbound connector without TLS (covers `RequireTls` false).
pub fn inbound_partner() -> InboundConnector {
    InboundConnector::builder("Partner inbound")
        .connector_type(ConnectorType::Partner)
        .sender_domains(["fabrikam.com"])
        .sender_ip_addresses(["52.10.30.0/24"])
        .require_tls(false)
        .restrict_domains_to_ip_addresses(true)
        .build()
        .unwrap()
}
