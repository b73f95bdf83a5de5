//! Connector setup: the service profile, the setup (who is routed), and the engine that
//! plans, applies, pauses, resumes, removes and reports status.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use sigsync_core::setup::{
    ConnectorSetup, Finding, Plan, Progress, Report, SenderScope, ServiceProfile, SetupEngine,
    SetupStatus, Severity,
};
use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

use crate::client::sigsync_client;
use crate::error::{finish, sigsync_error, sigsync_result, FfiResult};
use crate::strings::sigsync_string;
use crate::{handle, handle_mut, put, str_arg, Once, UserData};

/// Where a setup stands in the tenant.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_setup_status {
    /// Not known (the status could not be read after a failure).
    Unknown = 0,
    /// Every object exists and the routing rule is enabled.
    Configured = 1,
    /// Every object exists and the routing rule is disabled: mail flows untouched.
    Paused = 2,
    /// Some objects exist, some do not.
    Partial = 3,
    /// None of sigsync's objects exist.
    Absent = 4,
}

fn status_c(status: Option<SetupStatus>) -> sigsync_setup_status {
    match status {
        Some(SetupStatus::Configured) => sigsync_setup_status::Configured,
        Some(SetupStatus::Paused) => sigsync_setup_status::Paused,
        Some(SetupStatus::Partial) => sigsync_setup_status::Partial,
        Some(SetupStatus::Absent) => sigsync_setup_status::Absent,
        None => sigsync_setup_status::Unknown,
    }
}

/// What happened to a step, for the progress callback.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_progress_event {
    /// The step started.
    Started = 0,
    /// The step finished.
    Finished = 1,
    /// The step failed (the `error` argument says why).
    Failed = 2,
    /// A step this run created is being removed again after a later failure.
    Undoing = 3,
}

/// Receives progress while a plan is applied: the event, the step's operation (`"create"`,
/// `"update"`, `"enable"`, `"disable"`, `"remove"`), the object kind, the object name, and
/// for `SIGSYNC_PROGRESS_EVENT_FAILED` the error message (NULL otherwise). Called on the
/// thread that called the engine function, before it returns. The strings are borrowed for
/// the call. `user_data` is the pointer given to the engine function.
pub type sigsync_progress_callback = Option<
    extern "C" fn(
        user_data: *mut c_void,
        event: sigsync_progress_event,
        op: *const c_char,
        kind: *const c_char,
        name: *const c_char,
        error: *const c_char,
    ),
>;

/// Collects a service profile: the signature service's smart hosts, its TLS certificate
/// name, the certificate name its relay presents, and its relay IP ranges.
/// `sigsync_service_profile_builder_build` takes the settings out; the builder must still be
/// freed, and any later use returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// Made by `sigsync_service_profile_builder_new`, freed by the caller with
/// `sigsync_service_profile_builder_free`. Not thread-safe: one thread at a time.
pub struct sigsync_service_profile_builder {
    smart_hosts: Vec<String>,
    relay_ip_ranges: Vec<String>,
    tls_domain: Option<String>,
    certificate_name: String,
    used: Once<()>,
}

/// A validated service profile (under the hood a `sigsync_core::setup::ServiceProfile`).
///
/// Made by `sigsync_service_profile_builder_build` or `sigsync_service_profile_from_json`,
/// freed by the caller with `sigsync_service_profile_free`. Immutable: thread-safe.
pub struct sigsync_service_profile {
    profile: ServiceProfile,
}

/// Collects a connector setup: the profile, which senders are routed (all users, or members
/// of mail-enabled groups), whether internal mail is included, and whether the rule starts
/// disabled. `sigsync_connector_setup_builder_build` takes the settings out; the builder
/// must still be freed, and any later use returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// Made by `sigsync_connector_setup_builder_new`, freed by the caller with
/// `sigsync_connector_setup_builder_free`. Not thread-safe: one thread at a time.
pub struct sigsync_connector_setup_builder {
    settings: Once<SetupSettings>,
}

struct SetupSettings {
    profile: ServiceProfile,
    groups: Vec<String>,
    include_internal: bool,
    staged: bool,
    priority: Option<u32>,
}

/// A validated connector setup (under the hood a `sigsync_core::setup::ConnectorSetup`).
///
/// Made by `sigsync_connector_setup_builder_build`, freed by the caller with
/// `sigsync_connector_setup_free`. Immutable: thread-safe.
pub struct sigsync_connector_setup {
    setup: ConnectorSetup,
}

