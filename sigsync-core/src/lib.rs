//! sigsync: server-side email signatures for Microsoft 365.
//!
//! sigsync sets up the Exchange Online mail flow that routes a tenant's outgoing mail through a
//! signature service and back (an outbound connector, an inbound connector and a transport
//! rule), and injects signatures into the messages the service receives. The C API
//! (`sigsync-ffi`) and the Python package (`sigsync`) are thin layers over this crate.
//!
//! # Guide
//!
//! | flow | where |
//! |---|---|
//! | the connector wizard: plan, apply, pause, resume, remove, status | [`setup`] |
//! | sign-in: device code, client credentials, national clouds | [`auth`] |
//! | the Exchange admin API over HTTPS; the retry layer | [`exchange`] |
//! | Microsoft Graph (groups for setup, users for signatures) | [`graph`] |
//! | the one HTTP policy (HTTPS, no redirects followed, tokens to one host) | [`http`] |
//! | the loop-prevention header, random per tenant | [`loop_header`] |
//! | the simulated tenant (feature `sim`) | [`exchange::sim`] |
//! | typed connectors and rules that validate what Exchange validates | [`model`] |
//! | signature templates, policy and client-side rendering | [`signature`] |
//! | putting a signature into a MIME message | [`inject`] |
//! | the SMTP relay the connectors point at (feature `relay`) | `relay` |
//! | one error type with a stable [`ErrorKind`] | [`error`] |
//!
//! The examples below run as doctests. Those that use the simulated tenant need the cargo
//! feature `sim` (`cargo test -p sigsync-core --doc --all-features`); a product leaves it out
//! and talks to the real services.
//!
//! ## Set up the mail flow (simulated tenant, in memory)
//!
//! [`SetupEngine`](setup::SetupEngine) works on any [`ExchangeClient`](exchange::ExchangeClient);
//! here the in-memory simulated tenant, which enforces Exchange's rules. It plans, applies in
//! mail-safe order, and converges: a second run plans nothing.
//!
//! ```
//! # #[cfg(feature = "sim")] // the simulated tenant
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use sigsync_core::exchange::sim::SimTenant;
//! use sigsync_core::setup::{no_progress, ConnectorSetup, SenderScope, ServiceProfile, SetupEngine, SetupStatus};
//!
//! let tenant = SimTenant::new();
//! tenant.add_accepted_domain("contoso.com", true);
//! tenant.add_accepted_domain("tenant1.smtp.signatures.example.com", false);
//!
//! let profile = ServiceProfile::builder()
//!     .smart_hosts(["smtp.signatures.example.com"])
//!     .certificate_name("tenant1.smtp.signatures.example.com")
//!     .build()?;
//! let setup = ConnectorSetup::builder(profile)
//!     .scope(SenderScope::AllUsers)
//!     .include_internal(false) // external mail only
//!     .build()?;
//! let engine = SetupEngine::new(Arc::new(tenant.clone()));
//!
//! let (plan, findings) = engine.plan(&setup).await?;
//! assert!(findings.is_empty(), "{findings:?}");
//! println!("{plan}");
//! let report = engine.configure(&setup, &no_progress).await?;
//! assert!(report.succeeded());
//! assert!(engine.plan(&setup).await?.0.is_empty());
//!
//! engine.pause(&setup, &no_progress).await?;
//! assert_eq!(engine.status(&setup).await?.status, SetupStatus::Paused);
//! engine.remove(&setup, &no_progress).await?;
//! assert_eq!(engine.status(&setup).await?.status, SetupStatus::Absent);
//! # Ok::<(), sigsync_core::Error>(()) }).unwrap();
//! ```
//!
//! ## Sign in with a device code, and talk HTTP
//!
//! [`SimServer`](exchange::sim::SimServer) serves the simulated tenant over HTTP on loopback
//! with the wire formats of Microsoft sign-in, the Exchange admin API and Graph, so this is the
//! code that runs against a real tenant, with the URLs pointed at loopback.
//!
//! ```
//! # #[cfg(feature = "sim")] // the simulated tenant
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use sigsync_core::auth::{DeviceCodeFlow, TokenProvider};
//! use sigsync_core::exchange::sim::{SimServer, SimServerOptions, SimTenant};
//! use sigsync_core::exchange::{ExchangeClient, RetryPolicy, RetryingClient};
//!
//! let tenant = SimTenant::new();
//! tenant.add_accepted_domain("contoso.com", true);
//! let server = SimServer::start(tenant, SimServerOptions::default()).await;
//!
//! // Real tenant: AuthConfig::builder(client_id, "contoso.onmicrosoft.com").build()?
//! let auth = server.auth_config("my-app-id").build()?;
//! let tokens = DeviceCodeFlow::new(auth)
//!     .sign_in(|prompt| {
//!         // Show this to the admin: "open https://microsoft.com/devicelogin, enter the code".
//!         println!("open {} and enter {}", prompt.verification_uri, prompt.user_code)
//!     })
//!     .await?;
//! let who = tokens.identity().expect("the ID token names the user");
//! assert_eq!(who.user_principal_name.as_deref(), Some("admin@contoso.onmicrosoft.com"));
//!
//! // Real tenant: RestExchangeClient::builder(Arc::new(tokens)).tenant(..).build()?
//! let client = server.client_builder(Arc::new(tokens)).build()?;
//! let client = RetryingClient::new(client, RetryPolicy::default());
//! let domains = client.list_accepted_domains().await?;
//! assert_eq!(domains[0].domain_name, "contoso.com");
//! # Ok::<(), sigsync_core::Error>(()) }).unwrap();
//! ```
//!
//! Automation without an admin at the keyboard signs in app-only, preferably with a
//! certificate; the app needs `Exchange.ManageAsApp` and the Exchange Administrator role
//! (see the README's security section):
//!
//! ```no_run
//! # async fn run(cert_pem: &[u8], key_pem: String) -> sigsync_core::Result<()> {
//! use std::sync::Arc;
//! use sigsync_core::auth::{AppOnlyTokenProvider, AuthConfig, CertificateCredential, Cloud};
//! use sigsync_core::exchange::RestExchangeClient;
//!
//! let config = AuthConfig::builder("00000000-0000-0000-0000-000000000001", "contoso.onmicrosoft.com")
//!     .cloud(Cloud::Global)
//!     .build()?;
//! let certificate = CertificateCredential::from_pem(cert_pem, &key_pem.into())?;
//! let tokens = AppOnlyTokenProvider::with_certificate(config, certificate)?;
//! let client = RestExchangeClient::builder(Arc::new(tokens))
//!     .tenant("contoso.onmicrosoft.com")
//!     .build()?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! ## Render a signature (client-side mode)
//!
//! One [`SignatureConfig`](signature::SignatureConfig) (TOML or JSON) holds the templates, the
//! policy and the directory. A compose-time add-in renders the same signature the server would
//! add, marked so that the server does not add it twice:
//!
//! ```
//! use sigsync_core::signature::{MessageContext, MessageKind, SignatureConfig, UserAttributes};
//!
//! let config = SignatureConfig::from_toml_str(r#"
//!     accepted_domains = ["contoso.com"]
//!     [signatures.standard]
//!     html = "<p><b>{{ displayName }}</b><br>{{ jobTitle }}</p>"
//!     text = "{{ displayName }}\n{{ jobTitle }}"
//!     [[rules]]
//!     name = "everyone"
//!     signature = "standard"
//! "#)?;
//! let engine = config.engine(None)?;
//! let user = UserAttributes {
//!     display_name: Some("Adele Vance".into()),
//!     job_title: Some("Retail <Manager>".into()),
//!     mail: Some("adele@contoso.com".into()),
//!     ..Default::default()
//! };
//! let ctx = MessageContext::new("adele@contoso.com", ["ben@fabrikam.com"], MessageKind::New);
//! let choice = engine.render_client_side(&user, &ctx)?;
//! let signature = choice.signature().expect("the rule signs everyone");
//! assert!(signature.html.contains("<b>Adele Vance</b><br>Retail &lt;Manager&gt;")); // escaped
//! assert!(signature.html.contains(r#"data-sigsync="client""#));
//! # Ok::<(), sigsync_core::Error>(())
//! ```
//!
//! ## Inject a signature into a message (the service's side)
//!
//! [`SignatureInjector`](inject::SignatureInjector) chooses, renders and inserts the signature
//! per message; build it once and share it between threads. Whatever the outcome, the output
//! is the message to send on: it always carries the loop header, and a message that is not
//! signed (S/MIME, an invite, an auto-reply, ...) passes through byte for byte but for it.
//!
//! ```
//! use sigsync_core::inject::{Outcome, SignatureInjector};
//! use sigsync_core::signature::{SignatureConfig, UserAttributes};
//!
//! let config = SignatureConfig::from_toml_str(r#"
//!     accepted_domains = ["contoso.com"]
//!     [signatures.standard]
//!     html = "<p>{{ displayName }}</p>"
//!     text = "{{ displayName }}"
//!     [[rules]]
//!     name = "everyone"
//!     signature = "standard"
//! "#)?;
//! let injector = SignatureInjector::from_config(&config, None)?;
//! let user = UserAttributes { display_name: Some("Adele Vance".into()), ..Default::default() };
//!
//! let message = b"From: adele@contoso.com\r\nTo: ben@fabrikam.com\r\nSubject: Hi\r\n\
//!                 Content-Type: text/plain; charset=utf-8\r\n\r\nHello Ben\r\n";
//! let mut out = Vec::new();
//! let outcome = injector.inject(message, None, Some(&user), &mut out);
//! assert!(outcome.is_injected(), "{outcome:?}");
//! assert!(out.starts_with(b"X-Sigsync-Processed: true\r\n"));
//!
//! // The signed message, coming back from the service, is not signed again.
//! let mut again = Vec::new();
//! let outcome = injector.inject(&out, None, Some(&user), &mut again);
//! assert!(matches!(outcome, Outcome::Skipped(_)));
//! assert_eq!(again, out);
//! # Ok::<(), sigsync_core::Error>(())
//! ```
//!
//! ## Typed definitions
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
//!
//! ## Security
//!
//! Only HTTPS to Microsoft sign-in, the Exchange admin API and Graph; no redirects followed (a
//! redirected request is sent again to the configured host); access tokens treated as opaque;
//! tokens and secrets kept in memory as [`Secret`]s that print `[redacted]` and never appear in
//! errors or logs; nothing written to disk (a product persists a sign-in through
//! [`auth::TokenCache`]).

pub mod auth;
pub mod error;
pub mod exchange;
pub mod graph;
pub mod http;
pub mod inject;
pub mod loop_header;
pub mod model;
#[cfg(feature = "relay")]
pub mod relay;
pub mod secret;
pub mod setup;
pub mod signature;

pub use error::{ApiError, AuthError, Error, ErrorKind, Result};
pub use loop_header::LoopHeader;
pub use secret::Secret;
