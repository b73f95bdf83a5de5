//! The setup engine: mail safety under every single failure, convergence, reconfiguration,
//! pause, resume, removal, status and drift, preflight.

use std::sync::Arc;

use serde_json::json;
use sigsync_core::exchange::sim::{Fault, SimGroup, SimSettings, SimTenant};
use sigsync_core::exchange::{ExchangeClient, GroupKind};
use sigsync_core::model::TransportRule;
use sigsync_core::setup::*;
use sigsync_core::ErrorKind;

const CERT: &str = "tenant1.smtp.signatures.example.com";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn profile() -> ServiceProfile {
    ServiceProfile::builder()
        .smart_hosts(["smtp.signatures.example.com"])
        .certificate_name(CERT)
        .build()
        .unwrap()
}

fn setup() -> ConnectorSetup {
    ConnectorSetup::builder(profile()).build().unwrap()
}

fn groups_external_setup() -> ConnectorSetup {
    ConnectorSetup::builder(profile())
        .scope(SenderScope::Groups(vec![
            "Sales".into(),
            "marketing@contoso.com".into(),
        ]))
        .include_internal(false)
        .build()
        .unwrap()
}

fn tenant(settings: SimSettings) -> SimTenant {
    let t = SimTenant::with_settings(settings);
    t.add_accepted_domain("contoso.com", true);
    t.add_accepted_domain(CERT, false);
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

fn permissive() -> SimTenant {
    tenant(SimSettings {
        permissive: true,
        ..Default::default()
    })
}

fn engine(t: &SimTenant) -> SetupEngine {
    SetupEngine::new(Arc::new(t.clone()))
}

/// DESIGN.md's mail-safety invariant, checked on what the tenant holds.
fn assert_mail_safe(t: &SimTenant, setup: &ConnectorSetup, context: &str) {
    let snap = t.snapshot();
    let inbound_ok = snap.inbound.iter().any(|c| {
        c.name()
            .eq_ignore_ascii_case(&setup.profile.names.inbound_connector)
            && c.definition.enabled()
    });
    for rule in snap.rules.iter().filter(|r| r.definition.enabled()) {
        let Some(target) = rule.definition.route_message_outbound_connector() else {
            continue;
        };
        let connector = snap
            .outbound
            .iter()
            .find(|c| c.name().eq_ignore_ascii_case(target));
        assert!(
            connector
                .is_some_and(|c| c.definition.enabled() && c.definition.is_transport_rule_scoped()),
            "{context}: enabled rule '{}' routes to a missing, disabled or unscoped connector",
            rule.name()
        );
        assert!(
            inbound_ok,
            "{context}: enabled rule '{}' routes mail that cannot come back",
            rule.name()
        );
    }
}

/// Runs one engine operation; `None` when it failed before writing.
type Operation = Box<dyn Fn(&SetupEngine, &ConnectorSetup) -> Option<Report>>;
/// Prepares a tenant and returns the setup and the operation to run on it.
type Scenario = fn(&SimTenant) -> (ConnectorSetup, Operation);

fn run_op(op: &'static str) -> Operation {
    Box::new(move |e, s| {
        rt().block_on(async {
            match op {
                "configure" => e.configure(s, &no_progress).await.ok(),
                "pause" => e.pause(s, &no_progress).await.ok(),
                "resume" => e.resume(s, &no_progress).await.ok(),
                _ => e.remove(s, &no_progress).await.ok(),
            }
        })
    })
}

fn configured(t: &SimTenant, s: &ConnectorSetup) {
    let report = rt().block_on(engine(t).configure(s, &no_progress)).unwrap();
    assert!(report.succeeded(), "{report}");
}

const SCENARIOS: &[(&str, Scenario)] = &[
    ("configure", |_| (setup(), run_op("configure"))),
    ("reconfigure", |t| {
        configured(t, &setup());
        (groups_external_setup(), run_op("configure"))
    }),
    ("pause", |t| {
        configured(t, &setup());
        (setup(), run_op("pause"))
    }),
    ("resume", |t| {
        configured(t, &setup());
        rt().block_on(engine(t).pause(&setup(), &no_progress))
            .unwrap();
        (setup(), run_op("resume"))
    }),
    ("remove", |t| {
        configured(t, &setup());
        (setup(), run_op("remove"))
    }),
];

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

#[test]
fn mail_stays_safe_whichever_single_call_fails() {
    let mut checked = 0;
    for (name, scenario) in SCENARIOS {
        // How many calls the operation makes when nothing fails.
        let t = permissive();
        let (s, op) = scenario(&t);
        t.reset_calls();
        op(&engine(&t), &s).expect("the scenario succeeds without faults");
        let calls = t.calls().len() as u64;
        assert!(calls > 0, "{name} made no call");
        for k in 1..=calls {
            for class in CLASSES {
                let t = permissive();
                let (s, op) = scenario(&t);
                t.reset_calls();
                t.inject(Fault::on_call(k, *class));
                let _ = op(&engine(&t), &s);
                assert_mail_safe(&t, &s, &format!("{name}, call {k} failing with {class}"));
                checked += 1;
            }
        }
    }
    assert!(checked >= 100, "only {checked} cases");
}

#[test]
fn rerun_after_configure_plans_nothing_and_writes_nothing() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let e = engine(&t);
        let s = setup();
        let first = e.configure(&s, &no_progress).await.unwrap();
        assert!(first.succeeded(), "{first}");
        assert_eq!(first.writes, 4, "{first}");
        let writes = t.write_count();
        let (plan, _) = e.plan(&s).await.unwrap();
        assert!(plan.is_empty(), "{plan}");
        let again = e.apply(&s, &plan, &no_progress).await;
        assert_eq!(again.writes, 0);
        let rerun = e.configure(&s, &no_progress).await.unwrap();
        assert_eq!(rerun.writes, 0);
        assert_eq!(t.write_count(), writes);
    });
}

