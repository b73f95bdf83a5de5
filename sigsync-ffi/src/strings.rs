//! `sigsync_string`: text the library hands to the caller (JSON, rendered signatures).

use std::ffi::{c_char, CString};

use sigsync_ffi_macros::ffi_fn;

/// An owned, NUL-terminated UTF-8 string made by the library (a plan as JSON, a report, a
/// rendered signature). The caller owns it and frees it with `sigsync_string_free`.
/// Immutable: it may be read from any thread.
pub struct sigsync_string {
    text: CString,
}

impl sigsync_string {
    /// The string for `text` (NUL characters are dropped: they cannot occur in C strings).
    pub(crate) fn new(text: impl Into<String>) -> Self {
        let mut text = text.into();
        text.retain(|c| c != '\0');
        sigsync_string {
            text: CString::new(text).unwrap_or_default(),
        }
    }
}

/// The text of `string`, NUL-terminated UTF-8 (NULL when `string` is NULL).
///
/// The pointer is owned by `string` and valid until `sigsync_string_free(string)`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_string_ptr(string: *const sigsync_string) -> *const c_char {
    // SAFETY: checked non-NULL; a live string made by this library.
    unsafe { crate::handle(string) }.text.as_ptr()
}

/// The length of `string` in bytes, without the terminating NUL (0 when `string` is NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_string_len(string: *const sigsync_string) -> usize {
    // SAFETY: checked non-NULL; a live string made by this library.
    unsafe { crate::handle(string) }.text.as_bytes().len()
}

/// Frees a string made by the library. `sigsync_string_free(NULL)` does nothing.
#[ffi_fn(nullable(string))]
#[no_mangle]
pub extern "C" fn sigsync_string_free(string: *mut sigsync_string) {
    // SAFETY: NULL or a string made by this library, freed once.
    unsafe { crate::free(string) }
}
