//! The Exchange Online client (InvokeCommand + Graph), with the retry policy around it.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use sigsync_core::auth::Cloud;
use sigsync_core::exchange::rest::RestExchangeClient;
use sigsync_core::exchange::{ExchangeClient, GroupKind, MailGroup, RetryPolicy, RetryingClient};
use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

use crate::auth::{cloud_arg, sigsync_token_provider};
use crate::builder::{self, builder, set, set_str, set_value};
use crate::error::{sigsync_error, sigsync_result};
use crate::strings::c_string;
use crate::{enum_c, get, give, handle, Once};

/// What kind a group is.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_group_kind {
    /// A distribution list.
    Distribution = 0,
    /// A mail-enabled security group.
    MailEnabledSecurity = 1,
    /// A Microsoft 365 group.
    Microsoft365 = 2,
    /// A security group without mail (cannot scope the routing rule).
    Security = 3,
}

pub(crate) const GROUP_KINDS: [(sigsync_group_kind, GroupKind); 4] = [
    (sigsync_group_kind::Distribution, GroupKind::Distribution),
    (
        sigsync_group_kind::MailEnabledSecurity,
        GroupKind::MailEnabledSecurity,
    ),
    (sigsync_group_kind::Microsoft365, GroupKind::Microsoft365),
    (sigsync_group_kind::Security, GroupKind::Security),
];

/// The group kind for a `sigsync_group_kind` value passed as an integer.
#[cfg(feature = "sim")]
pub(crate) fn group_kind_arg(kind: u32) -> Result<GroupKind, sigsync_error> {
    crate::enum_arg(kind, "sigsync_group_kind", &GROUP_KINDS)
}

pub(crate) struct ClientSettings {
    provider: Arc<dyn sigsync_core::auth::TokenProvider>,
    runtime: Arc<Runtime>,
    tenant: Option<String>,
    cloud: Option<Cloud>,
    exchange_url: Option<String>,
    graph_url: Option<String>,
    allow_http: bool,
}

/// Collects the client's settings: a tenant and cloud, or custom Exchange and Graph base
/// URLs. `sigsync_client_builder_build` takes the settings out; the builder must still be
/// freed, and any later use returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// Made by `sigsync_client_builder_new`, freed by the caller with
/// `sigsync_client_builder_free`. Not thread-safe: use it from one thread at a time.
pub struct sigsync_client_builder {
    settings: Once<ClientSettings>,
}

builder!(sigsync_client_builder, ClientSettings);

/// An Exchange Online and Graph client with retries (throttling, transient errors,
/// replication lag). Under the hood an `Arc<RetryingClient<RestExchangeClient>>` and the
/// runtime of the token provider it was built from; every call blocks the calling thread.
///
/// Made by `sigsync_client_builder_build`, freed by the caller with `sigsync_client_free`.
/// Thread-safe: any number of threads may call it at once.
pub struct sigsync_client {
    pub(crate) client: Arc<dyn ExchangeClient>,
    pub(crate) runtime: Arc<Runtime>,
}

/// The mail-enabled groups of a tenant (the groups that can scope the routing rule).
///
/// Made by `sigsync_client_list_mail_enabled_groups`, freed by the caller with
/// `sigsync_group_list_free`. Immutable: thread-safe.
pub struct sigsync_group_list {
    groups: Vec<(CString, CString, CString, GroupKind)>,
}

/// Starts a client with tokens from `provider` (borrowed for the call; the client keeps its
/// own reference, so the provider may be freed before the client).
///
/// The caller owns the builder and frees it with `sigsync_client_builder_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_client_builder_new(
    provider: *const sigsync_token_provider,
    builder_out: *mut *mut sigsync_client_builder,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn].
    let p = unsafe { handle(provider) };
    let settings = ClientSettings {
        provider: p.provider.clone(),
        runtime: p.runtime.clone(),
        tenant: None,
        cloud: None,
        exchange_url: None,
        graph_url: None,
        allow_http: false,
    };
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { builder::new(builder_out, settings) }
}

/// Sets the tenant (id or domain) whose Exchange the client manages (borrowed for the
/// call). Default: the tenant the provider signed in to.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_client_builder_set_tenant(
    builder: *mut sigsync_client_builder,
    value: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe { set_str(builder, value, "value", error_out, |s| &mut s.tenant) }
}

/// Sets a custom Exchange base URL (borrowed for the call), instead of the cloud's.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_client_builder_set_exchange_url(
    builder: *mut sigsync_client_builder,
    value: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe { set_str(builder, value, "value", error_out, |s| &mut s.exchange_url) }
}

/// Sets a custom Graph base URL with its version, e.g. `https://graph.microsoft.com/v1.0`
/// (borrowed for the call), instead of the cloud's.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_client_builder_set_graph_url(
    builder: *mut sigsync_client_builder,
    value: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe { set_str(builder, value, "value", error_out, |s| &mut s.graph_url) }
}

/// Sets the cloud (a `sigsync_cloud` value; default global), which picks the Exchange and
/// Graph URLs unless they are set.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_client_builder_set_cloud(
    builder: *mut sigsync_client_builder,
    cloud: u32,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        set(builder, error_out, |s| {
            s.cloud = Some(cloud_arg(cloud)?);
            Ok(())
        })
    }
}

