//! Status tells the truth: `configured` only when mail is routed through the service and can
//! come back; every other state a distinct status (`degraded`, `at_risk`, `paused`, `partial`,
//! `absent`) with the reason and a repair plan that, applied, brings `configured` back.

#[path = "common/http.rs"]
mod http_fixtures;
#[path = "setup_support/mod.rs"]
mod support;

use serde_json::json;
use sigsync_core::exchange::sim::{SimSettings, SimTenant};
use sigsync_core::exchange::ExchangeClient;
use sigsync_core::model::{Params, RuleErrorAction};
use sigsync_core::setup::*;
use sigsync_core::ErrorKind;
use support::*;

const OUT: &str = "Sigsync Outbound Connector";
const IN: &str = "Sigsync Inbound Connector";
const RULE: &str = "Sigsync Routing Rule";
const AUTO: &str = "Sigsync Auto-Reply Bypass";

fn params(v: serde_json::Value) -> Params {
    v.as_object().unwrap().clone()
}

/// What an admin (or another tool) can do to a configured tenant.
struct Tamper {
    name: &'static str,
    run: fn(&SimTenant),
    status: SetupStatus,
    reason: &'static str,
}

/// Runs a tenant call from inside a test's runtime (the simulated tenant never waits).
fn block<T>(f: impl std::future::Future<Output = sigsync_core::Result<T>>) {
    futures::executor::block_on(f).unwrap();
}

const TAMPERS: &[Tamper] = &[
    Tamper {
        name: "outbound connector disabled",
        run: |t| block(t.update_outbound_connector(OUT, &params(json!({"Enabled": false})))),
        status: SetupStatus::Degraded,
        reason: "outbound_disabled",
    },
    Tamper {
        name: "outbound connector no longer rule-scoped",
        run: |t| {
            block(t.update_outbound_connector(
                OUT,
                &params(
                    json!({"IsTransportRuleScoped": false, "RecipientDomains": ["*.contoso.com"]}),
                ),
            ))
        },
        status: SetupStatus::Degraded,
        reason: "outbound_not_rule_scoped",
    },
    Tamper {
        name: "outbound connector removed",
        run: |t| block(t.remove_outbound_connector(OUT)),
        status: SetupStatus::Degraded,
        reason: "outbound_missing",
    },
    Tamper {
        name: "outbound connector disabled under RuleErrorAction Defer",
        run: |t| {
            block(t.update_transport_rule(RULE, &params(json!({"RuleErrorAction": "Defer"}))));
            block(t.update_outbound_connector(OUT, &params(json!({"Enabled": false}))));
        },
        status: SetupStatus::AtRisk,
        reason: "outbound_disabled",
    },
    Tamper {
        name: "smart hosts changed",
        run: |t| {
            block(t.update_outbound_connector(
                OUT,
                &params(json!({"SmartHosts": ["rogue.example.net"]})),
            ))
        },
        status: SetupStatus::AtRisk,
        reason: "smart_hosts",
    },
    Tamper {
        name: "TLS domain changed",
        run: |t| {
            block(
                t.update_outbound_connector(
                    OUT,
                    &params(json!({"TlsDomain": "other.example.net"})),
                ),
            )
        },
        status: SetupStatus::AtRisk,
        reason: "tls_domain",
    },
    Tamper {
        name: "inbound connector disabled",
        run: |t| block(t.update_inbound_connector(IN, &params(json!({"Enabled": false})))),
        status: SetupStatus::AtRisk,
        reason: "inbound_disabled",
    },
    Tamper {
        name: "inbound connector removed",
        run: |t| block(t.remove_inbound_connector(IN)),
        status: SetupStatus::AtRisk,
        reason: "inbound_missing",
    },
    Tamper {
        name: "inbound certificate name changed",
        run: |t| {
            block(
                t.update_inbound_connector(
                    IN,
                    &params(json!({"TlsSenderCertificateName": CERT_B})),
                ),
            )
        },
        status: SetupStatus::AtRisk,
        reason: "certificate_name",
    },
    Tamper {
        name: "loop-header exception changed",
        run: |t| {
            block(t.update_transport_rule(
                RULE,
                &params(json!({"ExceptIfHeaderMatchesPatterns": ["^something-else$"]})),
            ))
        },
        status: SetupStatus::AtRisk,
        reason: "loop_header",
    },
    Tamper {
        name: "loop-header exception removed",
        run: |t| {
            block(t.update_transport_rule(
                RULE,
                &params(json!({"ExceptIfHeaderMatchesMessageHeader": null, "ExceptIfHeaderMatchesPatterns": []})),
            ))
        },
        status: SetupStatus::AtRisk,
        reason: "loop_header",
    },
    Tamper {
        name: "rule routes to another connector",
        run: |t| {
            let other = sigsync_core::model::OutboundConnector::builder("Gateway")
                .connector_type(sigsync_core::model::ConnectorType::OnPremises)
                .use_mx_record(false)
                .smart_hosts(["gw.example.net"])
                .is_transport_rule_scoped(true)
                .build()
                .unwrap();
            block(t.create_outbound_connector(&other));
            block(t.update_transport_rule(
                RULE,
                &params(json!({"RouteMessageOutboundConnector": "Gateway"})),
            ))
        },
        status: SetupStatus::AtRisk,
        reason: "routes_elsewhere",
    },
    Tamper {
        name: "auto-reply rule disabled",
        run: |t| block(t.disable_transport_rule(AUTO)),
        status: SetupStatus::Degraded,
        reason: "auto_reply_rule",
    },
];

