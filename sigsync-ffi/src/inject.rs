//! The MIME injector: puts the signature the policy picks into a message, stamps the loop
//! header, and never loses mail (errors pass the message through).

use std::ffi::{c_char, CStr};

use sigsync_core::inject::{Envelope, Outcome, SignatureInjector};
use sigsync_core::signature::{SignatureConfig, UserAttributes};
use sigsync_ffi_macros::ffi_fn;

use crate::error::{run, sigsync_error, sigsync_result};
use crate::strings::sigsync_string;
use crate::{give, handle, str_arg};

/// What happened to a message. In every case the output buffer holds the message to send on,
/// with the loop header.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_inject_outcome {
    /// The signature was inserted.
    Injected = 0,
    /// Passed through unchanged but for the loop header, for a reason that is not an error
    /// (policy, signed or encrypted mail, calendar, reports, auto-replies, already processed).
    Skipped = 1,
    /// Passed through unchanged but for the loop header because of an error: alert on these.
    Failed = 2,
}

/// A signature engine (templates, policy, directory) joined to the MIME injector, from one
/// signature configuration (under the hood a `sigsync_core::inject::SignatureInjector`).
///
/// Made by `sigsync_injector_load` or `sigsync_injector_from_str`, freed by the caller with
/// `sigsync_injector_free`. Thread-safe: inject from any number of threads at once.
pub struct sigsync_injector {
    service: SignatureInjector,
}

impl sigsync_injector {
    fn new(config: SignatureConfig) -> Result<Self, sigsync_error> {
        let service = SignatureInjector::from_config(&config, None)?;
        Ok(sigsync_injector { service })
    }
}

/// Loads a signature configuration file (`path`, borrowed for the call; JSON when the name
/// ends in `.json`, TOML otherwise) and makes an injector with its signatures, policy, and
/// loop header.
///
/// The caller owns the injector written to `*injector_out` and frees it with
/// `sigsync_injector_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_injector_load(
    path: *const c_char,
    injector_out: *mut *mut sigsync_injector,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(injector_out, error_out, || {
            sigsync_injector::new(SignatureConfig::load(str_arg(path, "path")?)?)
        })
    }
}

/// Makes an injector from a signature configuration given as text (borrowed for the call) in
/// `format` (a `sigsync_config_format` value).
///
/// The caller owns the injector written to `*injector_out` and frees it with
/// `sigsync_injector_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_injector_from_str(
    text: *const c_char,
    format: u32,
    injector_out: *mut *mut sigsync_injector,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(injector_out, error_out, || {
            let text = str_arg(text, "text")?;
            sigsync_injector::new(crate::signature::parse_config(text, format)?)
        })
    }
}

