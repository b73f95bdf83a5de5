//! Glue to the `oauth2` crate: the client type, Microsoft's token response (with the ID
//! token), the mapping of OAuth errors to [`Error`], and reading claims from a JWT.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, Client, ClientId, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet,
    ErrorResponseType, RequestTokenError, StandardErrorResponse, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::config::AuthConfig;
use super::{AccessToken, SignedInIdentity};
use crate::{Error, ErrorKind, Secret};

/// Microsoft's extra token-response field: the OpenID Connect ID token.
#[derive(Clone, Default, Deserialize, Serialize)]
pub(crate) struct IdTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl fmt::Debug for IdTokenFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdTokenFields([redacted])")
    }
}

impl oauth2::ExtraTokenFields for IdTokenFields {}

/// A token response of the Microsoft identity platform.
pub(crate) type MsTokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;

/// An `oauth2` client with the device-code and token endpoints set.
pub(crate) type MsClient = Client<
    BasicErrorResponse,
    MsTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Builds the `oauth2` client for `config` (credentials, when any, go in the request body).
pub(crate) fn oauth_client(config: &AuthConfig) -> MsClient {
    Client::new(ClientId::new(config.client_id().to_owned()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::from_url(config.token_url()))
        .set_device_authorization_url(DeviceAuthorizationUrl::from_url(config.device_code_url()))
}

/// What a token request gave us, in our own types.
pub(crate) struct Grant {
    pub access: AccessToken,
    pub refresh_token: Option<Secret>,
    pub identity: Option<SignedInIdentity>,
}

impl Grant {
    /// Converts a token response received at `now`.
    pub fn from_response(response: &MsTokenResponse, now: SystemTime) -> Grant {
        let access_secret = response.access_token().secret().clone();
        let expires_at = response.expires_in().map(|d| now + d);
        // Who signed in comes from the ID token only: access tokens are opaque to clients
        // (Microsoft's word; some are not JWTs at all).
        let identity = response
            .extra_fields()
            .id_token
            .as_deref()
            .and_then(identity_from_jwt);
        Grant {
            access: AccessToken::new(access_secret, expires_at),
            refresh_token: response
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone())),
            identity,
        }
    }
}

/// Where a token request failed, which decides what some OAuth codes mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Starting or polling the device-code flow.
    DeviceCode,
    /// Redeeming a refresh token: `invalid_grant` means "sign in again".
    Refresh,
    /// App-only client credentials.
    ClientCredentials,
}

/// The kind an OAuth error code maps to at `stage`.
pub(crate) fn kind_for_code(code: &str, stage: Stage) -> ErrorKind {
    match code {
        "authorization_declined" | "access_denied" => ErrorKind::SignInDeclined,
        "expired_token" if stage == Stage::DeviceCode => ErrorKind::SignInExpired,
        "invalid_grant" | "interaction_required" if stage == Stage::Refresh => {
            ErrorKind::SignInRequired
        }
        _ => ErrorKind::Auth,
    }
}

