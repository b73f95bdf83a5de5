//! [`RestExchangeClient`]: its settings; requests go through the shared
//! [`AuthorizedClient`] (bearer token, refresh and replay once on 401, redirects re-issued to
//! the configured host, never followed) and Graph through the one [`GraphClient`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use url::Url;

use crate::auth::{Cloud, Resource, Tenant, TokenProvider};
use crate::graph::GraphClient;
use crate::http::{base_url, AuthorizedClient, HttpConfig};
use crate::{Error, Result};

/// The Exchange Online host of the commercial cloud.
pub const DEFAULT_EXCHANGE_URL: &str = "https://outlook.office365.com";
/// Microsoft Graph v1.0 of the commercial cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// How long one HTTP request may take by default (the module's REST timeout is 960 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The real Exchange Online client: cmdlets through `InvokeCommand`, groups and users through
/// Microsoft Graph. It never retries on its own (wrap it in
/// [`RetryingClient`](crate::exchange::RetryingClient)); it only refreshes the token once on a
/// 401 and sends a redirected request again to the configured host. Cloning shares the HTTP
/// client and the token provider.
#[derive(Clone)]
pub struct RestExchangeClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) tenant: Option<Tenant>,
    pub(super) exchange: AuthorizedClient,
    pub(super) graph: GraphClient,
}

impl fmt::Debug for RestExchangeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestExchangeClient")
            .field("tenant", &self.inner.tenant)
            .field("exchange_url", &self.inner.exchange.base.as_str())
            .field("graph_url", &self.inner.graph.base().as_str())
            .field("timeout", &self.inner.exchange.timeout)
            .finish_non_exhaustive()
    }
}

impl RestExchangeClient {
    /// Starts a client that gets its tokens (and, by default, its tenant) from `provider`.
    pub fn builder(provider: Arc<dyn TokenProvider>) -> RestExchangeClientBuilder {
        RestExchangeClientBuilder {
            provider,
            tenant: None,
            cloud: Cloud::Global,
            exchange_url: None,
            graph_url: None,
            allow_http: false,
            timeout: DEFAULT_TIMEOUT,
            http: None,
        }
    }

    /// The Exchange base URL in use.
    pub fn exchange_url(&self) -> &Url {
        &self.inner.exchange.base
    }

    /// The Graph base URL in use.
    pub fn graph_url(&self) -> &Url {
        self.inner.graph.base()
    }

    /// The tenant in the InvokeCommand URL: the configured one, else the one the credentials
    /// were obtained for (the signed-in identity).
    pub(super) fn tenant(&self) -> Result<String> {
        if let Some(t) = &self.inner.tenant {
            return Ok(t.to_string());
        }
        self.inner
            .exchange
            .provider
            .identity()
            .map(|i| i.tenant_id)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Config(
                    "the Exchange client needs a tenant: set it, or use credentials that name \
                     one (an app-only credential for a tenant, or a sign-in whose ID token \
                     names it)"
                        .into(),
                )
            })
    }
}

/// The parts of a failed answer the error classification reads.
pub(super) fn now() -> SystemTime {
    SystemTime::now()
}

/// Builder of [`RestExchangeClient`].
pub struct RestExchangeClientBuilder {
    provider: Arc<dyn TokenProvider>,
    tenant: Option<String>,
    cloud: Cloud,
    exchange_url: Option<String>,
    graph_url: Option<String>,
    allow_http: bool,
    timeout: Duration,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for RestExchangeClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestExchangeClientBuilder")
            .field("tenant", &self.tenant)
            .field("cloud", &self.cloud)
            .field("exchange_url", &self.exchange_url)
            .field("graph_url", &self.graph_url)
            .field("allow_http", &self.allow_http)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RestExchangeClientBuilder {
    /// The tenant (its id or a domain); by default the signed-in identity's tenant id.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The national cloud: picks the default Exchange and Graph hosts.
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// Replaces the Exchange host (e.g. a simulated tenant on loopback).
    pub fn exchange_url(mut self, url: impl Into<String>) -> Self {
        self.exchange_url = Some(url.into());
        self
    }

    /// Replaces the Graph base, version included (e.g. `https://graph.microsoft.com/v1.0`).
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.graph_url = Some(url.into());
        self
    }

