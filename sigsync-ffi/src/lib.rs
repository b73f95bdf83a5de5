//! The C API of sigsync. The header `include/sigsync.h` is generated from this crate by
//! cbindgen (`sigsync-ffi/cbindgen.toml`) and committed; `include/README.md` tells how to
//! build, link and use it.
//!
//! Conventions, for every exported function:
//!
//! * it carries `#[ffi_fn]`, which checks pointer arguments for NULL and turns a panic into
//!   `SIGSYNC_RESULT_PANIC` (or NULL / 0 / false), so no panic unwinds into C;
//! * fallible functions return `sigsync_result` and take an optional `error_out`, which
//!   receives an owned `sigsync_error` on failure;
//! * out-parameters are written only on `SIGSYNC_RESULT_OK`;
//! * `_free(NULL)` does nothing;
//! * handles that do network work own (or share) a tokio runtime and block on it; no tokio
//!   handle crosses the boundary.
//!
//! The crate builds `libsigsync.a` and `libsigsync.so` (`cargo build --release -p
//! sigsync-ffi`). The cargo feature `sim` (on by default) adds the simulated tenant
//! (`sigsync_sim_*`, declared when the program defines `SIGSYNC_SIM`), and `relay` (on by
//! default) the SMTP relay (`sigsync_relay_*`, declared when it defines `SIGSYNC_RELAY`); a
//! product builds with `--no-default-features` to leave them out. The Rust items below are the
//! C functions as Rust sees them: read `include/sigsync.h` for the C declarations, and the
//! README's "Versions and compatibility" section for what changes bump the version (the types
//! are opaque but for the relay's counters and stop report, plain structs the caller
//! allocates, so the ABI is the functions, their ownership rules, the enum numbers, which are
//! never reused, and those structs' fields).

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CStr};
use std::sync::Arc;

use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

pub mod auth;
pub mod boundary;
mod builder;
pub mod client;
pub mod engine;
pub mod error;
pub mod inject;
#[cfg(feature = "relay")]
pub mod relay;
#[cfg(feature = "relay")]
pub mod relay_stats;
pub mod setup;
pub mod signature;
#[cfg(feature = "sim")]
pub mod sim;
pub mod strings;

use error::{sigsync_error, sigsync_result};

/// The version of the sigsync library, as a NUL-terminated string such as `"0.1.0"`.
///
/// The string is static: the caller never frees it. It equals the `SIGSYNC_VERSION_*` macros
/// of the header the program was compiled with, unless it runs against another library.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Whether the library was built with the simulated tenant (`sigsync_sim_*`, cargo feature
/// `sim`).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_has_sim() -> bool {
    cfg!(feature = "sim")
}

/// Whether the library was built with the relay (`sigsync_relay_*`, cargo feature `relay`).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_has_relay() -> bool {
    cfg!(feature = "relay")
}

/// A borrowed UTF-8 argument (`name` is used in the error message).
///
/// # Safety
/// `p` is non-NULL and points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, sigsync_error> {
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
        sigsync_error::new(
            sigsync_result::InvalidUtf8,
            format!("argument {name} is not valid UTF-8"),
        )
    })
}

/// Like [`str_arg`], for an argument that may be NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, sigsync_error> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: non-NULL, and guaranteed by the caller.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// An array of `n` UTF-8 strings (`list` may be NULL when `n` is 0).
///
/// # Safety
/// `list` points to `n` valid NUL-terminated strings.
pub(crate) unsafe fn str_list_arg(
    list: *const *const c_char,
    n: usize,
    name: &str,
) -> Result<Vec<String>, sigsync_error> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(sigsync_error::new(
            sigsync_result::NullParameter,
            format!("argument {name} is NULL but its length is {n}"),
        ));
    }
    // SAFETY: `list` holds `n` pointers, guaranteed by the caller.
    let items = unsafe { std::slice::from_raw_parts(list, n) };
    items
        .iter()
        .map(|p| {
            if p.is_null() {
                return Err(sigsync_error::new(
                    sigsync_result::NullParameter,
                    format!("an element of {name} is NULL"),
                ));
            }
            // SAFETY: non-NULL, NUL-terminated by contract.
            unsafe { str_arg(*p, name) }.map(str::to_owned)
        })
        .collect()
}

/// A shared reference to a live handle.
///
/// # Safety
/// `p` is non-NULL (checked by `#[ffi_fn]`) and points to a live `T` made by this library.
pub(crate) unsafe fn handle<'a, T>(p: *const T) -> &'a T {
    // SAFETY: guaranteed by the caller.
    unsafe { &*p }
}

