//! What the setup tests share: the service profiles (and a second one that moves mail
//! elsewhere), a seeded tenant, an engine over it with or without the retry layer on a clock
//! that never sleeps, and the mail-safety invariant checked on what the tenant holds. (A
//! binary that includes this module includes `common/http.rs` as `http_fixtures` too.)
#![allow(dead_code)]

use std::sync::Arc;

use sigsync_core::exchange::sim::{SimGroup, SimSettings, SimTenant, Snapshot};
use sigsync_core::exchange::{ExchangeClient, GroupKind, RetryPolicy, RetryingClient};
use sigsync_core::loop_header::value_of_pattern;
use sigsync_core::setup::{ConnectorSetup, SenderScope, ServiceProfile, SetupEngine};
use sigsync_core::LoopHeader;

pub use crate::http_fixtures::TestClock;

pub const CERT: &str = "tenant1.smtp.signatures.example.com";
pub const CERT_B: &str = "tenant1.smtp2.signatures.example.net";

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The service profile (a fixed loop-header value, as a saved profile has).
pub fn profile() -> ServiceProfile {
    ServiceProfile::builder()
        .smart_hosts(["smtp.signatures.example.com"])
        .certificate_name(CERT)
        .loop_header(LoopHeader::new("X-Sigsync-Processed", "tenant-secret-1").unwrap())
        .build()
        .unwrap()
}

/// What changes where mail goes, one field at a time or all at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    SmartHosts,
    TlsDomain,
    CertificateName,
    All,
}

/// The profile with mail moved to another service (`Move` says which part).
pub fn moved(what: Move) -> ServiceProfile {
    let mut p = profile();
    if matches!(what, Move::SmartHosts | Move::All) {
        p.smart_hosts = vec!["smtp.signatures.example.net".into()];
        if what == Move::SmartHosts {
            p.tls_domain = "smtp.signatures.example.com".into();
        }
    }
    if matches!(what, Move::TlsDomain | Move::All) {
        p.tls_domain = "smtp.signatures.example.net".into();
    }
    if matches!(what, Move::CertificateName | Move::All) {
        p.certificate_name = CERT_B.into();
    }
    p.validate().unwrap();
    p
}

pub fn setup() -> ConnectorSetup {
    ConnectorSetup::builder(profile()).build().unwrap()
}

pub fn setup_for(profile: ServiceProfile) -> ConnectorSetup {
    ConnectorSetup::builder(profile).build().unwrap()
}

pub fn groups_external_setup() -> ConnectorSetup {
    ConnectorSetup::builder(profile())
        .scope(SenderScope::Groups(vec![
            "Sales".into(),
            "marketing@contoso.com".into(),
        ]))
        .include_internal(false)
        .build()
        .unwrap()
}

/// A tenant with both certificate domains accepted and three groups.
pub fn tenant(settings: SimSettings) -> SimTenant {
    let t = SimTenant::with_settings(settings);
    t.add_accepted_domain("contoso.com", true);
    t.add_accepted_domain(CERT, false);
    t.add_accepted_domain(CERT_B, false);
    t.add_group(SimGroup::new(
        "Sales",
        Some("sales@contoso.com"),
        GroupKind::Distribution,
    ));
    t.add_group(SimGroup::new(
        "Marketing",
        Some("marketing@contoso.com"),
        GroupKind::Microsoft365,
    ));
    t.add_group(SimGroup::new("Admins", None, GroupKind::Security));
    t
}

/// A tenant that lets dangerous states through, so only the engine's order keeps mail safe.
pub fn permissive() -> SimTenant {
    tenant(SimSettings {
        permissive: true,
        ..Default::default()
    })
}

pub fn engine(t: &SimTenant) -> SetupEngine {
    SetupEngine::new(Arc::new(t.clone()))
}

/// The engine over the retry layer, on a clock that never sleeps.
pub fn retrying_engine<C: ExchangeClient + 'static>(client: C) -> SetupEngine {
    SetupEngine::new(Arc::new(RetryingClient::with_clock(
        client,
        RetryPolicy::default(),
        TestClock::new(),
    )))
}

/// DESIGN.md's mail-safety invariant on what the tenant holds: while any rule routing mail
/// is enabled, its outbound connector exists, is enabled and rule-scoped, the inbound
/// connector exists and is enabled, and (for sigsync's rule) the smart hosts, TLS domain and
/// certificate name all belong to one of `profiles`, whose stamped loop header the rule
/// excepts.
pub fn mail_safe(snap: &Snapshot, profiles: &[&ServiceProfile]) -> Result<(), String> {
    let names = &profiles[0].names;
    let inbound = snap.inbound.iter().find(|c| {
        c.name().eq_ignore_ascii_case(&names.inbound_connector) && c.definition.enabled()
    });
    for rule in snap.rules.iter().filter(|r| r.definition.enabled()) {
        let Some(target) = rule.definition.route_message_outbound_connector() else {
            continue;
        };
        let connector = snap
            .outbound
            .iter()
            .find(|c| c.name().eq_ignore_ascii_case(target))
            .filter(|c| c.definition.enabled() && c.definition.is_transport_rule_scoped());
        let Some(connector) = connector else {
            return Err(format!(
                "enabled rule '{}' routes to a missing, disabled or unscoped connector",
                rule.name()
            ));
        };
        let Some(inbound) = inbound else {
            return Err(format!(
                "enabled rule '{}' routes mail that cannot come back (no enabled inbound connector)",
                rule.name()
            ));
        };
        let mut hosts: Vec<String> = connector.definition.smart_hosts().to_vec();
        hosts.sort();
        let tls = connector.definition.tls_domain().unwrap_or_default();
        let cert = inbound
            .definition
            .tls_sender_certificate_name()
            .unwrap_or_default();
        let excepted: Vec<String> = rule
            .definition
            .except_if_header_matches_patterns()
            .iter()
            .map(|p| value_of_pattern(p))
            .collect();
        let matches = profiles.iter().any(|p| {
            let mut want = p.smart_hosts.clone();
            want.sort();
            want == hosts
                && p.tls_domain.eq_ignore_ascii_case(tls)
                && p.certificate_name.eq_ignore_ascii_case(cert)
                && excepted.contains(&p.loop_header.value)
        });
        if !matches {
            return Err(format!(
                "enabled rule '{}' routes to {hosts:?} (TLS {tls}) with the inbound connector \
                 accepting {cert} and excepting {excepted:?}: not one profile's",
                rule.name()
            ));
        }
    }
    Ok(())
}