#[test]
fn reconfiguring_scope_and_internal_updates_the_rule_in_place() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let e = engine(&t);
        e.configure(&setup(), &no_progress).await.unwrap();
        let guid = t.snapshot().rules[1].guid.clone();
        let (plan, _) = e.plan(&groups_external_setup()).await.unwrap();
        assert_eq!(plan.steps.len(), 1, "{plan}");
        let step = &plan.steps[0];
        assert_eq!(
            (step.op, step.name.as_str()),
            (Op::Update, "Sigsync Routing Rule")
        );
        let fields: Vec<&str> = step.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["FromMemberOf", "SentToScope"]);
        // Group names are resolved to the groups' addresses.
        assert_eq!(
            step.changes[0].to,
            json!(["sales@contoso.com", "marketing@contoso.com"])
        );
        let report = e.apply(&groups_external_setup(), &plan, &no_progress).await;
        assert!(report.succeeded(), "{report}");
        let rule = &t.snapshot().rules[1];
        assert_eq!(rule.guid, guid, "updated in place, not recreated");
        assert!(e.plan(&groups_external_setup()).await.unwrap().0.is_empty());
    });
}

#[test]
fn fresh_configure_creates_connectors_before_the_rule() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        engine(&t).configure(&setup(), &no_progress).await.unwrap();
        let writes: Vec<String> = t
            .calls()
            .into_iter()
            .filter(|c| c.is_write())
            .map(|c| c.cmdlet)
            .collect();
        let rule_at = writes
            .iter()
            .position(|c| c == "New-TransportRule")
            .unwrap();
        let last_rule = writes
            .iter()
            .rposition(|c| c == "New-TransportRule")
            .unwrap();
        let connectors: Vec<usize> = writes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ends_with("Connector"))
            .map(|(i, _)| i)
            .collect();
        assert!(connectors.iter().all(|i| *i < last_rule), "{writes:?}");
        assert!(
            rule_at < last_rule,
            "the auto-reply rule goes in with the connectors: {writes:?}"
        );
        let snap = t.snapshot();
        assert_eq!(snap.rules[0].name(), "Sigsync Auto-Reply Bypass");
        assert_eq!(snap.rules[1].name(), "Sigsync Routing Rule");
        let rule = &snap.rules[1].definition;
        assert!(rule.enabled());
        assert_eq!(
            rule.rule_error_action(),
            sigsync_core::model::RuleErrorAction::Ignore
        );
        assert_eq!(
            rule.except_if_header_matches_message_header(),
            Some("X-Sigsync-Processed")
        );
        assert_eq!(rule.except_if_from_address_matches_patterns(), ["<>"]);
        assert_eq!(rule.except_if_message_size_over(), Some(23_592_960));
        let auto = &snap.rules[0].definition;
        assert_eq!(auto.set_header_name(), Some("X-Sigsync-Processed"));
        assert_eq!(
            auto.message_type_matches(),
            Some(sigsync_core::model::MessageType::Oof)
        );
    });
}