    /// Accepts `http://` URLs on loopback hosts (tests, a local simulated tenant).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// How long one HTTP request may take (default 300 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Uses this HTTP client (e.g. the sign-in's); it must not follow redirects.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Validates the URLs and the tenant and builds the client.
    pub fn build(self) -> Result<RestExchangeClient> {
        let tenant = match self.tenant {
            Some(t) => {
                let t = Tenant::parse(&t)?;
                if !t.is_specific() {
                    return Err(Error::validation(
                        "tenant",
                        "Exchange needs the tenant id or a domain, not \"organizations\"",
                    ));
                }
                Some(t)
            }
            None => None,
        };
        let exchange = self
            .exchange_url
            .unwrap_or_else(|| self.cloud.exchange_url().to_owned());
        let graph = self
            .graph_url
            .unwrap_or_else(|| format!("{}/v1.0", self.cloud.graph_url()));
        let exchange_url = base_url("exchange_url", &exchange, self.allow_http)?;
        let graph_url = base_url("graph_url", &graph, self.allow_http)?;
        let http = match self.http {
            Some(http) => http,
            None => HttpConfig::new()
                .allow_http(self.allow_http)
                .timeout(None)
                .build_client()?,
        };
        let auth = |resource, base| AuthorizedClient {
            http: http.clone(),
            provider: self.provider.clone(),
            resource,
            base,
            timeout: self.timeout,
        };
        Ok(RestExchangeClient {
            inner: Arc::new(Inner {
                tenant,
                exchange: auth(Resource::Exchange, exchange_url),
                graph: GraphClient::new(auth(Resource::Graph, graph_url)),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::StaticTokenProvider;
    use crate::http::join_path;
    use crate::ErrorKind;

    fn provider() -> Arc<dyn TokenProvider> {
        Arc::new(StaticTokenProvider::new("e", "g"))
    }

    #[test]
    fn defaults_follow_the_cloud() {
        let c = RestExchangeClient::builder(provider())
            .tenant("contoso.onmicrosoft.com")
            .cloud(Cloud::UsGovGccHigh)
            .build()
            .unwrap();
        assert_eq!(c.exchange_url().as_str(), "https://outlook.office365.us/");
        assert_eq!(c.graph_url().as_str(), "https://graph.microsoft.us/v1.0");
        let c = RestExchangeClient::builder(provider()).build().unwrap();
        assert_eq!(c.graph_url().as_str(), DEFAULT_GRAPH_URL);
    }

    #[test]
    fn plain_http_is_refused_unless_allowed_and_loopback() {
        let err = RestExchangeClient::builder(provider())
            .exchange_url("http://127.0.0.1:1")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("exchange_url"), "{err}");
        let err = RestExchangeClient::builder(provider())
            .exchange_url("http://exchange.example.com")
            .allow_http(true)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        RestExchangeClient::builder(provider())
            .exchange_url("http://127.0.0.1:1")
            .graph_url("http://127.0.0.1:1/v1.0")
            .allow_http(true)
            .build()
            .unwrap();
    }

    #[test]
    fn organizations_is_not_a_tenant_for_exchange() {
        let err = RestExchangeClient::builder(provider())
            .tenant("organizations")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
    }

    #[test]
    fn join_path_encodes_each_segment() {
        let base = Url::parse("https://graph.example.com/v1.0").unwrap();
        assert_eq!(
            join_path(&base, &["users", "a#EXT#@b.com"]).as_str(),
            "https://graph.example.com/v1.0/users/a%23EXT%23@b.com"
        );
    }
}
