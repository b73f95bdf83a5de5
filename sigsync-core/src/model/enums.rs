//! The enumerations of the connector and rule cmdlets, with their exact wire names.

use serde_json::Value;

use crate::{Error, Result};

/// An enumeration whose values travel as the cmdlet's string names.
pub trait ParamEnum: Sized + Copy + 'static {
    /// Every value with its wire name, in documentation order.
    const VALUES: &'static [(Self, &'static str)];

    /// The wire name of this value.
    fn as_str(self) -> &'static str;

    /// Parses a wire name (case-insensitively, as PowerShell does), naming `field` on error.
    fn parse(field: &str, s: &str) -> Result<Self> {
        Self::VALUES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(s))
            .map(|(v, _)| *v)
            .ok_or_else(|| {
                let valid: Vec<&str> = Self::VALUES.iter().map(|(_, n)| *n).collect();
                Error::validation(field, format!("'{s}' is not one of {}", valid.join(", ")))
            })
    }

    /// Parses a JSON value (a string, or Exchange's numeric enum form), naming `field` on error.
    fn from_json(field: &str, value: &Value) -> Result<Self> {
        match value {
            Value::String(s) => Self::parse(field, s),
            Value::Number(n) => n
                .as_u64()
                .and_then(|i| Self::VALUES.get(i as usize))
                .map(|(v, _)| *v)
                .ok_or_else(|| Error::validation(field, format!("unknown enum value {n}"))),
            other => Err(Error::validation(
                field,
                format!("expected a string, found {other}"),
            )),
        }
    }
}

macro_rules! param_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $wire:literal ),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $wire)] $variant, )+
        }

        impl ParamEnum for $name {
            const VALUES: &'static [(Self, &'static str)] = &[ $( ($name::$variant, $wire), )+ ];

            fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $wire, )+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

param_enum! {
    /// What a connector connects to (`TenantConnectorType`).
    ConnectorType {
        /// External partner domains.
        Partner = "Partner",
        /// The organisation's own servers or a service acting for it: what signature services use.
        OnPremises = "OnPremises",
    }
}

param_enum! {
    /// How an outbound connector checks the receiving server's certificate (`TlsAuthLevel`).
    TlsSettings {
        /// Encrypt, without checking the certificate.
        EncryptionOnly = "EncryptionOnly",
        /// Check the certificate chain and revocation.
        CertificateValidation = "CertificateValidation",
        /// Also check that the certificate names `TlsDomain`.
        DomainValidation = "DomainValidation",
    }
}

param_enum! {
    /// Where a rule's sender is (`FromUserScope`).
    FromScope {
        /// Authenticated, internal senders.
        InOrganization = "InOrganization",
        /// Everyone else.
        NotInOrganization = "NotInOrganization",
    }
}

param_enum! {
    /// Where a rule's recipients are (`ToUserScope`).
    SentToScope {
        /// Recipients in the organisation's accepted domains.
        InOrganization = "InOrganization",
        /// Recipients outside the organisation.
        NotInOrganization = "NotInOrganization",
        /// External partners (on-premises only).
        ExternalPartner = "ExternalPartner",
        /// External non-partners (on-premises only).
        ExternalNonPartner = "ExternalNonPartner",
    }
}

param_enum! {
    /// Kinds of message a rule can match (`MessageType`).
    MessageType {
        /// Out-of-office replies.
        Oof = "OOF",
        /// Automatic forwards.
        AutoForward = "AutoForward",
        /// Encrypted messages.
        Encrypted = "Encrypted",
        /// Meeting requests and responses.
        Calendaring = "Calendaring",
        /// Rights-protected messages.
        PermissionControlled = "PermissionControlled",
        /// Voicemail.
        Voicemail = "Voicemail",
        /// Digitally signed messages.
        Signed = "Signed",
        /// Moderation approval requests.
        ApprovalRequest = "ApprovalRequest",
        /// Read receipts.
        ReadReceipt = "ReadReceipt",
    }
}

param_enum! {
    /// How a rule acts (`RuleMode`).
    RuleMode {
        /// Log only.
        Audit = "Audit",
        /// Log and notify the sender.
        AuditAndNotify = "AuditAndNotify",
        /// Act on the message.
        Enforce = "Enforce",
    }
}

param_enum! {
    /// What happens to a message when a rule's action fails at delivery time (`RuleErrorAction`).
    RuleErrorAction {
        /// Skip the action and deliver the message (here: unsigned, not bounced).
        Ignore = "Ignore",
        /// Defer and retry; eventually a non-delivery report.
        Defer = "Defer",
    }
}

param_enum! {
    /// Which sender address a rule examines (`SenderAddressLocation`).
    SenderAddressLocation {
        /// The From header.
        Header = "Header",
        /// The envelope sender (MAIL FROM).
        Envelope = "Envelope",
        /// Either.
        HeaderOrEnvelope = "HeaderOrEnvelope",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_parse_is_case_insensitive_and_names_field_on_error() {
        assert_eq!(
            TlsSettings::parse("TlsSettings", "domainvalidation").unwrap(),
            TlsSettings::DomainValidation
        );
        let e = MessageType::parse("MessageTypeMatches", "Calendar").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("MessageTypeMatches"), "{msg}");
        assert!(msg.contains("Calendaring"), "{msg}");
    }

    #[test]
    fn enum_accepts_numeric_wire_form() {
        let v = serde_json::json!(1);
        assert_eq!(
            ConnectorType::from_json("ConnectorType", &v).unwrap(),
            ConnectorType::OnPremises
        );
    }
}
