//! Connector setup: the service profile and the setup (who is routed). The engine that plans,
//! applies, pauses, resumes, removes and reports status is in `engine`.

use std::ffi::c_char;

use sigsync_core::setup::{ConnectorSetup, SenderScope, ServiceProfile};
use sigsync_core::LoopHeader;
use sigsync_ffi_macros::ffi_fn;

use crate::builder::{self, builder, set, set_str, set_value};
use crate::error::{sigsync_error, sigsync_result};
use crate::strings::{c_string, sigsync_string};
use crate::{get, give, handle, put, str_arg, Once};

/// Collects a service profile: the signature service's smart hosts, its TLS certificate
/// name, the certificate name its relay presents, and its relay IP ranges.
/// `sigsync_service_profile_builder_build` takes the settings out; the builder must still be
/// freed, and any later use returns `SIGSYNC_RESULT_ALREADY_USED`.
///
/// Made by `sigsync_service_profile_builder_new`, freed by the caller with
/// `sigsync_service_profile_builder_free`. Not thread-safe: one thread at a time.
pub struct sigsync_service_profile_builder {
    settings: Once<ProfileSettings>,
}

builder!(sigsync_service_profile_builder, ProfileSettings);

#[derive(Default)]
pub(crate) struct ProfileSettings {
    smart_hosts: Vec<String>,
    relay_ip_ranges: Vec<String>,
    tls_domain: Option<String>,
    certificate_name: String,
    loop_header: Option<LoopHeader>,
}

/// A validated service profile (under the hood a `sigsync_core::setup::ServiceProfile`).
///
/// Made by `sigsync_service_profile_builder_build` or `sigsync_service_profile_from_json`,
/// freed by the caller with `sigsync_service_profile_free`. Immutable: thread-safe.
pub struct sigsync_service_profile {
    pub(crate) profile: ServiceProfile,
    value_c: std::ffi::CString,
}

impl sigsync_service_profile {
    fn new(profile: ServiceProfile) -> Self {
        let value_c = c_string(profile.loop_header.value.as_str());
        sigsync_service_profile { profile, value_c }
    }
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

builder!(sigsync_connector_setup_builder, SetupSettings);

pub(crate) struct SetupSettings {
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
    pub(crate) setup: ConnectorSetup,
}

// ---- service profile ---------------------------------------------------------------------

/// Starts an empty service profile. The caller owns the builder and frees it with
/// `sigsync_service_profile_builder_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_new(
    builder_out: *mut *mut sigsync_service_profile_builder,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { builder::new(builder_out, ProfileSettings::default()) }
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
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe { set_str(builder, host, "host", error_out, |s| &mut s.smart_hosts) }
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
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe { set_str(builder, domain, "domain", error_out, |s| &mut s.tls_domain) }
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
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe {
        set_str(builder, name, "name", error_out, |s| {
            &mut s.certificate_name
        })
    }
}

/// Adds an IP range of the service's relays (borrowed for the call), e.g. `"203.0.113.0/24"`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_add_relay_ip_range(
    builder: *mut sigsync_service_profile_builder,
    range: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe {
        set_str(builder, range, "range", error_out, |s| {
            &mut s.relay_ip_ranges
        })
    }
}

/// Sets the loop-prevention header (both borrowed for the call): the value kept from when the
/// profile was first made. Without it, the build generates a new random value: save the
/// profile (`sigsync_service_profile_to_json`) and reuse it, or every run changes the value.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_builder_set_loop_header(
    builder: *mut sigsync_service_profile_builder,
    name: *const c_char,
    value: *const c_char,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder and two strings, checked non-NULL by #[ffi_fn].
    unsafe {
        set(builder, error_out, |s| {
            let header = LoopHeader::new(str_arg(name, "name")?, str_arg(value, "value")?)?;
            s.loop_header = Some(header);
            Ok(())
        })
    }
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
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        builder::build(builder, profile_out, error_out, |s| {
            let mut pb = ServiceProfile::builder()
                .smart_hosts(s.smart_hosts)
                .relay_ip_ranges(s.relay_ip_ranges)
                .certificate_name(s.certificate_name);
            if let Some(d) = s.tls_domain {
                pb = pb.tls_domain(d);
            }
            if let Some(h) = s.loop_header {
                pb = pb.loop_header(h);
            }
            Ok(sigsync_service_profile::new(pb.build()?))
        })
    }
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

/// Reads a saved service profile from JSON text (borrowed for the call), with the keys
/// `smart_hosts`, `certificate_name`, `loop_header` (`name`, `value`), and optionally
/// `tls_domain` (default: the first smart host), `relay_ip_ranges`, `names`, ... The same
/// reader as Rust's and Python's: a profile without `loop_header.value` is refused
/// (`SIGSYNC_RESULT_VALIDATION` naming it), as the value is the tenant's, kept from when the
/// profile was made.
///
/// The caller owns the profile and frees it with `sigsync_service_profile_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_from_json(
    json: *const c_char,
    profile_out: *mut *mut sigsync_service_profile,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn]; borrowed for the call.
    unsafe {
        give(profile_out, error_out, || {
            let profile = ServiceProfile::from_json(str_arg(json, "json")?)?;
            Ok(sigsync_service_profile::new(profile))
        })
    }
}

/// Writes the whole profile (the generated loop-header value included) as JSON to
/// `*json_out`, for the caller to keep; it reads back with `sigsync_service_profile_from_json`.
/// The caller frees the string with `sigsync_string_free`.
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_to_json(
    profile: *const sigsync_service_profile,
    json_out: *mut *mut sigsync_string,
) -> sigsync_result {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe {
        let json = get(profile, |p| p.profile.to_json());
        put(json_out, sigsync_string::new(json));
    }
    sigsync_result::Ok
}

/// The loop-header value the service stamps (owned by the profile, valid until
/// `sigsync_service_profile_free`).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_service_profile_loop_header_value(
    profile: *const sigsync_service_profile,
) -> *const c_char {
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { get(profile, |p| p.value_c.as_ptr()) }
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
    // SAFETY: checked non-NULL by #[ffi_fn].
    let profile = unsafe { handle(profile) }.profile.clone();
    let settings = SetupSettings {
        profile,
        groups: Vec::new(),
        include_internal: true,
        staged: false,
        priority: None,
    };
    // SAFETY: checked non-NULL by #[ffi_fn].
    unsafe { builder::new(builder_out, settings) }
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
    // SAFETY: a live builder and a string, checked non-NULL by #[ffi_fn].
    unsafe {
        set_str(builder, group_mail, "group_mail", error_out, |s| {
            &mut s.groups
        })
    }
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
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe { set_value(builder, include, error_out, |s| &mut s.include_internal) }
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
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe { set_value(builder, staged, error_out, |s| &mut s.staged) }
}

/// The routing rule's priority (default 0, the first rule).
#[ffi_fn]
#[no_mangle]
pub extern "C" fn sigsync_connector_setup_builder_set_priority(
    builder: *mut sigsync_connector_setup_builder,
    priority: u32,
    error_out: *mut *mut sigsync_error,
) -> sigsync_result {
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe { set_value(builder, priority, error_out, |s| &mut s.priority) }
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
    // SAFETY: a live builder, checked non-NULL by #[ffi_fn].
    unsafe {
        builder::build(builder, setup_out, error_out, |s| {
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
            Ok(sigsync_connector_setup { setup: b.build()? })
        })
    }
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
