//! End to end over HTTP: the real device-code sign-in and the real REST client against the
//! simulated tenant served on loopback, with throttling, busy backends, dropped connections
//! and replication lag injected.

use std::sync::Arc;

use sigsync_core::auth::{
    AppOnlyTokenProvider, AuthConfig, DelegatedTokenProvider, DeviceCodeFlow, TokenProvider,
};
use sigsync_core::exchange::sim::{
    Fault, SignInOutcome, SimGroup, SimServer, SimServerOptions, SimSettings, SimTenant, SimUser,
};
use sigsync_core::exchange::{
    ExchangeClient, GroupKind, RestExchangeClient, RetryPolicy, RetryingClient,
};
use sigsync_core::model::Params;
use sigsync_core::ErrorKind;

use crate::common::*;
use crate::defs::*;

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

pub fn sign_in_config(server: &SimServer, tenant: &str) -> AuthConfig {
    AuthConfig::builder(CLIENT_ID, tenant)
        .login_url(server.login_url())
        .allow_http(true)
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

pub async fn sign_in(server: &SimServer) -> DelegatedTokenProvider {
    DeviceCodeFlow::new(sign_in_config(server, "organizations"))
        .sign_in(|_| {})
        .await
        .unwrap()
}

pub fn rest(server: &SimServer, provider: Arc<dyn TokenProvider>) -> RestExchangeClient {
    RestExchangeClient::builder(provider)
        .exchange_url(server.exchange_url())
        .graph_url(server.graph_url())
        .allow_http(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn device_code_sign_in_then_connectors_and_rule_round_trip_through_faults_and_lag() {
    let tenant = SimTenant::with_settings(SimSettings {
        replication_lag_reads: 1,
        ..Default::default()
    });
    let server = SimServer::start(
        tenant,
        SimServerOptions {
            pending_polls: 2,
            ..Default::default()
        },
    )
    .await;
    let provider = sign_in(&server).await;
    let who = provider.identity().unwrap();
    assert_eq!(who.tenant_id, server.tenant_id());
    assert_eq!(
        who.user_principal_name.as_deref(),
        Some("admin@contoso.onmicrosoft.com")
    );

    // A third of the calls throttled, some backends busy, one dropped connection.
    server
        .tenant()
        .inject(Fault::every_nth(3, ErrorKind::Throttled));
    server
        .tenant()
        .inject(Fault::every_nth(8, ErrorKind::Transient));
    server
        .tenant()
        .inject(Fault::on_cmdlet("New-InboundConnector", ErrorKind::Network).times(1));
    let clock = TestClock::new();
    let c = RetryingClient::with_clock(
        rest(&server, Arc::new(provider)),
        RetryPolicy::default(),
        clock.clone(),
    );

    let out = c.create_outbound_connector(&outbound()).await.unwrap();
    assert_eq!(out.definition, outbound());
    c.create_inbound_connector(&inbound()).await.unwrap();
    c.create_transport_rule(&rule()).await.unwrap();
    let mut change = Params::new();
    change.insert("Comment".into(), serde_json::json!("managed by sigsync"));
    c.update_outbound_connector(OUTBOUND, &change)
        .await
        .unwrap();
    c.disable_transport_rule(RULE).await.unwrap();
    c.enable_transport_rule(RULE).await.unwrap();

    let rules = c.list_transport_rules().await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].name(), RULE);
    assert_eq!(c.list_outbound_connectors().await.unwrap().len(), 1);
    // Nothing has read the inbound connector since its creation: replication lag hides it once.
    assert!(c.list_inbound_connectors().await.unwrap().is_empty());
    assert_eq!(c.list_inbound_connectors().await.unwrap().len(), 1);

    c.remove_transport_rule(RULE).await.unwrap();
    c.remove_outbound_connector(OUTBOUND).await.unwrap();
    c.remove_inbound_connector(INBOUND).await.unwrap();
    let snapshot = server.tenant().snapshot();
    assert!(
        snapshot.rules.is_empty() && snapshot.outbound.is_empty() && snapshot.inbound.is_empty()
    );

    let calls = server.tenant().calls();
    let failed = |k| calls.iter().filter(|c| c.error == Some(k)).count();
    assert!(failed(ErrorKind::Throttled) > 0, "{calls:?}");
    assert!(failed(ErrorKind::Transient) > 0, "{calls:?}");
    assert!(failed(ErrorKind::Network) > 0, "{calls:?}");
    // Throttling waited the simulator's Retry-After (1 s), read from the HTTP header.
    assert!(clock.sleeps().contains(&std::time::Duration::from_secs(1)));
}

#[tokio::test]
async fn graph_over_the_simulator_pages_groups_and_resolves_nested_membership() {
    let tenant = SimTenant::new();
    let alice = SimUser::new("alice@contoso.com", "Alice").with_property("jobTitle", "Engineer");
    let team = SimGroup::new("Team", Some("team@contoso.com"), GroupKind::Distribution)
        .with_members(["alice@contoso.com"]);
    let all = SimGroup::new("All", Some("all@contoso.com"), GroupKind::Microsoft365)
        .with_members([team.id.clone()]);
    let sec = SimGroup::new("Sec", None, GroupKind::Security);
    let mes = SimGroup::new(
        "Finance",
        Some("fin@contoso.com"),
        GroupKind::MailEnabledSecurity,
    );
    let other = SimGroup::new("Other", Some("other@contoso.com"), GroupKind::Distribution);
    for g in [&team, &all, &sec, &mes, &other] {
        tenant.add_group(g.clone());
    }
    tenant.add_user(alice.clone());
    let server = SimServer::start(
        tenant,
        SimServerOptions {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    let c = rest(&server, Arc::new(sign_in(&server).await));

    let groups = c.list_mail_enabled_groups().await.unwrap();
    let names: Vec<_> = groups.iter().map(|g| g.display_name.as_str()).collect();
    assert_eq!(names, ["Team", "All", "Finance", "Other"]);
    assert_eq!(groups[1].kind, GroupKind::Microsoft365);
    assert_eq!(groups[2].kind, GroupKind::MailEnabledSecurity);

    let user = c
        .get_user("ALICE@contoso.com", &["displayName", "jobTitle"])
        .await
        .unwrap();
    assert_eq!(user["jobTitle"], "Engineer");
    assert!(user.get("mail").is_none(), "only the selected properties");
    let member_of: Vec<_> = c
        .transitive_member_of(&alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.display_name)
        .collect();
    assert_eq!(member_of, ["Team", "All"]);
    assert!(c
        .is_member_of("alice@contoso.com", "all@contoso.com")
        .await
        .unwrap());
    assert!(!c
        .is_member_of("alice@contoso.com", &other.id)
        .await
        .unwrap());
    let err = c.get_user("nobody@contoso.com", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn app_only_credentials_for_a_tenant_need_no_second_tenant_argument() {
    let tenant = SimTenant::new();
    tenant.add_accepted_domain("contoso.com", true);
    let server = SimServer::start(
        tenant,
        SimServerOptions {
            client_secret: Some("app-secret".into()),
            ..Default::default()
        },
    )
    .await;
    let config = sign_in_config(&server, server.tenant_domain());
    let provider = AppOnlyTokenProvider::with_secret(config, "app-secret").unwrap();
    // The credentials were made for the tenant's domain: that is the tenant (the access
    // tokens the simulator issues are opaque, as Microsoft's may be).
    assert_eq!(
        provider.identity().unwrap().tenant_id,
        server.tenant_domain()
    );
    let c = RestExchangeClient::builder(Arc::new(provider.clone()))
        .exchange_url(server.exchange_url())
        .graph_url(server.graph_url())
        .allow_http(true)
        .build()
        .unwrap();
    let domains = c.list_accepted_domains().await.unwrap();
    assert_eq!(domains[0].domain_name, "contoso.com");

    let wrong = AppOnlyTokenProvider::with_secret(
        sign_in_config(&server, server.tenant_domain()),
        "not-the-secret",
    )
    .unwrap();
    let err = rest(&server, Arc::new(wrong))
        .list_accepted_domains()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_call_goes_through() {
    let server = SimServer::start(SimTenant::new(), SimServerOptions::default()).await;
    let c = rest(&server, Arc::new(sign_in(&server).await));
    c.list_transport_rules().await.unwrap();
    let refreshes = server.token_requests("refresh_token");
    server.revoke_access_tokens();
    c.list_transport_rules().await.unwrap();
    assert_eq!(server.token_requests("refresh_token"), refreshes + 1);
}

#[tokio::test]
async fn the_servers_own_builders_point_sign_in_and_client_at_it() {
    let server = SimServer::start(SimTenant::new(), SimServerOptions::default()).await;
    let config = server
        .auth_config(CLIENT_ID)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let tokens = DeviceCodeFlow::new(config).sign_in(|_| {}).await.unwrap();
    let client = server.client_builder(Arc::new(tokens)).build().unwrap();
    assert!(client.list_transport_rules().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_declined_or_expired_sign_in_is_reported_as_such() {
    for (outcome, kind) in [
        (SignInOutcome::Decline, ErrorKind::SignInDeclined),
        (SignInOutcome::Expire, ErrorKind::SignInExpired),
    ] {
        let server = SimServer::start(
            SimTenant::new(),
            SimServerOptions {
                sign_in: outcome,
                ..Default::default()
            },
        )
        .await;
        let err = DeviceCodeFlow::new(sign_in_config(&server, server.tenant_id()))
            .sign_in(|_| {})
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind);
        server.shutdown();
    }
}

#[tokio::test]
async fn simulator_errors_use_exchanges_envelope() {
    let server = SimServer::start(SimTenant::new(), SimServerOptions::default()).await;
    let c = rest(&server, Arc::new(sign_in(&server).await));
    let err = c.remove_outbound_connector("nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        err.code(),
        Some("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException")
    );
    assert!(err.to_string().contains("'nope'"), "{err}");
}

#[tokio::test]
async fn every_injected_fault_reaches_the_client_with_its_kind_status_and_code() {
    use sigsync_core::exchange::sim::injected_error;
    let server = SimServer::start(SimTenant::new(), SimServerOptions::default()).await;
    let c = rest(&server, Arc::new(sign_in(&server).await));
    for kind in [
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Rejected,
        ErrorKind::Forbidden,
        ErrorKind::Throttled,
        ErrorKind::Transient,
        ErrorKind::Exchange,
        ErrorKind::Network,
    ] {
        server.tenant().clear_faults();
        server
            .tenant()
            .inject(Fault::on_cmdlet("Get-TransportRule", kind).times(1));
        let got = c.list_transport_rules().await.unwrap_err();
        let want = injected_error(kind, "Get-TransportRule", std::time::Duration::from_secs(1));
        assert_eq!(got.kind(), kind, "{got}");
        if kind == ErrorKind::Network {
            continue;
        }
        assert_eq!(got.status(), want.status(), "{kind}");
        if kind == ErrorKind::Throttled {
            assert_eq!(got.retry_after(), Some(std::time::Duration::from_secs(1)));
        } else {
            assert_eq!(got.code(), want.code(), "{kind}");
            assert_eq!(
                got.as_api().unwrap().message,
                want.as_api().unwrap().message,
                "{kind}"
            );
        }
    }
    // An injected 401 is answered by one refresh and one replay, which goes through.
    server
        .tenant()
        .inject(Fault::on_cmdlet("Get-TransportRule", ErrorKind::Unauthorized).times(1));
    c.list_transport_rules().await.unwrap();
}

#[tokio::test]
async fn regional_redirects_are_sent_again_to_the_configured_host() {
    let server = SimServer::start(SimTenant::new(), SimServerOptions::default()).await;
    let provider = sign_in(&server).await;
    let c = rest(&server, Arc::new(provider));
    server.redirect_next(2);
    assert!(c.list_transport_rules().await.unwrap().is_empty());
    assert_eq!(server.redirects_served(), 2);
    // Persistent redirects: the error names where the service pointed.
    server.redirect_next(100);
    let err = c.list_transport_rules().await.unwrap_err();
    assert!(
        err.to_string().contains("outlook-regional.sim.invalid"),
        "{err}"
    );
}
