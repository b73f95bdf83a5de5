//! The one HTTP stack of sigsync: a `reqwest` client (rustls, no OpenSSL) shared by sign-in,
//! Exchange and Graph; the check that every base URL we talk to is HTTPS; and reading error
//! answers into [`ErrorResponse`] (what the body means is Exchange's (`exchange::rest`) or
//! Graph's ([`crate::graph`]) to say). Sign-in (`auth`) uses this part.
//!
//! Above sign-in, `authorized` holds `AuthorizedClient`, the one policy every authenticated
//! Microsoft call goes through. Redirects are never followed: a redirect to another host must
//! not carry the bearer token there. A redirected request is re-issued to the configured host
//! instead, a few times; when the redirects persist, the error names the `Location`
//! (reference §5 #17).

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use url::Url;

use crate::{Error, Result};

mod authorized;

pub use authorized::MAX_REDIRECT_REISSUES;
pub(crate) use authorized::{Answer, AuthorizedClient};

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

/// A transport failure, with its causes, as [`Error::Network`].
pub(crate) fn network(e: reqwest::Error) -> Error {
    // Without the URL: a Graph URL names the user looked up.
    let e = e.without_url();
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

/// A validated base URL whose path ends without a slash, ready for [`join_path`].
pub(crate) fn base_url(field: &str, url: &str, allow_http: bool) -> Result<Url> {
    let mut url = validate_base_url(field, url, allow_http)?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// `base` with `segments` appended, each percent-encoded as one path segment.
pub(crate) fn join_path(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    url
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

// ---- reading error answers ----------------------------------------------------------------

/// The longest service message we keep (a stack trace is not a message).
const MAX_MESSAGE: usize = 2000;

/// The parts of an error response the classification reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorResponse<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The body, as received.
    pub body: &'a [u8],
    /// The `Retry-After` header.
    pub retry_after: Option<&'a str>,
    /// Exchange's `X-ExceptionType` header.
    pub exception_type: Option<&'a str>,
    /// The `x-ms-diagnostics` header (the reason of a bodiless 403).
    pub diagnostics: Option<&'a str>,
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs));
        }
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(at.with_timezone(&chrono::Utc));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The body as trimmed text, NUL bytes dropped, clipped.
pub(crate) fn body_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    clip(
        text.trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .replace('\0', ""),
    )
}

pub(crate) fn clip(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
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

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("7", now()), Some(Duration::from_secs(7)));
        let date = chrono::DateTime::<chrono::Utc>::from(now() + Duration::from_secs(30))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        assert_eq!(
            parse_retry_after(&date, now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
    }
}
