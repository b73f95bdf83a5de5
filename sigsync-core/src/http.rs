//! The one HTTP stack of sigsync: a `reqwest` client (rustls, no OpenSSL) shared by sign-in,
//! Exchange and Graph, and the check that every base URL we talk to is HTTPS.
//!
//! Redirects are never followed: a redirect to another host must not carry the bearer token
//! there, so callers that expect one (Exchange's regional redirect) re-issue the request
//! themselves.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use crate::{Error, Result};

/// Settings for the shared [`reqwest::Client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    user_agent: String,
    allow_http: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Some(Duration::from_secs(10)),
            timeout: Some(Duration::from_secs(120)),
            user_agent: format!("sigsync/{}", env!("CARGO_PKG_VERSION")),
            allow_http: false,
        }
    }
}

impl HttpConfig {
    /// The defaults: 10 s to connect, 120 s per request, HTTPS only, no redirects.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long to wait for a connection; `None` waits as long as the OS does.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// How long one request may take in total; `None` for no limit.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Lets the client speak plain `http://` (for loopback test servers only). Off by default,
    /// when the client refuses any `http://` URL.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Builds the client: rustls, no redirects, the timeouts above.
    pub fn build_client(&self) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(!self.allow_http)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(self.user_agent.clone());
        if let Some(t) = self.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(t) = self.timeout {
            builder = builder.timeout(t);
        }
        builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
    }
}

/// Parses and checks a base URL: `https` is required; `http` only when `allow_http` is set
/// *and* the host is loopback (`localhost`, `127.0.0.0/8`, `::1`). Credentials, a query or a
/// fragment in the URL are refused too. Errors are [`Error::Validation`] naming `field`.
pub fn validate_base_url(field: &str, url: &str, allow_http: bool) -> Result<Url> {
    let parsed =
        Url::parse(url).map_err(|e| Error::validation(field, format!("not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http && is_loopback(&parsed) => {}
        "http" if allow_http => {
            return Err(Error::validation(
                field,
                format!("http:// is allowed for loopback hosts only, not {url}"),
            ))
        }
        "http" => {
            return Err(Error::validation(
                field,
                format!("{url} is not HTTPS (plain http:// is refused)"),
            ))
        }
        other => {
            return Err(Error::validation(
                field,
                format!("unsupported scheme {other}: in {url}"),
            ))
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::validation(field, "the URL has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::validation(
            field,
            "the URL must not carry credentials",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::validation(
            field,
            "the URL must not have a query or fragment",
        ));
    }
    Ok(parsed)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn https_base_url_is_accepted() {
        let url =
            validate_base_url("login_url", "https://login.microsoftonline.us", false).unwrap();
        assert_eq!(url.host_str(), Some("login.microsoftonline.us"));
    }

    #[test]
    fn http_base_url_is_refused_unless_allowed() {
        let err = validate_base_url("login_url", "http://127.0.0.1:8080", false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert!(err.to_string().contains("login_url"), "{err}");
        assert!(validate_base_url("login_url", "http://127.0.0.1:8080", true).is_ok());
        assert!(validate_base_url("login_url", "http://[::1]:8080", true).is_ok());
        assert!(validate_base_url("login_url", "http://localhost:8080", true).is_ok());
    }

    #[test]
    fn http_to_a_non_loopback_host_is_refused_even_when_allowed() {
        let err = validate_base_url("login_url", "http://login.example.com", true).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn urls_with_credentials_query_or_other_schemes_are_refused() {
        for bad in [
            "https://user:pw@login.example.com",
            "https://login.example.com/?x=1",
            "ftp://login.example.com",
            "not a url",
        ] {
            let err = validate_base_url("base_url", bad, false).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Validation, "{bad}");
        }
    }

    #[test]
    fn default_client_builds_without_openssl() {
        HttpConfig::new().build_client().unwrap();
        HttpConfig::new()
            .allow_http(true)
            .timeout(None)
            .build_client()
            .unwrap();
    }
}
