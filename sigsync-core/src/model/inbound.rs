//! Inbound connectors (`New-InboundConnector`): how Exchange Online accepts the processed mail
//! back from the signature service.

use super::enums::ConnectorType;
use super::macros::definition;
use super::validate::{self, refuse, Star};
use crate::Result;

definition! {
    /// An inbound connector, as `New-InboundConnector` takes it and `Get-InboundConnector`
    /// returns it.
    pub struct InboundConnector, InboundConnectorBuilder {
        /// `ConnectorType`: `OnPremises` for a signature service (default `Partner`).
        connector_type: required<ConnectorType> = "ConnectorType", default ConnectorType::Partner;
        /// `SenderDomains`: source domains, `*` for any (Get-* returns `smtp:*;1`).
        sender_domains: domains = "SenderDomains";
        /// `SenderIPAddresses`: IPv4 addresses or /24–/32 ranges.
        sender_ip_addresses: list = "SenderIPAddresses";
        /// `RequireTls`: refuse mail not sent over TLS (default true).
        require_tls: flag = "RequireTls", default true;
        /// `TlsSenderCertificateName`: the domain the sending server's certificate must carry.
        tls_sender_certificate_name: text = "TlsSenderCertificateName";
        /// `RestrictDomainsToCertificate`: accept only from servers presenting that certificate.
        restrict_domains_to_certificate: flag = "RestrictDomainsToCertificate", default false;
        /// `RestrictDomainsToIPAddresses`: accept only from `SenderIPAddresses`.
        restrict_domains_to_ip_addresses: flag = "RestrictDomainsToIPAddresses", default false;
        /// `CloudServicesMailEnabled`: must match the outbound connector.
        cloud_services_mail_enabled: flag = "CloudServicesMailEnabled", default false;
        /// `TreatMessagesAsInternal`: treat mail from tenant domains as internal (`OnPremises`
        /// only, not with `CloudServicesMailEnabled`).
        treat_messages_as_internal: flag = "TreatMessagesAsInternal", default false;
        /// `EFSkipLastIP`: Enhanced Filtering skips the last hop.
        ef_skip_last_ip: flag = "EFSkipLastIP", default false;
        /// `EFSkipIPs`: addresses, `a-b` ranges or CIDR that Enhanced Filtering skips.
        ef_skip_ips: list = "EFSkipIPs";
        /// `AssociatedAcceptedDomains`: restrict the connector to these accepted domains.
        associated_accepted_domains: list = "AssociatedAcceptedDomains";
        /// `Enabled` (default true).
        enabled: flag = "Enabled", default true;
        /// `Comment`: free text of at most 1024 characters (sigsync keeps its ownership marker here).
        comment: text = "Comment";
    }
}

