//! The setup engine: convergence, reconfiguration, pause, resume, removal, preflight, plans
//! and progress. (Mail safety under every failure: `mail_safety`; status: `setup_status`;
//! failures, undo and adoption: `setup_recovery`.)

#[path = "common/http.rs"]
mod http_fixtures;
#[path = "setup_support/mod.rs"]
mod support;

use serde_json::json;
use sigsync_core::exchange::sim::{SimSettings, SimTenant};
use sigsync_core::exchange::ExchangeClient;
use sigsync_core::model::TransportRule;
use sigsync_core::setup::*;
use sigsync_core::ErrorKind;
use support::*;

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
                Progress::Adopted(s) => format!("adopt {}", s.name),
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
