//! Policy: rules in priority order that choose the signature for a message.
//!
//! Each rule has an on/off switch and conditions on three dimensions; a rule matches when all
//! three match, and the first enabled matching rule wins:
//!
//! * **sender** ([`SenderFilter`]): everyone, or listed addresses or members (transitively) of
//!   listed groups; and, in addition, attribute filters (`department = ["Sales"]`);
//! * **recipients** ([`RecipientScope`]): any, internal only, any external, listed domains;
//! * **message kind** ([`KindScope`]): any, new messages, or replies and forwards.
//!
//! A rule without a signature and without a disclaimer says "no signature". When no rule
//! matches, there is no signature either; both come with their [`NoSignatureReason`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::UserAttributes;

/// Whether a message is new, or a reply or forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A new message.
    #[default]
    New,
    /// A reply or a forward.
    Reply,
}

/// What the policy looks at for one message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageContext {
    /// The sender's address (the `From` address).
    pub sender: String,
    /// Every recipient address (To, Cc, Bcc).
    #[serde(default)]
    pub recipients: Vec<String>,
    /// New message, or reply/forward.
    #[serde(default)]
    pub kind: MessageKind,
}

impl MessageContext {
    /// A context for `sender` writing to `recipients`.
    pub fn new<I, S>(sender: impl Into<String>, recipients: I, kind: MessageKind) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        MessageContext {
            sender: sender.into(),
            recipients: recipients.into_iter().map(Into::into).collect(),
            kind,
        }
    }
}

/// Which message kinds a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KindScope {
    /// New messages and replies.
    #[default]
    Any,
    /// New messages only.
    New,
    /// Replies and forwards only (for a shorter reply signature).
    Reply,
}

/// Which recipients a rule applies to. "Internal" means the recipient's domain is one of the
/// tenant's accepted domains.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientScope {
    /// Any recipients.
    #[default]
    Any,
    /// Every recipient is internal.
    Internal,
    /// At least one recipient is external.
    External,
    /// At least one recipient is in one of these domains (`*.example.com` also matches
    /// subdomains).
    Domains(Vec<String>),
}

/// Which senders a rule applies to.
///
/// With no addresses and no groups, everyone matches; otherwise the sender must be listed or a
/// member of one of the groups. Every attribute filter must match as well.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SenderFilter {
    /// Sender addresses (case-insensitive).
    pub addresses: Vec<String>,
    /// Groups, by object id or mail address, whose members (transitively) match.
    pub groups: Vec<String>,
    /// Attribute filters: the attribute (placeholder name, e.g. `department`) must equal one of
    /// the values (case-insensitive).
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// One policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for logs and reasons.
    pub name: String,
    /// The on/off switch.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Sender conditions.
    #[serde(default)]
    pub senders: SenderFilter,
    /// Recipient conditions.
    #[serde(default)]
    pub recipients: RecipientScope,
    /// Message kind condition.
    #[serde(default)]
    pub kind: KindScope,
    /// The signature to add (a name from the configuration); `None` adds none.
    #[serde(default)]
    pub signature: Option<String>,
    /// The disclaimer to add at the very bottom; `None` adds none.
    #[serde(default)]
    pub disclaimer: Option<String>,
}

fn yes() -> bool {
    true
}

impl Rule {
    /// An enabled rule for everyone, any recipients and any kind, adding nothing yet.
    pub fn new(name: impl Into<String>) -> Self {
        Rule {
            name: name.into(),
            enabled: true,
            senders: SenderFilter::default(),
            recipients: RecipientScope::Any,
            kind: KindScope::Any,
            signature: None,
            disclaimer: None,
        }
    }

    /// Sets the signature the rule adds.
    pub fn signature(mut self, name: impl Into<String>) -> Self {
        self.signature = Some(name.into());
        self
    }

    /// Sets the disclaimer the rule adds.
    pub fn disclaimer(mut self, name: impl Into<String>) -> Self {
        self.disclaimer = Some(name.into());
        self
    }

    /// Switches the rule on or off.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Restricts the rule to these sender addresses.
    pub fn sender_addresses<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Self {
        self.senders.addresses = a.into_iter().map(Into::into).collect();
        self
    }