#[test]
fn failed_rule_creation_undoes_the_new_connectors() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        t.inject(Fault::on_cmdlet("New-TransportRule", ErrorKind::Rejected).times(2));
        let report = engine(&t).configure(&setup(), &no_progress).await.unwrap();
        assert!(!report.succeeded());
        assert_eq!(report.status, Some(SetupStatus::Absent), "{report}");
        let snap = t.snapshot();
        assert!(snap.outbound.is_empty() && snap.inbound.is_empty() && snap.rules.is_empty());
        assert!(report
            .steps
            .iter()
            .any(|s| s.outcome == StepOutcome::Undone));
    });
}

#[test]
fn staged_setup_creates_the_rule_disabled_and_configure_enables_it() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let e = engine(&t);
        let staged = ConnectorSetup::builder(profile())
            .staged(true)
            .build()
            .unwrap();
        let report = e.configure(&staged, &no_progress).await.unwrap();
        assert_eq!(report.status, Some(SetupStatus::Paused));
        assert_eq!(e.status(&staged).await.unwrap().status, SetupStatus::Paused);
        assert!(e.plan(&staged).await.unwrap().0.is_empty());
        let (plan, _) = e.plan(&setup()).await.unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].op, Op::Enable);
        e.apply(&setup(), &plan, &no_progress).await;
        assert_eq!(
            e.status(&setup()).await.unwrap().status,
            SetupStatus::Configured
        );
    });
}

#[test]
fn pause_resume_and_remove() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let e = engine(&t);
        let s = setup();
        // A rule of the tenant's own that sigsync must leave alone.
        t.create_transport_rule(
            &TransportRule::builder("Tenant rule")
                .set_header("X-Own", "1")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(e.status(&s).await.unwrap().status, SetupStatus::Absent);
        e.configure(&s, &no_progress).await.unwrap();
        let paused = e.pause(&s, &no_progress).await.unwrap();
        assert_eq!(paused.status, Some(SetupStatus::Paused));
        assert_eq!(paused.writes, 2);
        assert_eq!(e.status(&s).await.unwrap().status, SetupStatus::Paused);
        assert_eq!(e.pause(&s, &no_progress).await.unwrap().writes, 0);
        let resumed = e.resume(&s, &no_progress).await.unwrap();
        assert_eq!(resumed.status, Some(SetupStatus::Configured));
        assert_eq!(e.status(&s).await.unwrap().status, SetupStatus::Configured);
        let removed = e.remove(&s, &no_progress).await.unwrap();
        assert!(removed.succeeded(), "{removed}");
        let order: Vec<_> = removed.steps.iter().map(|r| r.step.kind).collect();
        use sigsync_core::model::ObjectKind as K;
        assert_eq!(
            order,
            [
                K::TransportRule,
                K::TransportRule,
                K::OutboundConnector,
                K::InboundConnector
            ]
        );
        assert_eq!(e.status(&s).await.unwrap().status, SetupStatus::Absent);
        let snap = t.snapshot();
        assert_eq!(snap.rules.len(), 1);
        assert_eq!(snap.rules[0].name(), "Tenant rule");
        assert_eq!(e.remove(&s, &no_progress).await.unwrap().writes, 0);
    });
}

