//! Transport (mail flow) rules (`New-TransportRule`): which senders' mail goes to the
//! signature service, with the exceptions that keep mail safe.

use serde_json::Value;

use super::enums::{
    FromScope, MessageType, RuleErrorAction, RuleMode, SenderAddressLocation, SentToScope,
};
use super::macros::definition;
use super::params::Params;
use super::validate::{self, refuse};
use crate::{Error, Result};

definition! {
    /// A transport rule, as `New-TransportRule` takes it and `Get-TransportRule` returns it.
    pub struct TransportRule, TransportRuleBuilder {
        /// `Priority`: 0 is evaluated first; `None` puts a new rule last.
        priority: number = "Priority";
        /// `Mode` (default `Enforce`).
        mode: required<RuleMode> = "Mode", default RuleMode::Enforce;
        /// `Enabled` on creation; Get-* reports it as `State`.
        enabled: flag = "Enabled", default true;
        /// `FromScope`: internal or external senders.
        from_scope: choice<FromScope> = "FromScope";
        /// `SentToScope`: internal or external recipients.
        sent_to_scope: choice<SentToScope> = "SentToScope";
        /// `From`: these senders only.
        from: list = "From";
        /// `FromMemberOf`: senders who are members of these groups.
        from_member_of: list = "FromMemberOf";
        /// `ExceptIfFromMemberOf`: not for members of these groups.
        except_if_from_member_of: list = "ExceptIfFromMemberOf";
        /// `HeaderContainsMessageHeader`: the header examined by `HeaderContainsWords`.
        header_contains_message_header: text = "HeaderContainsMessageHeader";
        /// `HeaderContainsWords`.
        header_contains_words: list = "HeaderContainsWords";
        /// `HeaderMatchesMessageHeader`: the header examined by `HeaderMatchesPatterns`.
        header_matches_message_header: text = "HeaderMatchesMessageHeader";
        /// `HeaderMatchesPatterns`.
        header_matches_patterns: list = "HeaderMatchesPatterns";
        /// `ExceptIfHeaderContainsMessageHeader`: the header examined by `ExceptIfHeaderContainsWords`.
        except_if_header_contains_message_header: text = "ExceptIfHeaderContainsMessageHeader";
        /// `ExceptIfHeaderContainsWords`.
        except_if_header_contains_words: list = "ExceptIfHeaderContainsWords";
        /// `ExceptIfHeaderMatchesMessageHeader`: the header examined by `ExceptIfHeaderMatchesPatterns`.
        except_if_header_matches_message_header: text = "ExceptIfHeaderMatchesMessageHeader";
        /// `ExceptIfHeaderMatchesPatterns`.
        except_if_header_matches_patterns: list = "ExceptIfHeaderMatchesPatterns";
        /// `MessageTypeMatches`.
        message_type_matches: choice<MessageType> = "MessageTypeMatches";
        /// `ExceptIfMessageTypeMatches`.
        except_if_message_type_matches: choice<MessageType> = "ExceptIfMessageTypeMatches";
        /// `ExceptIfMessageSizeOver`, in bytes.
        except_if_message_size_over: size = "ExceptIfMessageSizeOver";
        /// `ExceptIfFromAddressMatchesPatterns` (`<>` matches the null sender of NDRs).
        except_if_from_address_matches_patterns: list = "ExceptIfFromAddressMatchesPatterns";
        /// `ExceptIfSenderIpRanges`: addresses, `a-b` ranges or CIDR of the last hop.
        except_if_sender_ip_ranges: list = "ExceptIfSenderIpRanges";
        /// `RouteMessageOutboundConnector`: the rule-scoped outbound connector to route to.
        route_message_outbound_connector: text = "RouteMessageOutboundConnector";
        /// `SetHeaderName`: a header to add (with `SetHeaderValue`).
        set_header_name: text = "SetHeaderName";
        /// `SetHeaderValue`: its value (with `SetHeaderName`).
        set_header_value: text = "SetHeaderValue";
        /// `StopRuleProcessing`: later rules are not evaluated.
        stop_rule_processing: flag = "StopRuleProcessing", default false;
        /// `RuleErrorAction` (default `Ignore`: if the action fails, mail goes out unchanged).
        rule_error_action: required<RuleErrorAction> = "RuleErrorAction", default RuleErrorAction::Ignore;
        /// `SenderAddressLocation` (default `Header`).
        sender_address_location: required<SenderAddressLocation> = "SenderAddressLocation", default SenderAddressLocation::Header;
        /// `Comments`: at most 1024 characters (sigsync keeps its ownership marker here).
        comments: text = "Comments";
    }
}

