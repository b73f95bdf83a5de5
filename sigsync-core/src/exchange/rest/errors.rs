//! Reading Exchange's error answers: a pure function over the status, a few headers and the
//! body bytes ([`ErrorResponse`], read by the HTTP layer), so every envelope Exchange sends
//! is tested with a byte string. Graph's are read in [`crate::graph`].

use std::time::SystemTime;

use serde_json::Value;

use super::super::classify_exception;
use crate::http::{body_text, clip, parse_retry_after, ErrorResponse};
use crate::{ApiError, ErrorKind};

/// The body ExoHelper saw (whatever the status) when a tenant has too many requests in flight.
const CONCURRENCY_LIMIT: &str = "maximum number of concurrent requests per tenant";

/// Classifies a failed InvokeCommand answer into an [`ApiError`] carrying Exchange's own
/// exception type and message. `now` resolves a `Retry-After` date.
///
/// Reads, in order: the plain-text concurrency-limit body (throttling whatever the status);
/// `details[].message` as a JSON string (`TypeName`/`Message`) or as `id|Type|text`;
/// `innererror.internalexception`; `error.message`; the `X-ExceptionType` header.
pub fn exchange_error(response: &ErrorResponse<'_>, now: SystemTime) -> ApiError {
    let status = response.status;
    let text = body_text(response.body);
    let retry_after = response.retry_after.and_then(|v| parse_retry_after(v, now));
    let with_retry = |e: ApiError| match retry_after {
        Some(d) => e.with_retry_after(d),
        None => e,
    };

    if text.contains(CONCURRENCY_LIMIT) {
        return with_retry(ApiError::new(ErrorKind::Throttled, text).with_status(status));
    }

    let parsed = serde_json::from_slice::<Value>(response.body)
        .ok()
        .and_then(|v| parse_exchange_envelope(&v));
    let (exception, message) = match parsed {
        Some((exception, message)) => (exception, message),
        None => (None, None),
    };
    let exception = exception.or_else(|| {
        response
            .exception_type
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    });

    if status == 403 && message.is_none() && exception.is_none() {
        let mut message = String::from(
            "Exchange refused the call (HTTP 403 without details): the signed-in account or \
             app has no Exchange role that allows this cmdlet (assign Exchange Administrator, \
             or Global Reader for reading connectors)",
        );
        if let Some(diag) = response.diagnostics.filter(|d| !d.trim().is_empty()) {
            message.push_str("; x-ms-diagnostics: ");
            message.push_str(diag.trim());
        }
        return ApiError::new(ErrorKind::Forbidden, message).with_status(status);
    }

    let kind = exchange_kind(status, exception.as_deref());
    let message = message
        .or_else(|| (!text.is_empty()).then(|| text.clone()))
        .unwrap_or_else(|| format!("Exchange answered HTTP {status} without a message"));
    let mut error = ApiError::new(kind, message).with_status(status);
    if let Some(exception) = exception {
        error = error.with_code(exception);
    }
    with_retry(error)
}

/// The kind of an Exchange failure: the status where it is decisive, else the exception type.
fn exchange_kind(status: u16, exception: Option<&str>) -> ErrorKind {
    match status {
        429 => return ErrorKind::Throttled,
        401 => return ErrorKind::Unauthorized,
        503 | 504 => return ErrorKind::Transient,
        _ => {}
    }
    let by_type = exception.map_or(ErrorKind::Exchange, classify_exception);
    if by_type != ErrorKind::Exchange {
        return by_type;
    }
    match status {
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        _ => ErrorKind::Exchange,
    }
}

/// `(exception type, message)` from the `{"error": {...}}` envelope, or `None` if it isn't one.
fn parse_exchange_envelope(v: &Value) -> Option<(Option<String>, Option<String>)> {
    let error = v.get("error")?;
    let details = error
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("message").and_then(Value::as_str))
        .find_map(parse_detail);
    if let Some((exception, message)) = details {
        return Some((exception, Some(message)));
    }
    let internal = error
        .get("innererror")
        .and_then(|i| i.get("internalexception"));
    let text = |v: Option<&Value>, key: &str| {
        v.and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(message) = text(internal, "message") {
        return Some((text(internal, "type"), Some(clip(message))));
    }
    Some((None, text(Some(error), "message").map(clip)))
}

