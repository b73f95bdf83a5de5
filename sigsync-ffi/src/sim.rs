//! The simulated tenant (cargo feature `sim`): an in-memory Exchange Online tenant served
//! over HTTP on loopback, with the real sign-in and Exchange wire formats.

use std::ffi::{c_char, CString};

use sigsync_core::exchange::sim::{
    Fault, SignInOutcome, SimGroup, SimServer, SimServerOptions, SimTenant, SimUser,
};
use sigsync_core::ErrorKind;
use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

use crate::client::group_kind_arg;
use crate::error::{run, sigsync_error, sigsync_result};
use crate::strings::c_string;
use crate::{enum_arg, get, give, handle, opt_str_arg, put, str_arg, str_list_arg};

/// An in-memory Exchange Online tenant: accepted domains, users, mail-enabled groups, and
/// faults to inject. Under the hood an `Arc` of the shared state: a server started from it
/// serves the same tenant, so faults injected here after the start still apply.
///
/// Made by `sigsync_sim_tenant_new`, freed by the caller with `sigsync_sim_tenant_free`.
/// Thread-safe: every function may be called from any thread.
pub struct sigsync_sim_tenant {
    tenant: SimTenant,
}

/// What the simulated admin does with a device-code sign-in.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_sim_sign_in {
    /// The admin approves (after one pending poll).
    Approve = 0,
    /// The admin declines: sign-in fails with `SIGSYNC_RESULT_SIGN_IN_DECLINED`.
    Decline = 1,
    /// The admin never finishes: sign-in fails with `SIGSYNC_RESULT_SIGN_IN_EXPIRED`.
    Expire = 2,
}

pub(crate) const SIGN_INS: [(sigsync_sim_sign_in, SignInOutcome); 3] = [
    (sigsync_sim_sign_in::Approve, SignInOutcome::Approve),
    (sigsync_sim_sign_in::Decline, SignInOutcome::Decline),
    (sigsync_sim_sign_in::Expire, SignInOutcome::Expire),
];

/// The simulated tenant served over HTTP on `127.0.0.1` (an ephemeral port): sign-in,
/// Exchange and Graph.
///
/// Made by `sigsync_sim_server_start`; the caller stops and frees it with
/// `sigsync_sim_server_free`. Immutable once started: its getters may be called from any
/// thread.
pub struct sigsync_sim_server {
    server: Option<SimServer>,
    runtime: Option<Runtime>,
    tenant_id: CString,
    login_url: CString,
    exchange_url: CString,
    graph_url: CString,
}

impl sigsync_sim_server {
    fn start(tenant: SimTenant, sign_in: SignInOutcome) -> Result<Self, sigsync_error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| sigsync_error::new(sigsync_result::Internal, format!("runtime: {e}")))?;
        let options = SimServerOptions {
            sign_in,
            ..SimServerOptions::default()
        };
        let server = runtime.block_on(SimServer::start(tenant, options));
        Ok(sigsync_sim_server {
            tenant_id: c_string(server.tenant_id()),
            login_url: c_string(server.login_url()),
            exchange_url: c_string(server.exchange_url()),
            graph_url: c_string(server.graph_url()),
            server: Some(server),
            runtime: Some(runtime),
        })
    }
}

impl Drop for sigsync_sim_server {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

/// Makes an empty simulated tenant and writes it to `*tenant_out`.
///
/// The caller owns the tenant and frees it with `sigsync_sim_tenant_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_tenant_new(
    tenant_out: *mut *mut sigsync_sim_tenant,
) -> sigsync_result {
    let tenant = sigsync_sim_tenant {
        tenant: SimTenant::new(),
    };
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { put(tenant_out, tenant) };
    sigsync_result::Ok
}

/// Adds an accepted domain (`domain`, borrowed for the call), the tenant's default domain
/// when `is_default` is true.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_tenant_add_accepted_domain(
    tenant: *const sigsync_sim_tenant,
    domain: *const c_char,
    is_default: bool,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
        let (tenant, domain) = unsafe { (handle(tenant), str_arg(domain, "domain")?) };
        tenant.tenant.add_accepted_domain(domain, is_default);
        Ok(())
    })
}

/// Adds a user (`user_principal_name`, `display_name`; `job_title` may be NULL). Every
/// string is borrowed for the call.
#[ffi_fn(nullable(job_title))]
#[no_mangle]
pub extern "C" fn sigsync_sim_tenant_add_user(
    tenant: *const sigsync_sim_tenant,
    user_principal_name: *const c_char,
    display_name: *const c_char,
    job_title: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: checked non-NULL by #[ffi_fn] (job_title may be NULL); borrowed for the call.
        let (tenant, upn, name, title) = unsafe {
            (
                handle(tenant),
                str_arg(user_principal_name, "user_principal_name")?,
                str_arg(display_name, "display_name")?,
                opt_str_arg(job_title, "job_title")?,
            )
        };
        let mut user = SimUser::new(upn, name);
        if let Some(title) = title {
            user = user.with_property("jobTitle", title);
        }
        tenant.tenant.add_user(user);
        Ok(())
    })
}

