//! The simulated tenant over HTTP: Microsoft sign-in, the Exchange admin API's
//! `InvokeCommand` and the Graph directory endpoints, served on loopback with the shapes and
//! error envelopes of the real services, so the real sign-in and the real
//! [`RestExchangeClient`](crate::exchange::RestExchangeClient) run against it unchanged.
//!
//! ```no_run
//! # async fn run() -> sigsync_core::Result<()> {
//! use std::sync::Arc;
//! use sigsync_core::auth::{AuthConfig, DeviceCodeFlow};
//! use sigsync_core::exchange::sim::{SimServer, SimServerOptions, SimTenant};
//! use sigsync_core::exchange::{ExchangeClient, RestExchangeClient};
//!
//! let server = SimServer::start(SimTenant::new(), SimServerOptions::default()).await;
//! // By hand (what `server.auth_config(..)` and `server.client_builder(..)` also do):
//! let config = AuthConfig::builder("00000000-0000-0000-0000-000000000001", server.tenant_id())
//!     .login_url(server.login_url())
//!     .allow_http(true)
//!     .build()?;
//! let tokens = DeviceCodeFlow::new(config)
//!     .sign_in(|p| println!("{}", p.message.as_deref().unwrap_or("")))
//!     .await?;
//! let client = RestExchangeClient::builder(Arc::new(tokens))
//!     .exchange_url(server.exchange_url())
//!     .graph_url(server.graph_url())
//!     .allow_http(true)
//!     .build()?;
//! assert!(client.list_transport_rules().await?.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! Faults, latency and replication lag are the wrapped [`SimTenant`]'s; an injected network
//! fault arrives as an undecodable answer. The server itself can answer Exchange requests with
//! a redirect to another host ([`SimServer::redirect_next`]), as the service's regional
//! redirects do.

mod exchange;
mod graph;
mod login;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::SimTenant;
use crate::auth::{AuthConfig, AuthConfigBuilder, TokenProvider};
use crate::exchange::rest::{RestExchangeClient, RestExchangeClientBuilder};
use login::Tokens;

/// What the simulated sign-in does with a device-code request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignInOutcome {
    /// The admin approves (after the pending polls).
    #[default]
    Approve,
    /// The admin declines (`authorization_declined`).
    Decline,
    /// The admin never finishes (`expired_token`).
    Expire,
}

/// How the simulated services behave.
#[derive(Clone, PartialEq, Eq)]
pub struct SimServerOptions {
    /// The tenant id (a GUID) in tokens and URLs; random by default.
    pub tenant_id: String,
    /// The tenant's initial domain, also accepted in URLs.
    pub tenant_domain: String,
    /// The admin who signs in with the device code.
    pub user_principal_name: String,
    /// How many polls answer `authorization_pending` before the outcome.
    pub pending_polls: u32,
    /// What the admin does.
    pub sign_in: SignInOutcome,
    /// The polling interval the device-code answer asks for, in seconds.
    pub interval_secs: u64,
    /// How long a device code is valid, in seconds.
    pub device_code_lifetime_secs: u64,
    /// How long an access token is valid, in seconds.
    pub token_lifetime_secs: u64,
    /// Graph page size (Graph's own default is 100).
    pub page_size: usize,
    /// The client secret app-only sign-in must present; `None` accepts any secret or
    /// assertion.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for SimServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServerOptions")
            .field("tenant_id", &self.tenant_id)
            .field("tenant_domain", &self.tenant_domain)
            .field("user_principal_name", &self.user_principal_name)
            .field("pending_polls", &self.pending_polls)
            .field("sign_in", &self.sign_in)
            .field("interval_secs", &self.interval_secs)
            .field("device_code_lifetime_secs", &self.device_code_lifetime_secs)
            .field("token_lifetime_secs", &self.token_lifetime_secs)
            .field("page_size", &self.page_size)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Default for SimServerOptions {
    fn default() -> Self {
        SimServerOptions {
            tenant_id: uuid::Uuid::new_v4().to_string(),
            tenant_domain: "contoso.onmicrosoft.com".into(),
            user_principal_name: "admin@contoso.onmicrosoft.com".into(),
            pending_polls: 1,
            sign_in: SignInOutcome::Approve,
            interval_secs: 1,
            device_code_lifetime_secs: 900,
            token_lifetime_secs: 3600,
            page_size: 100,
            client_secret: None,
        }
    }
}

/// The simulated tenant served over HTTP on `127.0.0.1` (an ephemeral port). Dropping it
/// stops the server.
pub struct SimServer {
    server: MockServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("uri", &self.server.uri())
            .field("tenant_id", &self.shared.options.tenant_id)
            .finish_non_exhaustive()
    }
}

/// What the request handlers share.
struct Shared {
    tenant: SimTenant,
    options: SimServerOptions,
    base: String,
    tokens: Mutex<Tokens>,
    /// Exchange requests still to be answered with a redirect.
    redirects: AtomicU32,
    /// Redirects answered so far.
    redirected: AtomicU32,
}

