//! `sigsync_result` (the stable result codes) and `sigsync_error` (the owned error object).

use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

use sigsync_core::{Error, ErrorKind};
use sigsync_ffi_macros::ffi_fn;

use crate::strings::{c_string, static_name};

/// The result of every fallible function. The numbers are stable and never reused.
///
/// 0 is success; 100–999 are exactly the core's error kinds (`sigsync_core::ErrorKind`,
/// one to one: the same number and name); 1000 and up are errors of the C API itself.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_result {
    /// Success.
    Ok = 0,
    /// A definition or an argument failed validation (the message names the field).
    Validation = 100,
    /// A configuration (service profile, signature configuration, file) is unusable.
    Config = 101,
    /// The tenant holds an object that conflicts with what sigsync would create.
    Conflict = 102,
    /// Sign-in failed for a reason without a more specific code.
    Auth = 200,
    /// The sign-in is no longer valid: the admin must sign in again.
    SignInRequired = 201,
    /// The admin declined the sign-in request.
    SignInDeclined = 202,
    /// The device code expired before the admin finished signing in.
    SignInExpired = 203,
    /// The sign-in was cancelled.
    SignInCancelled = 204,
    /// Exchange or Graph failed for a reason without a more specific code.
    Exchange = 300,
    /// The object does not exist.
    NotFound = 301,
    /// An object with that name already exists.
    AlreadyExists = 302,
    /// Exchange's own validation refused the request.
    Rejected = 303,
    /// The credentials were not accepted (HTTP 401).
    Unauthorized = 304,
    /// The signed-in identity lacks a role or permission (HTTP 403).
    Forbidden = 305,
    /// The service asked to slow down (HTTP 429).
    Throttled = 306,
    /// A transient failure worth retrying (HTTP 503/504).
    Transient = 307,
    /// The network or HTTP layer failed.
    Network = 400,
    /// A bug in sigsync.
    Internal = 900,
    /// A pointer argument that must not be NULL was NULL.
    NullParameter = 1000,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 1001,
    /// An output buffer is too small; the needed size was written to the size out-parameter.
    InsufficientSize = 1002,
    /// A builder was used after its `_build` call (build it once, then free it), or a relay
    /// after `sigsync_relay_stop`.
    AlreadyUsed = 1003,
    /// An argument has a value outside its range (an unknown enum value, say).
    InvalidParameter = 1004,
    /// sigsync panicked; the call had no effect that can be relied on. Please report it.
    Panic = 1999,
}

impl sigsync_result {
    /// Every core-kind code, in `ErrorKind::ALL` order (checked by a test).
    const KINDS: [sigsync_result; 18] = [
        sigsync_result::Validation,
        sigsync_result::Config,
        sigsync_result::Conflict,
        sigsync_result::Auth,
        sigsync_result::SignInRequired,
        sigsync_result::SignInDeclined,
        sigsync_result::SignInExpired,
        sigsync_result::SignInCancelled,
        sigsync_result::Exchange,
        sigsync_result::NotFound,
        sigsync_result::AlreadyExists,
        sigsync_result::Rejected,
        sigsync_result::Unauthorized,
        sigsync_result::Forbidden,
        sigsync_result::Throttled,
        sigsync_result::Transient,
        sigsync_result::Network,
        sigsync_result::Internal,
    ];

    /// Every code of the C API itself.
    const FFI: [sigsync_result; 6] = [
        sigsync_result::NullParameter,
        sigsync_result::InvalidUtf8,
        sigsync_result::InsufficientSize,
        sigsync_result::AlreadyUsed,
        sigsync_result::InvalidParameter,
        sigsync_result::Panic,
    ];

    /// The code for a core error kind: the same number.
    pub fn from_kind(kind: ErrorKind) -> sigsync_result {
        Self::KINDS
            .into_iter()
            .find(|r| *r as u32 == kind.code())
            .unwrap_or(sigsync_result::Internal)
    }

    /// The code with this number, if any.
    pub fn from_u32(code: u32) -> Option<sigsync_result> {
        Self::all().find(|r| *r as u32 == code)
    }