    /// Restricts the rule to members of these groups (ids or mail addresses).
    pub fn sender_groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, g: I) -> Self {
        self.senders.groups = g.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an attribute filter: `attribute` must be one of `values`.
    pub fn sender_attribute<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        attribute: impl Into<String>,
        values: I,
    ) -> Self {
        self.senders.attributes.insert(
            attribute.into(),
            values.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Sets the recipient condition.
    pub fn recipients(mut self, scope: RecipientScope) -> Self {
        self.recipients = scope;
        self
    }

    /// Sets the message kind condition.
    pub fn kind(mut self, kind: KindScope) -> Self {
        self.kind = kind;
        self
    }

    /// Matches everything but group membership; tells which groups remain to be checked.
    pub(crate) fn pre_match<'a>(
        &'a self,
        ctx: &MessageContext,
        accepted_domains: &[String],
        attributes: Option<&UserAttributes>,
    ) -> PreMatch<'a> {
        if !self.enabled {
            return PreMatch::No;
        }
        let kind_ok = match self.kind {
            KindScope::Any => true,
            KindScope::New => ctx.kind == MessageKind::New,
            KindScope::Reply => ctx.kind == MessageKind::Reply,
        };
        if !kind_ok || !self.recipients_match(&ctx.recipients, accepted_domains) {
            return PreMatch::No;
        }
        for (name, values) in &self.senders.attributes {
            let actual = attributes.and_then(|a| a.get(name)).unwrap_or_default();
            if !values
                .iter()
                .any(|v| v.trim().eq_ignore_ascii_case(&actual))
            {
                return PreMatch::No;
            }
        }
        let s = &self.senders;
        if s.addresses.is_empty() && s.groups.is_empty() {
            return PreMatch::Yes;
        }
        let sender = normalize_address(&ctx.sender);
        if s.addresses.iter().any(|a| normalize_address(a) == sender) {
            return PreMatch::Yes;
        }
        if s.groups.is_empty() {
            PreMatch::No
        } else {
            PreMatch::NeedsGroups(&s.groups)
        }
    }

    fn recipients_match(&self, recipients: &[String], accepted: &[String]) -> bool {
        match &self.recipients {
            RecipientScope::Any => true,
            RecipientScope::Internal => recipients.iter().all(|r| is_internal(r, accepted)),
            RecipientScope::External => recipients.iter().any(|r| !is_internal(r, accepted)),
            RecipientScope::Domains(list) => recipients
                .iter()
                .any(|r| list.iter().any(|d| domain_matches(&domain_of(r), d))),
        }
    }
}

/// The outcome of matching a rule without group membership.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PreMatch<'a> {
    No,
    Yes,
    /// Matches if the sender is a member of any of these groups.
    NeedsGroups(&'a [String]),
}

/// Why a message gets no signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoSignatureReason {
    /// No enabled rule matched the message.
    NoRuleMatched,
    /// The first matching rule (named here) adds nothing.
    RuleAddsNothing(String),
}

impl fmt::Display for NoSignatureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoSignatureReason::NoRuleMatched => f.write_str("no signature rule matched"),
            NoSignatureReason::RuleAddsNothing(rule) => {
                write!(f, "rule {rule:?} matched and adds no signature")
            }
        }
    }
}

/// The bare address of `a` (`Name <a@b>` gives `a@b`), lower-cased.
pub(crate) fn normalize_address(a: &str) -> String {
    bare_address(a).to_ascii_lowercase()
}

/// The bare address of `a`: the part in angle brackets if any, trimmed.
pub(crate) fn bare_address(a: &str) -> &str {
    let a = a.trim();
    match a.rfind('<') {
        Some(i) => a[i + 1..].split('>').next().unwrap_or_default().trim(),
        None => a,
    }
}

fn domain_of(address: &str) -> String {
    let a = normalize_address(address);
    a.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_owned())
        .unwrap_or_default()
}

fn domain_matches(domain: &str, pattern: &str) -> bool {
    let p = pattern.trim().to_ascii_lowercase();
    match p.strip_prefix("*.") {
        Some(base) => domain == base || domain.ends_with(&format!(".{base}")),
        None => domain == p,
    }
}

/// Whether `recipient` is internal: its domain is one of `accepted_domains`.
pub fn is_internal(recipient: &str, accepted_domains: &[String]) -> bool {
    let d = domain_of(recipient);
    !d.is_empty() && accepted_domains.iter().any(|a| domain_matches(&d, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_means_an_accepted_domain_case_insensitively() {
        let acc = vec!["contoso.com".to_owned()];
        assert!(is_internal("Bob <BOB@Contoso.COM>", &acc));
        assert!(!is_internal("bob@fabrikam.com", &acc));
        assert!(!is_internal("bob@sub.contoso.com", &acc));
        assert!(!is_internal("not-an-address", &acc));
    }

    #[test]
    fn wildcard_domains_match_subdomains() {
        assert!(domain_matches("eu.fabrikam.com", "*.fabrikam.com"));
        assert!(domain_matches("fabrikam.com", "*.fabrikam.com"));
        assert!(!domain_matches("notfabrikam.com", "*.fabrikam.com"));
    }
}