/// A mutable reference to a live handle.
///
/// # Safety
/// `p` is non-NULL (checked by `#[ffi_fn]`), points to a live `T` made by this library and is
/// not used by another thread meanwhile.
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T) -> &'a mut T {
    // SAFETY: guaranteed by the caller.
    unsafe { &mut *p }
}

/// What `read` gives from a live handle: the body of every accessor (`sigsync_plan_json`,
/// `sigsync_report_writes`, ...).
///
/// # Safety
/// As for [`handle`].
pub(crate) unsafe fn get<T, R>(p: *const T, read: impl FnOnce(&T) -> R) -> R {
    // SAFETY: guaranteed by the caller.
    read(unsafe { handle(p) })
}

/// Hands a new heap object to the caller through `out`.
///
/// # Safety
/// `out` is non-NULL (checked by `#[ffi_fn]`) and writable.
pub(crate) unsafe fn put<T>(out: *mut *mut T, value: T) {
    // SAFETY: guaranteed by the caller.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

/// Hands the caller what `make` makes, or the error: the body of every export with one
/// `*_out` object (`sigsync_injector_load`, `sigsync_service_profile_from_json`, ...).
///
/// # Safety
/// As for [`put`]; `error_out` is NULL or writable.
pub(crate) unsafe fn give<T>(
    out: *mut *mut T,
    error_out: *mut *mut sigsync_error,
    make: impl FnOnce() -> Result<T, sigsync_error>,
) -> sigsync_result {
    error::run(error_out, || {
        let value = make()?;
        // SAFETY: guaranteed by the caller.
        unsafe { put(out, value) };
        Ok(())
    })
}

/// Frees a handle made with [`put`]; NULL does nothing.
///
/// # Safety
/// `p` is NULL or came from [`put`] for the same `T`, and is freed once.
pub(crate) unsafe fn free<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: guaranteed by the caller.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// A C enum (`#[repr(u32)]`), which crosses the boundary as its number.
pub(crate) trait CEnum: Copy {
    /// The number C sees.
    fn number(self) -> u32;
}

macro_rules! c_enums {
    ($($t:ty),* $(,)?) => {$(
        impl CEnum for $t {
            fn number(self) -> u32 {
                self as u32
            }
        }
    )*};
}

c_enums!(
    auth::sigsync_cloud,
    engine::sigsync_setup_status,
    client::sigsync_group_kind,
    signature::sigsync_config_format,
    signature::sigsync_message_kind,
);
#[cfg(feature = "sim")]
c_enums!(sim::sigsync_sim_sign_in);

/// The core value of a C enum passed as a `uint32_t` (`c_name` in the error), through the
/// table that pairs each C value with the core's; [`enum_c`] maps back through the same table.
pub(crate) fn enum_arg<C: CEnum, R: Copy>(
    value: u32,
    c_name: &str,
    table: &[(C, R)],
) -> Result<R, sigsync_error> {
    table
        .iter()
        .find(|(c, _)| c.number() == value)
        .map(|(_, r)| *r)
        .ok_or_else(|| {
            sigsync_error::new(
                sigsync_result::InvalidParameter,
                format!("{value} is not a {c_name}"),
            )
        })
}

/// The C value paired with `value` in `table`, or `fallback` when it has none (the core's
/// enums are non-exhaustive).
pub(crate) fn enum_c<C: Copy, R: PartialEq>(value: R, table: &[(C, R)], fallback: C) -> C {
    table
        .iter()
        .find(|(_, r)| *r == value)
        .map_or(fallback, |(c, _)| *c)
}

/// A builder's settings, taken out by `_build`: a second use reports `ALREADY_USED`.
pub(crate) struct Once<T>(Option<T>);

impl<T> Once<T> {
    pub(crate) fn new(value: T) -> Self {
        Once(Some(value))
    }

    /// The settings, for a setter.
    pub(crate) fn get(&mut self) -> Result<&mut T, sigsync_error> {
        self.0.as_mut().ok_or_else(already_used)
    }

    /// The settings, taken out for `_build`.
    pub(crate) fn take(&mut self) -> Result<T, sigsync_error> {
        self.0.take().ok_or_else(already_used)
    }
}

fn already_used() -> sigsync_error {
    sigsync_error::new(
        sigsync_result::AlreadyUsed,
        "this builder was already built; make a new one",
    )
}

/// A runtime for a handle's blocking calls: two worker threads, shut down when the last
/// handle sharing it is freed.
pub(crate) fn new_runtime() -> Result<Arc<Runtime>, sigsync_error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sigsync")
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| {
            sigsync_error::new(
                sigsync_result::Internal,
                format!("cannot start the runtime: {e}"),
            )
        })
}

