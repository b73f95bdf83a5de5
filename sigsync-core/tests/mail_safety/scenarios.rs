//! The operations the mail-safety tests break one call at a time: configure, re-run,
//! reconfigure (senders; smart hosts, TLS domain, certificate name, all three), pause,
//! resume, remove; the faults (every error class, and writes that apply and then fail); and
//! the checks made after every write of every case.

use sigsync_core::exchange::sim::{Fault, SimSettings, SimTenant};
use sigsync_core::setup::{no_progress, ConnectorSetup, Report, ServiceProfile, SetupEngine};
use sigsync_core::ErrorKind;

use crate::support::*;

/// The engine operation a scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Configure,
    Pause,
    Resume,
    Remove,
}

impl Action {
    pub async fn run(self, engine: &SetupEngine, setup: &ConnectorSetup) -> Option<Report> {
        match self {
            Action::Configure => engine.configure(setup, &no_progress).await.ok(),
            Action::Pause => engine.pause(setup, &no_progress).await.ok(),
            Action::Resume => engine.resume(setup, &no_progress).await.ok(),
            Action::Remove => engine.remove(setup, &no_progress).await.ok(),
        }
    }
}

pub struct Scenario {
    pub name: &'static str,
    /// Brings a fresh tenant to where the operation starts (on the tenant directly).
    pub prepare: fn(&SimTenant),
    /// The setup the operation runs with.
    pub setup: fn() -> ConnectorSetup,
    pub action: Action,
    /// The service the tenant was set up for before, when the operation moves mail.
    pub before: Option<fn() -> ServiceProfile>,
}

/// Prepares through the retry layer, as a real run would (lag needs it).
fn configured(t: &SimTenant) {
    let report = rt()
        .block_on(retrying_engine(t.clone()).configure(&setup(), &no_progress))
        .unwrap();
    assert!(report.succeeded(), "{report}");
}

fn paused(t: &SimTenant) {
    configured(t);
    let report = rt()
        .block_on(retrying_engine(t.clone()).pause(&setup(), &no_progress))
        .unwrap();
    assert!(report.succeeded(), "{report}");
}

fn nothing(_: &SimTenant) {}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "configure",
        prepare: nothing,
        setup,
        action: Action::Configure,
        before: None,
    },
    Scenario {
        name: "re-run",
        prepare: configured,
        setup,
        action: Action::Configure,
        before: None,
    },
    Scenario {
        name: "reconfigure senders",
        prepare: configured,
        setup: groups_external_setup,
        action: Action::Configure,
        before: None,
    },
    Scenario {
        name: "reconfigure smart hosts",
        prepare: configured,
        setup: || setup_for(moved(Move::SmartHosts)),
        action: Action::Configure,
        before: Some(profile),
    },
    Scenario {
        name: "reconfigure TLS domain",
        prepare: configured,
        setup: || setup_for(moved(Move::TlsDomain)),
        action: Action::Configure,
        before: Some(profile),
    },
    Scenario {
        name: "reconfigure certificate name",
        prepare: configured,
        setup: || setup_for(moved(Move::CertificateName)),
        action: Action::Configure,
        before: Some(profile),
    },
    Scenario {
        name: "reconfigure hosts, TLS domain and certificate name",
        prepare: configured,
        setup: || setup_for(moved(Move::All)),
        action: Action::Configure,
        before: Some(profile),
    },
    Scenario {
        name: "pause",
        prepare: configured,
        setup,
        action: Action::Pause,
        before: None,
    },
    Scenario {
        name: "resume",
        prepare: paused,
        setup,
        action: Action::Resume,
        before: None,
    },
    Scenario {
        name: "remove",
        prepare: configured,
        setup,
        action: Action::Remove,
        before: None,
    },
];

/// How the tenant behaves: permissive (only the engine's order keeps mail safe), replicating
/// at once or every write kind (create, update, enable, disable, remove) one read late from
/// the preparation on; and with Exchange's own checks on, whose connector lookups are reads
/// too (so objects become visible unevenly).
pub fn lags() -> Vec<(&'static str, SimSettings)> {
    let permissive = SimSettings {
        permissive: true,
        ..SimSettings::default()
    };
    let lagging = SimSettings {
        replication_lag_reads: 1,
        change_lag_reads: 1,
        removal_lag_reads: 1,
        ..permissive.clone()
    };
    let checked = SimSettings {
        permissive: false,
        ..lagging.clone()
    };
    vec![
        ("no lag", permissive),
        ("lag on every write kind", lagging),
        ("lag with Exchange's checks", checked),
    ]
}

const CLASSES: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::AlreadyExists,
    ErrorKind::Rejected,
    ErrorKind::Unauthorized,
    ErrorKind::Forbidden,
    ErrorKind::Throttled,
    ErrorKind::Transient,
    ErrorKind::Network,
];

/// Every fault for call `k`: each error class, and the write applied before a 503 or before
/// the response is lost.
pub fn faults(k: u64) -> Vec<Fault> {
    let mut out: Vec<Fault> = CLASSES.iter().map(|c| Fault::on_call(k, *c)).collect();
    for c in [ErrorKind::Transient, ErrorKind::Network] {
        out.push(Fault::on_call(k, c).after_commit());
    }
    out
}

/// A tenant prepared for `scenario` under `settings` (the tenant the cases copy).
pub fn prepared(scenario: &Scenario, settings: &SimSettings) -> SimTenant {
    let t = tenant(settings.clone());
    (scenario.prepare)(&t);
    t.reset_calls();
    t
}

/// Checks one case: the invariant after every write and at the end, and that configure never
/// removed an object that existed before it.
pub fn check(
    scenario: &Scenario,
    before: &sigsync_core::exchange::sim::Snapshot,
    tenant: &SimTenant,
    context: &str,
) {
    let new = (scenario.setup)().profile;
    let old = scenario.before.map(|f| f());
    let profiles: Vec<&ServiceProfile> = std::iter::once(&new).chain(old.as_ref()).collect();
    for (call, snap) in tenant.history() {
        if let Err(e) = mail_safe(&snap, &profiles) {
            panic!(
                "{context}: after call {} ({}, {}): {e}",
                call.index,
                call.cmdlet,
                match call.error {
                    Some(k) if call.applied => format!("applied, then failed with {k}"),
                    Some(k) => format!("failed with {k}"),
                    None => "succeeded".into(),
                }
            );
        }
    }
    let after = tenant.snapshot();
    if let Err(e) = mail_safe(&after, &profiles) {
        panic!("{context}: at the end: {e}");
    }
    if scenario.action == Action::Configure {
        let names = |s: &sigsync_core::exchange::sim::Snapshot| -> Vec<String> {
            s.outbound
                .iter()
                .map(|c| format!("outbound {}", c.name()))
                .chain(s.inbound.iter().map(|c| format!("inbound {}", c.name())))
                .chain(s.rules.iter().map(|r| format!("rule {}", r.name())))
                .collect()
        };
        let now = names(&after);
        for object in names(before) {
            assert!(
                now.contains(&object),
                "{context}: configure removed {object}, which existed before it"
            );
        }
    }
}
