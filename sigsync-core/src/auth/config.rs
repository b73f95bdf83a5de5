//! What every sign-in needs: the app (client id), the tenant, the cloud, the login endpoints,
//! the shared HTTP client and the clock.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::clock::{Clock, SystemClock};
use super::cloud::{Cloud, Tenant};
use super::Resource;
use crate::http::{validate_base_url, HttpConfig};
use crate::{Error, Result};

/// How long before expiry a cached access token is replaced (by default).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The settings shared by the device-code flow and app-only sign-in. Build with
/// [`AuthConfig::builder`].
#[derive(Clone)]
pub struct AuthConfig {
    client_id: String,
    tenant: Tenant,
    cloud: Cloud,
    login_url: Url,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    refresh_margin: Duration,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("cloud", &self.cloud)
            .field("login_url", &self.login_url.as_str())
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Starts a configuration for the app `client_id` (its application id) signing in to
    /// `tenant` (a tenant id, a domain, or `organizations`).
    pub fn builder(client_id: impl Into<String>, tenant: impl Into<String>) -> AuthConfigBuilder {
        AuthConfigBuilder {
            client_id: client_id.into(),
            tenant: tenant.into(),
            cloud: Cloud::Global,
            login_url: None,
            allow_http: false,
            http: None,
            clock: Arc::new(SystemClock),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
        }
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The tenant signed in to.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The national cloud.
    pub fn cloud(&self) -> Cloud {
        self.cloud
    }

    /// The login host in use (the cloud's, or the custom one).
    pub fn login_url(&self) -> &Url {
        &self.login_url
    }

    /// The HTTP client, to share with the Exchange and Graph clients.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// The `.default` scope requested for `resource`.
    pub fn scope(&self, resource: Resource) -> String {
        self.cloud.scope(resource)
    }

    /// The device authorization endpoint, `{login}/{tenant}/oauth2/v2.0/devicecode`.
    pub fn device_code_url(&self) -> Url {
        self.endpoint("devicecode")
    }

    /// The token endpoint, `{login}/{tenant}/oauth2/v2.0/token` (also the `aud` of a client
    /// assertion).
    pub fn token_url(&self) -> Url {
        self.endpoint("token")
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn refresh_margin(&self) -> Duration {
        self.refresh_margin
    }

    fn endpoint(&self, name: &str) -> Url {
        let base = self.login_url.as_str().trim_end_matches('/');
        let url = format!("{base}/{}/oauth2/v2.0/{name}", self.tenant);
        // The base was validated and the tenant holds only URL-safe characters.
        Url::parse(&url).expect("endpoint URL from a validated base and tenant")
    }
}

/// Builder of [`AuthConfig`].
#[derive(Debug)]
pub struct AuthConfigBuilder {
    client_id: String,
    tenant: String,
    cloud: Cloud,
    login_url: Option<String>,
    allow_http: bool,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
    refresh_margin: Duration,
}

impl AuthConfigBuilder {
    /// The national cloud (default [`Cloud::Global`]); picks the login host and the scopes.
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// Replaces the cloud's login host, e.g. with a simulated tenant or a test server. The
    /// endpoints become `{login_url}/{tenant}/oauth2/v2.0/{devicecode,token}`.
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.login_url = Some(url.into());
        self
    }

    /// Accepts an `http://` login URL on a loopback host (tests, a local simulated tenant).
    /// Also lets the default HTTP client speak plain HTTP.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Uses this HTTP client (share one with Exchange and Graph). It should not follow
    /// redirects; [`HttpConfig::build_client`] makes one that doesn't.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Uses this clock for token expiry and polling waits (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long before expiry a cached access token is replaced (default 5 minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Validates the settings: a client id, a well-formed tenant, an HTTPS login URL.
    pub fn build(self) -> Result<AuthConfig> {
        let client_id = self.client_id.trim().to_owned();
        if client_id.is_empty() || client_id.chars().any(|c| c.is_whitespace() || c == '&') {
            return Err(Error::validation(
                "client_id",
                "must be the application (client) id",
            ));
        }
        let tenant = Tenant::parse(&self.tenant)?;
        let login = self
            .login_url
            .unwrap_or_else(|| self.cloud.login_url().to_owned());
        let login_url = validate_base_url("login_url", &login, self.allow_http)?;
        let http = match self.http {
            Some(http) => http,
            None => HttpConfig::new()
                .allow_http(self.allow_http)
                .build_client()?,
        };
        Ok(AuthConfig {
            client_id,
            tenant,
            cloud: self.cloud,
            login_url,
            http,
            clock: self.clock,
            refresh_margin: self.refresh_margin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn endpoints_follow_cloud_and_tenant() {
        let config = AuthConfig::builder("app", "contoso.onmicrosoft.com")
            .cloud(Cloud::UsGovGccHigh)
            .build()
            .unwrap();
        assert_eq!(
            config.token_url().as_str(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            config.device_code_url().as_str(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/devicecode"
        );
        assert_eq!(
            config.scope(Resource::Exchange),
            "https://outlook.office365.us/.default"
        );
    }

    #[test]
    fn custom_login_url_keeps_its_path() {
        let config = AuthConfig::builder("app", "organizations")
            .login_url("http://127.0.0.1:9/sim/login/")
            .allow_http(true)
            .build()
            .unwrap();
        assert_eq!(
            config.token_url().as_str(),
            "http://127.0.0.1:9/sim/login/organizations/oauth2/v2.0/token"
        );
    }

    #[test]
    fn http_login_url_is_refused_unless_allowed() {
        let err = AuthConfig::builder("app", "organizations")
            .login_url("http://127.0.0.1:9")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert!(err.to_string().contains("login_url"), "{err}");
    }

    #[test]
    fn empty_client_id_is_refused() {
        let err = AuthConfig::builder(" ", "organizations")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("client_id"), "{err}");
    }
}
