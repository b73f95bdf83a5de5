//! `AuthorizedClient`: the one policy every authenticated Microsoft call goes through (a
//! bearer token only to the configured origin, one replay after a 401, redirects never
//! followed), and the [`Answer`] it reads in full.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use super::{network, ErrorResponse};
use crate::auth::{Resource, TokenProvider};
use crate::{ApiError, Error, ErrorKind, Result};

/// How many times a redirected request is sent again to the configured host.
pub const MAX_REDIRECT_REISSUES: u32 = 3;

/// Sends authenticated requests for one resource (Exchange or Graph) to one configured
/// origin: a bearer token from the provider; the URL must be on the configured origin (a next
/// page link to anywhere else is refused, the token never leaves); on 401 the token is
/// dropped and the request replayed once; a redirect is never followed: the request is sent
/// again to the configured host at most [`MAX_REDIRECT_REISSUES`] times, then fails naming
/// the `Location`. Cloning shares the HTTP client and the provider.
#[derive(Clone)]
pub(crate) struct AuthorizedClient {
    pub(crate) http: reqwest::Client,
    pub(crate) provider: Arc<dyn TokenProvider>,
    pub(crate) resource: Resource,
    pub(crate) base: Url,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for AuthorizedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedClient")
            .field("resource", &self.resource)
            .field("base", &self.base.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A response read in full.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Retry-After` header.
    pub fn retry_after(&self) -> Option<&str> {
        self.header(RETRY_AFTER.as_str())
    }

    /// The parts of the answer that Exchange's and Graph's error readers take.
    pub fn error_response(&self) -> ErrorResponse<'_> {
        ErrorResponse {
            status: self.status,
            body: &self.body,
            retry_after: self.retry_after(),
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

impl AuthorizedClient {
    /// Sends one request to `url` (under the configured origin); see the type's docs.
    /// Returns whatever came back but a redirect (a second 401 included); transport failures
    /// are [`Error::Network`].
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<&Value>,
    ) -> Result<Answer> {
        self.check_origin(url)?;
        let mut replayed = false;
        let mut reissued = 0;
        loop {
            let token = self.provider.token(self.resource).await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .timeout(self.timeout)
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
                tracing::debug!(resource = ?self.resource, "401: refreshing the token and replaying once");
                self.provider.invalidate(self.resource).await;
                replayed = true;
                continue;
            }
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = answer_headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("(no Location)")
                    .to_owned();
                if reissued < MAX_REDIRECT_REISSUES {
                    reissued += 1;
                    tracing::info!(%location, reissued, "redirected: sending the request again to the configured host");
                    continue;
                }
                return Err(Error::Api(
                    ApiError::new(
                        ErrorKind::Exchange,
                        format!(
                            "the service kept redirecting to {location} ({} times); redirects \
                             are not followed so that the access token never leaves the \
                             configured host {}: configure that host if it is the right one",
                            reissued + 1,
                            self.base.origin().ascii_serialization()
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

    /// Refuses to send a token anywhere but the configured origin.
    pub(crate) fn check_origin(&self, url: &Url) -> Result<()> {
        if url.origin() == self.base.origin() {
            Ok(())
        } else {
            Err(Error::Api(ApiError::new(
                ErrorKind::Exchange,
                format!(
                    "refusing to send the access token to {} (not {})",
                    url.origin().ascii_serialization(),
                    self.base.origin().ascii_serialization()
                ),
            )))
        }
    }
}