/// One `details[].message`: a JSON string with `TypeName`/`Message`, or `id|Type|text`.
fn parse_detail(message: &str) -> Option<(Option<String>, String)> {
    if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(message) {
        let get = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        let text = get("Message")?;
        return Some((get("TypeName"), clip(text)));
    }
    let mut parts = message.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_id), Some(exception), Some(text)) if !exception.trim().is_empty() => Some((
            Some(exception.trim().to_owned()),
            clip(text.trim().to_owned()),
        )),
        _ if !message.trim().is_empty() => Some((None, clip(message.trim().to_owned()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn exo(status: u16, body: &[u8]) -> ApiError {
        exchange_error(
            &ErrorResponse {
                status,
                body,
                ..Default::default()
            },
            now(),
        )
    }

    #[test]
    fn pipe_separated_detail_gives_exception_type_and_message() {
        let body = br#"{"error":{"code":"NotFound","message":"Error executing cmdlet","details":[{"code":"Client","target":"","message":"Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'X' couldn't be found on 'DC1'."}],"innererror":{"message":"outer","type":"Microsoft.Exchange.Admin.OData.Core.ODataServiceException","internalexception":{"message":"inner","type":"T"}}}}"#;
        let e = exo(404, body);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(
            e.code.as_deref(),
            Some("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException")
        );
        assert!(e.message.starts_with("The operation couldn't be performed"));
        assert_eq!(e.status, Some(404));
    }

    #[test]
    fn json_string_detail_gives_type_name_and_message() {
        let body = br#"{"error":{"code":"BadRequest","message":"Error executing cmdlet","details":[{"code":"Client","target":"","message":"{\"Message\":\"The object 'CN=X' already exists.\",\"TypeName\":\"Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException\",\"StackTrace\":null,\"InnerError\":null}"}]}}"#;
        let e = exo(400, body);
        assert_eq!(e.kind, ErrorKind::AlreadyExists);
        assert_eq!(e.message, "The object 'CN=X' already exists.");
    }

    #[test]
    fn internal_exception_is_used_without_details() {
        let body = br#"{"error":{"code":"InternalServerError","message":"Invalid Operation","innererror":{"message":"m","type":"x","internalexception":{"message":"Server busy","type":"Microsoft.Exchange.Data.Storage.ServerBusyException"}}}}"#;
        let e = exo(400, body);
        assert_eq!(e.kind, ErrorKind::Transient);
        assert_eq!(e.message, "Server busy");
    }

    #[test]
    fn outer_message_and_exception_header_are_the_last_resort() {
        let e = exchange_error(
            &ErrorResponse {
                status: 400,
                body: br#"{"error":{"code":"BadRequest","message":"Error executing cmdlet"}}"#,
                exception_type: Some("System.ArgumentException"),
                ..Default::default()
            },
            now(),
        );
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert_eq!(e.message, "Error executing cmdlet");
        assert_eq!(e.code.as_deref(), Some("System.ArgumentException"));
    }

    #[test]
    fn forbidden_with_nul_body_explains_the_missing_role() {
        let e = exchange_error(
            &ErrorResponse {
                status: 403,
                body: b"\0\0\0\0",
                diagnostics: Some("2000003;reason=\"token lacks role\""),
                ..Default::default()
            },
            now(),
        );
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(
            e.message.contains("Exchange Administrator"),
            "{}",
            e.message
        );
        assert!(e.message.contains("token lacks role"), "{}", e.message);
    }

    #[test]
    fn concurrency_limit_text_is_throttling_whatever_the_status() {
        let e = exchange_error(
            &ErrorResponse {
                status: 400,
                body: b"You have reached the maximum number of concurrent requests per tenant. Please wait and try again",
                retry_after: Some("3"),
                ..Default::default()
            },
            now(),
        );
        assert_eq!(e.kind, ErrorKind::Throttled);
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn statuses_decide_throttled_transient_and_unauthorized() {
        assert_eq!(exo(429, b"").kind, ErrorKind::Throttled);
        assert_eq!(exo(503, b"").kind, ErrorKind::Transient);
        assert_eq!(exo(504, b"<html>gateway</html>").kind, ErrorKind::Transient);
        assert_eq!(exo(401, b"").kind, ErrorKind::Unauthorized);
        assert_eq!(exo(500, b"oops").kind, ErrorKind::Exchange);
        assert_eq!(exo(500, b"oops").message, "oops");
    }
}
