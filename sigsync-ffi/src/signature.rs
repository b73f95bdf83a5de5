//! The signature engine: load a configuration, and render signatures for client-side mode.

use std::ffi::{c_char, CString};

use sigsync_core::signature::{
    Choice, MessageContext, MessageKind, SignatureConfig, SignatureEngine, UserAttributes,
};
use sigsync_ffi_macros::ffi_fn;

use crate::error::{sigsync_error, sigsync_result};
use crate::strings::c_string;
use crate::{enum_arg, get, give, handle, opt_str_arg, str_arg, str_list_arg};

/// The format of a signature configuration given as text.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_config_format {
    /// TOML (the format of the documented examples).
    Toml = 0,
    /// The same structure in JSON.
    Json = 1,
}

/// New message, or reply/forward.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_message_kind {
    /// A new message.
    New = 0,
    /// A reply or a forward.
    Reply = 1,
}

/// Compiled signature templates, disclaimers, images, rules and the in-memory directory of
/// a signature configuration (under the hood a `sigsync_core::signature::SignatureEngine`).
/// A Graph directory is not available through the C API yet (`SIGSYNC_RESULT_CONFIG`).
///
/// Made by `sigsync_signature_engine_load` or `sigsync_signature_engine_from_str`, freed by
/// the caller with `sigsync_signature_engine_free`. Thread-safe: render from any number of
/// threads at once.
pub struct sigsync_signature_engine {
    engine: SignatureEngine,
}

/// A rendering: either a signature (HTML and text, with the client marker) or the reason
/// there is none.
///
/// Made by `sigsync_signature_engine_render_client_side`, freed by the caller with
/// `sigsync_rendered_signature_free`. Immutable: thread-safe.
pub struct sigsync_rendered_signature {
    signed: bool,
    html: CString,
    text: CString,
    reason: CString,
}

pub(crate) type Parse = fn(&str) -> sigsync_core::Result<SignatureConfig>;

pub(crate) const FORMATS: [(sigsync_config_format, Parse); 2] = [
    (sigsync_config_format::Toml, SignatureConfig::from_toml_str),
    (sigsync_config_format::Json, SignatureConfig::from_json_str),
];

pub(crate) const MESSAGE_KINDS: [(sigsync_message_kind, MessageKind); 2] = [
    (sigsync_message_kind::New, MessageKind::New),
    (sigsync_message_kind::Reply, MessageKind::Reply),
];

/// Parses a signature configuration in `format` (a `sigsync_config_format` value).
pub(crate) fn parse_config(text: &str, format: u32) -> Result<SignatureConfig, sigsync_error> {
    let parse = enum_arg(format, "sigsync_config_format", &FORMATS)?;
    Ok(parse(text)?)
}

impl sigsync_signature_engine {
    fn new(config: SignatureConfig) -> Result<Self, sigsync_error> {
        let engine = config.engine(None)?;
        Ok(sigsync_signature_engine { engine })
    }
}

/// Loads a signature configuration file (`path`, borrowed for the call): JSON when the name
/// ends in `.json`, TOML otherwise; relative paths in it resolve against its folder.
///
/// The caller owns the engine written to `*engine_out` and frees it with
/// `sigsync_signature_engine_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_signature_engine_load(
    path: *const c_char,
    engine_out: *mut *mut sigsync_signature_engine,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(engine_out, error_out, || {
            sigsync_signature_engine::new(SignatureConfig::load(str_arg(path, "path")?)?)
        })
    }
}

/// Reads a signature configuration from text (borrowed for the call) in `format` (a
/// `sigsync_config_format` value). Image paths in it resolve against the working directory.
///
/// The caller owns the engine written to `*engine_out` and frees it with
/// `sigsync_signature_engine_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_signature_engine_from_str(
    text: *const c_char,
    format: u32,
    engine_out: *mut *mut sigsync_signature_engine,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(engine_out, error_out, || {
            let text = str_arg(text, "text")?;
            sigsync_signature_engine::new(parse_config(text, format)?)
        })
    }
}

