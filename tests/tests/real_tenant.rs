//! Opt-in smoke test against a real Exchange Online tenant: read-only (sign-in, reads, a dry-run
//! plan). Enabled only by `SIGSYNC_REAL_TENANT` (tenant id or domain) and `SIGSYNC_CLIENT_ID`
//! (a public client app with delegated `Exchange.Manage` and Graph `Group.Read.All`), and run
//! with `cargo test -p sigsync-tests --test real_tenant -- --ignored --nocapture`; otherwise the
//! test list shows it as ignored, with the reason.

use std::sync::Arc;

use sigsync_core::auth::{AuthConfig, DeviceCodeFlow};
use sigsync_core::exchange::rest::RestExchangeClient;
use sigsync_core::exchange::{ExchangeClient, RetryPolicy, RetryingClient};
use sigsync_core::setup::{ConnectorSetup, ServiceProfile, SetupEngine};

#[test]
#[ignore = "opt-in: set SIGSYNC_REAL_TENANT and SIGSYNC_CLIENT_ID, then run with --ignored"]
fn real_tenant_smoke_test_reads_and_plans_without_writing() {
    let (Ok(tenant), Ok(client_id)) = (
        std::env::var("SIGSYNC_REAL_TENANT"),
        std::env::var("SIGSYNC_CLIENT_ID"),
    ) else {
        eprintln!(
            "SKIPPED real_tenant_smoke_test: set SIGSYNC_REAL_TENANT and SIGSYNC_CLIENT_ID to run it \
             against a real tenant (read-only)"
        );
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let auth = AuthConfig::builder(client_id, tenant.as_str())
            .build()
            .unwrap();
        let tokens = DeviceCodeFlow::new(auth)
            .sign_in(|p| eprintln!("{}", p.message.clone().unwrap_or_default()))
            .await
            .expect("sign-in");
        let client = RestExchangeClient::builder(Arc::new(tokens))
            .tenant(tenant.clone())
            .build()
            .unwrap();
        let client = Arc::new(RetryingClient::new(client, RetryPolicy::default()));
        let domains = client
            .list_accepted_domains()
            .await
            .expect("Get-AcceptedDomain");
        assert!(!domains.is_empty());
        client
            .list_transport_rules()
            .await
            .expect("Get-TransportRule");
        let profile = ServiceProfile::builder()
            .smart_hosts(["smtp.signatures.example.com"])
            .certificate_name(domains[0].domain_name.clone())
            .build()
            .unwrap();
        let setup = ConnectorSetup::builder(profile).build().unwrap();
        let (plan, findings) = SetupEngine::new(client).plan(&setup).await.expect("plan");
        eprintln!("dry-run plan against {tenant}:\n{plan}\nfindings: {findings:?}");
    });
}
