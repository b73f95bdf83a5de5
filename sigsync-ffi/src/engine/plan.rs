//! `sigsync_plan`: what `sigsync_setup_engine_plan` would write, and the preflight findings.

use std::ffi::{c_char, CString};

use sigsync_core::setup::{Finding, Plan, Severity};
use sigsync_ffi_macros::ffi_fn;

use crate::get;
use crate::strings::c_string;

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

impl sigsync_plan {
    pub(super) fn new(plan: Plan, findings: Vec<Finding>) -> Self {
        sigsync_plan {
            json: c_string(plan.to_json()),
            text: c_string(plan.to_string()),
            plan,
            findings,
        }
    }
}

/// How many of `findings` would stop an apply.
pub(super) fn error_count(findings: &[Finding]) -> usize {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count()
}

/// The plan as JSON (`steps` with `op`, `kind`, `name` and `changes`; `unchanged`). Owned by
/// the plan, valid until `sigsync_plan_free` (NULL when `plan` is NULL).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_json(plan: *const sigsync_plan) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(plan, |p| p.json.as_ptr()) }
}

/// The plan as numbered lines of text for people (`"nothing to change"` when empty). Owned
/// by the plan, valid until `sigsync_plan_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_text(plan: *const sigsync_plan) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(plan, |p| p.text.as_ptr()) }
}

/// How many writes the plan makes (0: the tenant is already as wanted).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_step_count(plan: *const sigsync_plan) -> usize {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(plan, |p| p.plan.steps.len()) }
}

/// How many objects already are as wanted.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_unchanged_count(plan: *const sigsync_plan) -> usize {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(plan, |p| p.plan.unchanged.len()) }
}

/// How many preflight findings of severity error the plan carries (an apply would stop).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_plan_error_count(plan: *const sigsync_plan) -> usize {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(plan, |p| error_count(&p.findings)) }
}

/// Frees a plan. `sigsync_plan_free(NULL)` does nothing.
#[ffi_fn(nullable(plan))]
#[no_mangle]
pub extern "C" fn sigsync_plan_free(plan: *mut sigsync_plan) {
    // SAFETY: NULL or made by sigsync_setup_engine_plan, freed once.
    unsafe { crate::free(plan) }
}