impl TransportRule {
    /// Reads a rule from a `Get-TransportRule` record, where the enabled state arrives as
    /// `State` (`Enabled`/`Disabled`) rather than `Enabled`.
    pub fn from_record(record: &Params) -> Result<Self> {
        match record.get("State") {
            Some(Value::String(state)) => {
                let enabled = match state.as_str() {
                    s if s.eq_ignore_ascii_case("Enabled") => true,
                    s if s.eq_ignore_ascii_case("Disabled") => false,
                    other => {
                        return Err(Error::validation(
                            "State",
                            format!("'{other}' is not one of Enabled, Disabled"),
                        ))
                    }
                };
                let mut p = record.clone();
                p.insert("Enabled".to_owned(), Value::Bool(enabled));
                Self::from_params(&p)
            }
            _ => Self::from_params(record),
        }
    }

    /// Checks everything Exchange Online checks on a single `New-`/`Set-TransportRule`
    /// (the limits that involve other rules are the tenant's to check).
    pub fn validate(&self) -> Result<()> {
        validate::name("Name", &self.name)?;
        validate::comment("Comments", self.comments.as_deref())?;
        for (header_field, header, values_field, values) in [
            (
                "HeaderContainsMessageHeader",
                &self.header_contains_message_header,
                "HeaderContainsWords",
                &self.header_contains_words,
            ),
            (
                "HeaderMatchesMessageHeader",
                &self.header_matches_message_header,
                "HeaderMatchesPatterns",
                &self.header_matches_patterns,
            ),
            (
                "ExceptIfHeaderContainsMessageHeader",
                &self.except_if_header_contains_message_header,
                "ExceptIfHeaderContainsWords",
                &self.except_if_header_contains_words,
            ),
            (
                "ExceptIfHeaderMatchesMessageHeader",
                &self.except_if_header_matches_message_header,
                "ExceptIfHeaderMatchesPatterns",
                &self.except_if_header_matches_patterns,
            ),
        ] {
            validate::paired(
                (header_field, header.is_some()),
                (values_field, !values.is_empty()),
            )?;
            if let Some(h) = header {
                validate::header_name(header_field, h)?;
                validate::words(values_field, values)?;
            }
        }
        validate::paired(
            ("SetHeaderName", self.set_header_name.is_some()),
            ("SetHeaderValue", self.set_header_value.is_some()),
        )?;
        if let Some(h) = &self.set_header_name {
            validate::header_name("SetHeaderName", h)?;
        }
        if !self.except_if_from_address_matches_patterns.is_empty() {
            validate::words(
                "ExceptIfFromAddressMatchesPatterns",
                &self.except_if_from_address_matches_patterns,
            )?;
        }
        for range in &self.except_if_sender_ip_ranges {
            validate::ip_range("ExceptIfSenderIpRanges", range)?;
        }
        for (field, members) in [
            ("From", &self.from),
            ("FromMemberOf", &self.from_member_of),
            ("ExceptIfFromMemberOf", &self.except_if_from_member_of),
        ] {
            refuse(
                members.iter().any(|m| m.trim().is_empty()),
                field,
                "entries must not be empty",
            )?;
        }
        if let Some(c) = &self.route_message_outbound_connector {
            validate::name("RouteMessageOutboundConnector", c)?;
        }
        refuse(
            self.except_if_message_size_over == Some(0),
            "ExceptIfMessageSizeOver",
            "must be greater than zero",
        )?;
        let size = serde_json::to_string(&self.to_params()).map_or(0, |s| s.len());
        refuse(
            size > validate::MAX_RULE_SIZE,
            "TransportRule",
            "conditions, exceptions and actions exceed Exchange's 8 KB limit per rule",
        )?;
        Ok(())
    }

    /// The `State` Get-TransportRule reports: `Enabled` or `Disabled`.
    pub fn state(&self) -> &'static str {
        if self.enabled {
            "Enabled"
        } else {
            "Disabled"
        }
    }
}

impl TransportRuleBuilder {
    /// Condition: `header` contains one of `words`.
    pub fn header_contains<I, S>(self, header: impl Into<String>, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.header_contains_message_header(header)
            .header_contains_words(words)
    }

    /// Condition: `header` matches one of `patterns`.
    pub fn header_matches<I, S>(self, header: impl Into<String>, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.header_matches_message_header(header)
            .header_matches_patterns(patterns)
    }

    /// Exception: `header` contains one of `words`.
    pub fn except_if_header_contains<I, S>(self, header: impl Into<String>, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.except_if_header_contains_message_header(header)
            .except_if_header_contains_words(words)
    }

