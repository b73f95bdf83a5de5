//! The one error type of sigsync, and the table of error kinds that the C result codes and the
//! Python exception classes map from.

use std::fmt;
use std::time::Duration;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! error_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal, $py:literal; )*) => {
        /// What went wrong, as a flat, stable list.
        ///
        /// This is the one table that the bindings map from: the number is the C
        /// `sigsync_result` code and [`ErrorKind::python_class`] names the Python exception.
        /// Numbers are never reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[repr(u32)]
        pub enum ErrorKind {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl ErrorKind {
            /// Every kind, in table order.
            pub const ALL: &'static [ErrorKind] = &[ $( ErrorKind::$variant, )* ];

            /// The stable number of this kind (the C `sigsync_result` value).
            pub fn code(self) -> u32 {
                self as u32
            }

            /// A short snake_case name, stable across releases.
            pub fn name(self) -> &'static str {
                match self { $( ErrorKind::$variant => $name, )* }
            }

            /// The name of the Python exception class raised for this kind.
            pub fn python_class(self) -> &'static str {
                match self { $( ErrorKind::$variant => $py, )* }
            }

            /// The kind with this stable number, if any.
            pub fn from_code(code: u32) -> Option<ErrorKind> {
                match code { $( $code => Some(ErrorKind::$variant), )* _ => None }
            }
        }
    };
}

error_kinds! {
    /// A definition or an argument failed client-side validation (names the field).
    Validation = 100, "validation", "ValidationError";
    /// A configuration (service profile, signature configuration, file) is unusable.
    Config = 101, "config", "ConfigError";
    /// The tenant holds an object that conflicts with what sigsync would create.
    Conflict = 102, "conflict", "ConflictError";
    /// Sign-in failed for a reason without a more specific kind.
    Auth = 200, "auth", "AuthError";
    /// The sign-in is no longer valid (refresh token rejected): the admin must sign in again.
    SignInRequired = 201, "sign_in_required", "SignInRequiredError";
    /// The admin declined the sign-in request.
    SignInDeclined = 202, "sign_in_declined", "SignInDeclinedError";
    /// The device code expired before the admin finished signing in.
    SignInExpired = 203, "sign_in_expired", "SignInExpiredError";
    /// The caller cancelled a pending sign-in.
    SignInCancelled = 204, "sign_in_cancelled", "SignInCancelledError";
    /// Exchange or Graph failed for a reason without a more specific kind.
    Exchange = 300, "exchange", "ExchangeError";
    /// The object does not exist.
    NotFound = 301, "not_found", "NotFoundError";
    /// An object with that name already exists.
    AlreadyExists = 302, "already_exists", "AlreadyExistsError";
    /// Exchange's own validation refused the request.
    Rejected = 303, "rejected", "RejectedError";
    /// The credentials were not accepted (HTTP 401).
    Unauthorized = 304, "unauthorized", "UnauthorizedError";
    /// The signed-in identity lacks a role or permission (HTTP 403).
    Forbidden = 305, "forbidden", "ForbiddenError";
    /// The service asked us to slow down (HTTP 429), possibly with a retry-after.
    Throttled = 306, "throttled", "ThrottledError";
    /// A transient failure that is worth retrying (HTTP 503/504, busy backends).
    Transient = 307, "transient", "TransientError";
    /// The network or HTTP layer failed (connection, TLS, timeout, undecodable body).
    Network = 400, "network", "NetworkError";
    /// A bug in sigsync (an invariant broke, or a panic was caught at a boundary).
    Internal = 900, "internal", "InternalError";
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error reported by Exchange Online or Microsoft Graph, with the service's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The classification (one of the Exchange kinds of [`ErrorKind`]).
    pub kind: ErrorKind,
    /// The HTTP status, when the error came over HTTP.
    pub status: Option<u16>,
    /// The service's error code: the .NET exception type for Exchange
    /// (`ManagementObjectNotFoundException`), or Graph's `error.code`.
    pub code: Option<String>,
    /// The service's own human-readable message.
    pub message: String,
    /// How long the service asked us to wait (throttling).
    pub retry_after: Option<Duration>,
    /// The cmdlet or operation that failed, e.g. `New-TransportRule`.
    pub operation: Option<String>,
}