    /// The stable snake_case name: the core kind's name, or the C API's own.
    pub fn name(self) -> &'static str {
        match self {
            sigsync_result::Ok => "ok",
            sigsync_result::NullParameter => "null_parameter",
            sigsync_result::InvalidUtf8 => "invalid_utf8",
            sigsync_result::InsufficientSize => "insufficient_size",
            sigsync_result::AlreadyUsed => "already_used",
            sigsync_result::InvalidParameter => "invalid_parameter",
            sigsync_result::Panic => "panic",
            other => ErrorKind::from_code(other as u32).map_or("internal", ErrorKind::name),
        }
    }

    /// [`sigsync_result::name`] NUL-terminated for C.
    fn name_c(self) -> &'static CStr {
        static NAMES: OnceLock<Vec<(sigsync_result, CString)>> = OnceLock::new();
        let names = || Self::all().map(|r| (r, r.name())).collect();
        static_name(&NAMES, self, names).unwrap_or(c"internal")
    }

    /// Every code: success, the core kinds, the C API's own.
    fn all() -> impl Iterator<Item = sigsync_result> {
        std::iter::once(sigsync_result::Ok)
            .chain(Self::KINDS)
            .chain(Self::FFI)
    }
}

/// An error: its result code, a message, and for Exchange and Graph errors the HTTP status
/// and the service's error code. Messages never contain tokens, secrets or device codes.
///
/// Created by the library and handed to the caller through an optional
/// `sigsync_error **error_out` parameter; the caller owns it and frees it with
/// `sigsync_error_free`. Immutable, so it may be read from any thread.
pub struct sigsync_error {
    result: sigsync_result,
    message: CString,
    status: u16,
    code: Option<CString>,
    report: Option<CString>,
}

impl sigsync_error {
    /// An error with `result` and `message` (no HTTP status, no service code).
    pub(crate) fn new(result: sigsync_result, message: impl Into<String>) -> Self {
        sigsync_error {
            result,
            message: c_string(message),
            status: 0,
            code: None,
            report: None,
        }
    }

    /// Attaches the report of the failed setup action.
    pub(crate) fn with_report_json(mut self, json: String) -> Self {
        self.report = Some(c_string(json));
        self
    }

    /// The error object for a core error.
    pub(crate) fn from_core(e: &Error) -> Self {
        sigsync_error {
            result: sigsync_result::from_kind(e.kind()),
            message: c_string(e.to_string()),
            status: e.status().unwrap_or(0),
            code: e.code().map(c_string),
            report: None,
        }
    }
}

/// What a fallible function body returns: success, or an error for the caller.
pub(crate) type FfiResult = Result<(), sigsync_error>;

impl From<Error> for sigsync_error {
    fn from(e: Error) -> Self {
        sigsync_error::from_core(&e)
    }
}

/// Turns a body's result into the return code, handing the error object to the caller when
/// `error_out` is not NULL.
pub(crate) fn finish(result: FfiResult, error_out: *mut *mut sigsync_error) -> sigsync_result {
    match result {
        Ok(()) => sigsync_result::Ok,
        Err(e) => {
            let code = e.result;
            if !error_out.is_null() {
                // SAFETY: the caller passes either NULL or a writable `sigsync_error *` slot.
                unsafe { *error_out = Box::into_raw(Box::new(e)) };
            }
            code
        }
    }
}

/// Runs a fallible body and turns its result into the return code, handing the error object
/// to the caller when `error_out` is not NULL: the body of every fallible export.
pub(crate) fn run(
    error_out: *mut *mut sigsync_error,
    body: impl FnOnce() -> FfiResult,
) -> sigsync_result {
    finish(body(), error_out)
}

/// The stable snake_case name of `result` (`"not_found"`, `"null_parameter"`), or
/// `"unknown"` for a number that is no `sigsync_result`.
///
/// The string is static: the caller never frees it.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_result_name(result: u32) -> *const c_char {
    match sigsync_result::from_u32(result) {
        Some(r) => r.name_c().as_ptr(),
        None => c"unknown".as_ptr(),
    }
}

/// Whether retrying the same call later may succeed (throttled, transient, network).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_result_is_retryable(result: u32) -> bool {
    matches!(
        sigsync_result::from_u32(result),
        Some(sigsync_result::Throttled | sigsync_result::Transient | sigsync_result::Network)
    )
}

