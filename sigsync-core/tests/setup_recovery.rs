//! Failures and their aftermath: undo removes only what this run created and nothing can
//! route through; adopted objects and writes of unknown outcome stay; a reconfigure that moves
//! mail turns the routing rule off first; the loop header changes only in two phases. (The
//! whole class, every call failing every way: `mail_safety`.)

#[path = "common/http.rs"]
mod http_fixtures;
#[path = "setup_support/mod.rs"]
mod support;

use std::sync::Mutex;

use sigsync_core::exchange::sim::{Fault, SimSettings, SimTenant};
use sigsync_core::setup::*;
use sigsync_core::{ErrorKind, LoopHeader};
use support::*;

/// A tenant whose reads lag one read behind, configured through the retry layer (which lag
/// needs), and that engine.
fn configured_under_lag() -> (SimTenant, SetupEngine) {
    let t = tenant(SimSettings {
        replication_lag_reads: 1,
        ..Default::default()
    });
    let e = retrying_engine(t.clone());
    let first = rt().block_on(e.configure(&setup(), &no_progress)).unwrap();
    assert!(first.succeeded(), "{first}");
    (t, e)
}

fn outcomes(report: &Report) -> Vec<String> {
    report
        .steps
        .iter()
        .map(|s| {
            let outcome = serde_json::to_value(&s.outcome).unwrap();
            format!(
                "{} {} {}",
                s.step.op,
                s.step.name,
                outcome["outcome"].as_str().unwrap()
            )
        })
        .collect()
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

/// The defect as reported: a re-run whose reads miss the objects made a moment ago adopts
/// them, the rule write keeps failing, and undo must not remove what existed before.
#[test]
fn rerun_under_lag_with_a_failing_rule_write_leaves_the_adopted_connectors() {
    let (t, e) = configured_under_lag();
    rt().block_on(async {
        t.inject(Fault::on_cmdlet("New-TransportRule", ErrorKind::Transient));
        let events = Mutex::new(Vec::new());
        let progress = |p: Progress<'_>| {
            if let Progress::Adopted(s) = p {
                events.lock().unwrap().push(s.name.clone());
            }
        };
        let again = e.configure(&setup(), &progress).await.unwrap();
        assert!(!again.succeeded());
        // (The first run's own lookups let the outbound connector and the auto-reply rule
        // replicate; the inbound connector and the routing rule are still unseen.)
        let seen = outcomes(&again);
        assert_eq!(
            seen,
            [
                "create Sigsync Inbound Connector adopted",
                "create Sigsync Routing Rule unknown"
            ],
        );
        assert_eq!(events.into_inner().unwrap(), ["Sigsync Inbound Connector"]);
        let snap = t.snapshot();
        assert_eq!(
            (snap.outbound.len(), snap.inbound.len(), snap.rules.len()),
            (1, 1, 2)
        );
        mail_safe(&snap, &[&profile()]).unwrap();
        // Honest: the failed run left a working setup, and the report says so.
        assert_eq!(again.status, Some(SetupStatus::Configured), "{again}");
    });
}

#[test]
fn rerun_under_replication_lag_adopts_its_own_objects() {
    let (t, e) = configured_under_lag();
    rt().block_on(async {
        // The next read does not see the new objects yet, so the plan creates them again:
        // each create meets "already exists" and adopts the object instead.
        let again = e.configure(&setup(), &no_progress).await.unwrap();
        assert!(again.succeeded(), "{again}");
        assert!(
            again
                .steps
                .iter()
                .all(|s| s.outcome == StepOutcome::Adopted),
            "{again}"
        );
        assert!(again.to_string().contains("adopted"), "{again}");
        let snap = t.snapshot();
        assert_eq!(
            (snap.outbound.len(), snap.inbound.len(), snap.rules.len()),
            (1, 1, 2)
        );
        assert_eq!(again.status, Some(SetupStatus::Configured));
        assert!(e.plan(&setup()).await.unwrap().0.is_empty());
    });
}

#[test]
fn adoption_that_would_move_mail_stops_instead() {
    let (t, e) = configured_under_lag();
    rt().block_on(async {
        // The read misses what was just made; the new profile moves mail elsewhere.
        let report = e
            .configure(&setup_for(moved(Move::All)), &no_progress)
            .await
            .unwrap();
        assert!(!report.succeeded());
        let error = report.error.as_ref().unwrap();
        assert_eq!(error.kind(), ErrorKind::Conflict, "{report}");
        assert!(error.to_string().contains("differs in"), "{error}");
        mail_safe(&t.snapshot(), &[&profile()]).unwrap();
        // Run again with a fresh read: converges safely.
        let again = e
            .configure(&setup_for(moved(Move::All)), &no_progress)
            .await
            .unwrap();
        assert!(again.succeeded(), "{again}");
        assert_eq!(again.status, Some(SetupStatus::Configured));
    });
}