impl InboundConnector {
    /// Checks everything Exchange Online checks on `New-`/`Set-InboundConnector`.
    pub fn validate(&self) -> Result<()> {
        validate::name("Name", &self.name)?;
        validate::comment("Comment", self.comment.as_deref())?;
        let on_prem = self.connector_type == ConnectorType::OnPremises;

        refuse(
            self.sender_domains.is_empty(),
            "SenderDomains",
            "is required ('*' for any domain)",
        )?;
        validate::domains("SenderDomains", &self.sender_domains, Star::Allowed)?;
        for ip in &self.sender_ip_addresses {
            validate::sender_ip("SenderIPAddresses", ip)?;
        }
        if let Some(cert) = &self.tls_sender_certificate_name {
            validate::domain("TlsSenderCertificateName", cert, Star::Refused)?;
            refuse(
                !self.require_tls,
                "RequireTls",
                "must be true when TlsSenderCertificateName is set",
            )?;
        }
        refuse(
            on_prem
                && self.sender_ip_addresses.is_empty()
                && self.tls_sender_certificate_name.is_none(),
            "TlsSenderCertificateName",
            "an OnPremises connector needs TlsSenderCertificateName or SenderIPAddresses",
        )?;
        refuse(
            self.restrict_domains_to_ip_addresses && self.restrict_domains_to_certificate,
            "RestrictDomainsToIPAddresses",
            "cannot be combined with RestrictDomainsToCertificate",
        )?;
        refuse(
            self.restrict_domains_to_ip_addresses && self.sender_ip_addresses.is_empty(),
            "SenderIPAddresses",
            "is required when RestrictDomainsToIPAddresses is true",
        )?;
        refuse(
            self.restrict_domains_to_certificate && self.tls_sender_certificate_name.is_none(),
            "TlsSenderCertificateName",
            "is required when RestrictDomainsToCertificate is true",
        )?;
        refuse(
            self.cloud_services_mail_enabled && !on_prem,
            "CloudServicesMailEnabled",
            "requires ConnectorType OnPremises",
        )?;
        refuse(
            self.treat_messages_as_internal && !on_prem,
            "TreatMessagesAsInternal",
            "requires ConnectorType OnPremises",
        )?;
        refuse(
            self.treat_messages_as_internal && self.cloud_services_mail_enabled,
            "TreatMessagesAsInternal",
            "cannot be true when CloudServicesMailEnabled is true",
        )?;
        for ip in &self.ef_skip_ips {
            validate::ip_range("EFSkipIPs", ip)?;
        }
        validate::domains(
            "AssociatedAcceptedDomains",
            &self.associated_accepted_domains,
            Star::Refused,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> InboundConnectorBuilder {
        InboundConnector::builder("Signature service (inbound)")
            .connector_type(ConnectorType::OnPremises)
            .sender_domains(["*"])
            .require_tls(true)
            .tls_sender_certificate_name("tenant1.smtp.signatures.example.com")
            .restrict_domains_to_certificate(true)
    }

    fn field_of(b: InboundConnectorBuilder) -> String {
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
    fn sender_domains_are_required() {
        assert_eq!(
            field_of(service().sender_domains(Vec::<String>::new())),
            "SenderDomains"
        );
        assert_eq!(
            field_of(service().sender_domains(["a.*.b.com"])),
            "SenderDomains"
        );
    }

    #[test]
    fn sender_ips_only_v4_24_to_32() {
        assert_eq!(
            field_of(service().sender_ip_addresses(["52.1.0.0/16"])),
            "SenderIPAddresses"
        );
        assert_eq!(
            field_of(service().sender_ip_addresses(["2001:db8::1"])),
            "SenderIPAddresses"
        );
        service()
            .sender_ip_addresses(["52.1.2.0/24"])
            .build()
            .unwrap();
    }

    #[test]
    fn certificate_name_needs_require_tls_and_no_bare_star() {
        assert_eq!(field_of(service().require_tls(false)), "RequireTls");
        assert_eq!(
            field_of(service().tls_sender_certificate_name("*")),
            "TlsSenderCertificateName"
        );
    }

    #[test]
    fn on_premises_needs_certificate_or_ips() {
        let b = InboundConnector::builder("x")
            .connector_type(ConnectorType::OnPremises)
            .sender_domains(["*"]);
        assert_eq!(field_of(b), "TlsSenderCertificateName");
    }

    #[test]
    fn restrictions_are_exclusive_and_need_their_source() {
        assert_eq!(
            field_of(service().restrict_domains_to_ip_addresses(true)),
            "RestrictDomainsToIPAddresses"
        );
        let b = InboundConnector::builder("x")
            .sender_domains(["*"])
            .restrict_domains_to_ip_addresses(true);
        assert_eq!(field_of(b), "SenderIPAddresses");
        let b = InboundConnector::builder("x")
            .sender_domains(["*"])
            .restrict_domains_to_certificate(true);
        assert_eq!(field_of(b), "TlsSenderCertificateName");
    }

    #[test]
    fn cloud_services_mail_needs_on_premises() {
        let b = InboundConnector::builder("x")
            .sender_domains(["*"])
            .cloud_services_mail_enabled(true);
        assert_eq!(field_of(b), "CloudServicesMailEnabled");
    }

    #[test]
    fn treat_messages_as_internal_constraints() {
        assert_eq!(
            field_of(
                service()
                    .cloud_services_mail_enabled(true)
                    .treat_messages_as_internal(true)
            ),
            "TreatMessagesAsInternal"
        );
        let partner = InboundConnector::builder("x")
            .sender_domains(["*"])
            .treat_messages_as_internal(true);
        assert_eq!(field_of(partner), "TreatMessagesAsInternal");
        service().treat_messages_as_internal(true).build().unwrap();
    }

    #[test]
    fn ef_skip_ips_forms() {
        service()
            .ef_skip_ips([
                "52.1.2.3",
                "52.1.2.0/24",
                "52.1.2.1-52.1.2.9",
                "2001:db8::/48",
            ])
            .build()
            .unwrap();
        assert_eq!(field_of(service().ef_skip_ips(["nope"])), "EFSkipIPs");
    }

    #[test]
    fn associated_accepted_domains_must_be_domains() {
        assert_eq!(
            field_of(service().associated_accepted_domains(["*"])),
            "AssociatedAcceptedDomains"
        );
    }

    #[test]
    fn comment_longer_than_1024_is_refused() {
        assert_eq!(field_of(service().comment("c".repeat(1025))), "Comment");
    }
}
