//! The setup engine over a client: preflight, plan, apply, pause, resume, remove and status,
//! the statuses and their names. The plan it makes is in `plan`, the report of an action in
//! `report` (as the core's `setup` module splits them).

use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::{Arc, OnceLock};

use sigsync_core::setup::{Progress, SetupEngine, SetupStatus};
use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

use crate::client::sigsync_client;
use crate::error::{run, sigsync_error, sigsync_result, FfiResult};
use crate::setup::sigsync_connector_setup;
use crate::strings::{c_string, sigsync_string, static_name};
use crate::{enum_c, give, handle, put, UserData};

mod plan;
mod report;

pub use plan::*;
pub use report::*;

/// Where a setup stands in the tenant (`sigsync_setup_status_name` gives the names Rust,
/// Python and the setup example use: `configured`, `degraded`, `at_risk`, ...). The numbers
/// are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sigsync_setup_status {
    /// Not known (the status could not be read after a failure).
    Unknown = 0,
    /// Mail is routed through the service and can come back: every object as set up.
    Configured = 1,
    /// Every object exists and the routing rule is disabled: mail flows untouched.
    Paused = 2,
    /// Some objects exist, some do not, and no mail is routed.
    Partial = 3,
    /// None of sigsync's objects exist.
    Absent = 4,
    /// Mail flows, but not as set up (typically unsigned: the outbound connector is
    /// disabled, missing or no longer rule-scoped). The reasons say which.
    Degraded = 5,
    /// Mail is routed out but may not come back, or loops (inbound connector missing or
    /// expecting another certificate, other smart hosts, no loop-header exception). Repair
    /// at once.
    AtRisk = 6,
}

pub(crate) const STATUSES: [(sigsync_setup_status, SetupStatus); 6] = [
    (sigsync_setup_status::Configured, SetupStatus::Configured),
    (sigsync_setup_status::Paused, SetupStatus::Paused),
    (sigsync_setup_status::Partial, SetupStatus::Partial),
    (sigsync_setup_status::Absent, SetupStatus::Absent),
    (sigsync_setup_status::Degraded, SetupStatus::Degraded),
    (sigsync_setup_status::AtRisk, SetupStatus::AtRisk),
];

/// The C status of a status (`Unknown` when it could not be read).
fn status_c(status: Option<SetupStatus>) -> sigsync_setup_status {
    let unknown = sigsync_setup_status::Unknown;
    status.map_or(unknown, |s| enum_c(s, &STATUSES, unknown))
}

/// The name of a status, as Rust, Python and the setup example's JSON spell it
/// (`"configured"`, `"degraded"`, `"at_risk"`, `"paused"`, `"partial"`, `"absent"`,
/// `"unknown"`). A static string: never freed.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_setup_status_name(status: sigsync_setup_status) -> *const c_char {
    static NAMES: OnceLock<Vec<(sigsync_setup_status, CString)>> = OnceLock::new();
    let names = || {
        let known = STATUSES.iter().map(|(c, core)| (*c, core.name()));
        known
            .chain([(sigsync_setup_status::Unknown, "unknown")])
            .collect()
    };
    static_name(&NAMES, status, names).map_or(std::ptr::null(), CStr::as_ptr)
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
    /// A create found the object already there as sigsync's (an earlier run) and took it
    /// over instead.
    Adopted = 4,
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

/// Makes an engine over `client` (borrowed for the call; the engine keeps its own
/// reference). The caller owns the engine and frees it with `sigsync_setup_engine_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_new(
    client: *const sigsync_client,
    engine_out: *mut *mut sigsync_setup_engine,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn].
    let c = unsafe { handle(client) };
    let engine = sigsync_setup_engine {
        engine: SetupEngine::new(c.client.clone()),
        runtime: c.runtime.clone(),
    };
    // SAFETY: checked non-NULL by #[ffi_fn].
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
    run(error_out, || {
        // SAFETY: checked non-NULL by #[ffi_fn].
        let (e, s) = unsafe { (handle(engine), handle(setup)) };
        let findings = e.runtime.block_on(e.engine.preflight(&s.setup))?;
        let json = serde_json::to_string_pretty(&findings).unwrap_or_else(|_| "[]".into());
        // SAFETY: checked non-NULL by #[ffi_fn].
        unsafe {
            *errors_out = plan::error_count(&findings);
            put(findings_json_out, sigsync_string::new(json));
        }
        Ok(())
    })
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
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe {
        give(plan_out, error_out, || {
            let (e, s) = (handle(engine), handle(setup));
            let (plan, findings) = e.runtime.block_on(e.engine.plan(&s.setup))?;
            Ok(sigsync_plan::new(plan, findings))
        })
    }
}

