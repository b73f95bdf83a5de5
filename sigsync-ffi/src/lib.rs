//! The C API of sigsync. The header `include/sigsync.h` is generated from this crate by
//! cbindgen and committed.

use std::ffi::c_char;

/// The version of the sigsync library, as a NUL-terminated string owned by the library
/// (static; the caller never frees it).
#[no_mangle]
pub extern "C" fn sigsync_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_crate_version() {
        let v = unsafe { std::ffi::CStr::from_ptr(sigsync_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
