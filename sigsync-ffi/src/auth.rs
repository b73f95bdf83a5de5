//! Sign-in: the sign-in configuration, then device code (delegated) or app-only credentials
//! (client secret, certificate), giving a token provider for the Exchange client.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use sigsync_core::auth::{
    AppOnlyTokenProvider, AuthConfig, CertificateCredential, Cloud, DeviceCodeFlow,
    DeviceCodePrompt, TokenProvider,
};
use sigsync_core::Secret;
use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

use crate::builder::{self, builder, set, set_str, set_value, Builder};
use crate::error::{sigsync_error, sigsync_result};
use crate::strings::c_string;
use crate::{enum_arg, give, handle, new_runtime, str_arg, Once, UserData};

/// A Microsoft cloud.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_cloud {
    /// The global (commercial) cloud, GCC included.
    Global = 0,
    /// US Government GCC High.
    UsGovGccHigh = 1,
    /// US Government DoD.
    UsGovDod = 2,
    /// China, operated by 21Vianet.
    China = 3,
}

pub(crate) const CLOUDS: [(sigsync_cloud, Cloud); 4] = [
    (sigsync_cloud::Global, Cloud::Global),
    (sigsync_cloud::UsGovGccHigh, Cloud::UsGovGccHigh),
    (sigsync_cloud::UsGovDod, Cloud::UsGovDod),
    (sigsync_cloud::China, Cloud::China),
];

/// The cloud for a `sigsync_cloud` value passed as an integer.
pub(crate) fn cloud_arg(cloud: u32) -> Result<Cloud, sigsync_error> {
    enum_arg(cloud, "sigsync_cloud", &CLOUDS)
}

pub(crate) struct AuthSettings {
    client_id: String,
    tenant: String,
    cloud: Cloud,
    login_url: Option<String>,
    allow_http: bool,
}

/// Collects the sign-in settings: the app (client) id, the tenant, the cloud, and optionally
/// a custom login URL. `sigsync_auth_config_builder_build` takes the settings out; the
/// builder must still be freed, and any later use returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// Made by `sigsync_auth_config_builder_new`, freed by the caller with
/// `sigsync_auth_config_builder_free`. Not thread-safe: use it from one thread at a time.
pub struct sigsync_auth_config_builder {
    settings: Once<AuthSettings>,
}

builder!(sigsync_auth_config_builder, AuthSettings);

/// A validated sign-in configuration (under the hood a `sigsync_core::auth::AuthConfig`).
///
/// Made by `sigsync_auth_config_builder_build`, freed by the caller with
/// `sigsync_auth_config_free`. Immutable: thread-safe.
pub struct sigsync_auth_config {
    config: AuthConfig,
}

/// A signed-in identity that hands out access tokens for Exchange and Graph, refreshing them
/// as needed. Under the hood an `Arc<dyn TokenProvider>` plus the runtime its HTTP calls run
/// on, shared with the clients built from it.
///
/// Made by the `sigsync_sign_in_*` functions, freed by the caller with
/// `sigsync_token_provider_free` (clients built from it keep what they need). Thread-safe.
pub struct sigsync_token_provider {
    pub(crate) provider: Arc<dyn TokenProvider>,
    pub(crate) runtime: Arc<Runtime>,
}

/// Receives the device-code prompt: show the admin `message` (or "open `verification_uri`
/// and enter `user_code`"). Called once, on the thread that called
/// `sigsync_sign_in_device_code`, before it waits for the admin. The strings are borrowed
/// for the call; `message` may be NULL. `user_data` is the pointer given to
/// `sigsync_sign_in_device_code`.
pub type sigsync_device_code_callback = Option<
    extern "C" fn(
        user_data: *mut c_void,
        verification_uri: *const c_char,
        user_code: *const c_char,
        message: *const c_char,
    ),
>;

/// Starts a sign-in configuration for the app `client_id` in `tenant` (a tenant id, a
/// domain, or `"organizations"` for device code), in the global cloud. Both strings are
/// borrowed for the call.
///
/// The caller owns the builder and frees it with `sigsync_auth_config_builder_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_builder_new(
    client_id: *const c_char,
    tenant: *const c_char,
    builder_out: *mut *mut sigsync_auth_config_builder,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; the strings are borrowed for the call.
    unsafe {
        give(builder_out, error_out, || {
            Ok(sigsync_auth_config_builder::from_settings(AuthSettings {
                client_id: str_arg(client_id, "client_id")?.to_owned(),
                tenant: str_arg(tenant, "tenant")?.to_owned(),
                cloud: Cloud::Global,
                login_url: None,
                allow_http: false,
            }))
        })
    }
}

/// Sets the cloud (a `sigsync_cloud` value; default global), which picks the login URL.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_builder_set_cloud(
    builder: *mut sigsync_auth_config_builder,
    cloud: u32,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        set(builder, error_out, |s| {
            s.cloud = cloud_arg(cloud)?;
            Ok(())
        })
    }
}

/// Sets a custom sign-in base URL (a proxy, a private cloud, the simulated tenant), borrowed
/// for the call. Plain `http://` is refused at build time unless allowed with
/// `sigsync_auth_config_builder_set_allow_http`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_builder_set_login_url(
    builder: *mut sigsync_auth_config_builder,
    url: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe { set_str(builder, url, "url", error_out, |s| &mut s.login_url) }
}

/// Allows plain `http://` URLs, for loopback addresses only (tests, the simulated tenant).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_builder_set_allow_http(
    builder: *mut sigsync_auth_config_builder,
    allow: bool,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe { set_value(builder, allow, error_out, |s| &mut s.allow_http) }
}

