//! Mail safety over HTTP: the same scenarios and faults through the real stack (app-only
//! sign-in, the REST client, the retry layer on an injected clock that never sleeps) against
//! the simulated tenant served on loopback. One server per scenario; each case restores the
//! prepared tenant behind it.

use std::sync::Arc;
use std::time::Instant;

use sigsync_core::auth::{AppOnlyTokenProvider, AuthConfig};
use sigsync_core::exchange::sim::{SimServer, SimServerOptions, SimTenant};
use sigsync_core::http::HttpConfig;
use sigsync_core::setup::SetupEngine;

use crate::scenarios::*;
use crate::support::*;

/// Signs in once per server; each case gets its own engine (a fresh retry layer) over the
/// same connection pool and tokens.
struct Http {
    provider: Arc<AppOnlyTokenProvider>,
    pool: reqwest::Client,
}

impl Http {
    fn new(server: &SimServer) -> Self {
        let config =
            AuthConfig::builder("00000000-0000-0000-0000-0000000000a1", server.tenant_id())
                .login_url(server.login_url())
                .allow_http(true)
                .build()
                .unwrap();
        Http {
            provider: Arc::new(AppOnlyTokenProvider::with_secret(config, "app-secret").unwrap()),
            pool: HttpConfig::new().allow_http(true).build_client().unwrap(),
        }
    }

    fn engine(&self, server: &SimServer) -> SetupEngine {
        let client = server
            .client_builder(self.provider.clone())
            .http_client(self.pool.clone())
            .build()
            .unwrap();
        retrying_engine(client)
    }
}

#[test]
fn mail_stays_safe_whichever_single_call_fails_over_http() {
    let started = Instant::now();
    // Prepared on the tenant directly, before the HTTP runtime starts.
    let prepared_tenants: Vec<Vec<SimTenant>> = SCENARIOS
        .iter()
        .map(|s| {
            lags()
                .iter()
                .map(|(_, settings)| prepared(s, settings))
                .collect()
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let checked = runtime.block_on(all_cases(&prepared_tenants));
    assert!(checked >= 1000, "only {checked} cases");
    eprintln!(
        "{checked} cases over HTTP in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn all_cases(prepared_tenants: &[Vec<SimTenant>]) -> usize {
    let mut checked = 0;
    for (scenario, prepared_for_lags) in SCENARIOS.iter().zip(prepared_tenants) {
        let server =
            SimServer::start(tenant(Default::default()), SimServerOptions::default()).await;
        let http = Http::new(&server);
        let served = server.tenant();
        for ((lag, _), prepared) in lags().into_iter().zip(prepared_for_lags) {
            let before = prepared.snapshot();
            let setup = (scenario.setup)();
            served.restore_from(prepared);
            scenario.action.run(&http.engine(&server), &setup).await;
            let calls = served.calls().len() as u64;
            assert!(calls > 0, "{} made no call", scenario.name);
            for k in 1..=calls {
                for fault in faults(k) {
                    let context = format!(
                        "{} over HTTP ({lag}): call {k} failing with {}{}",
                        scenario.name,
                        fault.kind,
                        if fault.after_commit {
                            " after commit"
                        } else {
                            ""
                        }
                    );
                    served.restore_from(prepared);
                    served.inject(fault);
                    served.record_history();
                    scenario.action.run(&http.engine(&server), &setup).await;
                    check(scenario, &before, served, &context);
                    checked += 1;
                }
            }
        }
    }
    checked
}
