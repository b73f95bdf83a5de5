//! The relay's counters as plain C structs: the totals with `sigsync_relay_stats`, one tenant
//! by name or by index (name order) with `sigsync_relay_tenant_stats*`.

use std::ffi::c_char;

use sigsync_core::relay::{RelayStats, TenantStats};
use sigsync_ffi_macros::ffi_fn;

use crate::error::{run, sigsync_error, sigsync_result};
use crate::relay::sigsync_relay;
use crate::strings::sigsync_string;
use crate::{handle, put, str_arg};

/// Message counters, of one tenant or summed over all.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sigsync_relay_counters {
    /// Messages the next hop accepted (its 250 passed on).
    pub accepted: u64,
    /// Messages that got the signature.
    pub injected: u64,
    /// Messages passed through unsigned, not an error (policy, kind, already processed).
    pub skipped: u64,
    /// Messages passed through unsigned because injection failed: alert on these.
    pub failed: u64,
    /// Transactions that ended in a 4xx (Exchange retries).
    pub deferred: u64,
    /// Transactions that ended in a 5xx.
    pub rejected: u64,
}

impl From<&TenantStats> for sigsync_relay_counters {
    fn from(t: &TenantStats) -> Self {
        sigsync_relay_counters {
            accepted: t.accepted,
            injected: t.injected,
            skipped: t.skipped,
            failed: t.failed,
            deferred: t.deferred,
            rejected: t.rejected,
        }
    }
}

impl sigsync_relay_counters {
    fn add(mut self, t: &TenantStats) -> Self {
        self.accepted += t.accepted;
        self.injected += t.injected;
        self.skipped += t.skipped;
        self.failed += t.failed;
        self.deferred += t.deferred;
        self.rejected += t.rejected;
        self
    }
}

/// A snapshot of the relay's counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sigsync_relay_snapshot {
    /// Open connections from senders.
    pub connections: i64,
    /// Bytes of messages held in memory.
    pub bytes_in_flight: i64,
    /// How many tenants `sigsync_relay_tenant_stats_at` counts (the configured ones, and
    /// `unattributed` once a transaction found no tenant).
    pub tenants: usize,
    /// The counters summed over every tenant.
    pub total: sigsync_relay_counters,
}

/// The core's snapshot, or ALREADY_USED once stopped.
fn snapshot(relay: *const sigsync_relay) -> Result<RelayStats, sigsync_error> {
    // SAFETY: a live relay, checked non-NULL by #[ffi_fn] in every caller.
    let r = unsafe { handle(relay) };
    let running = r.running()?;
    Ok(running
        .as_ref()
        .map(|relay| relay.stats())
        .unwrap_or_default())
}

/// Writes a snapshot of the counters to `*stats_out`: open connections, bytes in memory, the
/// number of tenants, and the message counters summed over all of them. Fails with
/// `SIGSYNC_RESULT_ALREADY_USED` once the relay was stopped.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_stats(
    relay: *const sigsync_relay,
    stats_out: *mut sigsync_relay_snapshot,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        let s = snapshot(relay)?;
        let total = s.tenants.values().fold(
            sigsync_relay_counters::default(),
            sigsync_relay_counters::add,
        );
        let stats = sigsync_relay_snapshot {
            connections: s.connections,
            bytes_in_flight: s.bytes_in_flight,
            tenants: s.tenants.len(),
            total,
        };
        // SAFETY: checked non-NULL by #[ffi_fn]; writable by the caller's contract.
        unsafe { *stats_out = stats };
        Ok(())
    })
}

/// Writes the counters of the tenant named `tenant` (its `name` in the configuration,
/// borrowed for the call) to `*counters_out`. An unknown name fails with
/// `SIGSYNC_RESULT_NOT_FOUND`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_tenant_stats(
    relay: *const sigsync_relay,
    tenant: *const c_char,
    counters_out: *mut sigsync_relay_counters,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
        let name = unsafe { str_arg(tenant, "tenant") }?;
        let s = snapshot(relay)?;
        let t = s.tenants.get(name).ok_or_else(|| {
            sigsync_error::new(
                sigsync_result::NotFound,
                format!("the relay has no tenant named {name:?}"),
            )
        })?;
        // SAFETY: checked non-NULL by #[ffi_fn]; writable by the caller's contract.
        unsafe { *counters_out = t.into() };
        Ok(())
    })
}

/// Writes the counters of the tenant at `index` (tenants in name order, `0` to
/// `sigsync_relay_stats().tenants - 1`) to `*counters_out`, and its name to `*name_out`
/// unless `name_out` is NULL (the caller owns the string and frees it with
/// `sigsync_string_free`). An index past the end fails with
/// `SIGSYNC_RESULT_INVALID_PARAMETER`.
#[ffi_fn(nullable(name_out))]
#[no_mangle]
pub extern "C" fn sigsync_relay_tenant_stats_at(
    relay: *const sigsync_relay,
    index: usize,
    counters_out: *mut sigsync_relay_counters,
    name_out: *mut *mut sigsync_string,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    run(error_out, || {
        let s = snapshot(relay)?;
        let (name, t) = s.tenants.iter().nth(index).ok_or_else(|| {
            sigsync_error::new(
                sigsync_result::InvalidParameter,
                format!(
                    "index {index} is past the relay's {} tenants",
                    s.tenants.len()
                ),
            )
        })?;
        // SAFETY: checked non-NULL by #[ffi_fn]; writable by the caller's contract.
        unsafe { *counters_out = t.into() };
        if !name_out.is_null() {
            // SAFETY: non-NULL, and writable by the caller's contract.
            unsafe { put(name_out, sigsync_string::new(name.as_str())) };
        }
        Ok(())
    })
}
