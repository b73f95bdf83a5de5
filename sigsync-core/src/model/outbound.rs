//! Outbound connectors (`New-OutboundConnector`): the route from Exchange Online to the
//! signature service's smart host.

use super::enums::{ConnectorType, TlsSettings};
use super::macros::definition;
use super::validate::{self, refuse, Star};
use crate::Result;

definition! {
    /// An outbound connector, as `New-OutboundConnector` takes it and `Get-OutboundConnector`
    /// returns it.
    pub struct OutboundConnector, OutboundConnectorBuilder {
        /// `ConnectorType`: `OnPremises` for a signature service (default `Partner`).
        connector_type: required<ConnectorType> = "ConnectorType", default ConnectorType::Partner;
        /// `SmartHosts`: where mail goes (FQDN, IPv4 address or range); required without MX routing.
        smart_hosts: list = "SmartHosts";
        /// `UseMXRecord`: route by DNS instead of the smart hosts (default true).
        use_mx_record: flag = "UseMXRecord", default true;
        /// `TlsSettings`: how the receiving server's certificate is checked.
        tls_settings: choice<TlsSettings> = "TlsSettings";
        /// `TlsDomain`: the name the certificate must carry (only with `DomainValidation`).
        tls_domain: text = "TlsDomain";
        /// `IsTransportRuleScoped`: used only when a transport rule routes to it.
        is_transport_rule_scoped: flag = "IsTransportRuleScoped", default false;
        /// `RecipientDomains`: the domains this connector serves (not with rule scoping).
        recipient_domains: domains = "RecipientDomains";
        /// `CloudServicesMailEnabled`: keep Exchange's internal headers across the round trip;
        /// must match the inbound connector.
        cloud_services_mail_enabled: flag = "CloudServicesMailEnabled", default false;
        /// `Enabled` (default true).
        enabled: flag = "Enabled", default true;
        /// `Comment`: free text of at most 1024 characters (sigsync keeps its ownership marker here).
        comment: text = "Comment";
        /// `TestMode`.
        test_mode: flag = "TestMode", default false;
        /// `RouteAllMessagesViaOnPremises`: hybrid centralized transport (`OnPremises` only).
        route_all_messages_via_on_premises: flag = "RouteAllMessagesViaOnPremises", default false;
        /// `AllAcceptedDomains`: serve every accepted domain (hybrid, `OnPremises` only).
        all_accepted_domains: flag = "AllAcceptedDomains", default false;
        /// `SenderRewritingEnabled`: SRS before routing on-premises (`OnPremises` only).
        sender_rewriting_enabled: flag = "SenderRewritingEnabled", default false;
    }
}

