//! What the admin chose in the wizard, and the objects that choice turns into.

use serde::{Deserialize, Serialize};

use super::profile::ServiceProfile;
use crate::loop_header::pattern_for;
use crate::model::{
    ConnectorType, FromScope, InboundConnector, MessageType, OutboundConnector, RuleErrorAction,
    SenderAddressLocation, SentToScope, TlsSettings, TransportRule,
};
use crate::{Error, Result};

/// Whose mail goes through the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderScope {
    /// Every user of the tenant.
    AllUsers,
    /// Members of these mail-enabled groups (addresses, names or ids).
    Groups(Vec<String>),
}

/// The exceptions the routing rule makes, beyond the loop header (which is always excepted).
///
/// How each is realised:
/// - `calendar`: `ExceptIfMessageTypeMatches Calendaring` (invites keep their iCalendar parts intact).
/// - `null_sender`: `ExceptIfFromAddressMatchesPatterns <>` (NDRs and other system mail).
/// - `group_submitted`: `ExceptIfHeaderContainsMessageHeader
///   X-MS-Exchange-UnifiedGroup-SubmittedViaGroupAddress` (mail sent to a Microsoft 365 group
///   and redistributed by it).
/// - `max_size`: `ExceptIfMessageSizeOver` (large mail goes out unsigned instead of being
///   refused by the service).
/// - `auto_replies`: a second rule, evaluated first, that stamps the loop header on
///   out-of-office replies (`MessageTypeMatches OOF`), so the routing rule's loop-header
///   exception lets them bypass the service. (One rule cannot except two message types.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Exceptions {
    /// Skip meeting requests and responses.
    pub calendar: bool,
    /// Skip mail from the null sender (NDRs).
    pub null_sender: bool,
    /// Skip mail submitted through a Microsoft 365 group address.
    pub group_submitted: bool,
    /// Skip messages larger than this many bytes.
    pub max_size: Option<u64>,
    /// Let automatic replies bypass the service.
    pub auto_replies: bool,
}

impl Default for Exceptions {
    /// Every exception on, with a 22.5 MB size limit (what the leading vendors use).
    fn default() -> Self {
        Exceptions {
            calendar: true,
            null_sender: true,
            group_submitted: true,
            max_size: Some(23_592_960),
            auto_replies: true,
        }
    }
}

/// The header Exchange adds to mail redistributed by a Microsoft 365 group.
pub const GROUP_SUBMITTED_HEADER: &str = "X-MS-Exchange-UnifiedGroup-SubmittedViaGroupAddress";
const GROUP_SUBMITTED_VALUE: &str = "/o=ExchangeLabs/ou=Exchange Administrative Group";

/// The wizard's choices: a service profile, a sender scope, internal mail too or external
/// only, the exceptions, and whether to stage (create the rule disabled).
///
/// ```
/// use sigsync_core::setup::{ConnectorSetup, SenderScope, ServiceProfile};
///
/// let profile = ServiceProfile::builder()
///     .smart_hosts(["smtp.signatures.example.com"])
///     .certificate_name("tenant1.smtp.signatures.example.com")
///     .build()?;
/// let setup = ConnectorSetup::builder(profile)
///     .scope(SenderScope::Groups(vec!["sales@contoso.com".into()]))
///     .include_internal(false)
///     .build()?;
/// let desired = setup.desired();
/// assert_eq!(desired.routing_rule.from_member_of(), ["sales@contoso.com"]);
/// # Ok::<(), sigsync_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorSetup {
    /// The service.
    pub profile: ServiceProfile,
    /// Whose mail is routed.
    pub scope: SenderScope,
    /// Route mail between the tenant's own users too (otherwise external recipients only).
    pub include_internal: bool,
    /// The routing rule's exceptions.
    pub exceptions: Exceptions,
    /// Create the routing rule disabled, to enable later.
    pub staged: bool,
    /// What happens to a message when routing fails at delivery time (default `Ignore`: it
    /// goes out unsigned instead of bouncing).
    pub rule_error_action: RuleErrorAction,
    /// The routing rule's priority (0 = first); the auto-reply rule sits just above it.
    pub priority: u32,
}

impl ConnectorSetup {
    /// Starts a builder: all users, internal mail too, every exception, not staged.
    pub fn builder(profile: ServiceProfile) -> ConnectorSetupBuilder {
        ConnectorSetupBuilder {
            setup: ConnectorSetup {
                profile,
                scope: SenderScope::AllUsers,
                include_internal: true,
                exceptions: Exceptions::default(),
                staged: false,
                rule_error_action: RuleErrorAction::Ignore,
                priority: 0,
            },
        }
    }

    /// Checks the choices (the profile included).
    pub fn validate(&self) -> Result<()> {
        self.profile.validate()?;
        if let SenderScope::Groups(groups) = &self.scope {
            if groups.is_empty() {
                return Err(Error::validation(
                    "scope",
                    "name at least one group, or choose all users",
                ));
            }
            if groups.iter().any(|g| g.trim().is_empty()) {
                return Err(Error::validation(
                    "scope",
                    "group entries must not be empty",
                ));
            }
        }
        if self.exceptions.max_size == Some(0) {
            return Err(Error::validation(
                "exceptions.max_size",
                "must be greater than zero",
            ));
        }
        self.desired().validate()
    }

