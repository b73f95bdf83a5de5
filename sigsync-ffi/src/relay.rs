//! The relay (cargo feature `relay`, declared in C when `SIGSYNC_RELAY` is defined): the SMTP
//! smart host Exchange Online's outbound connector points at, run from C. A configuration
//! builder (from a TOML file or text, with setters for what an embedder overrides), then
//! start, stats, reload and a graceful stop, each a call into `sigsync_core::relay`.
//!
//! The counters live in [`crate::relay_stats`].

use std::ffi::c_char;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use sigsync_core::relay::{MetricsConfig, Relay, RelayConfig};
use sigsync_ffi_macros::ffi_fn;
use tokio::runtime::Runtime;

use crate::builder::{self, builder, set_str, set_value, Builder};
use crate::error::{run, sigsync_error, sigsync_result};
use crate::{get, give, handle, new_runtime, opt_str_arg, str_arg, Once};

/// The settings a C embedder overrides on top of the TOML, applied again on every reload (so
/// a reload re-reads the file without losing them).
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    listener_address: Option<String>,
    hostname: Option<String>,
    metrics_address: Option<String>,
    allow_plaintext_on_loopback: Option<bool>,
    max_connections: Option<u32>,
}

impl Overrides {
    /// Puts the overrides into `config`.
    fn apply(&self, config: &mut RelayConfig) {
        if let Some(a) = &self.listener_address {
            config.listener.address.clone_from(a);
        }
        if let Some(h) = &self.hostname {
            config.listener.hostname.clone_from(h);
        }
        if let Some(a) = &self.metrics_address {
            config.metrics = Some(MetricsConfig { address: a.clone() });
        }
        if let Some(allow) = self.allow_plaintext_on_loopback {
            config.listener.allow_plaintext_on_loopback = allow;
        }
        if let Some(n) = self.max_connections {
            config.limits.max_connections = n as usize;
        }
    }
}

/// What the relay builder collects: the configuration read at `_new` and the overrides.
pub(crate) struct RelaySettings {
    config: RelayConfig,
    overrides: Overrides,
}

/// Collects a relay configuration: the TOML read by `sigsync_relay_config_builder_from_file`
/// or `_from_toml`, then overrides (listener address, hostname, metrics address, ...).
/// `sigsync_relay_config_builder_build` validates and takes the settings out; the builder must
/// still be freed, and any later use returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// Freed by the caller with `sigsync_relay_config_builder_free`. Not thread-safe: use it from
/// one thread at a time.
pub struct sigsync_relay_config_builder {
    settings: Once<RelaySettings>,
}

builder!(sigsync_relay_config_builder, RelaySettings);

/// A validated relay configuration (under the hood a `sigsync_core::relay::RelayConfig`)
/// with the builder's overrides.
///
/// Made by `sigsync_relay_config_builder_build`, freed by the caller with
/// `sigsync_relay_config_free`. Immutable: thread-safe, and one configuration may start any
/// number of relays.
pub struct sigsync_relay_config {
    config: RelayConfig,
    overrides: Overrides,
}

/// A running relay: a listener, its sessions and their next-hop connections, on a runtime of
/// its own (two threads plus the injection threads).
///
/// Made by `sigsync_relay_start`; stopped by `sigsync_relay_stop`, freed by the caller with
/// `sigsync_relay_free`. Thread-safe: stats, reload and stop may come from any thread.
pub struct sigsync_relay {
    /// `None` once stopped.
    pub(crate) relay: RwLock<Option<Relay>>,
    config: RelayConfig,
    overrides: Overrides,
    runtime: Arc<Runtime>,
}

impl sigsync_relay {
    /// The running relay, or ALREADY_USED once stopped.
    pub(crate) fn running(&self) -> Result<RwLockReadGuard<'_, Option<Relay>>, sigsync_error> {
        let guard = self.relay.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            return Err(stopped());
        }
        Ok(guard)
    }
}

fn stopped() -> sigsync_error {
    sigsync_error::new(
        sigsync_result::AlreadyUsed,
        "the relay was stopped; start a new one",
    )
}

/// How `sigsync_relay_stop` went.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct sigsync_relay_stop_report {
    /// Every session ended within the grace period (no transaction was cut).
    pub drained: bool,
    /// Sessions still open when the grace period ended, closed then with nothing
    /// acknowledged (Exchange retries those messages).
    pub cut: i64,
}

fn builder_over(config: RelayConfig) -> sigsync_relay_config_builder {
    sigsync_relay_config_builder::from_settings(RelaySettings {
        config,
        overrides: Overrides::default(),
    })
}

