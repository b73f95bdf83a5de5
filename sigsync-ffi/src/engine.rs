//! The setup engine over a client: preflight, plan, apply, pause, resume, remove and status,
//! with plans and reports, the statuses and their names.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use sigsync_core::setup::{Finding, Plan, Progress, Report, SetupEngine, SetupStatus, Severity};
use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

use crate::client::sigsync_client;
use crate::error::{finish, sigsync_error, sigsync_result, FfiResult};
use crate::setup::sigsync_connector_setup;
use crate::strings::sigsync_string;
use crate::{handle, put, UserData};

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

fn status_c(status: Option<SetupStatus>) -> sigsync_setup_status {
    match status {
        Some(SetupStatus::Configured) => sigsync_setup_status::Configured,
        Some(SetupStatus::Degraded) => sigsync_setup_status::Degraded,
        Some(SetupStatus::AtRisk) => sigsync_setup_status::AtRisk,
        Some(SetupStatus::Paused) => sigsync_setup_status::Paused,
        Some(SetupStatus::Partial) => sigsync_setup_status::Partial,
        Some(SetupStatus::Absent) => sigsync_setup_status::Absent,
        None => sigsync_setup_status::Unknown,
    }
}

/// The name of a status, as Rust, Python and the setup example's JSON spell it
/// (`"configured"`, `"degraded"`, `"at_risk"`, `"paused"`, `"partial"`, `"absent"`,
/// `"unknown"`). A static string: never freed.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_setup_status_name(status: sigsync_setup_status) -> *const c_char {
    let name: &'static [u8] = match status {
        sigsync_setup_status::Unknown => b"unknown\0",
        sigsync_setup_status::Configured => b"configured\0",
        sigsync_setup_status::Degraded => b"degraded\0",
        sigsync_setup_status::AtRisk => b"at_risk\0",
        sigsync_setup_status::Paused => b"paused\0",
        sigsync_setup_status::Partial => b"partial\0",
        sigsync_setup_status::Absent => b"absent\0",
    };
    name.as_ptr().cast()
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
            Progress::Adopted(s) => (sigsync_progress_event::Adopted, s, None),
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
        // The report (status, reasons, repair plan) travels with the error.
        return Err(sigsync_error::from_core(err).with_report_json(report.to_json()));
    }
    let json = cstring(report.to_json());
    // SAFETY: the caller's #[ffi_fn] checked `report_out` non-NULL.
    unsafe { put(report_out, sigsync_report { report, json }) };
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

/// The report as JSON (`action`, `steps` with their outcome, `writes`, `status`, `reasons`,
/// `repair`, `error`, `findings`). Owned by the report, valid until `sigsync_report_free`.
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