#[test]
fn status_is_configured_only_when_mail_is_routed_and_can_come_back() {
    for tamper in TAMPERS {
        rt().block_on(async {
            // Permissive: an admin could get there by steps Exchange allows one at a time.
            let t = permissive();
            let e = engine(&t);
            assert!(e
                .configure(&setup(), &no_progress)
                .await
                .unwrap()
                .succeeded());
            assert_eq!(
                e.status(&setup()).await.unwrap().status,
                SetupStatus::Configured
            );
            (tamper.run)(&t);
            let status = e.status(&setup()).await.unwrap();
            assert_eq!(
                status.status, tamper.status,
                "{}: {:?}",
                tamper.name, status.reasons
            );
            assert!(
                status.reasons.iter().any(|r| r.code == tamper.reason),
                "{}: {:?}",
                tamper.name,
                status.reasons
            );
            assert!(!status.repair.is_empty(), "{}: a repair plan", tamper.name);
            // The repair plan, applied, restores mail flow (mail-safe on the way).
            t.record_history();
            let report = e.apply(&setup(), &status.repair, &no_progress).await;
            assert!(report.succeeded(), "{}: {report}", tamper.name);
            assert_eq!(
                report.status,
                Some(SetupStatus::Configured),
                "{}: {report}",
                tamper.name
            );
            for (call, snap) in t.history() {
                mail_safe(&snap, &[&profile()])
                    .unwrap_or_else(|e| panic!("{}: after {}: {e}", tamper.name, call.cmdlet));
            }
            let again = e.status(&setup()).await.unwrap();
            assert_eq!(
                again.status,
                SetupStatus::Configured,
                "{}: {:?}",
                tamper.name,
                again.reasons
            );
            assert!(again.reasons.is_empty() && again.repair.is_empty());
        });
    }
}

#[test]
fn paused_partial_and_absent_say_why() {
    rt().block_on(async {
        let t = permissive();
        let e = engine(&t);
        assert_eq!(
            e.status(&setup()).await.unwrap().status,
            SetupStatus::Absent
        );
        e.configure(&setup(), &no_progress).await.unwrap();
        e.pause(&setup(), &no_progress).await.unwrap();
        let paused = e.status(&setup()).await.unwrap();
        assert_eq!(paused.status, SetupStatus::Paused);
        assert!(paused.reasons.is_empty() && paused.repair.is_empty());
        // A paused setup whose inbound connector is gone: nothing is routed, so not at risk.
        t.remove_inbound_connector(IN).await.unwrap();
        let partial = e.status(&setup()).await.unwrap();
        assert_eq!(partial.status, SetupStatus::Partial);
        assert_eq!(partial.reasons[0].code, "inbound_missing");
        assert_eq!(partial.repair.steps[0].op, Op::Create);
    });
}