/// Plans and applies setups on one tenant through a client. Under the hood a
/// `sigsync_core::setup::SetupEngine` sharing the client's connection and runtime; every
/// call blocks the calling thread.
///
/// Made by `sigsync_setup_engine_new`, freed by the caller with `sigsync_setup_engine_free`.
/// Thread-safe, but run one apply, pause, resume or remove at a time per tenant.
pub struct sigsync_setup_engine {
    engine: SetupEngine,
    runtime: Arc<Runtime>,
}

/// A plan: the ordered writes that would converge the tenant, and preflight findings.
///
/// Made by `sigsync_setup_engine_plan`, freed by the caller with `sigsync_plan_free`.
/// Immutable: thread-safe.
pub struct sigsync_plan {
    plan: Plan,
    findings: Vec<Finding>,
    json: CString,
    text: CString,
}

/// What an apply, pause, resume or remove did: each step, the writes made, and where the
/// setup stands afterwards.
///
/// Made by the engine's `_apply`, `_pause`, `_resume` and `_remove`, freed by the caller with
/// `sigsync_report_free`. Immutable: thread-safe.
pub struct sigsync_report {
    report: Report,
    json: CString,
}

fn cstring(s: String) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

// ---- service profile ---------------------------------------------------------------------

/// Starts an empty service profile. The caller owns the builder and frees it with
/// `sigsync_service_profile_builder_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_new(
    builder_out: *mut *mut sigsync_service_profile_builder,
) -> sigsync_result {
    let builder = sigsync_service_profile_builder {
        smart_hosts: Vec::new(),
        relay_ip_ranges: Vec::new(),
        tls_domain: None,
        certificate_name: String::new(),
        used: Once::new(()),
    };
    // SAFETY: checked non-NULL.
    unsafe { put(builder_out, builder) };
    sigsync_result::Ok
}

/// Adds a smart host of the service (borrowed for the call), e.g.
/// `"smtp.signatures.example.com"`. At least one is required.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_add_smart_host(
    builder: *mut sigsync_service_profile_builder,
    host: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call; one thread at a time.
        let host = unsafe { str_arg(host, "host") }?.to_owned();
        let b = unsafe { handle_mut(builder) };
        b.used.get()?;
        b.smart_hosts.push(host);
        Ok(())
    })();
    finish(result, error_out)
}

/// Sets the name on the smart host's TLS certificate (borrowed for the call; default: the
/// first smart host).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_set_tls_domain(
    builder: *mut sigsync_service_profile_builder,
    domain: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call; one thread at a time.
        let domain = unsafe { str_arg(domain, "domain") }?.to_owned();
        let b = unsafe { handle_mut(builder) };
        b.used.get()?;
        b.tls_domain = Some(domain);
        Ok(())
    })();
    finish(result, error_out)
}

/// Sets the certificate name the service's relay presents when it sends mail back
/// (borrowed for the call): a tenant-specific domain that is an accepted domain of the
/// tenant. Required.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_set_certificate_name(
    builder: *mut sigsync_service_profile_builder,
    name: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call; one thread at a time.
        let name = unsafe { str_arg(name, "name") }?.to_owned();
        let b = unsafe { handle_mut(builder) };
        b.used.get()?;
        b.certificate_name = name;
        Ok(())
    })();
    finish(result, error_out)
}

/// Adds an IP range of the service's relays (borrowed for the call), e.g. `"203.0.113.0/24"`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_add_relay_ip_range(
    builder: *mut sigsync_service_profile_builder,
    range: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call; one thread at a time.
        let range = unsafe { str_arg(range, "range") }?.to_owned();
        let b = unsafe { handle_mut(builder) };
        b.used.get()?;
        b.relay_ip_ranges.push(range);
        Ok(())
    })();
    finish(result, error_out)
}