/// Client-side mode: renders the signature for a user composing a message, for a
/// compose-time add-in, with the client marker (so the server does not sign it again).
///
/// `user_json` is the user's directory attributes as a Microsoft Graph `user` object
/// (`{"displayName": "...", "jobTitle": "...", "mail": "..."}`); `sender` is the From
/// address (NULL: the user's `mail`); `recipients` holds `n_recipients` addresses so far
/// (may be NULL when 0); `kind` is a `sigsync_message_kind` value. Every argument is
/// borrowed for the call.
///
/// The caller owns the rendering written to `*rendered_out` and frees it with
/// `sigsync_rendered_signature_free`.
#[ffi_fn(nullable(sender, recipients))]
#[no_mangle]
pub extern "C" fn sigsync_signature_engine_render_client_side(
    engine: *const sigsync_signature_engine,
    user_json: *const c_char,
    sender: *const c_char,
    recipients: *const *const c_char,
    n_recipients: usize,
    kind: u32,
    rendered_out: *mut *mut sigsync_rendered_signature,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL where required by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(rendered_out, error_out, || {
            let user_json = str_arg(user_json, "user_json")?;
            let sender = opt_str_arg(sender, "sender")?;
            let recipients = str_list_arg(recipients, n_recipients, "recipients")?;
            let kind = enum_arg(kind, "sigsync_message_kind", &MESSAGE_KINDS)?;
            render_client_side(handle(engine), user_json, sender, recipients, kind)
        })
    }
}

/// The rendering of `sigsync_signature_engine_render_client_side`.
fn render_client_side(
    engine: &sigsync_signature_engine,
    user_json: &str,
    sender: Option<&str>,
    recipients: Vec<String>,
    kind: MessageKind,
) -> Result<sigsync_rendered_signature, sigsync_error> {
    let user: UserAttributes = serde_json::from_str(user_json).map_err(|e| {
        sigsync_error::new(
            sigsync_result::Validation,
            format!("invalid user_json: {e}"),
        )
    })?;
    let ctx = MessageContext::new(sender.unwrap_or_default(), recipients, kind);
    let rendered = match engine.engine.render_client_side(&user, &ctx)? {
        Choice::Sign(s) => {
            let mut html = s.html;
            let mut text = s.text;
            if let Some(d) = s.disclaimer_html {
                html.push_str(&d);
            }
            if let Some(d) = s.disclaimer_text {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&d);
            }
            sigsync_rendered_signature {
                signed: true,
                html: c_string(html),
                text: c_string(text),
                reason: CString::default(),
            }
        }
        Choice::NoSignature(reason) => sigsync_rendered_signature {
            signed: false,
            html: CString::default(),
            text: CString::default(),
            reason: c_string(reason.to_string()),
        },
    };
    Ok(rendered)
}

/// Frees an engine. `sigsync_signature_engine_free(NULL)` does nothing.
#[ffi_fn(nullable(engine))]
#[no_mangle]
pub extern "C" fn sigsync_signature_engine_free(engine: *mut sigsync_signature_engine) {
    // SAFETY: NULL or made by this library, freed once.
    unsafe { crate::free(engine) }
}

/// Whether a signature was rendered (false: no rule adds one; see
/// `sigsync_rendered_signature_reason`).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_rendered_signature_signed(
    rendered: *const sigsync_rendered_signature,
) -> bool {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(rendered, |r| r.signed) }
}

/// The HTML signature (with the disclaimer, if any), empty when none. Owned by `rendered`,
/// valid until `sigsync_rendered_signature_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_rendered_signature_html(
    rendered: *const sigsync_rendered_signature,
) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(rendered, |r| r.html.as_ptr()) }
}

/// The plain-text signature (with the disclaimer, if any), empty when none. Owned by
/// `rendered`, valid until `sigsync_rendered_signature_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_rendered_signature_text(
    rendered: *const sigsync_rendered_signature,
) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(rendered, |r| r.text.as_ptr()) }
}

/// Why there is no signature, empty when there is one. Owned by `rendered`, valid until
/// `sigsync_rendered_signature_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_rendered_signature_reason(
    rendered: *const sigsync_rendered_signature,
) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(rendered, |r| r.reason.as_ptr()) }
}

/// Frees a rendering. `sigsync_rendered_signature_free(NULL)` does nothing.
#[ffi_fn(nullable(rendered))]
#[no_mangle]
pub extern "C" fn sigsync_rendered_signature_free(rendered: *mut sigsync_rendered_signature) {
    // SAFETY: NULL or made by sigsync_signature_engine_render_client_side, freed once.
    unsafe { crate::free(rendered) }
}
