//! Typed definitions of the Exchange Online objects a signature service creates: the outbound
//! connector, the inbound connector and the transport rule.
//!
//! Builders take the required `Name` positionally and every other parameter through a setter;
//! `build()` runs the same validation Exchange Online runs (and that the simulated tenant
//! runs), returning an error that names the parameter. Each definition converts to cmdlet
//! parameters ([`Definition::to_new_params`]) and back from the records Get-* returns
//! ([`Definition::from_record`]), losslessly for every modelled field.

mod enums;
mod inbound;
pub(crate) mod macros;
mod outbound;
pub mod params;
mod rule;
pub mod validate;

use serde_json::Value;

pub use enums::{
    ConnectorType, FromScope, MessageType, ParamEnum, RuleErrorAction, RuleMode,
    SenderAddressLocation, SentToScope, TlsSettings,
};
pub use inbound::{InboundConnector, InboundConnectorBuilder};
pub use outbound::{OutboundConnector, OutboundConnectorBuilder};
pub use params::Params;
pub use rule::{TransportRule, TransportRuleBuilder};

use crate::Result;

/// The three kinds of object sigsync manages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// An inbound connector.
    InboundConnector,
    /// An outbound connector.
    OutboundConnector,
    /// A transport rule.
    TransportRule,
}

impl ObjectKind {
    /// The cmdlet noun: `Get-<noun>`, `New-<noun>`, `Set-<noun>`, `Remove-<noun>`.
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::InboundConnector => "InboundConnector",
            ObjectKind::OutboundConnector => "OutboundConnector",
            ObjectKind::TransportRule => "TransportRule",
        }
    }

    /// The snake_case name used in JSON output (`inbound_connector`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::InboundConnector => "inbound_connector",
            ObjectKind::OutboundConnector => "outbound_connector",
            ObjectKind::TransportRule => "transport_rule",
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the three definitions have in common: a name, validation and the cmdlet parameter
/// conversions.
pub trait Definition: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// Which kind of object this is.
    const KIND: ObjectKind;

    /// The object's `Name`.
    fn name(&self) -> &str;

    /// Every modelled parameter, unset ones as `null`.
    fn to_params(&self) -> Params;

    /// Reads the definition from a Get-* record (or New-* parameters), ignoring unknown fields.
    fn from_record(record: &Params) -> Result<Self>;

    /// Runs Exchange's validation.
    fn validate(&self) -> Result<()>;

    /// The parameters for `New-<noun>`: the modelled ones that are set.
    fn to_new_params(&self) -> Params {
        self.to_params()
            .into_iter()
            .filter(|(_, v)| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty)))
            .collect()
    }

    /// The parameters a `Set-<noun>` must send to turn `current` into `self`: only the ones
    /// that differ (compared as Exchange compares them), never `Name`, and for rules never the
    /// enabled state (that is `Enable-`/`Disable-TransportRule`) nor an unset priority.
    fn changes_from(&self, current: &Self) -> Params {
        let now = current.to_params();
        self.to_params()
            .into_iter()
            .filter(|(key, want)| {
                let skip = key == "Name"
                    || (Self::KIND == ObjectKind::TransportRule
                        && (key == "Enabled" || (key == "Priority" && want.is_null())));
                !skip && !params::same_value(want, now.get(key).unwrap_or(&Value::Null))
            })
            .collect()
    }
}

macro_rules! impl_definition {
    ($ty:ty, $kind:expr, $from:path) => {
        impl Definition for $ty {
            const KIND: ObjectKind = $kind;
            fn name(&self) -> &str {
                <$ty>::name(self)
            }
            fn to_params(&self) -> Params {
                <$ty>::to_params(self)
            }
            fn from_record(record: &Params) -> Result<Self> {
                $from(record)
            }
            fn validate(&self) -> Result<()> {
                <$ty>::validate(self)
            }
        }
    };
}

impl_definition!(
    OutboundConnector,
    ObjectKind::OutboundConnector,
    OutboundConnector::from_params
);
impl_definition!(
    InboundConnector,
    ObjectKind::InboundConnector,
    InboundConnector::from_params
);
impl_definition!(
    TransportRule,
    ObjectKind::TransportRule,
    TransportRule::from_record
);