/// Validates the profile and writes it to `*profile_out` (`SIGSYNC_RESULT_VALIDATION` names
/// the wrong field). Uses the builder up: the caller still frees it, and using it again
/// returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// The caller owns the profile and frees it with `sigsync_service_profile_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_build(
    builder: *mut sigsync_service_profile_builder,
    profile_out: *mut *mut sigsync_service_profile,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; one thread at a time.
        let b = unsafe { handle_mut(builder) };
        b.used.take()?;
        let mut pb = ServiceProfile::builder()
            .smart_hosts(std::mem::take(&mut b.smart_hosts))
            .relay_ip_ranges(std::mem::take(&mut b.relay_ip_ranges))
            .certificate_name(std::mem::take(&mut b.certificate_name));
        if let Some(d) = b.tls_domain.take() {
            pb = pb.tls_domain(d);
        }
        let profile = pb.build()?;
        // SAFETY: checked non-NULL.
        unsafe { put(profile_out, sigsync_service_profile { profile }) };
        Ok(())
    })();
    finish(result, error_out)
}

/// Frees a builder (built or not). `sigsync_service_profile_builder_free(NULL)` does nothing.
#[ffi_fn(nullable(builder))]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_free(
    builder: *mut sigsync_service_profile_builder,
) {
    // SAFETY: NULL or made by sigsync_service_profile_builder_new, freed once.
    unsafe { crate::free(builder) }
}

/// Reads a service profile from JSON text (borrowed for the call), with the keys
/// `smart_hosts`, `tls_domain`, `certificate_name`, `relay_ip_ranges`, `names`, ...
///
/// The caller owns the profile and frees it with `sigsync_service_profile_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_from_json(
    json: *const c_char,
    profile_out: *mut *mut sigsync_service_profile,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call.
        let json = unsafe { str_arg(json, "json") }?;
        let profile = ServiceProfile::from_json(json)?;
        // SAFETY: checked non-NULL.
        unsafe { put(profile_out, sigsync_service_profile { profile }) };
        Ok(())
    })();
    finish(result, error_out)
}

/// Frees a profile. `sigsync_service_profile_free(NULL)` does nothing.
#[ffi_fn(nullable(profile))]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_free(profile: *mut sigsync_service_profile) {
    // SAFETY: NULL or made by this library, freed once.
    unsafe { crate::free(profile) }
}

// ---- connector setup ---------------------------------------------------------------------

/// Starts a setup for `profile` (copied; it may be freed afterwards): all users, internal
/// mail included, the rule created enabled.
///
/// The caller owns the builder and frees it with `sigsync_connector_setup_builder_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_builder_new(
    profile: *const sigsync_service_profile,
    builder_out: *mut *mut sigsync_connector_setup_builder,
) -> sigsync_result {
    // SAFETY: checked non-NULL.
    let profile = unsafe { handle(profile) }.profile.clone();
    let settings = SetupSettings {
        profile,
        groups: Vec::new(),
        include_internal: true,
        staged: false,
        priority: None,
    };
    // SAFETY: checked non-NULL.
    unsafe {
        put(
            builder_out,
            sigsync_connector_setup_builder {
                settings: Once::new(settings),
            },
        )
    };
    sigsync_result::Ok
}

/// Routes the mail of members of the mail-enabled group with address `group_mail` (borrowed
/// for the call). With no group, every user's mail is routed.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_builder_add_group(
    builder: *mut sigsync_connector_setup_builder,
    group_mail: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; borrowed for the call; one thread at a time.
        let group = unsafe { str_arg(group_mail, "group_mail") }?.to_owned();
        unsafe { handle_mut(builder) }
            .settings
            .get()?
            .groups
            .push(group);
        Ok(())
    })();
    finish(result, error_out)
}

/// Whether mail between the tenant's own users is routed too (default true); false routes
/// mail to external recipients only.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_builder_set_include_internal(
    builder: *mut sigsync_connector_setup_builder,
    include: bool,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; one thread at a time.
        unsafe { handle_mut(builder) }
            .settings
            .get()?
            .include_internal = include;
        Ok(())
    })();
    finish(result, error_out)
}

/// Whether the routing rule is created disabled (default false), to be enabled later with
/// `sigsync_setup_engine_resume`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_builder_set_staged(
    builder: *mut sigsync_connector_setup_builder,
    staged: bool,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; one thread at a time.
        unsafe { handle_mut(builder) }.settings.get()?.staged = staged;
        Ok(())
    })();
    finish(result, error_out)
}

/// The routing rule's priority (default 0, the first rule).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_builder_set_priority(
    builder: *mut sigsync_connector_setup_builder,
    priority: u32,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; one thread at a time.
        unsafe { handle_mut(builder) }.settings.get()?.priority = Some(priority);
        Ok(())
    })();
    finish(result, error_out)
}

