//! The one body of every builder export. `_new` hands out a builder over default settings
//! ([`new`]), every setter changes the settings of a builder not built yet ([`set`], or
//! [`set_value`] and [`set_str`] with the field to fill), and `_build` takes them out once ([`build`]): a later use
//! returns `SIGSYNC_RESULT_ALREADY_USED`.
//!
//! Each export keeps its `#[no_mangle] pub extern "C" fn` signature written out, because
//! cbindgen reads the signatures and does not expand macros; its body is one call here.

use std::ffi::c_char;

use crate::error::{run, sigsync_error, sigsync_result, FfiResult};
use crate::{handle_mut, put, str_arg, Once};

/// A builder handle: settings that `_build` takes out once.
pub(crate) trait Builder: Sized {
    /// What the builder collects.
    type Settings;
    /// The handle over `settings`.
    fn from_settings(settings: Self::Settings) -> Self;
    /// The settings, in the builder or already taken out.
    fn settings(&mut self) -> &mut Once<Self::Settings>;
}

/// Makes `$builder` (a struct with one field `settings: Once<$settings>`) a [`Builder`].
macro_rules! builder {
    ($builder:ident, $settings:ty) => {
        impl $crate::builder::Builder for $builder {
            type Settings = $settings;
            fn from_settings(settings: $settings) -> Self {
                $builder {
                    settings: $crate::Once::new(settings),
                }
            }
            fn settings(&mut self) -> &mut $crate::Once<$settings> {
                &mut self.settings
            }
        }
    };
}
pub(crate) use builder;

/// Hands the caller a new builder over `settings` (the body of every `_builder_new`).
///
/// # Safety
/// `out` is non-NULL (checked by `#[ffi_fn]`) and writable.
pub(crate) unsafe fn new<B: Builder>(out: *mut *mut B, settings: B::Settings) -> sigsync_result {
    // SAFETY: guaranteed by the caller.
    unsafe { put(out, B::from_settings(settings)) };
    sigsync_result::Ok
}

/// Changes the settings of a builder not built yet with `change`, which may refuse an
/// argument (the body of a setter that validates, such as `_set_cloud`).
///
/// # Safety
/// `builder` is non-NULL (checked by `#[ffi_fn]`), a live builder made by this library and
/// used by one thread at a time; `error_out` is NULL or writable.
pub(crate) unsafe fn set<B: Builder>(
    builder: *mut B,
    error_out: *mut *mut sigsync_error,
    change: impl FnOnce(&mut B::Settings) -> FfiResult,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: guaranteed by the caller.
        change(unsafe { handle_mut(builder) }.settings().get()?)
    })
}

/// Where a setter's value goes, by the field's type: a plain field is replaced, an optional
/// one set, a list grows by one.
pub(crate) trait Slot<V> {
    /// Puts `value` in the field.
    fn store(&mut self, value: V);
}

impl Slot<String> for String {
    fn store(&mut self, value: String) {
        *self = value;
    }
}

impl Slot<String> for Option<String> {
    fn store(&mut self, value: String) {
        *self = Some(value);
    }
}

impl Slot<String> for Vec<String> {
    fn store(&mut self, value: String) {
        self.push(value);
    }
}

impl Slot<bool> for bool {
    fn store(&mut self, value: bool) {
        *self = value;
    }
}

impl Slot<bool> for Option<bool> {
    fn store(&mut self, value: bool) {
        *self = Some(value);
    }
}

impl Slot<u32> for Option<u32> {
    fn store(&mut self, value: u32) {
        *self = Some(value);
    }
}

/// Stores `value` in the field `field` picks (the body of a setter of a `bool` or a number).
///
/// # Safety
/// As for [`set`].
pub(crate) unsafe fn set_value<B: Builder, V, F: Slot<V>>(
    builder: *mut B,
    value: V,
    error_out: *mut *mut sigsync_error,
    field: impl FnOnce(&mut B::Settings) -> &mut F,
) -> sigsync_result {
    // SAFETY: guaranteed by the caller.
    unsafe {
        set(builder, error_out, |settings| {
            field(settings).store(value);
            Ok(())
        })
    }
}

/// Copies the string argument `value` (called `name` in errors; borrowed for the call) into
/// the field `field` picks (the body of every string setter and `_add_*`).
///
/// # Safety
/// As for [`set`]; `value` is non-NULL (checked by `#[ffi_fn]`) and NUL-terminated.
pub(crate) unsafe fn set_str<B: Builder, F: Slot<String>>(
    builder: *mut B,
    value: *const c_char,
    name: &str,
    error_out: *mut *mut sigsync_error,
    field: impl FnOnce(&mut B::Settings) -> &mut F,
) -> sigsync_result {
    // SAFETY: guaranteed by the caller.
    unsafe {
        set(builder, error_out, |settings| {
            field(settings).store(str_arg(value, name)?.to_owned());
            Ok(())
        })
    }
}

