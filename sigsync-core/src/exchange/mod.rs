//! Exchange Online: the [`ExchangeClient`] trait the setup engine talks to, and its
//! implementations.
//!
//! Every implementation speaks cmdlets ([`CmdletInput`] in, Get-* style records out) through
//! [`CmdletTransport`]; one blanket implementation turns that into the typed
//! [`ExchangeClient`], so the simulated tenant and the HTTP client cannot drift apart in how
//! they build parameters or read records.

mod cmdlet;
pub mod rest;
mod retry;
#[cfg(feature = "sim")]
pub mod sim;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use crate::graph::{GroupKind, MailGroup};
pub use cmdlet::{classify_exception, CmdletInput, CmdletTransport};
pub use rest::RestExchangeClient;
pub use retry::{Clock, RetryPolicy, RetryingClient, TokioClock};

use crate::model::{Definition, InboundConnector, OutboundConnector, Params, TransportRule};
use crate::Result;

/// Whether a failed write may still have taken effect: a 5xx, a timeout or a lost response
/// says nothing about what the service did, so such a write counts as applied when deciding
/// what is safe. (Refusals, throttling, "not found" and "already exists" were not applied.)
pub fn may_have_applied(e: &crate::Error) -> bool {
    use crate::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::Transient | ErrorKind::Network | ErrorKind::Exchange | ErrorKind::Internal
    )
}

/// An object as it exists in the tenant: its definition plus the identity Exchange gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing<T> {
    /// The object's GUID.
    pub guid: String,
    /// When it was created (`WhenCreatedUTC`), as Exchange reports it.
    pub when_created: Option<String>,
    /// When it last changed (`WhenChangedUTC`, or `WhenChanged` for rules).
    pub when_changed: Option<String>,
    /// The definition read back from the record.
    pub definition: T,
}

impl<T: Definition> Existing<T> {
    /// The object's `Name`.
    pub fn name(&self) -> &str {
        self.definition.name()
    }
}

/// An accepted domain of the tenant (`Get-AcceptedDomain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedDomain {
    /// The domain, e.g. `contoso.com`.
    pub domain_name: String,
    /// `Authoritative`, `InternalRelay` or `ExternalRelay`.
    pub domain_type: String,
    /// Whether it is the default domain.
    pub default: bool,
}

/// What the setup engine needs from Exchange Online.
///
/// Identities are names or GUIDs, as the cmdlets accept them. Errors carry Exchange's own
/// message and are classified by [`crate::ErrorKind`].
#[async_trait]
pub trait ExchangeClient: Send + Sync {
    /// `Get-OutboundConnector`: every outbound connector.
    async fn list_outbound_connectors(&self) -> Result<Vec<Existing<OutboundConnector>>>;
    /// `New-OutboundConnector`.
    async fn create_outbound_connector(
        &self,
        connector: &OutboundConnector,
    ) -> Result<Existing<OutboundConnector>>;
    /// `Set-OutboundConnector` with only the given parameters.
    async fn update_outbound_connector(&self, identity: &str, changes: &Params) -> Result<()>;
    /// `Remove-OutboundConnector`.
    async fn remove_outbound_connector(&self, identity: &str) -> Result<()>;

    /// `Get-InboundConnector`: every inbound connector.
    async fn list_inbound_connectors(&self) -> Result<Vec<Existing<InboundConnector>>>;
    /// `New-InboundConnector`.
    async fn create_inbound_connector(
        &self,
        connector: &InboundConnector,
    ) -> Result<Existing<InboundConnector>>;
    /// `Set-InboundConnector` with only the given parameters.
    async fn update_inbound_connector(&self, identity: &str, changes: &Params) -> Result<()>;
    /// `Remove-InboundConnector`.
    async fn remove_inbound_connector(&self, identity: &str) -> Result<()>;

    /// `Get-TransportRule`: every rule, in priority order.
    async fn list_transport_rules(&self) -> Result<Vec<Existing<TransportRule>>>;
    /// `New-TransportRule`.
    async fn create_transport_rule(&self, rule: &TransportRule) -> Result<Existing<TransportRule>>;
    /// `Set-TransportRule` with only the given parameters.
    async fn update_transport_rule(&self, identity: &str, changes: &Params) -> Result<()>;
    /// `Remove-TransportRule`.
    async fn remove_transport_rule(&self, identity: &str) -> Result<()>;
    /// `Enable-TransportRule`.
    async fn enable_transport_rule(&self, identity: &str) -> Result<()>;
    /// `Disable-TransportRule`.
    async fn disable_transport_rule(&self, identity: &str) -> Result<()>;

    /// The tenant's mail-enabled groups (distribution lists, mail-enabled security groups,
    /// Microsoft 365 groups).
    async fn list_mail_enabled_groups(&self) -> Result<Vec<MailGroup>>;
    /// `Get-AcceptedDomain`: the tenant's accepted domains.
    async fn list_accepted_domains(&self) -> Result<Vec<AcceptedDomain>>;
}