#[test]
fn write_of_unknown_outcome_counts_as_applied() {
    // Which call creates the routing rule (the second New-TransportRule of a configure).
    let clean = tenant(SimSettings::default());
    rt().block_on(engine(&clean).configure(&setup(), &no_progress))
        .unwrap();
    let index = clean
        .calls()
        .iter()
        .filter(|c| c.cmdlet == "New-TransportRule")
        .nth(1)
        .unwrap()
        .index;
    for after_commit in [false, true] {
        rt().block_on(async {
            let t = tenant(SimSettings::default());
            let mut fault = Fault::on_call(index, ErrorKind::Transient);
            if after_commit {
                fault = fault.after_commit();
            }
            t.inject(fault);
            let report = engine(&t).configure(&setup(), &no_progress).await.unwrap();
            assert!(!report.succeeded());
            let unknown = report
                .steps
                .iter()
                .any(|s| matches!(s.outcome, StepOutcome::Unknown(_)));
            assert!(unknown, "{report}");
            // The rule may exist: nothing it could route through is removed.
            let snap = t.snapshot();
            assert_eq!(
                (snap.outbound.len(), snap.inbound.len()),
                (1, 1),
                "{report}"
            );
            mail_safe(&snap, &[&profile()]).unwrap();
            assert!(!report
                .steps
                .iter()
                .any(|s| s.outcome == StepOutcome::Undone));
            if after_commit {
                // It landed: the fresh read shows a working setup.
                assert_eq!(report.status, Some(SetupStatus::Configured), "{report}");
            } else {
                // It did not: partial, with the repair that finishes the job.
                assert_eq!(report.status, Some(SetupStatus::Partial), "{report}");
                assert_eq!(report.repair.steps.len(), 1, "{report}");
            }
        });
    }
}

#[test]
fn reconfigure_that_moves_mail_turns_the_rule_off_first_and_on_last() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let e = engine(&t);
        e.configure(&setup(), &no_progress).await.unwrap();
        t.reset_calls();
        let report = e
            .configure(&setup_for(moved(Move::All)), &no_progress)
            .await
            .unwrap();
        assert!(report.succeeded(), "{report}");
        assert_eq!(report.status, Some(SetupStatus::Configured));
        let writes: Vec<String> = t
            .calls()
            .into_iter()
            .filter(|c| c.is_write())
            .map(|c| c.cmdlet)
            .collect();
        assert_eq!(
            writes.first().map(String::as_str),
            Some("Disable-TransportRule")
        );
        assert_eq!(
            writes.last().map(String::as_str),
            Some("Enable-TransportRule")
        );
        assert_eq!(writes.len(), 4, "{writes:?}");

        // One connector only (the certificate name): no need to stop routing.
        let cert_only = moved(Move::CertificateName);
        e.configure(&setup(), &no_progress).await.unwrap();
        t.reset_calls();
        let one = e
            .configure(&setup_for(cert_only), &no_progress)
            .await
            .unwrap();
        assert!(one.succeeded(), "{one}");
        assert_eq!(t.write_count(), 1);

        // The second connector update fails: the rule stays off, mail flows unsigned, and
        // the report says so with the repair plan.
        e.configure(&setup(), &no_progress).await.unwrap();
        t.reset_calls();
        t.inject(Fault::on_cmdlet("Set-InboundConnector", ErrorKind::Rejected).times(1));
        let failed = e
            .configure(&setup_for(moved(Move::All)), &no_progress)
            .await
            .unwrap();
        assert!(!failed.succeeded());
        assert_eq!(failed.status, Some(SetupStatus::Paused), "{failed}");
        let repair: Vec<String> = failed.repair.steps.iter().map(|s| s.to_string()).collect();
        assert!(
            repair
                .iter()
                .any(|s| s.starts_with("update inbound connector"))
                && repair
                    .iter()
                    .any(|s| s.starts_with("enable transport rule")),
            "{repair:?}"
        );
        mail_safe(&t.snapshot(), &[&profile(), &moved(Move::All)]).unwrap();
        let repaired = e
            .configure(&setup_for(moved(Move::All)), &no_progress)
            .await
            .unwrap();
        assert_eq!(repaired.status, Some(SetupStatus::Configured), "{repaired}");
    });
}

#[test]
fn loop_header_value_changes_only_in_two_phases_while_mail_is_routed() {
    rt().block_on(async {
        let t = tenant(SimSettings::default());
        let e = engine(&t);
        e.configure(&setup(), &no_progress).await.unwrap();
        // In one step: refused before any write, naming the way to do it.
        let mut jumped = profile();
        jumped.loop_header = LoopHeader::generate();
        let writes = t.write_count();
        let err = e
            .configure(&setup_for(jumped), &no_progress)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("loop_header_change"), "{err}");
        assert!(
            err.to_string().contains("extra_loop_header_values"),
            "{err}"
        );
        assert_eq!(t.write_count(), writes);
        // In two phases, each configure accepted.
        let mut p = profile();
        let new = p.begin_loop_header_rotation();
        let r1 = e
            .configure(&setup_for(p.clone()), &no_progress)
            .await
            .unwrap();
        assert!(r1.succeeded(), "{r1}");
        p.switch_loop_header(&new).unwrap();
        let r2 = e
            .configure(&setup_for(p.clone()), &no_progress)
            .await
            .unwrap();
        assert!(r2.succeeded(), "{r2}");
        p.finish_loop_header_rotation();
        let r3 = e
            .configure(&setup_for(p.clone()), &no_progress)
            .await
            .unwrap();
        assert!(r3.succeeded(), "{r3}");
        assert_eq!(r3.status, Some(SetupStatus::Configured));
        mail_safe(&t.snapshot(), &[&p]).unwrap();
    });
}
