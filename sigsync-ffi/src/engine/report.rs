//! `sigsync_report`: what an apply, pause, resume or remove did.

use std::ffi::{c_char, CString};

use sigsync_core::setup::Report;
use sigsync_ffi_macros::ffi_fn;

use super::{sigsync_setup_status, status_c};
use crate::get;
use crate::strings::c_string;

/// What an apply, pause, resume or remove did: each step, the writes made, and where the
/// setup stands afterwards.
///
/// Made by the engine's `_apply`, `_pause`, `_resume` and `_remove`, freed by the caller with
/// `sigsync_report_free`. Immutable: thread-safe.
pub struct sigsync_report {
    report: Report,
    json: CString,
}

impl sigsync_report {
    pub(super) fn new(report: Report) -> Self {
        sigsync_report {
            json: c_string(report.to_json()),
            report,
        }
    }
}

/// The report as JSON (`action`, `steps` with their outcome, `writes`, `status`, `reasons`,
/// `repair`, `error`, `findings`). Owned by the report, valid until `sigsync_report_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_report_json(report: *const sigsync_report) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(report, |r| r.json.as_ptr()) }
}

/// Where the setup stands after the action.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_report_status(report: *const sigsync_report) -> sigsync_setup_status {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(report, |r| status_c(r.report.status)) }
}

/// How many write calls the action made.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_report_writes(report: *const sigsync_report) -> usize {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(report, |r| r.report.writes) }
}

/// How many steps the action ran.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_report_step_count(report: *const sigsync_report) -> usize {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(report, |r| r.report.steps.len()) }
}

/// Frees a report. `sigsync_report_free(NULL)` does nothing.
#[ffi_fn(nullable(report))]
#[no_mangle]
pub extern "C" fn sigsync_report_free(report: *mut sigsync_report) {
    // SAFETY: NULL or made by an engine action, freed once.
    unsafe { crate::free(report) }
}