/// A C `void *user_data`, passed back to the caller's callback on the calling thread.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: the pointer is only handed back to the caller's own callback, which is called on
// the thread that made the blocking call (documented in the header); sigsync never
// dereferences it.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exported only in the unit tests: a body that panics.
    #[ffi_fn]
    #[no_mangle]
    pub extern "C" fn sigsync_test_only_panics(
        error_out: *mut *mut sigsync_error,
    ) -> sigsync_result {
        let _ = error_out;
        panic!("boom")
    }

    #[test]
    fn a_panic_becomes_a_result_and_an_error_object_not_an_unwind() {
        let mut err: *mut sigsync_error = std::ptr::null_mut();
        assert_eq!(sigsync_test_only_panics(&mut err), sigsync_result::Panic);
        assert!(!err.is_null());
        let message = unsafe { CStr::from_ptr(error::sigsync_error_message(err)) };
        assert!(message.to_str().unwrap().contains("boom"), "{message:?}");
        error::sigsync_error_free(err);
        assert_eq!(
            sigsync_test_only_panics(std::ptr::null_mut()),
            sigsync_result::Panic
        );
    }

    /// One table per C enum: every number C may pass maps to a distinct core value, which
    /// maps back to it; any other number is refused naming the C enum.
    fn check_table<C: CEnum + std::fmt::Debug, R: Copy + PartialEq + std::fmt::Debug>(
        table: &[(C, R)],
        c_name: &str,
    ) {
        for (i, (c, r)) in table.iter().enumerate() {
            assert!(
                enum_arg(c.number(), c_name, table).is_ok_and(|v| v == *r),
                "{c:?}"
            );
            assert_eq!(enum_c(*r, table, table[0].0).number(), c.number(), "{r:?}");
            assert!(
                table[..i].iter().all(|(_, other)| other != r),
                "{r:?} twice"
            );
        }
        let unknown = table.iter().map(|(c, _)| c.number()).max().unwrap() + 1;
        let Err(err) = enum_arg(unknown, c_name, table) else {
            panic!("{unknown} was taken for a {c_name}")
        };
        let mut out = std::ptr::null_mut();
        assert_eq!(
            error::finish(Err(err), &mut out),
            sigsync_result::InvalidParameter
        );
        let message = unsafe { CStr::from_ptr(error::sigsync_error_message(out)) };
        assert_eq!(
            message.to_str().unwrap(),
            format!("{unknown} is not a {c_name}")
        );
        error::sigsync_error_free(out);
    }

    #[test]
    fn every_c_enum_maps_each_number_both_ways_and_names_itself_for_others() {
        check_table(&auth::CLOUDS, "sigsync_cloud");
        check_table(&client::GROUP_KINDS, "sigsync_group_kind");
        check_table(&signature::MESSAGE_KINDS, "sigsync_message_kind");
        check_table(&engine::STATUSES, "sigsync_setup_status");
        #[cfg(feature = "sim")]
        check_table(&sim::SIGN_INS, "sigsync_sim_sign_in");
        let formats = signature::FORMATS.map(|(c, _)| (c, c));
        check_table(&formats, "sigsync_config_format");
    }

    #[test]
    fn version_is_the_crate_version() {
        let v = unsafe { CStr::from_ptr(sigsync_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    /// `#[ffi_fn]` is what puts the NULL checks and the panic boundary around an export; an
    /// export without it could unwind into C.
    #[test]
    fn every_no_mangle_function_carries_ffi_fn() {
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        let mut files = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        assert!(
            files.iter().any(|f| f.ends_with("engine/plan.rs")),
            "{files:?}"
        );
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let t = line.trim();
                if t == "#[no_mangle]" || t.starts_with("#[unsafe(no_mangle)]") {
                    let prev = lines[..i].last().map(|l| l.trim()).unwrap_or("");
                    assert!(
                        prev.starts_with("#[ffi_fn"),
                        "{}:{}: #[no_mangle] without #[ffi_fn] just above",
                        path.display(),
                        i + 1
                    );
                }
                if t.contains("extern \"C\" fn sigsync_") {
                    let prev = lines[..i].last().map(|l| l.trim()).unwrap_or("");
                    assert!(
                        prev == "#[no_mangle]",
                        "{}:{}: extern \"C\" fn without #[no_mangle] #[ffi_fn]",
                        path.display(),
                        i + 1
                    );
                }
            }
        }
    }
}