#[test]
fn resume_refuses_without_connectors() {
    rt().block_on(async {
        let t = permissive();
        let e = engine(&t);
        e.configure(&setup(), &no_progress).await.unwrap();
        e.pause(&setup(), &no_progress).await.unwrap();
        t.remove_outbound_connector("Sigsync Outbound Connector")
            .await
            .unwrap();
        let err = e.resume(&setup(), &no_progress).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(
            e.status(&setup()).await.unwrap().status,
            SetupStatus::Partial
        );
    });
}

#[test]
fn status_reports_drift_and_the_repair_plan() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let e = engine(&t);
        e.configure(&setup(), &no_progress).await.unwrap();
        let mut change = sigsync_core::model::Params::new();
        change.insert("SmartHosts".into(), json!(["rogue.example.net"]));
        t.update_outbound_connector("Sigsync Outbound Connector", &change)
            .await
            .unwrap();
        let status = e.status(&setup()).await.unwrap();
        assert_eq!(status.status, SetupStatus::Configured);
        assert_eq!(status.drift.len(), 1);
        assert_eq!(status.drift[0].changes[0].field, "SmartHosts");
        assert_eq!(
            status.drift[0].changes[0].from,
            json!(["rogue.example.net"])
        );
        let report = e.apply(&setup(), &status.repair, &no_progress).await;
        assert!(report.succeeded());
        assert!(e.status(&setup()).await.unwrap().drift.is_empty());
    });
}

#[test]
fn foreign_object_with_our_name_is_a_conflict_not_a_takeover() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let foreign = setup()
            .desired()
            .inbound
            .to_builder()
            .comment("someone else's")
            .build()
            .unwrap();
        t.create_inbound_connector(&foreign).await.unwrap();
        let writes = t.write_count();
        let err = engine(&t)
            .configure(&setup(), &no_progress)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert!(err.to_string().contains("Sigsync Inbound Connector"));
        assert_eq!(t.write_count(), writes);
        assert_eq!(
            engine(&t)
                .remove(&setup(), &no_progress)
                .await
                .unwrap()
                .writes,
            0
        );
        assert_eq!(t.snapshot().inbound.len(), 1);
    });
}

#[test]
fn preflight_errors_stop_configure_before_any_write() {
    rt().block_on(async {
        let t = SimTenant::new();
        t.add_accepted_domain("contoso.com", true);
        let err = engine(&t)
            .configure(&setup(), &no_progress)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("certificate_not_accepted_domain"),
            "{err}"
        );
        assert_eq!(t.write_count(), 0);

        let t = tenant(SimSettings::default());
        let s = ConnectorSetup::builder(profile())
            .scope(SenderScope::Groups(vec![
                "Admins".into(),
                "nobody@contoso.com".into(),
            ]))
            .build()
            .unwrap();
        let findings = engine(&t).preflight(&s).await.unwrap();
        let unknown: Vec<_> = findings
            .iter()
            .filter(|f| f.code == "unknown_group")
            .collect();
        assert_eq!(unknown.len(), 2, "{findings:?}");
        assert!(engine(&t).configure(&s, &no_progress).await.is_err());
        assert_eq!(t.write_count(), 0);
    });
}