    /// The objects this setup wants in the tenant.
    pub fn desired(&self) -> Desired {
        let p = &self.profile;
        let n = &p.names;
        let outbound = OutboundConnector::builder(&n.outbound_connector)
            .connector_type(ConnectorType::OnPremises)
            .use_mx_record(false)
            .smart_hosts(p.smart_hosts.iter().cloned())
            .tls_settings(TlsSettings::DomainValidation)
            .tls_domain(&p.tls_domain)
            .is_transport_rule_scoped(true)
            .cloud_services_mail_enabled(p.cloud_services_mail_enabled)
            .comment(&p.comment_marker);
        let mut inbound = InboundConnector::builder(&n.inbound_connector)
            .connector_type(ConnectorType::OnPremises)
            .sender_domains(["*"])
            .require_tls(true)
            .tls_sender_certificate_name(&p.certificate_name)
            .restrict_domains_to_certificate(true)
            .cloud_services_mail_enabled(p.cloud_services_mail_enabled)
            .comment(&p.comment_marker);
        inbound = if p.relay_ip_ranges.is_empty() {
            inbound.ef_skip_last_ip(true)
        } else {
            inbound.ef_skip_ips(p.relay_ip_ranges.iter().cloned())
        };

        let auto_reply = self.exceptions.auto_replies;
        // Every accepted value as an escaped, anchored pattern, in a stable order (so a
        // rotation's switch of the stamped value changes nothing here).
        let mut patterns: Vec<String> = p
            .accepted_loop_header_values()
            .into_iter()
            .map(pattern_for)
            .collect();
        patterns.sort();
        let mut rule = TransportRule::builder(&n.routing_rule)
            .priority(self.priority + u32::from(auto_reply))
            .enabled(!self.staged)
            .from_scope(FromScope::InOrganization)
            .except_if_header_matches(&p.loop_header.name, patterns)
            .route_message_outbound_connector(&n.outbound_connector)
            .stop_rule_processing(true)
            .rule_error_action(self.rule_error_action)
            .sender_address_location(SenderAddressLocation::Envelope)
            .comments(&p.comment_marker);
        if !self.include_internal {
            rule = rule.sent_to_scope(SentToScope::NotInOrganization);
        }
        if let SenderScope::Groups(groups) = &self.scope {
            rule = rule.from_member_of(groups.iter().cloned());
        }
        let e = &self.exceptions;
        if e.calendar {
            rule = rule.except_if_message_type_matches(MessageType::Calendaring);
        }
        if e.null_sender {
            rule = rule.except_if_from_address_matches_patterns(["<>"]);
        }
        if e.group_submitted {
            rule = rule.except_if_header_contains(GROUP_SUBMITTED_HEADER, [GROUP_SUBMITTED_VALUE]);
        }
        if let Some(size) = e.max_size {
            rule = rule.except_if_message_size_over(size);
        }
        if !p.relay_ip_ranges.is_empty() {
            rule = rule.except_if_sender_ip_ranges(p.relay_ip_ranges.iter().cloned());
        }
        let auto_reply_rule = auto_reply.then(|| {
            TransportRule::builder(&n.auto_reply_rule)
                .priority(self.priority)
                .message_type_matches(MessageType::Oof)
                .set_header(&p.loop_header.name, &p.loop_header.value)
                .comments(&p.comment_marker)
        });
        // The builders' validation runs in `Desired::validate`; here we only assemble.
        Desired {
            outbound: outbound.into_unchecked(),
            inbound: inbound.into_unchecked(),
            routing_rule: rule.into_unchecked(),
            auto_reply_rule: auto_reply_rule.map(|b| b.into_unchecked()),
        }
    }
}

/// Builds a [`ConnectorSetup`].
#[derive(Debug, Clone)]
pub struct ConnectorSetupBuilder {
    setup: ConnectorSetup,
}

impl ConnectorSetupBuilder {
    /// Whose mail is routed.
    pub fn scope(mut self, scope: SenderScope) -> Self {
        self.setup.scope = scope;
        self
    }

    /// Route internal mail too (`true`, the default) or external only.
    pub fn include_internal(mut self, include: bool) -> Self {
        self.setup.include_internal = include;
        self
    }

    /// The routing rule's exceptions.
    pub fn exceptions(mut self, exceptions: Exceptions) -> Self {
        self.setup.exceptions = exceptions;
        self
    }

    /// Create the routing rule disabled.
    pub fn staged(mut self, staged: bool) -> Self {
        self.setup.staged = staged;
        self
    }

    /// The routing rule's `RuleErrorAction` (default `Ignore`).
    pub fn rule_error_action(mut self, action: RuleErrorAction) -> Self {
        self.setup.rule_error_action = action;
        self
    }

    /// The routing rule's priority.
    pub fn priority(mut self, priority: u32) -> Self {
        self.setup.priority = priority;
        self
    }

    /// Validates and returns the setup.
    pub fn build(self) -> Result<ConnectorSetup> {
        self.setup.validate()?;
        Ok(self.setup)
    }
}

/// The objects a setup wants in the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The outbound connector to the service.
    pub outbound: OutboundConnector,
    /// The inbound connector from the service.
    pub inbound: InboundConnector,
    /// The rule that routes mail to the service.
    pub routing_rule: TransportRule,
    /// The rule that lets automatic replies bypass the service, if wanted.
    pub auto_reply_rule: Option<TransportRule>,
}

impl Desired {
    /// Validates every object.
    pub fn validate(&self) -> Result<()> {
        self.outbound.validate()?;
        self.inbound.validate()?;
        self.routing_rule.validate()?;
        if let Some(r) = &self.auto_reply_rule {
            r.validate()?;
        }
        Ok(())
    }
}
