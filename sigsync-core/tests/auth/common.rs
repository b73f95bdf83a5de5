//! Helpers for the sign-in tests: Microsoft-shaped responses and form matchers (the clock and
//! the shared HTTP fixtures come from `common/http.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use sigsync_core::auth::{AuthConfig, Resource, TokenProvider};
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockBuilder, MockServer, Request, ResponseTemplate};

pub use crate::http_fixtures::{sequence, ManualClock, TENANT_ID, UPN};

pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const DEVICE_CODE: &str = "DAQABAAEAAAD-device-code-secret";
pub const USER_CODE: &str = "GXT4KQ9ZL";
pub const EXO_SCOPE: &str = "https://outlook.office365.com/.default";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A config pointing at `server` (plain HTTP on loopback, explicitly allowed).
pub fn config(server: &MockServer, tenant: &str, clock: Arc<ManualClock>) -> AuthConfig {
    AuthConfig::builder(CLIENT_ID, tenant)
        .login_url(server.uri())
        .allow_http(true)
        .clock(clock)
        .build()
        .unwrap()
}

pub fn token_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/token")
}

pub fn device_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/devicecode")
}

/// A POST to the token endpoint of `tenant` with `grant_type`.
pub fn token_request(tenant: &str, grant_type: &str) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(token_path(tenant)))
        .and(form_param("grant_type", grant_type))
}

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An unsigned JWT with these claims (enough for reading claims).
pub fn jwt(claims: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"RS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

pub fn id_token() -> String {
    jwt(json!({"tid": TENANT_ID, "preferred_username": UPN, "oid": "x", "ver": "2.0"}))
}

/// Microsoft's device-authorization answer.
pub fn device_code_response(expires_in: u64, interval: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "user_code": USER_CODE,
        "device_code": DEVICE_CODE,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": expires_in,
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {USER_CODE} to authenticate."),
    }))
}

/// A delegated token answer.
pub fn token_response(access: &str, refresh: Option<&str>, expires_in: u64) -> ResponseTemplate {
    let mut body = json!({
        "token_type": "Bearer",
        "scope": "https://outlook.office365.com/Exchange.Manage",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access,
        "id_token": id_token(),
    });
    if let Some(rt) = refresh {
        body["refresh_token"] = json!(rt);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// Microsoft's error answer (HTTP 400, AADSTS number in the description and `error_codes`).
pub fn oauth_error(code: &str, aadsts: u32, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "error": code,
        "error_description": format!("AADSTS{aadsts}: {text}\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2026-11-27 07:00:00Z"),
        "error_codes": [aadsts],
        "timestamp": "2026-11-27 07:00:00Z",
        "trace_id": "0000aaaa-11bb-cccc-dd22-eeeeee333333",
        "correlation_id": "aaaa0000-bb11-2222-33cc-444444dddddd",
    }))
}

/// The form fields of a request body.
pub fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// Matches a form body whose field `name` equals `value`.
pub struct FormParam(&'static str, String);

pub fn form_param(name: &'static str, value: impl Into<String>) -> FormParam {
    FormParam(name, value.into())
}

impl Match for FormParam {
    fn matches(&self, request: &Request) -> bool {
        form(request).get(self.0) == Some(&self.1)
    }
}

/// The requests `server` received at `path` with `grant_type`.
pub async fn requests(server: &MockServer, path: &str, grant_type: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.url.path() == path
                && form(r).get("grant_type").map(String::as_str) == Some(grant_type)
        })
        .collect()
}

/// The text of a token `provider` hands out for `resource` (the call must succeed).
pub async fn token_text(provider: &dyn TokenProvider, resource: Resource) -> String {
    let token = provider.token(resource).await.unwrap();
    token.secret.expose().to_owned()
}