/// Validates the setup and writes it to `*setup_out`. Takes the settings out of the builder:
/// the caller still frees it, and using it again returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// The caller owns the setup and frees it with `sigsync_connector_setup_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_builder_build(
    builder: *mut sigsync_connector_setup_builder,
    setup_out: *mut *mut sigsync_connector_setup,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL; one thread at a time.
        let s = unsafe { handle_mut(builder) }.settings.take()?;
        let scope = if s.groups.is_empty() {
            SenderScope::AllUsers
        } else {
            SenderScope::Groups(s.groups)
        };
        let mut b = ConnectorSetup::builder(s.profile)
            .scope(scope)
            .include_internal(s.include_internal)
            .staged(s.staged);
        if let Some(p) = s.priority {
            b = b.priority(p);
        }
        let setup = b.build()?;
        // SAFETY: checked non-NULL.
        unsafe { put(setup_out, sigsync_connector_setup { setup }) };
        Ok(())
    })();
    finish(result, error_out)
}

/// Frees a builder (built or not). `sigsync_connector_setup_builder_free(NULL)` does nothing.
#[ffi_fn(nullable(builder))]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_builder_free(
    builder: *mut sigsync_connector_setup_builder,
) {
    // SAFETY: NULL or made by sigsync_connector_setup_builder_new, freed once.
    unsafe { crate::free(builder) }
}

/// Frees a setup. `sigsync_connector_setup_free(NULL)` does nothing.
#[ffi_fn(nullable(setup))]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_free(setup: *mut sigsync_connector_setup) {
    // SAFETY: NULL or made by sigsync_connector_setup_builder_build, freed once.
    unsafe { crate::free(setup) }
}

// ---- engine ------------------------------------------------------------------------------

/// Makes an engine over `client` (borrowed for the call; the engine keeps its own
/// reference). The caller owns the engine and frees it with `sigsync_setup_engine_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_new(
    client: *const sigsync_client,
    engine_out: *mut *mut sigsync_setup_engine,
) -> sigsync_result {
    // SAFETY: checked non-NULL.
    let c = unsafe { handle(client) };
    let engine = sigsync_setup_engine {
        engine: SetupEngine::new(c.client.clone()),
        runtime: c.runtime.clone(),
    };
    // SAFETY: checked non-NULL.
    unsafe { put(engine_out, engine) };
    sigsync_result::Ok
}

/// Frees an engine. `sigsync_setup_engine_free(NULL)` does nothing.
#[ffi_fn(nullable(engine))]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_free(engine: *mut sigsync_setup_engine) {
    // SAFETY: NULL or made by sigsync_setup_engine_new, freed once.
    unsafe { crate::free(engine) }
}

/// Checks the setup against the tenant (blocks): writes the number of findings that would
/// stop an apply to `*errors_out`, and every finding as a JSON array (`severity`, `code`,
/// `message`) to `*findings_json_out`, which the caller frees with `sigsync_string_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_preflight(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    errors_out: *mut usize,
    findings_json_out: *mut *mut sigsync_string,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL.
        let (e, s) = unsafe { (handle(engine), handle(setup)) };
        let findings = e.runtime.block_on(e.engine.preflight(&s.setup))?;
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let json = serde_json::to_string_pretty(&findings).unwrap_or_else(|_| "[]".into());
        // SAFETY: checked non-NULL.
        unsafe {
            *errors_out = errors;
            put(findings_json_out, sigsync_string::new(json));
        }
        Ok(())
    })();
    finish(result, error_out)
}

/// Reads the tenant and computes the plan for `setup` (blocks; writes nothing to the
/// tenant). The caller owns the plan written to `*plan_out` and frees it with
/// `sigsync_plan_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_plan(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    plan_out: *mut *mut sigsync_plan,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL.
        let (e, s) = unsafe { (handle(engine), handle(setup)) };
        let (plan, findings) = e.runtime.block_on(e.engine.plan(&s.setup))?;
        let json = cstring(plan.to_json());
        let text = cstring(plan.to_string());
        // SAFETY: checked non-NULL.
        unsafe {
            put(
                plan_out,
                sigsync_plan {
                    plan,
                    findings,
                    json,
                    text,
                },
            )
        };
        Ok(())
    })();
    finish(result, error_out)
}