/// Validates the settings and writes the configuration to `*config_out`. Takes the settings
/// out of the builder: the caller still frees the builder, and using it again returns
/// `SIGSYNC_RESULT_ALREADY_USED`.
///
/// The caller owns the configuration and frees it with `sigsync_auth_config_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_builder_build(
    builder: *mut sigsync_auth_config_builder,
    config_out: *mut *mut sigsync_auth_config,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        builder::build(builder, config_out, error_out, |s| {
            let mut b = AuthConfig::builder(s.client_id, s.tenant.as_str())
                .cloud(s.cloud)
                .allow_http(s.allow_http);
            if let Some(url) = s.login_url {
                b = b.login_url(url);
            }
            Ok(sigsync_auth_config { config: b.build()? })
        })
    }
}

/// Frees a builder (built or not). `sigsync_auth_config_builder_free(NULL)` does nothing.
#[ffi_fn(nullable(builder))]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_builder_free(builder: *mut sigsync_auth_config_builder) {
    // SAFETY: NULL or made by sigsync_auth_config_builder_new, freed once.
    unsafe { crate::free(builder) }
}

/// Frees a configuration. `sigsync_auth_config_free(NULL)` does nothing.
#[ffi_fn(nullable(config))]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_free(config: *mut sigsync_auth_config) {
    // SAFETY: NULL or made by sigsync_auth_config_builder_build, freed once.
    unsafe { crate::free(config) }
}

impl sigsync_token_provider {
    fn new(provider: impl TokenProvider + 'static, runtime: Arc<Runtime>) -> Self {
        sigsync_token_provider {
            provider: Arc::new(provider),
            runtime,
        }
    }
}

/// Signs in with a device code (delegated: an admin approves in a browser; their password
/// never reaches the program). Calls `prompt` with the code to show, then blocks until the
/// admin approves, declines (`SIGSYNC_RESULT_SIGN_IN_DECLINED`) or the code expires
/// (`SIGSYNC_RESULT_SIGN_IN_EXPIRED`). `config` is borrowed for the call.
///
/// The caller owns the provider written to `*provider_out` and frees it with
/// `sigsync_token_provider_free`.
#[ffi_fn(nullable(user_data))]
#[no_mangle]
pub extern "C" fn sigsync_sign_in_device_code(
    config: *const sigsync_auth_config,
    prompt: sigsync_device_code_callback,
    user_data: *mut c_void,
    provider_out: *mut *mut sigsync_token_provider,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let Some(prompt) = prompt else {
        let error = sigsync_error::new(sigsync_result::NullParameter, "argument prompt is NULL");
        return crate::error::finish(Err(error), error_out);
    };
    let user_data = UserData(user_data);
    let show = move |p: &DeviceCodePrompt| {
        let user_data = user_data;
        let uri = c_string(p.verification_uri.as_str());
        let code = c_string(p.user_code.as_str());
        let message = p.message.as_deref().map(c_string);
        prompt(
            user_data.0,
            uri.as_ptr(),
            code.as_ptr(),
            message.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
        );
    };
    // SAFETY: checked non-NULL by #[ffi_fn]; `config` is borrowed for the call.
    unsafe {
        give(provider_out, error_out, || {
            let config = handle(config).config.clone();
            let runtime = new_runtime()?;
            let tokens = runtime.block_on(DeviceCodeFlow::new(config).sign_in(show))?;
            Ok(sigsync_token_provider::new(tokens, runtime))
        })
    }
}

/// Signs in as the app with a client secret (app-only; the tenant must be a tenant id or
/// domain). The secret is borrowed for the call, copied, and never shown in errors or logs.
/// Tokens are fetched on first use, so a wrong secret shows up at the first Exchange call.
///
/// The caller owns the provider written to `*provider_out` and frees it with
/// `sigsync_token_provider_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sign_in_client_secret(
    config: *const sigsync_auth_config,
    client_secret: *const c_char,
    provider_out: *mut *mut sigsync_token_provider,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(provider_out, error_out, || {
            let secret = Secret::from(str_arg(client_secret, "client_secret")?);
            let config = handle(config).config.clone();
            let provider = AppOnlyTokenProvider::with_secret(config, secret)?;
            Ok(sigsync_token_provider::new(provider, new_runtime()?))
        })
    }
}

/// Signs in as the app with a certificate: `certificate_pem` (the public certificate) and
/// `private_key_pem` (its PKCS#8 or RSA private key), both PEM text borrowed for the call.
/// The key is copied and never shown in errors or logs.
///
/// The caller owns the provider written to `*provider_out` and frees it with
/// `sigsync_token_provider_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sign_in_certificate(
    config: *const sigsync_auth_config,
    certificate_pem: *const c_char,
    private_key_pem: *const c_char,
    provider_out: *mut *mut sigsync_token_provider,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(provider_out, error_out, || {
            let cert = str_arg(certificate_pem, "certificate_pem")?;
            let key = Secret::from(str_arg(private_key_pem, "private_key_pem")?);
            let credential = CertificateCredential::from_pem(cert, &key)?;
            let config = handle(config).config.clone();
            let provider = AppOnlyTokenProvider::with_certificate(config, credential)?;
            Ok(sigsync_token_provider::new(provider, new_runtime()?))
        })
    }
}

/// Frees a token provider. `sigsync_token_provider_free(NULL)` does nothing.
#[ffi_fn(nullable(provider))]
#[no_mangle]
pub extern "C" fn sigsync_token_provider_free(provider: *mut sigsync_token_provider) {
    // SAFETY: NULL or made by a sigsync_sign_in_* function, freed once.
    unsafe { crate::free(provider) }
}