/// The result code of `error` (`SIGSYNC_RESULT_NULL_PARAMETER` when `error` is NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_error_result(error: *const sigsync_error) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; the caller passes a live error.
    unsafe { (*error).result }
}

/// The message of `error`, NUL-terminated UTF-8 (NULL when `error` is NULL).
///
/// The string is owned by `error` and valid until `sigsync_error_free(error)`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_error_message(error: *const sigsync_error) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn]; the caller passes a live error.
    unsafe { (*error).message.as_ptr() }
}

/// The HTTP status of an Exchange or Graph error, or 0 when the error did not come from an
/// HTTP response (or `error` is NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_error_http_status(error: *const sigsync_error) -> u16 {
    // SAFETY: checked non-NULL by #[ffi_fn]; the caller passes a live error.
    unsafe { (*error).status }
}

/// The service's error code (the Exchange exception type such as
/// `ManagementObjectNotFoundException`, Graph's `error.code`, or the OAuth error code), or
/// NULL when there is none.
///
/// The string is owned by `error` and valid until `sigsync_error_free(error)`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_error_code(error: *const sigsync_error) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn]; the caller passes a live error.
    unsafe {
        (*error)
            .code
            .as_ref()
            .map_or(std::ptr::null(), |c| c.as_ptr())
    }
}

/// For an error of a failed apply, pause, resume or remove: the action's report as JSON
/// (`status` afterwards, `reasons`, the `repair` plan, each step's outcome); NULL for every
/// other error.
///
/// The string is owned by `error` and valid until `sigsync_error_free(error)`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_error_report_json(error: *const sigsync_error) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn]; the caller passes a live error.
    unsafe {
        (*error)
            .report
            .as_ref()
            .map_or(std::ptr::null(), |c| c.as_ptr())
    }
}

/// Frees an error received through an `error_out` parameter. `sigsync_error_free(NULL)` does
/// nothing. Free each error once.
#[ffi_fn(nullable(error))]
#[no_mangle]
pub extern "C" fn sigsync_error_free(error: *mut sigsync_error) {
    if !error.is_null() {
        // SAFETY: `error` came from `Box::into_raw` in `finish` and is freed once.
        drop(unsafe { Box::from_raw(error) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn result_codes_equal_the_core_error_kinds_one_to_one() {
        assert_eq!(sigsync_result::KINDS.len(), ErrorKind::ALL.len());
        for (r, kind) in sigsync_result::KINDS.iter().zip(ErrorKind::ALL) {
            assert_eq!(*r as u32, kind.code(), "{kind:?}");
            assert_eq!(r.name(), kind.name());
            assert_eq!(sigsync_result::from_kind(*kind), *r);
            let c = unsafe { CStr::from_ptr(sigsync_result_name(*r as u32)) };
            assert_eq!(c.to_str().unwrap(), kind.name());
        }
    }

    #[test]
    fn ffi_only_codes_stay_outside_the_core_ranges() {
        for r in sigsync_result::FFI {
            assert!(r as u32 >= 1000, "{r:?}");
            assert_eq!(sigsync_result::from_u32(r as u32), Some(r));
        }
        let c = unsafe { CStr::from_ptr(sigsync_result_name(4242)) };
        assert_eq!(c.to_str().unwrap(), "unknown");
    }

    #[test]
    fn error_object_keeps_status_and_service_code() {
        let e = Error::Api(
            sigsync_core::ApiError::new(ErrorKind::NotFound, "no such rule")
                .with_status(404)
                .with_code("ManagementObjectNotFoundException"),
        );
        let mut out: *mut sigsync_error = std::ptr::null_mut();
        let r = finish(Err(e.into()), &mut out);
        assert_eq!(r, sigsync_result::NotFound);
        assert_eq!(sigsync_error_result(out), sigsync_result::NotFound);
        assert_eq!(sigsync_error_http_status(out), 404);
        let code = unsafe { CStr::from_ptr(sigsync_error_code(out)) };
        assert_eq!(code.to_str().unwrap(), "ManagementObjectNotFoundException");
        sigsync_error_free(out);
        sigsync_error_free(std::ptr::null_mut());
    }
}