/// Starts a relay configuration from the TOML file `path` (borrowed for the call; relative
/// paths in it resolve against its folder). `sigsync_relay_reload` reads this file again.
///
/// The caller owns the builder and frees it with `sigsync_relay_config_builder_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_from_file(
    path: *const c_char,
    builder_out: *mut *mut sigsync_relay_config_builder,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(builder_out, error_out, || {
            Ok(builder_over(RelayConfig::load(str_arg(path, "path")?)?))
        })
    }
}

/// Starts a relay configuration from TOML text (borrowed for the call); relative paths in it
/// resolve against `base_dir`, or the current folder when `base_dir` is NULL. A relay started
/// from text re-reads the files it names (certificates, allow-list, tenants' files) on
/// `sigsync_relay_reload`, with the same text.
///
/// The caller owns the builder and frees it with `sigsync_relay_config_builder_free`.
#[ffi_fn(nullable(base_dir))]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_from_toml(
    toml: *const c_char,
    base_dir: *const c_char,
    builder_out: *mut *mut sigsync_relay_config_builder,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: `toml` checked non-NULL by #[ffi_fn], `base_dir` NULL or a string; borrowed.
    unsafe {
        give(builder_out, error_out, || {
            let base = opt_str_arg(base_dir, "base_dir")?.map(Path::new);
            let config = RelayConfig::from_toml_str(str_arg(toml, "toml")?, base)?;
            Ok(builder_over(config))
        })
    }
}

/// Sets `listener.address`, the `ip:port` to listen on (`"127.0.0.1:0"` picks a free port:
/// read it with `sigsync_relay_local_port`).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_set_listener_address(
    builder: *mut sigsync_relay_config_builder,
    address: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe {
        set_str(builder, address, "address", error_out, |s| {
            &mut s.overrides.listener_address
        })
    }
}

/// Sets `listener.hostname`, the name in the greeting and the EHLO reply.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_set_hostname(
    builder: *mut sigsync_relay_config_builder,
    hostname: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe {
        set_str(builder, hostname, "hostname", error_out, |s| {
            &mut s.overrides.hostname
        })
    }
}

/// Sets `metrics.address`, the `ip:port` of the metrics endpoint (`/metrics`, `/healthz`),
/// turning it on if the TOML had none.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_set_metrics_address(
    builder: *mut sigsync_relay_config_builder,
    address: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe {
        set_str(builder, address, "address", error_out, |s| {
            &mut s.overrides.metrics_address
        })
    }
}

/// Sets `listener.allow_plaintext_on_loopback`: mail without STARTTLS from loopback senders
/// (tests, benchmarks). Only a loopback listener may allow it (checked at build).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_set_allow_plaintext_on_loopback(
    builder: *mut sigsync_relay_config_builder,
    allow: bool,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        set_value(builder, allow, error_out, |s| {
            &mut s.overrides.allow_plaintext_on_loopback
        })
    }
}

/// Sets `limits.max_connections`, the most sessions from senders at once (at least 1).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_set_max_connections(
    builder: *mut sigsync_relay_config_builder,
    max_connections: u32,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        set_value(builder, max_connections, error_out, |s| {
            &mut s.overrides.max_connections
        })
    }
}

/// Applies the overrides, validates (errors name the field, e.g. `listener.address`) and
/// writes the configuration to `*config_out`. Files are read when the relay starts. Takes
/// the settings out of the builder: the caller still frees the builder, and using it again
/// returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// The caller owns the configuration and frees it with `sigsync_relay_config_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_build(
    builder: *mut sigsync_relay_config_builder,
    config_out: *mut *mut sigsync_relay_config,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        builder::build(builder, config_out, error_out, |s| {
            let mut config = s.config;
            s.overrides.apply(&mut config);
            config.validate()?;
            Ok(sigsync_relay_config {
                config,
                overrides: s.overrides,
            })
        })
    }
}

/// Frees a builder (built or not). `sigsync_relay_config_builder_free(NULL)` does nothing.
#[ffi_fn(nullable(builder))]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_builder_free(builder: *mut sigsync_relay_config_builder) {
    // SAFETY: NULL or made by a sigsync_relay_config_builder_* constructor, freed once.
    unsafe { crate::free(builder) }
}

/// Frees a configuration; relays started from it keep what they need.
/// `sigsync_relay_config_free(NULL)` does nothing.
#[ffi_fn(nullable(config))]
#[no_mangle]
pub extern "C" fn sigsync_relay_config_free(config: *mut sigsync_relay_config) {
    // SAFETY: NULL or made by sigsync_relay_config_builder_build, freed once.
    unsafe { crate::free(config) }
}

