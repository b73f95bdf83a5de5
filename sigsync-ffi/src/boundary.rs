//! What an exported function returns when an argument is NULL or when it panics, per return
//! type (rustls-ffi's `PanicOrDefault` and `NullParameterOrDefault`). Used by `#[ffi_fn]`.

use std::any::Any;

use crate::error::{finish, sigsync_error, sigsync_result};

/// The NULL-argument and panic values of a return type.
pub trait Boundary: Sized {
    /// The value returned when the pointer argument `name` is NULL.
    fn null_parameter(error_out: *mut *mut sigsync_error, name: &str) -> Self;
    /// The value returned when the function `function` panicked.
    fn panicked(
        error_out: *mut *mut sigsync_error,
        function: &str,
        payload: Box<dyn Any + Send>,
    ) -> Self;
}

impl Boundary for sigsync_result {
    fn null_parameter(error_out: *mut *mut sigsync_error, name: &str) -> Self {
        let message = format!("argument {name} is NULL");
        finish(
            Err(sigsync_error::new(sigsync_result::NullParameter, message)),
            error_out,
        )
    }

    fn panicked(
        error_out: *mut *mut sigsync_error,
        function: &str,
        payload: Box<dyn Any + Send>,
    ) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let message = format!("{function} panicked (a bug in sigsync): {what}");
        finish(
            Err(sigsync_error::new(sigsync_result::Panic, message)),
            error_out,
        )
    }
}

/// Types whose NULL-argument and panic value is a fixed default.
macro_rules! boundary_default {
    ($($t:ty => $v:expr),* $(,)?) => {$(
        impl Boundary for $t {
            fn null_parameter(_: *mut *mut sigsync_error, _: &str) -> Self {
                $v
            }
            fn panicked(_: *mut *mut sigsync_error, _: &str, _: Box<dyn Any + Send>) -> Self {
                $v
            }
        }
    )*};
}

boundary_default! {
    () => (),
    bool => false,
    u16 => 0,
    u32 => 0,
    usize => 0,
}

impl<T> Boundary for *const T {
    fn null_parameter(_: *mut *mut sigsync_error, _: &str) -> Self {
        std::ptr::null()
    }
    fn panicked(_: *mut *mut sigsync_error, _: &str, _: Box<dyn Any + Send>) -> Self {
        std::ptr::null()
    }
}

impl<T> Boundary for *mut T {
    fn null_parameter(_: *mut *mut sigsync_error, _: &str) -> Self {
        std::ptr::null_mut()
    }
    fn panicked(_: *mut *mut sigsync_error, _: &str, _: Box<dyn Any + Send>) -> Self {
        std::ptr::null_mut()
    }
}

boundary_default! {
    crate::client::sigsync_group_kind => crate::client::sigsync_group_kind::Security,
    crate::engine::sigsync_setup_status => crate::engine::sigsync_setup_status::Unknown,
}