impl OutboundConnector {
    /// Checks everything Exchange Online checks on `New-`/`Set-OutboundConnector`.
    pub fn validate(&self) -> Result<()> {
        validate::name("Name", &self.name)?;
        validate::comment("Comment", self.comment.as_deref())?;
        let on_prem = self.connector_type == ConnectorType::OnPremises;

        refuse(
            !self.use_mx_record && self.smart_hosts.is_empty(),
            "SmartHosts",
            "is required when UseMXRecord is false",
        )?;
        refuse(
            self.use_mx_record && !self.smart_hosts.is_empty(),
            "SmartHosts",
            "is ignored (and cleared by Exchange) when UseMXRecord is true",
        )?;
        refuse(
            on_prem && self.use_mx_record,
            "UseMXRecord",
            "an OnPremises connector must route to smart hosts (UseMXRecord false)",
        )?;
        for host in &self.smart_hosts {
            validate::smart_host("SmartHosts", host)?;
        }

        match (&self.tls_domain, self.tls_settings) {
            (Some(domain), Some(TlsSettings::DomainValidation)) => {
                validate::domain("TlsDomain", domain, Star::Refused)?
            }
            (Some(_), _) => refuse(
                true,
                "TlsDomain",
                "is only allowed with TlsSettings DomainValidation",
            )?,
            (None, Some(TlsSettings::DomainValidation)) => refuse(
                true,
                "TlsDomain",
                "is required with TlsSettings DomainValidation",
            )?,
            (None, _) => {}
        }

        validate::domains("RecipientDomains", &self.recipient_domains, Star::Allowed)?;
        if self.is_transport_rule_scoped {
            refuse(
                !self.recipient_domains.is_empty(),
                "RecipientDomains",
                "must be empty when IsTransportRuleScoped is true",
            )?;
            refuse(
                self.all_accepted_domains,
                "AllAcceptedDomains",
                "must be false when IsTransportRuleScoped is true",
            )?;
        } else {
            refuse(
                self.recipient_domains.is_empty() && !self.all_accepted_domains,
                "RecipientDomains",
                "is required unless IsTransportRuleScoped or AllAcceptedDomains is true",
            )?;
        }
        refuse(
            on_prem
                && self.recipient_domains.iter().any(|d| d == "*")
                && !self.route_all_messages_via_on_premises,
            "RecipientDomains",
            "'*' on an OnPremises connector needs RouteAllMessagesViaOnPremises",
        )?;

        for (field, set) in [
            ("CloudServicesMailEnabled", self.cloud_services_mail_enabled),
            (
                "RouteAllMessagesViaOnPremises",
                self.route_all_messages_via_on_premises,
            ),
            ("AllAcceptedDomains", self.all_accepted_domains),
            ("SenderRewritingEnabled", self.sender_rewriting_enabled),
        ] {
            refuse(set && !on_prem, field, "requires ConnectorType OnPremises")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> OutboundConnectorBuilder {
        OutboundConnector::builder("Signature service (outbound)")
            .connector_type(ConnectorType::OnPremises)
            .use_mx_record(false)
            .smart_hosts(["smtp.signatures.example.com"])
            .tls_settings(TlsSettings::DomainValidation)
            .tls_domain("smtp.signatures.example.com")
            .is_transport_rule_scoped(true)
    }

    fn field_of(b: OutboundConnectorBuilder) -> String {
        match b.build().unwrap_err() {
            crate::Error::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn signature_service_recipe_is_valid() {
        service().cloud_services_mail_enabled(true).build().unwrap();
    }

    #[test]
    fn name_longer_than_64_is_refused() {
        assert_eq!(field_of(service().name("n".repeat(65))), "Name");
    }

    #[test]
    fn smart_hosts_required_without_mx() {
        assert_eq!(
            field_of(service().smart_hosts(Vec::<String>::new())),
            "SmartHosts"
        );
    }

    #[test]
    fn smart_hosts_with_mx_routing_are_refused() {
        let b = OutboundConnector::builder("x")
            .use_mx_record(true)
            .smart_hosts(["smtp.example.com"])
            .recipient_domains(["contoso.com"]);
        assert_eq!(field_of(b), "SmartHosts");
    }

    #[test]
    fn on_premises_with_mx_routing_is_refused() {
        let b = OutboundConnector::builder("x")
            .connector_type(ConnectorType::OnPremises)
            .is_transport_rule_scoped(true);
        assert_eq!(field_of(b), "UseMXRecord");
    }

    #[test]
    fn invalid_smart_host_is_refused() {
        assert_eq!(
            field_of(service().smart_hosts(["not a host"])),
            "SmartHosts"
        );
    }

    #[test]
    fn tls_domain_only_with_domain_validation() {
        let b = service().tls_settings(TlsSettings::CertificateValidation);
        assert_eq!(field_of(b), "TlsDomain");
    }

    #[test]
    fn domain_validation_requires_tls_domain() {
        let b = OutboundConnector::builder("Signature service (outbound)")
            .connector_type(ConnectorType::OnPremises)
            .use_mx_record(false)
            .smart_hosts(["smtp.signatures.example.com"])
            .tls_settings(TlsSettings::DomainValidation)
            .is_transport_rule_scoped(true);
        assert_eq!(field_of(b), "TlsDomain");
    }

    #[test]
    fn bare_star_tls_domain_is_refused() {
        assert_eq!(field_of(service().tls_domain("*")), "TlsDomain");
    }

    #[test]
    fn rule_scoped_connector_takes_no_recipient_domains() {
        assert_eq!(
            field_of(service().recipient_domains(["contoso.com"])),
            "RecipientDomains"
        );
        assert_eq!(
            field_of(service().all_accepted_domains(true)),
            "AllAcceptedDomains"
        );
    }

    #[test]
    fn unscoped_connector_needs_recipient_domains() {
        assert_eq!(
            field_of(service().is_transport_rule_scoped(false)),
            "RecipientDomains"
        );
    }

    #[test]
    fn embedded_wildcard_recipient_domain_is_refused() {
        let b = service()
            .is_transport_rule_scoped(false)
            .recipient_domains(["a.*.contoso.com"]);
        assert_eq!(field_of(b), "RecipientDomains");
    }

    #[test]
    fn star_recipient_domain_on_premises_needs_route_all() {
        let b = service()
            .is_transport_rule_scoped(false)
            .recipient_domains(["*"]);
        assert_eq!(field_of(b), "RecipientDomains");
    }

    #[test]
    fn hybrid_options_need_on_premises() {
        let partner = || {
            OutboundConnector::builder("partner")
                .connector_type(ConnectorType::Partner)
                .recipient_domains(["fabrikam.com"])
        };
        assert_eq!(
            field_of(partner().cloud_services_mail_enabled(true)),
            "CloudServicesMailEnabled"
        );
        assert_eq!(
            field_of(partner().route_all_messages_via_on_premises(true)),
            "RouteAllMessagesViaOnPremises"
        );
        assert_eq!(
            field_of(partner().all_accepted_domains(true)),
            "AllAcceptedDomains"
        );
        assert_eq!(
            field_of(partner().sender_rewriting_enabled(true)),
            "SenderRewritingEnabled"
        );
        partner().build().unwrap();
    }

    #[test]
    fn comment_longer_than_1024_is_refused() {
        assert_eq!(field_of(service().comment("c".repeat(1025))), "Comment");
        service().comment("c".repeat(1024)).build().unwrap();
    }
}