/// Injects the signature the policy picks into the MIME message `message` (`message_len`
/// bytes, borrowed for the call), writing the message to send on into the caller's buffer
/// `out` (`out_capacity` bytes) whatever the outcome.
///
/// `sender` (may be NULL) and `recipients` (`n_recipients` addresses; may be NULL when 0) are
/// the SMTP envelope (MAIL FROM, RCPT TO), which sees Bcc recipients the headers hide; with
/// neither, the From, To and Cc headers are used. `user_json` (may be NULL) gives the
/// sender's attributes as a Microsoft Graph `user` object, instead of the configured
/// directory (with `"groups": [...]`, the sender's groups for group-scoped rules; without,
/// the configured directory answers membership). A policy that cannot decide is reported as
/// failed, never as a silent skip; so is per-message input that cannot be used (`user_json`
/// that is not a user object, a `sender` or recipient that is not UTF-8, a NULL recipient):
/// the message is then passed through with the loop header, `SIGSYNC_RESULT_OK` and
/// `SIGSYNC_INJECT_OUTCOME_FAILED` with the reason.
///
/// On `SIGSYNC_RESULT_OK`, `*out_len` receives the output's length, `*outcome_out` what
/// happened, and when `reason_out` is not NULL, `*reason_out` receives why the message was
/// skipped or failed (NULL when injected), which the caller frees with `sigsync_string_free`.
/// On `SIGSYNC_RESULT_INSUFFICIENT_SIZE`, only `*out_len` is written: the capacity needed;
/// call again with a buffer that large (`out` may be NULL when `out_capacity` is 0, to ask
/// for the size). Outputs can be much larger than the input (re-encoded bodies, inline
/// images): ask for the size, or grow the buffer and retry on `INSUFFICIENT_SIZE`.
#[ffi_fn(nullable(sender, recipients, user_json, out, reason_out))]
#[no_mangle]
pub extern "C" fn sigsync_injector_inject(
    injector: *const sigsync_injector,
    message: *const u8,
    message_len: usize,
    sender: *const c_char,
    recipients: *const *const c_char,
    n_recipients: usize,
    user_json: *const c_char,
    out: *mut u8,
    out_capacity: usize,
    out_len: *mut usize,
    outcome_out: *mut sigsync_inject_outcome,
    reason_out: *mut *mut sigsync_string,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: checked non-NULL; `message` holds `message_len` bytes, borrowed for the call.
        let msg = unsafe { std::slice::from_raw_parts(message, message_len) };
        let this = unsafe { handle(injector) };
        if out.is_null() && out_capacity > 0 {
            return Err(sigsync_error::new(
                sigsync_result::NullParameter,
                "argument out is NULL but out_capacity is not 0",
            ));
        }
        // Per-message input that cannot be used fails the message, never the call: the
        // message passes through with the loop header, so a relay that follows the docs
        // loses no mail.
        // SAFETY: NULL or NUL-terminated strings (and `recipients` holds `n_recipients`
        // pointers when not NULL), borrowed for the call.
        let input = unsafe { message_input(sender, recipients, n_recipients, user_json) };
        // The output's exact length is known before a byte is written: copy it straight
        // into the caller's buffer, with no intermediate copy of the message.
        let (outcome, output) = match &input {
            Ok((envelope, user)) => this.service.prepare(msg, envelope.as_ref(), user.as_ref()),
            Err(reason) => this.service.pass_through(msg, reason.clone()),
        };
        if output.len() > out_capacity {
            // SAFETY: checked non-NULL.
            unsafe { *out_len = output.len() };
            return Err(sigsync_error::new(
                sigsync_result::InsufficientSize,
                format!(
                    "the output needs {} bytes, the buffer holds {out_capacity}",
                    output.len()
                ),
            ));
        }
        let (outcome, reason) = match &outcome {
            Outcome::Injected(_) => (sigsync_inject_outcome::Injected, None),
            Outcome::Skipped(_) => (sigsync_inject_outcome::Skipped, outcome.reason()),
            _ => (sigsync_inject_outcome::Failed, outcome.reason()),
        };
        let mut written = 0;
        for chunk in output.chunks() {
            // SAFETY: `out` holds `out_capacity` >= output.len() bytes, and the chunks add up
            // to output.len(); `out` is non-NULL whenever a chunk is non-empty (a NULL `out`
            // comes with capacity 0, so only an empty output gets here).
            if !chunk.is_empty() {
                unsafe {
                    std::ptr::copy_nonoverlapping(chunk.as_ptr(), out.add(written), chunk.len())
                };
            }
            written += chunk.len();
        }
        // SAFETY: checked non-NULL.
        unsafe {
            *out_len = written;
            *outcome_out = outcome;
            if !reason_out.is_null() {
                *reason_out = match reason {
                    Some(r) => Box::into_raw(Box::new(sigsync_string::new(r))),
                    None => std::ptr::null_mut(),
                };
            }
        }
        Ok(())
    })
}

/// Reads the per-message input of `sigsync_injector_inject`; `Err` names what is unusable.
///
/// # Safety
/// Each pointer is NULL or a NUL-terminated string, and `recipients`, when not NULL, holds
/// `n` pointers; all outlive the call.
unsafe fn message_input(
    sender: *const c_char,
    recipients: *const *const c_char,
    n: usize,
    user_json: *const c_char,
) -> Result<(Option<Envelope>, Option<UserAttributes>), String> {
    // SAFETY: guaranteed by the caller.
    let text = |p: *const c_char, what: &str| -> Result<Option<&str>, String> {
        if p.is_null() {
            return Ok(None);
        }
        unsafe { CStr::from_ptr(p) }
            .to_str()
            .map(Some)
            .map_err(|_| format!("{what} is not valid UTF-8"))
    };
    let sender = text(sender, "the envelope sender")?;
    if n > 0 && recipients.is_null() {
        return Err(format!("recipients is NULL but n_recipients is {n}"));
    }
    let mut rcpt = Vec::with_capacity(n);
    if n > 0 {
        // SAFETY: `recipients` holds `n` pointers.
        for (i, &p) in unsafe { std::slice::from_raw_parts(recipients, n) }
            .iter()
            .enumerate()
        {
            match text(p, &format!("recipient {i}"))? {
                Some(r) => rcpt.push(r.to_owned()),
                None => return Err(format!("recipient {i} is NULL")),
            }
        }
    }
    let envelope = (sender.is_some() || !rcpt.is_empty()).then(|| Envelope {
        mail_from: sender.map(str::to_owned),
        rcpt_to: rcpt,
    });
    let user = text(user_json, "user_json")?
        .map(serde_json::from_str::<UserAttributes>)
        .transpose()
        .map_err(|e| format!("user_json is not a user object: {e}"))?;
    Ok((envelope, user))
}

/// Frees an injector. `sigsync_injector_free(NULL)` does nothing.
#[ffi_fn(nullable(injector))]
#[no_mangle]
pub extern "C" fn sigsync_injector_free(injector: *mut sigsync_injector) {
    // SAFETY: NULL or made by this library, freed once.
    unsafe { crate::free(injector) }
}