/// Takes the settings out of the builder and hands the caller what `make` builds from them
/// (the body of every `_build`).
///
/// # Safety
/// As for [`set`]; `out` is non-NULL (checked by `#[ffi_fn]`) and writable.
pub(crate) unsafe fn build<B: Builder, T>(
    builder: *mut B,
    out: *mut *mut T,
    error_out: *mut *mut sigsync_error,
    make: impl FnOnce(B::Settings) -> Result<T, sigsync_error>,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: guaranteed by the caller.
        let settings = unsafe { handle_mut(builder) }.settings().take()?;
        let made = make(settings)?;
        // SAFETY: guaranteed by the caller.
        unsafe { put(out, made) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    //! The class of every builder export: after `_build`, each setter and a second `_build`
    //! say ALREADY_USED; each string setter refuses invalid UTF-8 naming its argument and
    //! leaves the builder usable.

    use std::ffi::{c_char, CStr};
    use std::ptr::null_mut;

    use crate::auth::*;
    use crate::client::*;
    use crate::error::{sigsync_error, sigsync_error_free, sigsync_error_message, sigsync_result};
    use crate::setup::*;

    const BAD: *const c_char = c"caf\xe9".as_ptr();

    /// The result of `call` and its error message.
    fn outcome(
        call: impl FnOnce(*mut *mut sigsync_error) -> sigsync_result,
    ) -> (sigsync_result, String) {
        let mut err = null_mut();
        let result = call(&mut err);
        let message = if err.is_null() {
            String::new()
        } else {
            let m = unsafe { CStr::from_ptr(sigsync_error_message(err)) };
            let m = m.to_string_lossy().into_owned();
            sigsync_error_free(err);
            m
        };
        (result, message)
    }

    type Setter<B> = (
        &'static str,
        fn(*mut B, *mut *mut sigsync_error) -> sigsync_result,
    );
    type StrSetter<B> = (
        &'static str,
        fn(*mut B, *const c_char, *mut *mut sigsync_error) -> sigsync_result,
    );

    /// Checks the class on builders made by `new`: string setters with invalid UTF-8 on a
    /// fresh builder, then every setter after `build`.
    fn check<B, T>(
        new: impl Fn() -> *mut B,
        strings: &[StrSetter<B>],
        others: &[Setter<B>],
        build: fn(*mut B, *mut *mut T, *mut *mut sigsync_error) -> sigsync_result,
        free: impl Fn(*mut B),
        free_built: impl Fn(*mut T),
    ) {
        let builder = new();
        for (arg, setter) in strings {
            let (result, message) = outcome(|e| setter(builder, BAD, e));
            assert_eq!(result, sigsync_result::InvalidUtf8, "{arg}");
            assert!(
                message.contains(&format!("argument {arg} ")),
                "{arg}: {message}"
            );
        }
        let mut built = null_mut();
        let (result, message) = outcome(|e| build(builder, &mut built, e));
        assert_eq!(result, sigsync_result::Ok, "{message}");
        free_built(built);
        built = null_mut();
        let after = strings
            .iter()
            .map(|(arg, s)| (*arg, outcome(|e| s(builder, c"x".as_ptr(), e))))
            .chain(
                others
                    .iter()
                    .map(|(what, s)| (*what, outcome(|e| s(builder, e)))),
            )
            .chain([("build", outcome(|e| build(builder, &mut built, e)))]);
        for (what, (result, message)) in after {
            assert_eq!(result, sigsync_result::AlreadyUsed, "{what}");
            assert!(message.contains("already built"), "{what}: {message}");
        }
        assert!(built.is_null(), "a failed build wrote its out-parameter");
        free(builder);
    }

    fn auth_builder() -> *mut sigsync_auth_config_builder {
        let mut b = null_mut();
        let r = sigsync_auth_config_builder_new(
            c"app".as_ptr(),
            c"contoso.com".as_ptr(),
            &mut b,
            null_mut(),
        );
        assert_eq!(r, sigsync_result::Ok);
        b
    }

    #[test]
    fn auth_config_builder_setters_refuse_bad_text_and_use_after_build() {
        check(
            auth_builder,
            &[("url", |b, s, e| {
                sigsync_auth_config_builder_set_login_url(b, s, e)
            })],
            &[
                ("set_cloud", |b, e| {
                    sigsync_auth_config_builder_set_cloud(b, 0, e)
                }),
                ("set_allow_http", |b, e| {
                    sigsync_auth_config_builder_set_allow_http(b, true, e)
                }),
            ],
            |b, out, e| sigsync_auth_config_builder_build(b, out, e),
            |p| sigsync_auth_config_builder_free(p),
            |p| sigsync_auth_config_free(p),
        );
    }

    #[test]
    fn client_builder_setters_refuse_bad_text_and_use_after_build() {
        let b = auth_builder();
        let mut config = null_mut();
        assert_eq!(
            sigsync_auth_config_builder_build(b, &mut config, null_mut()),
            sigsync_result::Ok
        );
        let mut provider = null_mut();
        let r =
            sigsync_sign_in_client_secret(config, c"secret".as_ptr(), &mut provider, null_mut());
        assert_eq!(r, sigsync_result::Ok);
        check(
            || {
                let mut builder = null_mut();
                assert_eq!(
                    sigsync_client_builder_new(provider, &mut builder),
                    sigsync_result::Ok
                );
                builder
            },
            &[
                ("value", |b, s, e| {
                    sigsync_client_builder_set_tenant(b, s, e)
                }),
                ("value", |b, s, e| {
                    sigsync_client_builder_set_exchange_url(b, s, e)
                }),
                ("value", |b, s, e| {
                    sigsync_client_builder_set_graph_url(b, s, e)
                }),
            ],
            &[
                ("set_cloud", |b, e| {
                    sigsync_client_builder_set_cloud(b, 1, e)
                }),
                ("set_allow_http", |b, e| {
                    sigsync_client_builder_set_allow_http(b, false, e)
                }),
            ],
            |b, out, e| sigsync_client_builder_build(b, out, e),
            |p| sigsync_client_builder_free(p),
            |p| sigsync_client_free(p),
        );
        sigsync_token_provider_free(provider);
        sigsync_auth_config_free(config);
        sigsync_auth_config_builder_free(b);
    }

    fn profile_builder() -> *mut sigsync_service_profile_builder {
        let mut b = null_mut();
        assert_eq!(
            sigsync_service_profile_builder_new(&mut b),
            sigsync_result::Ok
        );
        let host = sigsync_service_profile_builder_add_smart_host(
            b,
            c"smtp.example.com".as_ptr(),
            null_mut(),
        );
        let name = sigsync_service_profile_builder_set_certificate_name(
            b,
            c"relay.contoso.com".as_ptr(),
            null_mut(),
        );
        assert_eq!((host, name), (sigsync_result::Ok, sigsync_result::Ok));
        b
    }

    #[test]
    fn service_profile_builder_setters_refuse_bad_text_and_use_after_build() {
        check(
            profile_builder,
            &[
                ("host", |b, s, e| {
                    sigsync_service_profile_builder_add_smart_host(b, s, e)
                }),
                ("domain", |b, s, e| {
                    sigsync_service_profile_builder_set_tls_domain(b, s, e)
                }),
                ("name", |b, s, e| {
                    sigsync_service_profile_builder_set_certificate_name(b, s, e)
                }),
                ("range", |b, s, e| {
                    sigsync_service_profile_builder_add_relay_ip_range(b, s, e)
                }),
                ("name", |b, s, e| {
                    sigsync_service_profile_builder_set_loop_header(b, s, c"v1".as_ptr(), e)
                }),
                ("value", |b, s, e| {
                    sigsync_service_profile_builder_set_loop_header(b, c"X-Loop".as_ptr(), s, e)
                }),
            ],
            &[],
            |b, out, e| sigsync_service_profile_builder_build(b, out, e),
            |p| sigsync_service_profile_builder_free(p),
            |p| sigsync_service_profile_free(p),
        );
    }

    #[test]
    fn connector_setup_builder_setters_refuse_bad_text_and_use_after_build() {
        let pb = profile_builder();
        let mut profile = null_mut();
        assert_eq!(
            sigsync_service_profile_builder_build(pb, &mut profile, null_mut()),
            sigsync_result::Ok
        );
        check(
            || {
                let mut b = null_mut();
                assert_eq!(
                    sigsync_connector_setup_builder_new(profile, &mut b),
                    sigsync_result::Ok
                );
                b
            },
            &[("group_mail", |b, s, e| {
                sigsync_connector_setup_builder_add_group(b, s, e)
            })],
            &[
                ("set_include_internal", |b, e| {
                    sigsync_connector_setup_builder_set_include_internal(b, false, e)
                }),
                ("set_staged", |b, e| {
                    sigsync_connector_setup_builder_set_staged(b, true, e)
                }),
                ("set_priority", |b, e| {
                    sigsync_connector_setup_builder_set_priority(b, 2, e)
                }),
            ],
            |b, out, e| sigsync_connector_setup_builder_build(b, out, e),
            |p| sigsync_connector_setup_builder_free(p),
            |p| sigsync_connector_setup_free(p),
        );
        sigsync_service_profile_free(profile);
        sigsync_service_profile_builder_free(pb);
    }

    #[cfg(feature = "relay")]
    #[test]
    fn relay_config_builder_setters_refuse_bad_text_and_use_after_build() {
        use crate::relay::*;
        check(
            crate::relay::tests::builder,
            &[
                ("address", |b, s, e| {
                    sigsync_relay_config_builder_set_listener_address(b, s, e)
                }),
                ("hostname", |b, s, e| {
                    sigsync_relay_config_builder_set_hostname(b, s, e)
                }),
                ("address", |b, s, e| {
                    sigsync_relay_config_builder_set_metrics_address(b, s, e)
                }),
            ],
            &[
                ("set_allow_plaintext_on_loopback", |b, e| {
                    sigsync_relay_config_builder_set_allow_plaintext_on_loopback(b, true, e)
                }),
                ("set_max_connections", |b, e| {
                    sigsync_relay_config_builder_set_max_connections(b, 10, e)
                }),
            ],
            |b, out, e| sigsync_relay_config_builder_build(b, out, e),
            |p| sigsync_relay_config_builder_free(p),
            |p| sigsync_relay_config_free(p),
        );
    }
}
