//! [`RestExchangeClient`]: its settings, and the one place that sends an authenticated request
//! (bearer token, refresh and replay once on 401, no redirects followed).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use super::errors::ErrorResponse;
use crate::auth::{Cloud, Resource, Tenant, TokenProvider};
use crate::http::{validate_base_url, HttpConfig};
use crate::{ApiError, Error, ErrorKind, Result};

/// The Exchange Online host of the commercial cloud.
pub const DEFAULT_EXCHANGE_URL: &str = "https://outlook.office365.com";
/// Microsoft Graph v1.0 of the commercial cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// How long one HTTP request may take by default (the module's REST timeout is 960 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The real Exchange Online client: cmdlets through `InvokeCommand`, groups and users through
/// Microsoft Graph. It never retries on its own (wrap it in
/// [`RetryingClient`](crate::exchange::RetryingClient)); it only refreshes the token once on a
/// 401. Cloning shares the HTTP client and the token provider.
#[derive(Clone)]
pub struct RestExchangeClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) provider: Arc<dyn TokenProvider>,
    pub(super) tenant: Option<Tenant>,
    pub(super) exchange_url: Url,
    pub(super) graph_url: Url,
    pub(super) http: reqwest::Client,
    pub(super) timeout: Duration,
}

impl fmt::Debug for RestExchangeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestExchangeClient")
            .field("tenant", &self.inner.tenant)
            .field("exchange_url", &self.inner.exchange_url.as_str())
            .field("graph_url", &self.inner.graph_url.as_str())
            .field("timeout", &self.inner.timeout)
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
        &self.inner.exchange_url
    }

    /// The Graph base URL in use.
    pub fn graph_url(&self) -> &Url {
        &self.inner.graph_url
    }

    /// The tenant in the InvokeCommand URL: the configured one, else the signed-in identity's.
    pub(super) fn tenant(&self) -> Result<String> {
        if let Some(t) = &self.inner.tenant {
            return Ok(t.to_string());
        }
        self.inner
            .provider
            .identity()
            .map(|i| i.tenant_id)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Config(
                    "the Exchange client needs a tenant: set it, or sign in first so the \
                     identity names one"
                        .into(),
                )
            })
    }

    /// Sends one request to `url` (which must be under the base of `resource`) with a bearer
    /// token; on 401 drops the token and replays once. Returns the status, headers and body of
    /// whatever came back (a second 401 included); transport failures are [`Error::Network`].
    pub(super) async fn send(
        &self,
        resource: Resource,
        method: Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<&Value>,
    ) -> Result<Answer> {
        self.check_same_origin(resource, url)?;
        let mut replayed = false;
        loop {
            let token = self.inner.provider.token(resource).await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .timeout(self.inner.timeout)
                .headers(headers.clone())
                .header(AUTHORIZATION, format!("Bearer {}", token.secret.expose()));
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(network)?;
            let status = response.status();
            let answer_headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(network)?;
            if status == StatusCode::UNAUTHORIZED && !replayed {
                tracing::debug!(?resource, "401: refreshing the token and replaying once");
                self.inner.provider.invalidate(resource).await;
                replayed = true;
                continue;
            }
            if status.is_redirection() {
                let location = answer_headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("(no Location)");
                return Err(Error::Api(
                    ApiError::new(
                        ErrorKind::Exchange,
                        format!(
                            "the service redirected to {location}; redirects are not followed \
                             so that the access token never leaves the configured host"
                        ),
                    )
                    .with_status(status.as_u16()),
                ));
            }
            return Ok(Answer {
                status: status.as_u16(),
                headers: answer_headers,
                body: bytes.to_vec(),
            });
        }
    }

    /// Refuses to send a token anywhere but the configured host (a nextLink is followed only
    /// when it points there).
    fn check_same_origin(&self, resource: Resource, url: &Url) -> Result<()> {
        let base = match resource {
            Resource::Graph => &self.inner.graph_url,
            _ => &self.inner.exchange_url,
        };
        if url.origin() == base.origin() {
            Ok(())
        } else {
            Err(Error::Api(ApiError::new(
                ErrorKind::Exchange,
                format!(
                    "refusing to send the access token to {} (not {})",
                    url.origin().ascii_serialization(),
                    base.origin().ascii_serialization()
                ),
            )))
        }
    }
}

/// A response read in full.
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The parts the error classification reads.
    pub fn error_response(&self) -> ErrorResponse<'_> {
        ErrorResponse {
            status: self.status,
            body: &self.body,
            retry_after: self.header(RETRY_AFTER.as_str()),
            exception_type: self.header("x-exceptiontype"),
            diagnostics: self.header("x-ms-diagnostics"),
        }
    }

    /// The body as JSON; an undecodable body is a network-level failure.
    pub fn json(&self, what: &str) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Network(format!(
                "{what}: undecodable answer (HTTP {}): {e}",
                self.status
            ))
        })
    }
}

pub(super) fn now() -> SystemTime {
    SystemTime::now()
}

fn network(e: reqwest::Error) -> Error {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        msg.push_str(" (timed out)");
    }
    Error::Network(msg)
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
        let exchange_url = base("exchange_url", &exchange, self.allow_http)?;
        let graph_url = base("graph_url", &graph, self.allow_http)?;
        let http = match self.http {
            Some(http) => http,
            None => HttpConfig::new()
                .allow_http(self.allow_http)
                .timeout(None)
                .build_client()?,
        };
        Ok(RestExchangeClient {
            inner: Arc::new(Inner {
                provider: self.provider,
                tenant,
                exchange_url,
                graph_url,
                http,
                timeout: self.timeout,
            }),
        })
    }
}

/// A validated base URL whose path ends without a slash, ready for `join_path`.
fn base(field: &str, url: &str, allow_http: bool) -> Result<Url> {
    let mut url = validate_base_url(field, url, allow_http)?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// `base` with `segments` appended, each percent-encoded as one path segment.
pub(super) fn join_path(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::StaticTokenProvider;

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
