//! The configuration class from C: every override reaches its field and a bad value is
//! refused at build naming that field; the TOML's own errors come through typed.

use std::ffi::{c_char, CStr};
use std::ptr::null_mut;

use super::*;
use crate::error::{sigsync_error_free, sigsync_error_message};
use crate::relay_stats::*;

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

/// A field of the configuration, as text.
type Read = fn(&RelayConfig) -> String;

type StrSetter = extern "C" fn(
    *mut sigsync_relay_config_builder,
    *const c_char,
    *mut *mut sigsync_error,
) -> sigsync_result;

#[test]
fn each_string_override_reaches_its_field_and_a_bad_value_names_it() {
    let cases: [(StrSetter, &CStr, &CStr, &str, Read); 3] = [
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
        let (result, message) = build_after(|b| setter(b, bad.as_ptr(), null_mut())).unwrap_err();
        assert_eq!(result, sigsync_result::Validation, "{field}: {message}");
        assert!(message.contains(field), "{field}: {message}");
    }
}

#[test]
fn value_overrides_reach_their_fields_and_bad_values_name_them() {
    let config = build_after(|b| {
        sigsync_relay_config_builder_set_listener_address(b, c"127.0.0.1:0".as_ptr(), null_mut());
        sigsync_relay_config_builder_set_allow_plaintext_on_loopback(b, true, null_mut());
        sigsync_relay_config_builder_set_max_connections(b, 7, null_mut())
    })
    .unwrap();
    assert!(config.listener.allow_plaintext_on_loopback);
    assert_eq!(config.limits.max_connections, 7);

    let (result, message) = build_after(|b| {
        sigsync_relay_config_builder_set_listener_address(b, c"0.0.0.0:25".as_ptr(), null_mut());
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

/// A mistyped key names its path (the core's typed error); text that is not TOML is a
/// configuration error. Neither writes the builder.
#[test]
fn a_configuration_that_does_not_parse_is_refused_typed_and_writes_nothing() {
    for (toml, want, says) in [
        (
            c"[listener]\naddress = 25\n",
            sigsync_result::Validation,
            "listener.address",
        ),
        (
            c"[listener]\nadress = \"x\"\n",
            sigsync_result::Validation,
            "listener.adress",
        ),
        (
            c"[listener\n",
            sigsync_result::Config,
            "relay configuration",
        ),
        (
            c"not toml at all",
            sigsync_result::Config,
            "relay configuration",
        ),
    ] {
        let (mut b, mut err) = (null_mut(), null_mut());
        let r = sigsync_relay_config_builder_from_toml(toml.as_ptr(), null_mut(), &mut b, &mut err);
        let message = unsafe { CStr::from_ptr(sigsync_error_message(err)) };
        let message = message.to_string_lossy().into_owned();
        sigsync_error_free(err);
        assert_eq!(r, want, "{toml:?}: {message}");
        assert!(b.is_null(), "{toml:?}");
        assert!(message.contains(says), "{toml:?}: {message}");
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
            sigsync_relay_config_builder_from_toml(text.as_ptr(), dir.as_ptr(), &mut b, null_mut())
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

/// Stats, ports and reloads from other threads while one thread stops the relay: each call
/// either works or says the relay was stopped, and the stop drains.
#[test]
fn calls_from_other_threads_during_a_stop_work_or_say_stopped() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/relay.toml");
    let path = std::ffi::CString::new(sample).unwrap();
    let (mut b, mut config, mut relay) = (null_mut(), null_mut(), null_mut());
    assert_eq!(
        sigsync_relay_config_builder_from_file(path.as_ptr(), &mut b, null_mut()),
        sigsync_result::Ok
    );
    sigsync_relay_config_builder_set_listener_address(b, c"127.0.0.1:0".as_ptr(), null_mut());
    sigsync_relay_config_builder_set_metrics_address(b, c"127.0.0.1:0".as_ptr(), null_mut());
    assert_eq!(
        sigsync_relay_config_builder_build(b, &mut config, null_mut()),
        sigsync_result::Ok
    );
    assert_eq!(
        sigsync_relay_start(config, &mut relay, null_mut()),
        sigsync_result::Ok
    );
    // The handle is documented thread-safe; pass its address to the threads.
    let shared = relay as usize;
    std::thread::scope(|scope| {
        for worker in 0..3 {
            scope.spawn(move || {
                let relay = shared as *const sigsync_relay;
                let mut stopped = false;
                // Until the stop, then a few calls more.
                let mut after = 0;
                while after < 5 {
                    let mut snapshot = sigsync_relay_snapshot::default();
                    let r = match worker {
                        0 => sigsync_relay_stats(relay, &mut snapshot, null_mut()),
                        1 => sigsync_relay_reload(relay, null_mut()),
                        _ => {
                            let mut counters = sigsync_relay_counters::default();
                            sigsync_relay_tenant_stats(
                                relay,
                                c"contoso".as_ptr(),
                                &mut counters,
                                null_mut(),
                            )
                        }
                    };
                    match r {
                        sigsync_result::Ok => assert!(!stopped, "worked again after a stop"),
                        sigsync_result::AlreadyUsed => stopped = true,
                        other => panic!("worker {worker}: {other:?}"),
                    }
                    if stopped {
                        assert_eq!(sigsync_relay_local_port(relay), 0);
                        after += 1;
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(20));
        let mut report = sigsync_relay_stop_report::default();
        assert_eq!(
            sigsync_relay_stop(shared as *const sigsync_relay, 0, &mut report, null_mut()),
            sigsync_result::Ok
        );
        assert!(report.drained && report.cut == 0, "{report:?}");
    });
    sigsync_relay_free(relay);
    sigsync_relay_config_free(config);
    sigsync_relay_config_builder_free(b);
}