/// Adds a group: its display name, its address (`mail`, NULL for a security group without
/// mail), its kind (a `sigsync_group_kind` value) and `n_members` member addresses. Every
/// string is borrowed for the call; `members` may be NULL when `n_members` is 0.
#[ffi_fn(nullable(mail, members))]
#[no_mangle]
pub extern "C" fn sigsync_sim_tenant_add_group(
    tenant: *const sigsync_sim_tenant,
    display_name: *const c_char,
    mail: *const c_char,
    kind: u32,
    members: *const *const c_char,
    n_members: usize,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: checked non-NULL where required by #[ffi_fn]; borrowed for the call.
        let (tenant, name, mail, members) = unsafe {
            (
                handle(tenant),
                str_arg(display_name, "display_name")?,
                opt_str_arg(mail, "mail")?,
                str_list_arg(members, n_members, "members")?,
            )
        };
        let group = SimGroup::new(name, mail, group_kind_arg(kind)?).with_members(members);
        tenant.tenant.add_group(group);
        Ok(())
    })
}

/// Makes calls of the Exchange cmdlet `cmdlet` (e.g. `"New-TransportRule"`, borrowed for the
/// call) fail with the error kind `result` (a core `sigsync_result` code, 100–999), `times`
/// times, or every time when `times` is 0.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_tenant_inject_fault(
    tenant: *const sigsync_sim_tenant,
    cmdlet: *const c_char,
    result: u32,
    times: u32,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
        let (tenant, cmdlet) = unsafe { (handle(tenant), str_arg(cmdlet, "cmdlet")?) };
        let kind = ErrorKind::from_code(result).ok_or_else(|| {
            sigsync_error::new(
                sigsync_result::InvalidParameter,
                format!("{result} is not an error kind (100-999) of sigsync_result"),
            )
        })?;
        let mut fault = Fault::on_cmdlet(cmdlet, kind);
        if times > 0 {
            fault = fault.times(times);
        }
        tenant.tenant.inject(fault);
        Ok(())
    })
}

/// Removes every injected fault.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_tenant_clear_faults(tenant: *const sigsync_sim_tenant) {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(tenant, |t| t.tenant.clear_faults()) }
}

/// How many write calls (anything but `Get-*`) the tenant has received (0 when `tenant` is
/// NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_tenant_write_count(tenant: *const sigsync_sim_tenant) -> usize {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(tenant, |t| t.tenant.write_count()) }
}

/// Frees the caller's tenant handle (a running server keeps serving the tenant).
/// `sigsync_sim_tenant_free(NULL)` does nothing.
#[ffi_fn(nullable(tenant))]
#[no_mangle]
pub extern "C" fn sigsync_sim_tenant_free(tenant: *mut sigsync_sim_tenant) {
    // SAFETY: NULL or made by sigsync_sim_tenant_new, freed once.
    unsafe { crate::free(tenant) }
}

/// Starts serving `tenant` on loopback; device-code sign-ins end as `sign_in` says (a
/// `sigsync_sim_sign_in` value). Writes the server to `*server_out`.
///
/// The caller owns the server and stops it with `sigsync_sim_server_free`. `tenant` stays
/// the caller's: the server keeps its own reference to the tenant's state.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_server_start(
    tenant: *const sigsync_sim_tenant,
    sign_in: u32,
    server_out: *mut *mut sigsync_sim_server,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe {
        give(server_out, error_out, || {
            let sign_in = enum_arg(sign_in, "sigsync_sim_sign_in", &SIGN_INS)?;
            sigsync_sim_server::start(handle(tenant).tenant.clone(), sign_in)
        })
    }
}

/// The simulated tenant's id (a GUID), for `sigsync_auth_config_builder_new`. Owned by the
/// server, valid until `sigsync_sim_server_free` (NULL when `server` is NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_server_tenant_id(server: *const sigsync_sim_server) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(server, |s| s.tenant_id.as_ptr()) }
}

/// The sign-in base URL (`http://127.0.0.1:PORT`), for
/// `sigsync_auth_config_builder_set_login_url`. Owned by the server, valid until
/// `sigsync_sim_server_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_server_login_url(server: *const sigsync_sim_server) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(server, |s| s.login_url.as_ptr()) }
}

/// The Exchange base URL, for `sigsync_client_builder_set_exchange_url`. Owned by the
/// server, valid until `sigsync_sim_server_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_server_exchange_url(
    server: *const sigsync_sim_server,
) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(server, |s| s.exchange_url.as_ptr()) }
}

/// The Graph base URL (with `/v1.0`), for `sigsync_client_builder_set_graph_url`. Owned by
/// the server, valid until `sigsync_sim_server_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_sim_server_graph_url(server: *const sigsync_sim_server) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(server, |s| s.graph_url.as_ptr()) }
}

/// Stops the server and frees it. `sigsync_sim_server_free(NULL)` does nothing.
#[ffi_fn(nullable(server))]
#[no_mangle]
pub extern "C" fn sigsync_sim_server_free(server: *mut sigsync_sim_server) {
    // SAFETY: NULL or made by sigsync_sim_server_start, freed once.
    unsafe { crate::free(server) }
}