/// The engine's four actions, which share one body.
#[derive(Clone, Copy)]
enum Action {
    Configure,
    Pause,
    Resume,
    Remove,
}

/// Runs `action`, reporting each step to `progress`; a failed action's report travels with
/// its error (`sigsync_error_report_json`).
///
/// # Safety
/// `engine`, `setup` and `report_out` are non-NULL (checked by `#[ffi_fn]`), the handles live.
unsafe fn run_action(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    action: Action,
    progress: sigsync_progress_callback,
    user_data: *mut c_void,
    report_out: *mut *mut sigsync_report,
) -> FfiResult {
    // SAFETY: guaranteed by the caller.
    let (e, s) = unsafe { (handle(engine), handle(setup)) };
    let user_data = UserData(user_data);
    let on_progress = move |p: Progress<'_>| {
        let user_data = user_data;
        let Some(cb) = progress else { return };
        let (event, step, error) = match p {
            Progress::Started(s) => (sigsync_progress_event::Started, s, None),
            Progress::Finished(s) => (sigsync_progress_event::Finished, s, None),
            Progress::Adopted(s) => (sigsync_progress_event::Adopted, s, None),
            Progress::Failed(s, e) => (sigsync_progress_event::Failed, s, Some(e.to_string())),
            Progress::Undoing(s) => (sigsync_progress_event::Undoing, s, None),
        };
        let op = c_string(step.op.to_string());
        let kind = c_string(step.kind.to_string());
        let name = c_string(step.name.clone());
        let error = error.map(c_string);
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
            Action::Configure => e.engine.configure(&s.setup, &on_progress).await,
            Action::Pause => e.engine.pause(&s.setup, &on_progress).await,
            Action::Resume => e.engine.resume(&s.setup, &on_progress).await,
            Action::Remove => e.engine.remove(&s.setup, &on_progress).await,
        }
    })?;
    if let Some(err) = &report.error {
        // The report (status, reasons, repair plan) travels with the error.
        return Err(sigsync_error::from_core(err).with_report_json(report.to_json()));
    }
    // SAFETY: guaranteed by the caller.
    unsafe { put(report_out, sigsync_report::new(report)) };
    Ok(())
}

/// Configures the tenant (blocks): reads it, runs preflight, plans, and applies the plan in
/// mail-safe order, calling `progress` (may be NULL) for each step. Fails before any write
/// when preflight finds an error. After a failed step nothing further is written, and what
/// this run created is removed again only when nothing can route through it; the error
/// comes back through `error_out` (with the HTTP status and Exchange error code, and the
/// report with the status, its reasons and the repair plan: `sigsync_error_report_json`),
/// and no report is written.
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
    let action = Action::Configure;
    // SAFETY: checked non-NULL by #[ffi_fn].
    run(error_out, || unsafe {
        run_action(engine, setup, action, progress, user_data, report_out)
    })
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
    let action = Action::Pause;
    // SAFETY: checked non-NULL by #[ffi_fn].
    run(error_out, || unsafe {
        run_action(engine, setup, action, progress, user_data, report_out)
    })
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
    let action = Action::Resume;
    // SAFETY: checked non-NULL by #[ffi_fn].
    run(error_out, || unsafe {
        run_action(engine, setup, action, progress, user_data, report_out)
    })
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
    let action = Action::Remove;
    // SAFETY: checked non-NULL by #[ffi_fn].
    run(error_out, || unsafe {
        run_action(engine, setup, action, progress, user_data, report_out)
    })
}

/// Reads where the setup stands (blocks): writes the status to `*status_out`, and when
/// `json_out` is not NULL, the full status (`status`, `reasons` with `code` and `message`,
/// `drift`, `repair`, `findings`) as JSON to `*json_out`, which the caller frees with
/// `sigsync_string_free`.
#[ffi_fn(nullable(json_out))]
#[no_mangle]
pub extern "C" fn sigsync_setup_engine_status(
    engine: *const sigsync_setup_engine,
    setup: *const sigsync_connector_setup,
    status_out: *mut sigsync_setup_status,
    json_out: *mut *mut sigsync_string,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: checked non-NULL by #[ffi_fn].
        let (e, s) = unsafe { (handle(engine), handle(setup)) };
        let status = e.runtime.block_on(e.engine.status(&s.setup))?;
        // SAFETY: checked non-NULL by #[ffi_fn] (json_out only when not NULL).
        unsafe {
            *status_out = status_c(Some(status.status));
            if !json_out.is_null() {
                let json = serde_json::to_string_pretty(&status).unwrap_or_else(|_| "{}".into());
                put(json_out, sigsync_string::new(json));
            }
        }
        Ok(())
    })
}