/// Checks every file the configuration names (certificates, keys, allow-list, the tenants'
/// profiles and signature configurations), binds the listener (and the metrics endpoint)
/// and starts accepting. Returns once the relay listens; it serves on its own threads until
/// `sigsync_relay_stop`. A busy port fails with `SIGSYNC_RESULT_VALIDATION` naming
/// `listener.address` (or `metrics.address`).
///
/// The caller owns the relay written to `*relay_out`, stops it with `sigsync_relay_stop` and
/// frees it with `sigsync_relay_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_start(
    config: *const sigsync_relay_config,
    relay_out: *mut *mut sigsync_relay,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live configuration, checked non-NULL by #[ffi_fn].
    let config = unsafe { handle(config) };
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe {
        give(relay_out, error_out, || {
            let runtime = new_runtime()?;
            let relay = runtime.block_on(Relay::start(config.config.clone()))?;
            Ok(sigsync_relay {
                relay: RwLock::new(Some(relay)),
                config: config.config.clone(),
                overrides: config.overrides.clone(),
                runtime,
            })
        })
    }
}

/// The port the relay listens on (useful after listening on port 0), or 0 once stopped.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_local_port(relay: *const sigsync_relay) -> u16 {
    // SAFETY: a live relay, checked non-NULL by #[ffi_fn].
    unsafe { get(relay, |r| port(r, |relay| Some(relay.local_addr()))) }
}

/// The port of the metrics endpoint, or 0 when it has none or once stopped.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_metrics_port(relay: *const sigsync_relay) -> u16 {
    // SAFETY: a live relay, checked non-NULL by #[ffi_fn].
    unsafe { get(relay, |r| port(r, Relay::metrics_addr)) }
}

fn port(r: &sigsync_relay, addr: impl FnOnce(&Relay) -> Option<std::net::SocketAddr>) -> u16 {
    r.running()
        .ok()
        .and_then(|g| g.as_ref().and_then(addr))
        .map_or(0, |a| a.port())
}

/// Reads the configuration again (the file it was loaded from, or for a configuration given
/// as text the same text) with the builder's overrides, and swaps in the listener
/// certificate, the tenants with their client certificates and the allow-list, without
/// dropping sessions. The listener address and the limits change only on restart. On any
/// error nothing changes and the relay keeps serving.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_relay_reload(
    relay: *const sigsync_relay,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live relay, checked non-NULL by #[ffi_fn].
    let r = unsafe { handle(relay) };
    run(error_out, || {
        let mut config = match &r.config.source {
            Some(path) => RelayConfig::load(path)?,
            None => r.config.clone(),
        };
        r.overrides.apply(&mut config);
        let running = r.running()?;
        let relay = running.as_ref().ok_or_else(stopped)?;
        r.runtime.block_on(relay.reload_with(config))?;
        Ok(())
    })
}

/// Stops gracefully: stops accepting, answers 421 to new transactions, lets those in flight
/// finish for up to `timeout_ms` milliseconds, then closes what is left (nothing is
/// acknowledged that the next hop did not take, so Exchange retries those). A negative
/// `timeout_ms` waits the configured `timeouts.shutdown_grace`; 0 closes at once. Blocks until
/// stopped; `*report_out` (may be NULL) says whether every session drained. A second stop
/// returns `SIGSYNC_RESULT_ALREADY_USED`. The caller still frees the relay.
#[ffi_fn(nullable(report_out))]
#[no_mangle]
pub extern "C" fn sigsync_relay_stop(
    relay: *const sigsync_relay,
    timeout_ms: i64,
    report_out: *mut sigsync_relay_stop_report,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live relay, checked non-NULL by #[ffi_fn].
    let r = unsafe { handle(relay) };
    run(error_out, || {
        let grace = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let report = stop(r, grace)?;
        if !report_out.is_null() {
            // SAFETY: non-NULL, and writable by the caller's contract.
            unsafe { *report_out = report };
        }
        Ok(())
    })
}

/// Takes the relay out (so stats and reload see it stopped) and stops it with `grace`.
fn stop(
    r: &sigsync_relay,
    grace: Option<Duration>,
) -> Result<sigsync_relay_stop_report, sigsync_error> {
    let taken = r.relay.write().unwrap_or_else(|p| p.into_inner()).take();
    let relay = taken.ok_or_else(stopped)?;
    let report = r.runtime.block_on(relay.stop(grace));
    Ok(sigsync_relay_stop_report {
        drained: report.drained,
        cut: report.cut,
    })
}

/// Frees a relay; one still running is stopped first with no grace period (sessions are
/// closed, nothing unacknowledged is lost). `sigsync_relay_free(NULL)` does nothing.
#[ffi_fn(nullable(relay))]
#[no_mangle]
pub extern "C" fn sigsync_relay_free(relay: *mut sigsync_relay) {
    if relay.is_null() {
        return;
    }
    // SAFETY: non-NULL, made by sigsync_relay_start and not freed yet.
    let _ = stop(unsafe { handle(relay) }, Some(Duration::ZERO));
    // SAFETY: made by sigsync_relay_start, freed once.
    unsafe { crate::free(relay) }
}

#[cfg(test)]
pub(crate) mod tests;