impl SimServer {
    /// Starts serving `tenant`.
    pub async fn start(tenant: SimTenant, options: SimServerOptions) -> SimServer {
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let shared = Arc::new(Shared {
            tenant,
            options,
            base: server.uri(),
            tokens: Mutex::new(Tokens::default()),
            redirects: AtomicU32::new(0),
            redirected: AtomicU32::new(0),
        });
        Mock::given(any())
            .respond_with(Handler(shared.clone()))
            .mount(&server)
            .await;
        tracing::info!(uri = %server.uri(), "simulated tenant serving");
        SimServer { server, shared }
    }

    /// The server's root, e.g. `http://127.0.0.1:49152`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The login host for [`AuthConfig`](crate::auth::AuthConfig)`::login_url`.
    pub fn login_url(&self) -> String {
        self.server.uri()
    }

    /// The Exchange host for the client's `exchange_url`.
    pub fn exchange_url(&self) -> String {
        self.server.uri()
    }

    /// The Graph base (with `/v1.0`) for the client's `graph_url`.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.server.uri())
    }

    /// A sign-in configuration for `client_id` pointed at this server (plain HTTP on loopback
    /// allowed), for the tenant id; add a clock or a cache before `build()`.
    pub fn auth_config(&self, client_id: impl Into<String>) -> AuthConfigBuilder {
        AuthConfig::builder(client_id, self.tenant_id())
            .login_url(self.login_url())
            .allow_http(true)
    }

    /// A [`RestExchangeClient`] builder pointed at this server's Exchange and Graph, with
    /// tokens from `provider`.
    pub fn client_builder(&self, provider: Arc<dyn TokenProvider>) -> RestExchangeClientBuilder {
        RestExchangeClient::builder(provider)
            .exchange_url(self.exchange_url())
            .graph_url(self.graph_url())
            .allow_http(true)
    }

    /// The tenant id (a GUID).
    pub fn tenant_id(&self) -> &str {
        &self.shared.options.tenant_id
    }

    /// The tenant's initial domain.
    pub fn tenant_domain(&self) -> &str {
        &self.shared.options.tenant_domain
    }

    /// The simulated tenant behind the server (inspect it, inject faults).
    pub fn tenant(&self) -> &SimTenant {
        &self.shared.tenant
    }

    /// Makes every access token issued so far invalid (the next call gets a 401), as a
    /// revoked or expired token would.
    pub fn revoke_access_tokens(&self) {
        self.shared.lock_tokens().access.clear();
    }

    /// How many token requests of `grant_type` (e.g. `refresh_token`) were answered.
    pub fn token_requests(&self, grant_type: &str) -> usize {
        self.shared
            .lock_tokens()
            .grants
            .iter()
            .filter(|g| *g == grant_type)
            .count()
    }

    /// Answers the next `count` Exchange requests with `302 Found` to another host (a regional
    /// redirect) instead of serving them; they reach the tenant only when sent again.
    pub fn redirect_next(&self, count: u32) {
        self.shared.redirects.store(count, Ordering::SeqCst);
    }

    /// How many redirects the server has answered.
    pub fn redirects_served(&self) -> u32 {
        self.shared.redirected.load(Ordering::SeqCst)
    }

    /// Stops the server.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Shared {
    fn lock_tokens(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `segment` names this tenant (its id, initial domain or an accepted domain).
    fn is_tenant(&self, segment: &str) -> bool {
        segment.eq_ignore_ascii_case(&self.options.tenant_id)
            || segment.eq_ignore_ascii_case(&self.options.tenant_domain)
            || self
                .tenant
                .accepted_domains()
                .iter()
                .any(|d| d.domain_name.eq_ignore_ascii_case(segment))
    }
}

struct Handler(Arc<Shared>);

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let shared = &self.0;
        let segments: Vec<String> = request
            .url
            .path_segments()
            .map(|s| s.map(percent_decode).collect())
            .unwrap_or_default();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = request.method.as_str();
        match (method, segs.as_slice()) {
            ("POST", [tenant, "oauth2", "v2.0", endpoint]) => {
                login::respond(shared, tenant, endpoint, request)
            }
            ("POST", ["adminapi", "beta", tenant, "InvokeCommand"]) => {
                let redirect = shared
                    .redirects
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if redirect {
                    shared.redirected.fetch_add(1, Ordering::SeqCst);
                    let location = format!(
                        "https://outlook-regional.sim.invalid/adminapi/beta/{tenant}/InvokeCommand"
                    );
                    return ResponseTemplate::new(302).insert_header("Location", location.as_str());
                }
                exchange::respond(shared, tenant, request)
            }
            ("GET", ["v1.0", rest @ ..]) => graph::respond(shared, rest, request),
            ("GET", ["devicelogin"]) => ResponseTemplate::new(200).set_body_string(
                "Simulated tenant: device-code sign-ins are answered automatically.\n",
            ),
            _ => ResponseTemplate::new(404).set_body_json(json!({
                "error": {"code": "NotFound", "message": format!("no such endpoint: {method} {}", request.url.path())}
            })),
        }
    }
}

/// Decodes `%XX` escapes of a path segment (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bearer token of `request`, if any.
fn bearer(request: &Request) -> Option<&str> {
    request
        .headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}