/// The first `AADSTS<digits>` number in Microsoft's description.
pub(crate) fn parse_aadsts(description: &str) -> Option<u32> {
    let start = description.find("AADSTS")? + "AADSTS".len();
    let digits: String = description[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Maps an `oauth2` error to ours. Response bodies are never copied into the error: a body
/// that failed to parse may hold a token.
pub(crate) fn map_request_error<RE, T>(
    err: RequestTokenError<RE, StandardErrorResponse<T>>,
    stage: Stage,
) -> Error
where
    RE: std::error::Error + 'static,
    T: ErrorResponseType + AsRef<str> + fmt::Display + 'static,
{
    match err {
        RequestTokenError::ServerResponse(resp) => {
            let code = resp.error().as_ref().to_owned();
            let description = resp
                .error_description()
                .cloned()
                .unwrap_or_else(|| format!("the token endpoint answered {code}"));
            let aadsts = parse_aadsts(&description);
            let description = match aadsts {
                Some(n) => without_aadsts(&description, n),
                None => description,
            };
            Error::auth(kind_for_code(&code, stage), Some(code), aadsts, description)
        }
        RequestTokenError::Request(e) => {
            Error::Network(format!("sign-in request failed: {}", chain(&e)))
        }
        RequestTokenError::Parse(e, _body) => Error::Network(format!(
            "undecodable answer from the token endpoint (at {})",
            e.path()
        )),
        RequestTokenError::Other(msg) => Error::Network(format!("token endpoint: {msg}")),
    }
}

/// The description without its `AADSTS<n>: ` prefix (the error shows the number once, beside
/// the code).
fn without_aadsts(description: &str, n: u32) -> String {
    let tag = format!("AADSTS{n}");
    match description.find(&tag) {
        Some(at) => {
            let rest = description[at + tag.len()..].trim_start_matches([':', ' ']);
            format!("{}{rest}", &description[..at]).trim().to_owned()
        }
        None => description.to_owned(),
    }
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[derive(Deserialize)]
struct IdentityClaims {
    tid: Option<String>,
    upn: Option<String>,
    preferred_username: Option<String>,
    unique_name: Option<String>,
}

/// Reads `tid` and the user principal name from an ID token's payload without checking the
/// signature: the token came straight from the token endpoint over TLS (OpenID Connect Core
/// §3.1.3.7 allows this for the ID token). Never used on access tokens, which are opaque to
/// clients. `None` when it isn't a JWT or has no `tid`.
pub(crate) fn identity_from_jwt(jwt: &str) -> Option<SignedInIdentity> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: IdentityClaims = serde_json::from_slice(&bytes).ok()?;
    Some(SignedInIdentity {
        tenant_id: claims.tid?,
        user_principal_name: claims
            .upn
            .or(claims.preferred_username)
            .or(claims.unique_name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", e(r#"{"alg":"none"}"#), e(payload))
    }

    #[test]
    fn aadsts_number_is_read_from_the_description() {
        assert_eq!(
            parse_aadsts("AADSTS70016: OAuth 2.0 device flow error. Trace ID: x"),
            Some(70016)
        );
        assert_eq!(parse_aadsts("no number here"), None);
    }

    #[test]
    fn aadsts_code_appears_once_in_the_error() {
        let description = "AADSTS70016: OAuth 2.0 device flow error. Trace ID: x";
        assert_eq!(
            without_aadsts(description, 70016),
            "OAuth 2.0 device flow error. Trace ID: x"
        );
        let e = Error::auth(
            ErrorKind::Auth,
            Some("authorization_pending".into()),
            Some(70016),
            without_aadsts(description, 70016),
        );
        assert_eq!(e.to_string().matches("AADSTS70016").count(), 1, "{e}");
    }

    #[test]
    fn identity_prefers_upn_then_preferred_username() {
        let id = identity_from_jwt(&jwt(
            r#"{"tid":"t1","preferred_username":"p@x.com","upn":"u@x.com"}"#,
        ))
        .unwrap();
        assert_eq!(id.tenant_id, "t1");
        assert_eq!(id.user_principal_name.as_deref(), Some("u@x.com"));
        let id = identity_from_jwt(&jwt(r#"{"tid":"t1","preferred_username":"p@x.com"}"#)).unwrap();
        assert_eq!(id.user_principal_name.as_deref(), Some("p@x.com"));
        assert!(identity_from_jwt("opaque-token").is_none());
        assert!(identity_from_jwt(&jwt(r#"{"upn":"u@x.com"}"#)).is_none());
    }

    #[test]
    fn invalid_grant_means_sign_in_again_only_when_refreshing() {
        assert_eq!(
            kind_for_code("invalid_grant", Stage::Refresh),
            ErrorKind::SignInRequired
        );
        assert_eq!(
            kind_for_code("invalid_grant", Stage::ClientCredentials),
            ErrorKind::Auth
        );
        assert_eq!(
            kind_for_code("expired_token", Stage::DeviceCode),
            ErrorKind::SignInExpired
        );
        assert_eq!(
            kind_for_code("bad_verification_code", Stage::DeviceCode),
            ErrorKind::Auth
        );
    }
}
