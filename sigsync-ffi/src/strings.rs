//! `sigsync_string`: text the library hands to the caller (JSON, rendered signatures).

use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

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
        sigsync_string {
            text: c_string(text),
        }
    }
}

/// `text` as a C string, NUL characters dropped (they cannot occur in C strings): the one
/// conversion of every string a handle keeps for C.
pub(crate) fn c_string(text: impl Into<String>) -> CString {
    let mut text = text.into();
    text.retain(|c| c != '\0');
    CString::new(text).unwrap_or_default()
}

/// The static C string of `value`'s name, from a table made once by `names` (the names stay
/// written once, in the core): for the `sigsync_*_name` functions. `None` when the table has
/// no such value.
pub(crate) fn static_name<T: PartialEq>(
    table: &'static OnceLock<Vec<(T, CString)>>,
    value: T,
    names: impl FnOnce() -> Vec<(T, &'static str)>,
) -> Option<&'static CStr> {
    let table = table.get_or_init(|| {
        let names = names().into_iter();
        names.map(|(v, name)| (v, c_string(name))).collect()
    });
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, name)| name.as_c_str())
}

/// The text of `string`, NUL-terminated UTF-8 (NULL when `string` is NULL).
///
/// The pointer is owned by `string` and valid until `sigsync_string_free(string)`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_string_ptr(string: *const sigsync_string) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn]; a live string made by this library.
    unsafe { crate::get(string, |s| s.text.as_ptr()) }
}

/// The length of `string` in bytes, without the terminating NUL (0 when `string` is NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_string_len(string: *const sigsync_string) -> usize {
    // SAFETY: checked non-NULL by #[ffi_fn]; a live string made by this library.
    unsafe { crate::get(string, |s| s.text.as_bytes().len()) }
}

/// Frees a string made by the library. `sigsync_string_free(NULL)` does nothing.
#[ffi_fn(nullable(string))]
#[no_mangle]
pub extern "C" fn sigsync_string_free(string: *mut sigsync_string) {
    // SAFETY: NULL or a string made by this library, freed once.
    unsafe { crate::free(string) }
}
