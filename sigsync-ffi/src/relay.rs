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
pub(crate) mod tests {
    //! The configuration class from C: every override reaches its field and a bad value is
    //! refused at build naming that field; the TOML's own errors come through typed.

    use std::ffi::{c_char, CStr};
    use std::ptr::null_mut;

    use super::*;
    use crate::error::{sigsync_error_free, sigsync_error_message};

    const TOML: &std::ffi::CStr = c"
        [listener]
        address = \"127.0.0.1:2525\"
        hostname = \"relay.test\"
        certificate = \"relay.pem\"
        private_key = \"relay.key\"
        allow_any_source = true

        [[tenants]]
        name = \"contoso\"
        tenant_id = \"9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01\"
        initial_domain = \"contoso.onmicrosoft.com\"
        profile = \"contoso/profile.json\"
        signatures = \"contoso/signature.toml\"
        client_certificate = \"contoso/client.pem\"
        client_key = \"contoso/client.key\"
    ";

    /// A builder over a valid configuration whose files resolve under /etc/sigsync.
    pub(crate) fn builder() -> *mut sigsync_relay_config_builder {
        let mut b = null_mut();
        let r = sigsync_relay_config_builder_from_toml(
            TOML.as_ptr(),
            c"/etc/sigsync".as_ptr(),
            &mut b,
            null_mut(),
        );
        assert_eq!(r, sigsync_result::Ok);
        b
    }

    /// The result of building after `set`, with the error message or the configuration.
    fn build_after(
        set: impl FnOnce(*mut sigsync_relay_config_builder) -> sigsync_result,
    ) -> Result<RelayConfig, (sigsync_result, String)> {
        let b = builder();
        assert_eq!(
            set(b),
            sigsync_result::Ok,
            "the setter itself stores any value"
        );
        let (mut config, mut err) = (null_mut(), null_mut());
        let r = sigsync_relay_config_builder_build(b, &mut config, &mut err);
        sigsync_relay_config_builder_free(b);
        if r == sigsync_result::Ok {
            let built = unsafe { handle(config) }.config.clone();
            sigsync_relay_config_free(config);
            return Ok(built);
        }
        let message = unsafe { CStr::from_ptr(sigsync_error_message(err)) };
        let message = message.to_string_lossy().into_owned();
        sigsync_error_free(err);
        Err((r, message))
    }

    type StrSetter = extern "C" fn(
        *mut sigsync_relay_config_builder,
        *const c_char,
        *mut *mut sigsync_error,
    ) -> sigsync_result;

    #[test]
    fn each_string_override_reaches_its_field_and_a_bad_value_names_it() {
        let cases: [(StrSetter, &CStr, &CStr, &str, fn(&RelayConfig) -> String); 3] = [
            (
                sigsync_relay_config_builder_set_listener_address,
                c"127.0.0.1:0",
                c"localhost:25",
                "listener.address",
                |c| c.listener.address.clone(),
            ),
            (
                sigsync_relay_config_builder_set_hostname,
                c"smtp.contoso.test",
                c"not a host name",
                "listener.hostname",
                |c| c.listener.hostname.clone(),
            ),
            (
                sigsync_relay_config_builder_set_metrics_address,
                c"127.0.0.1:9465",
                c"9465",
                "metrics.address",
                |c| {
                    c.metrics
                        .as_ref()
                        .map(|m| m.address.clone())
                        .unwrap_or_default()
                },
            ),
        ];
        for (setter, good, bad, field, read) in cases {
            let config = build_after(|b| setter(b, good.as_ptr(), null_mut())).unwrap();
            assert_eq!(read(&config), good.to_str().unwrap(), "{field}");
            let (result, message) =
                build_after(|b| setter(b, bad.as_ptr(), null_mut())).unwrap_err();
            assert_eq!(result, sigsync_result::Validation, "{field}: {message}");
            assert!(message.contains(field), "{field}: {message}");
        }
    }

    #[test]
    fn value_overrides_reach_their_fields_and_bad_values_name_them() {
        let config = build_after(|b| {
            sigsync_relay_config_builder_set_listener_address(
                b,
                c"127.0.0.1:0".as_ptr(),
                null_mut(),
            );
            sigsync_relay_config_builder_set_allow_plaintext_on_loopback(b, true, null_mut());
            sigsync_relay_config_builder_set_max_connections(b, 7, null_mut())
        })
        .unwrap();
        assert!(config.listener.allow_plaintext_on_loopback);
        assert_eq!(config.limits.max_connections, 7);

        let (result, message) = build_after(|b| {
            sigsync_relay_config_builder_set_listener_address(
                b,
                c"0.0.0.0:25".as_ptr(),
                null_mut(),
            );
            sigsync_relay_config_builder_set_allow_plaintext_on_loopback(b, true, null_mut())
        })
        .unwrap_err();
        assert_eq!(result, sigsync_result::Validation);
        assert!(
            message.contains("listener.allow_plaintext_on_loopback"),
            "{message}"
        );
        let (result, message) =
            build_after(|b| sigsync_relay_config_builder_set_max_connections(b, 0, null_mut()))
                .unwrap_err();
        assert_eq!(result, sigsync_result::Validation);
        assert!(message.contains("limits.max_connections"), "{message}");
    }

