//! Sign-in: the sign-in configuration, then device code (delegated) or app-only credentials
//! (client secret, certificate), giving a token provider for the Exchange client.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use sigsync_core::auth::{
    AppOnlyTokenProvider, AuthConfig, CertificateCredential, Cloud, DeviceCodeFlow,
    DeviceCodePrompt, TokenProvider,
};
use sigsync_core::Secret;
use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

use crate::error::{finish, sigsync_error, sigsync_result, FfiResult};
use crate::{handle, handle_mut, new_runtime, put, str_arg, Once, UserData};

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

/// The cloud for a `sigsync_cloud` value passed as an integer.
pub(crate) fn cloud_arg(cloud: u32) -> Result<Cloud, sigsync_error> {
    Ok(match cloud {
        0 => Cloud::Global,
        1 => Cloud::UsGovGccHigh,
        2 => Cloud::UsGovDod,
        3 => Cloud::China,
        other => {
            return Err(sigsync_error::new(
                sigsync_result::InvalidParameter,
                format!("{other} is not a sigsync_cloud"),
            ))
        }
    })
}

struct AuthSettings {
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
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call.
        let client_id = unsafe { str_arg(client_id, "client_id") }?.to_owned();
        let tenant = unsafe { str_arg(tenant, "tenant") }?.to_owned();
        let settings = AuthSettings {
            client_id,
            tenant,
            cloud: Cloud::Global,
            login_url: None,
            allow_http: false,
        };
        // SAFETY: checked non-NULL.
        unsafe {
            put(
                builder_out,
                sigsync_auth_config_builder {
                    settings: Once::new(settings),
                },
            )
        };
        Ok(())
    })();
    finish(result, error_out)
}

/// Sets the cloud (a `sigsync_cloud` value; default global), which picks the login URL.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_builder_set_cloud(
    builder: *mut sigsync_auth_config_builder,
    cloud: u32,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        let cloud = cloud_arg(cloud)?;
        // SAFETY: checked non-NULL; one thread at a time.
        unsafe { handle_mut(builder) }.settings.get()?.cloud = cloud;
        Ok(())
    })();
    finish(result, error_out)
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
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call.
        let url = unsafe { str_arg(url, "url") }?.to_owned();
        unsafe { handle_mut(builder) }.settings.get()?.login_url = Some(url);
        Ok(())
    })();
    finish(result, error_out)
}

/// Allows plain `http://` URLs, for loopback addresses only (tests, the simulated tenant).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_auth_config_builder_set_allow_http(
    builder: *mut sigsync_auth_config_builder,
    allow: bool,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; one thread at a time.
        unsafe { handle_mut(builder) }.settings.get()?.allow_http = allow;
        Ok(())
    })();
    finish(result, error_out)
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
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; one thread at a time.
        let s = unsafe { handle_mut(builder) }.settings.take()?;
        let mut b = AuthConfig::builder(s.client_id, s.tenant.as_str())
            .cloud(s.cloud)
            .allow_http(s.allow_http);
        if let Some(url) = s.login_url {
            b = b.login_url(url);
        }
        let config = b.build()?;
        // SAFETY: checked non-NULL.
        unsafe { put(config_out, sigsync_auth_config { config }) };
        Ok(())
    })();
    finish(result, error_out)
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

fn give_provider(
    out: *mut *mut sigsync_token_provider,
    provider: Arc<dyn TokenProvider>,
    runtime: Arc<Runtime>,
) {
    // SAFETY: `out` was checked non-NULL by the caller's #[ffi_fn].
    unsafe { put(out, sigsync_token_provider { provider, runtime }) };
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
    let result = (|| -> FfiResult {
        let Some(prompt) = prompt else {
            return Err(sigsync_error::new(
                sigsync_result::NullParameter,
                "argument prompt is NULL",
            ));
        };
        // SAFETY: checked non-NULL.
        let config = unsafe { handle(config) }.config.clone();
        let user_data = UserData(user_data);
        let runtime = new_runtime()?;
        let show = move |p: &DeviceCodePrompt| {
            let user_data = user_data;
            let uri = CString::new(p.verification_uri.clone()).unwrap_or_default();
            let code = CString::new(p.user_code.clone()).unwrap_or_default();
            let message = p.message.clone().and_then(|m| CString::new(m).ok());
            prompt(
                user_data.0,
                uri.as_ptr(),
                code.as_ptr(),
                message.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
            );
        };
        let tokens = runtime.block_on(DeviceCodeFlow::new(config).sign_in(show))?;
        give_provider(provider_out, Arc::new(tokens), runtime);
        Ok(())
    })();
    finish(result, error_out)
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
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call.
        let secret = Secret::from(unsafe { str_arg(client_secret, "client_secret") }?);
        let config = unsafe { handle(config) }.config.clone();
        let provider = AppOnlyTokenProvider::with_secret(config, secret)?;
        give_provider(provider_out, Arc::new(provider), new_runtime()?);
        Ok(())
    })();
    finish(result, error_out)
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
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call.
        let cert = unsafe { str_arg(certificate_pem, "certificate_pem") }?;
        let key = Secret::from(unsafe { str_arg(private_key_pem, "private_key_pem") }?);
        let credential = CertificateCredential::from_pem(cert, &key)?;
        let config = unsafe { handle(config) }.config.clone();
        let provider = AppOnlyTokenProvider::with_certificate(config, credential)?;
        give_provider(provider_out, Arc::new(provider), new_runtime()?);
        Ok(())
    })();
    finish(result, error_out)
}

/// Frees a token provider. `sigsync_token_provider_free(NULL)` does nothing.
#[ffi_fn(nullable(provider))]
#[no_mangle]
pub extern "C" fn sigsync_token_provider_free(provider: *mut sigsync_token_provider) {
    // SAFETY: NULL or made by a sigsync_sign_in_* function, freed once.
    unsafe { crate::free(provider) }
}