impl ApiError {
    /// An error of `kind` carrying the service's `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            status: None,
            code: None,
            message: message.into(),
            retry_after: None,
            operation: None,
        }
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the service's error code (exception type).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the retry-after the service asked for.
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Sets the operation (cmdlet) that failed.
    pub fn with_operation(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = &self.operation {
            write!(f, "{op}: ")?;
        }
        write!(f, "{}", self.message)?;
        let mut extra = Vec::new();
        if let Some(status) = self.status {
            extra.push(format!("HTTP {status}"));
        }
        if let Some(code) = &self.code {
            extra.push(code.clone());
        }
        if let Some(after) = self.retry_after {
            extra.push(format!("retry after {:.1}s", after.as_secs_f64()));
        }
        if !extra.is_empty() {
            write!(f, " ({})", extra.join(", "))?;
        }
        Ok(())
    }
}

/// A sign-in failure, with Microsoft's error code and AADSTS number where it gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// The classification (one of the sign-in kinds of [`ErrorKind`]).
    pub kind: ErrorKind,
    /// The OAuth error code, e.g. `authorization_declined` or `invalid_grant`.
    pub code: Option<String>,
    /// The AADSTS number from the description, e.g. 70016.
    pub aadsts: Option<u32>,
    /// Microsoft's description, or ours when Microsoft gave none.
    pub description: String,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, self.aadsts) {
            (Some(code), Some(n)) => write!(f, "{code} (AADSTS{n}): {}", self.description),
            (Some(code), None) => write!(f, "{code}: {}", self.description),
            (None, Some(n)) => write!(f, "AADSTS{n}: {}", self.description),
            (None, None) => f.write_str(&self.description),
        }
    }
}

/// Every error sigsync returns.
///
/// Messages never contain tokens, secrets or device codes.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value failed validation; `field` names it (the cmdlet parameter name where there is one).
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field or parameter that is wrong.
        field: String,
        /// Why it is wrong.
        reason: String,
    },
    /// A configuration is unusable.
    #[error("configuration error: {0}")]
    Config(String),
    /// The tenant holds something that conflicts with what sigsync would create.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Sign-in failed.
    #[error("sign-in failed: {0}")]
    Auth(AuthError),
    /// Exchange Online or Graph returned an error.
    #[error("{0}")]
    Api(ApiError),
    /// The HTTP layer failed.
    #[error("network error: {0}")]
    Network(String),
    /// A bug in sigsync.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A validation error naming `field`.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An Exchange/Graph error of `kind` with the service's `message`.
    pub fn api(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error::Api(ApiError::new(kind, message))
    }

    /// A sign-in error of `kind`.
    pub fn auth(
        kind: ErrorKind,
        code: Option<String>,
        aadsts: Option<u32>,
        description: impl Into<String>,
    ) -> Self {
        Error::Auth(AuthError {
            kind,
            code,
            aadsts,
            description: description.into(),
        })
    }

    /// The flat kind the bindings map from.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Validation { .. } => ErrorKind::Validation,
            Error::Config(_) => ErrorKind::Config,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Auth(e) => e.kind,
            Error::Api(e) => e.kind,
            Error::Network(_) => ErrorKind::Network,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The Exchange/Graph error, if this is one.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status, if the error came from an HTTP response.
    pub fn status(&self) -> Option<u16> {
        self.as_api().and_then(|e| e.status)
    }

    /// The service's error code (exception type, OAuth error code), if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.code.as_deref(),
            Error::Auth(e) => e.code.as_deref(),
            _ => None,
        }
    }

    /// How long the service asked us to wait, for throttling errors.
    pub fn retry_after(&self) -> Option<Duration> {
        self.as_api().and_then(|e| e.retry_after)
    }

    /// Whether retrying the same call later may succeed (throttling, transient, network).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Throttled | ErrorKind::Transient | ErrorKind::Network
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kind_codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.code()), "duplicate code {}", kind.code());
            assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
            assert!(kind.python_class().ends_with("Error"));
        }
        assert_eq!(ErrorKind::from_code(0), None);
    }

    #[test]
    fn validation_error_names_field_and_reason() {
        let e = Error::validation("SmartHosts", "required when UseMXRecord is false");
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert_eq!(
            e.to_string(),
            "invalid SmartHosts: required when UseMXRecord is false"
        );
    }

    #[test]
    fn api_error_display_keeps_service_message_and_code() {
        let e = Error::Api(
            ApiError::new(ErrorKind::NotFound, "object 'X' couldn't be found")
                .with_status(404)
                .with_code("ManagementObjectNotFoundException")
                .with_operation("Get-InboundConnector"),
        );
        assert_eq!(
            e.to_string(),
            "Get-InboundConnector: object 'X' couldn't be found (HTTP 404, ManagementObjectNotFoundException)"
        );
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.code(), Some("ManagementObjectNotFoundException"));
        assert!(!e.is_retryable());
    }
}