fn run_action(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    action: &str,
    progress: sigsync_progress_callback,
    user_data: *mut c_void,
    report_out: *mut *mut sigsync_report,
) -> FfiResult {
    // SAFETY: the callers' #[ffi_fn] checked both non-NULL.
    let (e, s) = unsafe { (handle(engine), handle(setup)) };
    let user_data = UserData(user_data);
    let on_progress = move |p: Progress<'_>| {
        let user_data = user_data;
        let Some(cb) = progress else { return };
        let (event, step, error) = match p {
            Progress::Started(s) => (sigsync_progress_event::Started, s, None),
            Progress::Finished(s) => (sigsync_progress_event::Finished, s, None),
            Progress::Failed(s, e) => (sigsync_progress_event::Failed, s, Some(e.to_string())),
            Progress::Undoing(s) => (sigsync_progress_event::Undoing, s, None),
        };
        let op = cstring(step.op.to_string());
        let kind = cstring(step.kind.to_string());
        let name = cstring(step.name.clone());
        let error = error.map(cstring);
        cb(
            user_data.0,
            event,
            op.as_ptr(),
            kind.as_ptr(),
            name.as_ptr(),
            error.as_ref().map_or(std::ptr::null(), |e| e.as_ptr()),
        );
    };
    let report = e.runtime.block_on(async {
        match action {
            "configure" => e.engine.configure(&s.setup, &on_progress).await,
            "pause" => e.engine.pause(&s.setup, &on_progress).await,
            "resume" => e.engine.resume(&s.setup, &on_progress).await,
            _ => e.engine.remove(&s.setup, &on_progress).await,
        }
    })?;
    if let Some(err) = &report.error {
        return Err(sigsync_error::from_core(err));
    }
    let json = cstring(report.to_json());
    // SAFETY: the caller's #[ffi_fn] checked `report_out` non-NULL.
    unsafe { put(report_out, sigsync_report { report, json }) };
    Ok(())
}

/// Configures the tenant (blocks): reads it, runs preflight, plans, and applies the plan in
/// mail-safe order, calling `progress` (may be NULL) for each step. Fails before any write
/// when preflight finds an error. After a failed step nothing further is written and what
/// this run created is removed again; the error comes back through `error_out` (with the
/// HTTP status and Exchange error code) and no report is written.
///
/// On success the caller owns the report written to `*report_out` and frees it with
/// `sigsync_report_free`. `engine` and `setup` are borrowed for the call; `user_data` is
/// passed to `progress` untouched.
#[ffi_fn(nullable(user_data))]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_apply(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    progress: sigsync_progress_callback,
    user_data: *mut c_void,
    report_out: *mut *mut sigsync_report,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = run_action(engine, setup, "configure", progress, user_data, report_out);
    finish(result, error_out)
}

/// Pauses (blocks): disables sigsync's routing rule, so mail flows normally and untouched.
/// `progress` may be NULL.
///
/// On success the caller owns the report written to `*report_out` and frees it with
/// `sigsync_report_free`. `engine` and `setup` are borrowed for the call; `user_data` is
/// passed to `progress` untouched.
#[ffi_fn(nullable(user_data))]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_pause(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    progress: sigsync_progress_callback,
    user_data: *mut c_void,
    report_out: *mut *mut sigsync_report,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = run_action(engine, setup, "pause", progress, user_data, report_out);
    finish(result, error_out)
}

/// Resumes (blocks): enables the routing rule again. `progress` may be NULL.
///
/// On success the caller owns the report written to `*report_out` and frees it with
/// `sigsync_report_free`. `engine` and `setup` are borrowed for the call; `user_data` is
/// passed to `progress` untouched.
#[ffi_fn(nullable(user_data))]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_resume(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    progress: sigsync_progress_callback,
    user_data: *mut c_void,
    report_out: *mut *mut sigsync_report,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = run_action(engine, setup, "resume", progress, user_data, report_out);
    finish(result, error_out)
}

/// Removes what sigsync created (blocks): the rule first, then the outbound connector, the
/// inbound connector last, so that mail already at the service still comes back.
/// `progress` may be NULL.
///
/// On success the caller owns the report written to `*report_out` and frees it with
/// `sigsync_report_free`. `engine` and `setup` are borrowed for the call; `user_data` is
/// passed to `progress` untouched.
#[ffi_fn(nullable(user_data))]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_remove(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    progress: sigsync_progress_callback,
    user_data: *mut c_void,
    report_out: *mut *mut sigsync_report,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = run_action(engine, setup, "remove", progress, user_data, report_out);
    finish(result, error_out)
}