    /// Exception: `header` matches one of `patterns`.
    pub fn except_if_header_matches<I, S>(self, header: impl Into<String>, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.except_if_header_matches_message_header(header)
            .except_if_header_matches_patterns(patterns)
    }

    /// Action: add (or overwrite) header `name` with `value`.
    pub fn set_header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_header_name(name).set_header_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing() -> TransportRuleBuilder {
        TransportRule::builder("Route to signature service")
            .priority(0)
            .from_scope(FromScope::InOrganization)
            .except_if_header_matches("X-Sigsync-Processed", ["true"])
            .route_message_outbound_connector("Signature service (outbound)")
            .stop_rule_processing(true)
    }

    fn field_of(b: TransportRuleBuilder) -> String {
        match b.build().unwrap_err() {
            Error::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn routing_rule_is_valid() {
        let rule = routing().build().unwrap();
        assert_eq!(rule.rule_error_action(), RuleErrorAction::Ignore);
        assert_eq!(rule.state(), "Enabled");
    }

    #[test]
    fn name_longer_than_64_is_refused() {
        assert_eq!(field_of(routing().name("r".repeat(65))), "Name");
    }

    #[test]
    fn comments_longer_than_1024_are_refused() {
        assert_eq!(field_of(routing().comments("c".repeat(1025))), "Comments");
    }

    #[test]
    fn header_condition_needs_both_halves() {
        assert_eq!(
            field_of(routing().header_contains_message_header("X-A")),
            "HeaderContainsWords"
        );
        assert_eq!(
            field_of(routing().except_if_header_contains_words(["x"])),
            "ExceptIfHeaderContainsMessageHeader"
        );
        assert_eq!(
            field_of(routing().header_matches_patterns(["x"])),
            "HeaderMatchesMessageHeader"
        );
    }

    #[test]
    fn header_words_without_surrounding_spaces() {
        assert_eq!(
            field_of(routing().except_if_header_contains("X-A", [" padded"])),
            "ExceptIfHeaderContainsWords"
        );
        assert_eq!(
            field_of(routing().header_contains("Bad Header", ["x"])),
            "HeaderContainsMessageHeader"
        );
    }

    #[test]
    fn set_header_needs_name_and_value() {
        assert_eq!(field_of(routing().set_header_name("X-A")), "SetHeaderValue");
        assert_eq!(field_of(routing().set_header_value("v")), "SetHeaderName");
        routing().set_header("X-A", "v").build().unwrap();
    }

    #[test]
    fn sender_ip_ranges_are_checked() {
        assert_eq!(
            field_of(routing().except_if_sender_ip_ranges(["300.1.1.1"])),
            "ExceptIfSenderIpRanges"
        );
        routing()
            .except_if_sender_ip_ranges(["52.1.2.0/24", "52.1.3.1-52.1.3.9"])
            .build()
            .unwrap();
    }

    #[test]
    fn zero_message_size_is_refused() {
        assert_eq!(
            field_of(routing().except_if_message_size_over(0)),
            "ExceptIfMessageSizeOver"
        );
    }

    #[test]
    fn empty_member_entry_is_refused() {
        assert_eq!(field_of(routing().from_member_of([""])), "FromMemberOf");
    }

    #[test]
    fn rule_over_8kb_is_refused() {
        let many: Vec<String> = (0..400)
            .map(|i| format!("user{i:05}@contoso.com"))
            .collect();
        assert_eq!(field_of(routing().from(many)), "TransportRule");
    }

    #[test]
    fn empty_pattern_is_refused() {
        assert_eq!(
            field_of(routing().except_if_from_address_matches_patterns([""])),
            "ExceptIfFromAddressMatchesPatterns"
        );
    }

    #[test]
    fn state_record_reads_as_enabled_flag() {
        let mut p = routing().enabled(true).build().unwrap().to_params();
        p.remove("Enabled");
        p.insert("State".into(), Value::String("Disabled".into()));
        assert!(!TransportRule::from_record(&p).unwrap().enabled());
        p.insert("State".into(), Value::String("Sleeping".into()));
        assert!(TransportRule::from_record(&p)
            .unwrap_err()
            .to_string()
            .contains("State"));
    }

    #[test]
    fn unknown_enum_value_names_the_field() {
        let mut p = routing().build().unwrap().to_params();
        p.insert("Mode".into(), Value::String("Sometimes".into()));
        let e = TransportRule::from_params(&p).unwrap_err();
        assert!(e.to_string().starts_with("invalid Mode"), "{e}");
    }
}
