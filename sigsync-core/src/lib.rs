//! sigsync: server-side email signatures for Microsoft 365.
//!
//! sigsync sets up the Exchange Online mail flow that routes a tenant's outgoing mail through a
//! signature service and back (an outbound connector, an inbound connector and a transport
//! rule), and injects signatures into the messages the service receives.
//!
//! The typed definitions validate what Exchange validates before anything is sent:
//!
//! ```
//! use sigsync_core::model::{
//!     ConnectorType, FromScope, InboundConnector, MessageType, OutboundConnector, TlsSettings,
//!     TransportRule,
//! };
//!
//! let outbound = OutboundConnector::builder("Signature service (outbound)")
//!     .connector_type(ConnectorType::OnPremises)
//!     .use_mx_record(false)
//!     .smart_hosts(["smtp.signatures.example.com"])
//!     .tls_settings(TlsSettings::DomainValidation)
//!     .tls_domain("smtp.signatures.example.com")
//!     .is_transport_rule_scoped(true)
//!     .cloud_services_mail_enabled(true)
//!     .build()?;
//!
//! let inbound = InboundConnector::builder("Signature service (inbound)")
//!     .connector_type(ConnectorType::OnPremises)
//!     .sender_domains(["*"])
//!     .require_tls(true)
//!     .tls_sender_certificate_name("tenant1.smtp.signatures.example.com")
//!     .restrict_domains_to_certificate(true)
//!     .cloud_services_mail_enabled(true)
//!     .build()?;
//!
//! let rule = TransportRule::builder("Route mail to the signature service")
//!     .priority(0)
//!     .from_scope(FromScope::InOrganization)
//!     .except_if_header_matches("X-Sigsync-Processed", ["true"])
//!     .except_if_message_type_matches(MessageType::Calendaring)
//!     .route_message_outbound_connector(outbound.name())
//!     .stop_rule_processing(true)
//!     .build()?;
//!
//! assert_eq!(rule.route_message_outbound_connector(), Some("Signature service (outbound)"));
//! # let _ = inbound;
//! # Ok::<(), sigsync_core::Error>(())
//! ```

pub mod auth;
pub mod error;
pub mod exchange;
pub mod http;
pub mod inject;
pub mod loop_header;
pub mod model;
pub mod secret;
pub mod setup;
pub mod signature;

pub use error::{ApiError, AuthError, Error, ErrorKind, Result};
pub use loop_header::LoopHeader;
pub use secret::Secret;