/// Reads where the setup stands (blocks): writes configured, paused, partial or absent to
/// `*status_out`, and when `json_out` is not NULL, the full status (drift, the repair plan,
/// findings) as JSON to `*json_out`, which the caller frees with `sigsync_string_free`.
#[ffi_fn(nullable(json_out))]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_status(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    status_out: *mut sigsync_setup_status,
    json_out: *mut *mut sigsync_string,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    let result = (|| -> FfiResult {
        // SAFETY: checked non-NULL.
        let (e, s) = unsafe { (handle(engine), handle(setup)) };
        let status = e.runtime.block_on(e.engine.status(&s.setup))?;
        // SAFETY: checked non-NULL (json_out only when not NULL).
        unsafe {
            *status_out = status_c(Some(status.status));
            if !json_out.is_null() {
                let json = serde_json::to_string_pretty(&status).unwrap_or_else(|_| "{}".into());
                put(json_out, sigsync_string::new(json));
            }
        }
        Ok(())
    })();
    finish(result, error_out)
}

// ---- plan and report ---------------------------------------------------------------------

/// The plan as JSON (`steps` with `op`, `kind`, `name` and `changes`; `unchanged`). Owned by
/// the plan, valid until `sigsync_plan_free` (NULL when `plan` is NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_json(plan: *const sigsync_plan) -> *const c_char {
    // SAFETY: checked non-NULL.
    unsafe { handle(plan) }.json.as_ptr()
}

/// The plan as numbered lines of text for people (`"nothing to change"` when empty). Owned
/// by the plan, valid until `sigsync_plan_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_text(plan: *const sigsync_plan) -> *const c_char {
    // SAFETY: checked non-NULL.
    unsafe { handle(plan) }.text.as_ptr()
}

/// How many writes the plan makes (0: the tenant is already as wanted).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_step_count(plan: *const sigsync_plan) -> usize {
    // SAFETY: checked non-NULL.
    unsafe { handle(plan) }.plan.steps.len()
}

/// How many objects already are as wanted.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_unchanged_count(plan: *const sigsync_plan) -> usize {
    // SAFETY: checked non-NULL.
    unsafe { handle(plan) }.plan.unchanged.len()
}

/// How many preflight findings of severity error the plan carries (an apply would stop).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_error_count(plan: *const sigsync_plan) -> usize {
    // SAFETY: checked non-NULL.
    let plan = unsafe { handle(plan) };
    plan.findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count()
}

/// Frees a plan. `sigsync_plan_free(NULL)` does nothing.
#[ffi_fn(nullable(plan))]
#[no_mangle]
pub extern "C" fn sigsync_plan_free(plan: *mut sigsync_plan) {
    // SAFETY: NULL or made by sigsync_setup_engine_plan, freed once.
    unsafe { crate::free(plan) }
}

/// The report as JSON (`action`, `steps` with their outcome, `writes`, `status`,
/// `findings`). Owned by the report, valid until `sigsync_report_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_report_json(report: *const sigsync_report) -> *const c_char {
    // SAFETY: checked non-NULL.
    unsafe { handle(report) }.json.as_ptr()
}

/// Where the setup stands after the action.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_report_status(report: *const sigsync_report) -> sigsync_setup_status {
    // SAFETY: checked non-NULL.
    status_c(unsafe { handle(report) }.report.status)
}

/// How many write calls the action made.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_report_writes(report: *const sigsync_report) -> usize {
    // SAFETY: checked non-NULL.
    unsafe { handle(report) }.report.writes
}

/// How many steps the action ran.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_report_step_count(report: *const sigsync_report) -> usize {
    // SAFETY: checked non-NULL.
    unsafe { handle(report) }.report.steps.len()
}

/// Frees a report. `sigsync_report_free(NULL)` does nothing.
#[ffi_fn(nullable(report))]
#[no_mangle]
pub extern "C" fn sigsync_report_free(report: *mut sigsync_report) {
    // SAFETY: NULL or made by an engine action, freed once.
    unsafe { crate::free(report) }
}