    #[test]
    fn a_configuration_that_fails_to_parse_is_a_config_error_and_writes_nothing() {
        for (toml, says) in [
            (c"[listener]\naddress = 25\n", "invalid type"),
            (c"[listener\n", "relay configuration"),
            (c"not toml at all", "relay configuration"),
        ] {
            let (mut b, mut err) = (null_mut(), null_mut());
            let r =
                sigsync_relay_config_builder_from_toml(toml.as_ptr(), null_mut(), &mut b, &mut err);
            assert_eq!(r, sigsync_result::Config, "{toml:?}");
            assert!(b.is_null(), "{toml:?}");
            let message = unsafe { CStr::from_ptr(sigsync_error_message(err)) };
            assert!(message.to_string_lossy().contains(says), "{message:?}");
            sigsync_error_free(err);
        }
    }

    #[test]
    fn null_arguments_are_refused_by_name_and_frees_take_null() {
        let mut err = null_mut();
        let r = sigsync_relay_reload(std::ptr::null(), &mut err);
        assert_eq!(r, sigsync_result::NullParameter);
        let message = unsafe { CStr::from_ptr(sigsync_error_message(err)) };
        assert_eq!(message.to_str().unwrap(), "argument relay is NULL");
        sigsync_error_free(err);
        assert_eq!(sigsync_relay_local_port(std::ptr::null()), 0);
        assert_eq!(
            sigsync_relay_stop(std::ptr::null(), 0, null_mut(), null_mut()),
            sigsync_result::NullParameter
        );
        sigsync_relay_free(null_mut());
        sigsync_relay_config_free(null_mut());
        sigsync_relay_config_builder_free(null_mut());
    }

    /// The greeting of the relay listening on `port`.
    fn greeting(port: u16) -> String {
        use std::io::Read;
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 128];
        let n = tcp.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Reload keeps the overrides, for a configuration from a file (read again) and from text
    /// (the same text, its files read again).
    #[test]
    fn reload_keeps_the_overrides_from_a_file_and_from_text() {
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/relay.toml");
        let text = std::ffi::CString::new(std::fs::read_to_string(sample).unwrap()).unwrap();
        let dir = std::ffi::CString::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"));
        let path = std::ffi::CString::new(sample).unwrap();
        for from_file in [true, false] {
            let mut b = null_mut();
            let r = if from_file {
                sigsync_relay_config_builder_from_file(path.as_ptr(), &mut b, null_mut())
            } else {
                let dir = dir.as_ref().unwrap();
                sigsync_relay_config_builder_from_toml(
                    text.as_ptr(),
                    dir.as_ptr(),
                    &mut b,
                    null_mut(),
                )
            };
            assert_eq!(r, sigsync_result::Ok);
            for (setter, value) in [
                (
                    sigsync_relay_config_builder_set_listener_address as StrSetter,
                    c"127.0.0.1:0",
                ),
                (
                    sigsync_relay_config_builder_set_metrics_address,
                    c"127.0.0.1:0",
                ),
                (sigsync_relay_config_builder_set_hostname, c"override.test"),
            ] {
                assert_eq!(setter(b, value.as_ptr(), null_mut()), sigsync_result::Ok);
            }
            let (mut config, mut relay) = (null_mut(), null_mut());
            assert_eq!(
                sigsync_relay_config_builder_build(b, &mut config, null_mut()),
                sigsync_result::Ok
            );
            assert_eq!(
                sigsync_relay_start(config, &mut relay, null_mut()),
                sigsync_result::Ok
            );
            let port = sigsync_relay_local_port(relay);
            assert!(
                greeting(port).starts_with("220 override.test "),
                "{from_file}"
            );
            assert_eq!(sigsync_relay_reload(relay, null_mut()), sigsync_result::Ok);
            assert_eq!(sigsync_relay_local_port(relay), port);
            assert!(
                greeting(port).starts_with("220 override.test "),
                "{from_file}"
            );
            let mut report = sigsync_relay_stop_report::default();
            assert_eq!(
                sigsync_relay_stop(relay, -1, &mut report, null_mut()),
                sigsync_result::Ok
            );
            assert!(report.drained);
            sigsync_relay_free(relay);
            sigsync_relay_config_free(config);
            sigsync_relay_config_builder_free(b);
        }
    }
}