/// Allows plain `http://` base URLs, for loopback addresses only (tests, the simulated
/// tenant). Off by default: other `http://` URLs are refused by `_build`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_client_builder_set_allow_http(
    builder: *mut sigsync_client_builder,
    allow: bool,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe { set_value(builder, allow, error_out, |s| &mut s.allow_http) }
}

/// Validates the settings and writes the client to `*client_out`. Takes the settings out of
/// the builder: the caller still frees the builder, and using it again returns
/// `SIGSYNC_RESULT_ALREADY_USED`.
///
/// The caller owns the client and frees it with `sigsync_client_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_client_builder_build(
    builder: *mut sigsync_client_builder,
    client_out: *mut *mut sigsync_client,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        builder::build(builder, client_out, error_out, |s| {
            let mut b = RestExchangeClient::builder(s.provider).allow_http(s.allow_http);
            if let Some(t) = s.tenant {
                b = b.tenant(t);
            }
            if let Some(c) = s.cloud {
                b = b.cloud(c);
            }
            if let Some(u) = s.exchange_url {
                b = b.exchange_url(u);
            }
            if let Some(u) = s.graph_url {
                b = b.graph_url(u);
            }
            let client = RetryingClient::new(b.build()?, RetryPolicy::default());
            Ok(sigsync_client {
                client: Arc::new(client),
                runtime: s.runtime,
            })
        })
    }
}

/// Frees a builder (built or not). `sigsync_client_builder_free(NULL)` does nothing.
#[ffi_fn(nullable(builder))]
#[no_mangle]
pub extern "C" fn sigsync_client_builder_free(builder: *mut sigsync_client_builder) {
    // SAFETY: NULL or made by sigsync_client_builder_new, freed once.
    unsafe { crate::free(builder) }
}

/// Lists the tenant's mail-enabled groups (blocks). The caller owns the list written to
/// `*groups_out` and frees it with `sigsync_group_list_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_client_list_mail_enabled_groups(
    client: *const sigsync_client,
    groups_out: *mut *mut sigsync_group_list,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe {
        give(groups_out, error_out, || {
            let c = handle(client);
            let groups: Vec<MailGroup> = c.runtime.block_on(c.client.list_mail_enabled_groups())?;
            let groups = groups
                .into_iter()
                .map(|g| {
                    (
                        c_string(g.id),
                        c_string(g.display_name),
                        c_string(g.mail),
                        g.kind,
                    )
                })
                .collect();
            Ok(sigsync_group_list { groups })
        })
    }
}

/// Frees a client. `sigsync_client_free(NULL)` does nothing. Call it once no other thread
/// uses the client.
#[ffi_fn(nullable(client))]
#[no_mangle]
pub extern "C" fn sigsync_client_free(client: *mut sigsync_client) {
    // SAFETY: NULL or made by sigsync_client_builder_build, freed once.
    unsafe { crate::free(client) }
}

/// What `read` gives from group `index` of `list`, or `missing` when out of range.
///
/// # Safety
/// `list` is non-NULL (checked by `#[ffi_fn]`) and a live list.
unsafe fn group<R>(
    list: *const sigsync_group_list,
    index: usize,
    missing: R,
    read: impl FnOnce(&(CString, CString, CString, GroupKind)) -> R,
) -> R {
    // SAFETY: guaranteed by the caller.
    unsafe { get(list, |l| l.groups.get(index).map_or(missing, read)) }
}

/// How many groups `list` holds (0 when `list` is NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_group_list_len(list: *const sigsync_group_list) -> usize {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(list, |l| l.groups.len()) }
}

/// The display name of group `index`, or NULL when `index` is out of range. Owned by the
/// list, valid until `sigsync_group_list_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_group_list_display_name(
    list: *const sigsync_group_list,
    index: usize,
) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { group(list, index, std::ptr::null(), |g| g.1.as_ptr()) }
}

/// The primary SMTP address of group `index` (what `sigsync_connector_setup_builder_add_group`
/// takes), or NULL when `index` is out of range. Owned by the list, valid until
/// `sigsync_group_list_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_group_list_mail(
    list: *const sigsync_group_list,
    index: usize,
) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { group(list, index, std::ptr::null(), |g| g.2.as_ptr()) }
}

/// The directory object id of group `index`, or NULL when `index` is out of range. Owned by
/// the list, valid until `sigsync_group_list_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_group_list_id(
    list: *const sigsync_group_list,
    index: usize,
) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { group(list, index, std::ptr::null(), |g| g.0.as_ptr()) }
}

/// The kind of group `index` (`SIGSYNC_GROUP_KIND_SECURITY` when `index` is out of range).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_group_list_kind(
    list: *const sigsync_group_list,
    index: usize,
) -> sigsync_group_kind {
    let security = sigsync_group_kind::Security;
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe {
        group(list, index, security, |g| {
            enum_c(g.3, &GROUP_KINDS, security)
        })
    }
}

/// Frees a group list. `sigsync_group_list_free(NULL)` does nothing.
#[ffi_fn(nullable(list))]
#[no_mangle]
pub extern "C" fn sigsync_group_list_free(list: *mut sigsync_group_list) {
    // SAFETY: NULL or made by sigsync_client_list_mail_enabled_groups, freed once.
    unsafe { crate::free(list) }
}