#[test]
fn status_names_match_across_display_and_json() {
    for s in SetupStatus::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.name()));
        assert_eq!(s.to_string(), s.name());
    }
    assert_eq!(SetupStatus::AtRisk.name(), "at_risk");
}

#[test]
fn status_reports_drift_and_the_repair_plan() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let e = engine(&t);
        e.configure(&setup(), &no_progress).await.unwrap();
        let change = params(json!({"Comment": "Managed by sigsync; do not edit. (touched)"}));
        t.update_outbound_connector(OUT, &change).await.unwrap();
        let status = e.status(&setup()).await.unwrap();
        // A comment does not change where mail goes.
        assert_eq!(status.status, SetupStatus::Configured);
        assert_eq!(status.drift.len(), 1);
        assert_eq!(status.drift[0].changes[0].field, "Comment");
        let report = e.apply(&setup(), &status.repair, &no_progress).await;
        assert!(report.succeeded());
        assert!(e.status(&setup()).await.unwrap().drift.is_empty());
    });
}

#[test]
fn resume_refuses_while_routed_mail_could_not_come_back() {
    type Case = (&'static str, fn(&SimTenant));
    let cases: &[Case] =
        &[
            ("outbound connector removed", |t| {
                block(t.remove_outbound_connector(OUT))
            }),
            ("inbound connector removed", |t| {
                block(t.remove_inbound_connector(IN))
            }),
            ("inbound certificate of another service", |t| {
                block(t.update_inbound_connector(
                    IN,
                    &params(json!({"TlsSenderCertificateName": CERT_B})),
                ))
            }),
            ("smart hosts of another service", |t| {
                block(t.update_outbound_connector(
                    OUT,
                    &params(json!({"SmartHosts": ["smtp.signatures.example.net"]})),
                ))
            }),
        ];
    // Nothing to resume: a conflict that says to configure.
    rt().block_on(async {
        let t = permissive();
        let err = engine(&t).resume(&setup(), &no_progress).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert!(err.to_string().contains("run configure"), "{err}");
        assert_eq!(t.write_count(), 0);
    });
    for (name, tamper) in cases {
        rt().block_on(async {
            let t = permissive();
            let e = engine(&t);
            e.configure(&setup(), &no_progress).await.unwrap();
            e.pause(&setup(), &no_progress).await.unwrap();
            tamper(&t);
            let writes = t.write_count();
            let err = e.resume(&setup(), &no_progress).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Conflict, "{name}");
            assert!(err.to_string().contains("run configure"), "{name}: {err}");
            assert_eq!(t.write_count(), writes, "{name}: nothing written");
            // Configure repairs and resumes in a mail-safe order.
            let report = e.configure(&setup(), &no_progress).await.unwrap();
            assert_eq!(
                report.status,
                Some(SetupStatus::Configured),
                "{name}: {report}"
            );
        });
    }
    // The reasons when the routing rule itself is in place but the outbound is disabled.
    rt().block_on(async {
        let t = permissive();
        let e = engine(&t);
        let s = ConnectorSetup::builder(profile())
            .rule_error_action(RuleErrorAction::Ignore)
            .build()
            .unwrap();
        e.configure(&s, &no_progress).await.unwrap();
        e.pause(&s, &no_progress).await.unwrap();
        t.update_outbound_connector(OUT, &params(json!({"Enabled": false})))
            .await
            .unwrap();
        let err = e.resume(&s, &no_progress).await.unwrap_err();
        assert!(err.to_string().contains("outbound_disabled"), "{err}");
    });
}
