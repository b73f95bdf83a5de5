//! Mail safety on the in-memory tenant: every scenario, with and without lag, with the engine
//! on the tenant directly (every fault reaches it) and over the retry layer.

use sigsync_core::exchange::sim::SimTenant;

use crate::scenarios::*;
use crate::support::*;

fn run_case(
    scenario: &Scenario,
    prepared: &SimTenant,
    fault: Option<sigsync_core::exchange::sim::Fault>,
    retry: bool,
) -> SimTenant {
    let t = SimTenant::new();
    t.restore_from(prepared);
    if let Some(f) = fault {
        t.inject(f);
    }
    t.record_history();
    let setup = (scenario.setup)();
    let engine = if retry {
        retrying_engine(t.clone())
    } else {
        engine(&t)
    };
    rt().block_on(scenario.action.run(&engine, &setup));
    t
}

#[test]
fn mail_stays_safe_whichever_single_call_fails_in_memory() {
    let mut checked = 0;
    for scenario in SCENARIOS {
        for (lag, settings) in lags() {
            let prepared = prepared(scenario, &settings);
            let before = prepared.snapshot();
            for retry in [false, true] {
                let clean = run_case(scenario, &prepared, None, retry);
                let calls = clean.calls().len() as u64;
                assert!(calls > 0, "{} made no call", scenario.name);
                for k in 1..=calls {
                    for fault in faults(k) {
                        let context = format!(
                            "{} ({lag}, {}): call {k} failing with {}{}",
                            scenario.name,
                            if retry { "retrying" } else { "no retries" },
                            fault.kind,
                            if fault.after_commit {
                                " after commit"
                            } else {
                                ""
                            }
                        );
                        let t = run_case(scenario, &prepared, Some(fault), retry);
                        check(scenario, &before, &t, &context);
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 4000, "only {checked} cases");
    eprintln!("{checked} cases in memory");
}