#[test]
fn preflight_warns_about_gateways_and_stopping_rules_and_counts_rules() {
    rt().block_on(async {
        let t = tenant(SimSettings {
            max_rules: 400,
            ..Default::default()
        });
        let gateway = sigsync_core::model::OutboundConnector::builder("Gateway")
            .connector_type(sigsync_core::model::ConnectorType::OnPremises)
            .use_mx_record(false)
            .smart_hosts(["gw.example.net"])
            .is_transport_rule_scoped(true)
            .build()
            .unwrap();
        t.create_outbound_connector(&gateway).await.unwrap();
        t.create_transport_rule(
            &TransportRule::builder("To gateway")
                .route_message_outbound_connector("Gateway")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
        t.create_transport_rule(
            &TransportRule::builder("Stopper")
                .set_header("X-A", "b")
                .stop_rule_processing(true)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
        let s = ConnectorSetup::builder(profile())
            .priority(2)
            .build()
            .unwrap();
        let codes: Vec<&str> = engine(&t)
            .preflight(&s)
            .await
            .unwrap()
            .iter()
            .map(|f| f.code)
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        assert!(codes.contains(&"gateway_first"), "{codes:?}");
        assert!(codes.contains(&"stop_processing_above"), "{codes:?}");
        for i in 0..297 {
            t.create_transport_rule(
                &TransportRule::builder(format!("R{i}"))
                    .set_header("X-A", "b")
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        }
        let findings = engine(&t).preflight(&s).await.unwrap();
        assert!(
            findings
                .iter()
                .any(|f| f.code == "rule_limit" && f.severity == Severity::Error),
            "{findings:?}"
        );
    });
}

#[test]
fn plan_renders_as_text_and_json() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let (plan, _) = engine(&t).plan(&setup()).await.unwrap();
        let text = plan.to_string();
        assert!(
            text.starts_with("1. create inbound connector 'Sigsync Inbound Connector'"),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&plan.to_json()).unwrap();
        assert_eq!(v["steps"].as_array().unwrap().len(), 4);
        assert_eq!(v["steps"][3]["kind"], "transport_rule");
        assert_eq!(v["steps"][3]["op"], "create");
    });
}

#[test]
fn progress_reports_each_step() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let events = std::sync::Mutex::new(Vec::new());
        let progress = |p: Progress<'_>| {
            let line = match p {
                Progress::Started(s) => format!("start {}", s.name),
                Progress::Finished(s) => format!("done {}", s.name),
                Progress::Failed(s, _) => format!("fail {}", s.name),
                Progress::Undoing(s) => format!("undo {}", s.name),
            };
            events.lock().unwrap().push(line);
        };
        engine(&t).configure(&setup(), &progress).await.unwrap();
        let events = events.into_inner().unwrap();
        assert_eq!(events.len(), 8, "{events:?}");
        assert_eq!(events.last().unwrap(), "done Sigsync Routing Rule");
    });
}

#[test]
fn rerun_under_replication_lag_adopts_its_own_objects() {
    rt().block_on(async {
        let t = tenant(SimSettings {
            replication_lag_reads: 1,
            ..Default::default()
        });
        let client = sigsync_core::exchange::RetryingClient::with_clock(
            t.clone(),
            sigsync_core::exchange::RetryPolicy {
                base_delay: std::time::Duration::from_millis(1),
                ..Default::default()
            },
            Arc::new(sigsync_core::exchange::TokioClock),
        );
        let e = SetupEngine::new(Arc::new(client));
        assert!(e
            .configure(&setup(), &no_progress)
            .await
            .unwrap()
            .succeeded());
        // The next read does not see the new objects yet, so the plan creates them again:
        // each create meets AlreadyExists and adopts the object instead.
        let again = e.configure(&setup(), &no_progress).await.unwrap();
        assert!(again.succeeded(), "{again}");
        let snap = t.snapshot();
        assert_eq!(
            (snap.outbound.len(), snap.inbound.len(), snap.rules.len()),
            (1, 1, 2)
        );
        assert_eq!(
            e.status(&setup()).await.unwrap().status,
            SetupStatus::Configured
        );
        assert!(e.plan(&setup()).await.unwrap().0.is_empty());
    });
}
