//! Tokens for two resources from one sign-in, through the refresh token.

use std::sync::Arc;
use std::time::Duration;

use sigsync_core::auth::{
    AuthConfig, DelegatedTokenProvider, DeviceCodeFlow, MemoryTokenCache, Resource, TokenCache,
    TokenProvider,
};
use sigsync_core::ErrorKind;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::common::*;

const TENANT: &str = TENANT_ID;
const REFRESH_GRANT: &str = "refresh_token";

/// Signs in with the device code; the Exchange token lasts an hour, the refresh token is
/// `refresh-1`.
async fn signed_in(
    server: &MockServer,
    clock: Arc<ManualClock>,
    cache: Option<Arc<dyn TokenCache>>,
) -> DelegatedTokenProvider {
    let _guard = Mock::given(method("POST"))
        .and(path(device_path(TENANT)))
        .respond_with(device_code_response(900, 5))
        .mount_as_scoped(server)
        .await;
    let _poll = token_request(TENANT, DEVICE_GRANT)
        .respond_with(token_response("exo-access-1", Some("refresh-1"), 3600))
        .mount_as_scoped(server)
        .await;
    let mut flow = DeviceCodeFlow::new(config(server, TENANT, clock));
    if let Some(cache) = cache {
        flow = flow.token_cache(cache);
    }
    flow.start().await.unwrap().wait().await.unwrap()
}

async fn refreshes(server: &MockServer) -> Vec<wiremock::Request> {
    requests(server, &token_path(TENANT), REFRESH_GRANT).await
}

#[tokio::test]
async fn second_resource_comes_from_the_same_refresh_token() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let provider = signed_in(&server, clock.clone(), None).await;
    token_request(TENANT, REFRESH_GRANT)
        .and(form_param("refresh_token", "refresh-1"))
        .respond_with(token_response("graph-access-1", Some("refresh-2"), 3600))
        .expect(1)
        .mount(&server)
        .await;

    let graph = provider.token(Resource::Graph).await.unwrap();
    assert_eq!(graph.secret.expose(), "graph-access-1");
    // Cached from now on, and the Exchange token is untouched.
    assert_eq!(
        token_text(&provider, Resource::Graph).await,
        "graph-access-1"
    );
    assert_eq!(
        token_text(&provider, Resource::Exchange).await,
        "exo-access-1"
    );

    let sent = form(&refreshes(&server).await[0]);
    assert_eq!(sent["client_id"], CLIENT_ID);
    let scopes: Vec<&str> = sent["scope"].split(' ').collect();
    assert_eq!(
        scopes[0], GRAPH_SCOPE,
        "one resource per token: Graph's scope first"
    );
    assert!(scopes.contains(&"offline_access"));
    assert!(!sent["scope"].contains("outlook.office365.com"));
}

#[tokio::test]
async fn token_is_refreshed_shortly_before_expiry_with_the_rotated_refresh_token() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let provider = signed_in(&server, clock.clone(), None).await;
    token_request(TENANT, REFRESH_GRANT)
        .respond_with(sequence([
            token_response("exo-access-2", Some("refresh-2"), 3600),
            token_response("exo-access-3", Some("refresh-3"), 3600),
        ]))
        .mount(&server)
        .await;

    // Well within its life: served from the cache.
    clock.advance(Duration::from_secs(3000));
    assert_eq!(
        token_text(&provider, Resource::Exchange).await,
        "exo-access-1"
    );
    assert!(refreshes(&server).await.is_empty());

    // Within the 5-minute margin before expiry: refreshed before it runs out.
    clock.advance(Duration::from_secs(301));
    assert_eq!(
        token_text(&provider, Resource::Exchange).await,
        "exo-access-2"
    );
    clock.advance(Duration::from_secs(3400));
    assert_eq!(
        token_text(&provider, Resource::Exchange).await,
        "exo-access-3"
    );

    let sent: Vec<String> = refreshes(&server)
        .await
        .iter()
        .map(|r| form(r)["refresh_token"].clone())
        .collect();
    assert_eq!(
        sent,
        ["refresh-1", "refresh-2"],
        "the newest refresh token replaces the old"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let server = MockServer::start().await;
    let provider = signed_in(&server, ManualClock::new(), None).await;
    token_request(TENANT, REFRESH_GRANT)
        .respond_with(
            token_response("graph-access-1", Some("refresh-2"), 3600)
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;

    let calls = (0..16).map(|_| {
        let provider = provider.clone();
        tokio::spawn(async move { provider.token(Resource::Graph).await })
    });
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap().unwrap().secret.expose(), "graph-access-1");
    }
    assert_eq!(refreshes(&server).await.len(), 1);
}

#[tokio::test]
async fn invalid_grant_is_a_typed_sign_in_required_error() {
    let server = MockServer::start().await;
    let provider = signed_in(&server, ManualClock::new(), None).await;
    token_request(TENANT, REFRESH_GRANT)
        .respond_with(oauth_error(
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity.",
        ))
        .expect(2)
        .mount(&server)
        .await;

    let err = provider.token(Resource::Graph).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SignInRequired);
    let sigsync_core::Error::Auth(auth) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(auth.code.as_deref(), Some("invalid_grant"));
    assert_eq!(auth.aadsts, Some(700082));
    assert!(auth.description.contains("expired due to inactivity"));
    // Nothing was cached for Graph: the next call asks again and fails the same way.
    let again = provider.token(Resource::Graph).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::SignInRequired);
    // The Exchange token of the sign-in is still served until it expires.
    assert_eq!(
        token_text(&provider, Resource::Exchange).await,
        "exo-access-1"
    );
}

#[tokio::test]
async fn token_cache_keeps_the_latest_refresh_token_and_restores_a_provider() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let cache = Arc::new(MemoryTokenCache::new());
    let provider = signed_in(&server, clock.clone(), Some(cache.clone())).await;
    let stored = cache.get().unwrap();
    assert_eq!(stored.refresh_token.expose(), "refresh-1");
    assert_eq!(stored.identity.unwrap().tenant_id, TENANT_ID);

    token_request(TENANT, REFRESH_GRANT)
        .and(form_param("refresh_token", "refresh-1"))
        .respond_with(token_response("graph-access-1", Some("refresh-2"), 3600))
        .mount(&server)
        .await;
    token_request(TENANT, REFRESH_GRANT)
        .and(form_param("refresh_token", "refresh-2"))
        .respond_with(token_response("exo-access-9", Some("refresh-3"), 3600))
        .mount(&server)
        .await;
    provider.token(Resource::Graph).await.unwrap();
    assert_eq!(cache.get().unwrap().refresh_token.expose(), "refresh-2");

    // A later run restores the sign-in from the cache.
    let config = config(&server, TENANT, clock);
    let restored = DelegatedTokenProvider::from_cache(config.clone(), cache.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        restored.identity().unwrap().user_principal_name.as_deref(),
        Some(UPN)
    );
    let token = restored.token(Resource::Exchange).await.unwrap();
    assert_eq!(token.secret.expose(), "exo-access-9");
    assert_eq!(cache.get().unwrap().refresh_token.expose(), "refresh-3");

    let empty: Arc<dyn TokenCache> = Arc::new(MemoryTokenCache::new());
    assert!(DelegatedTokenProvider::from_cache(config, empty)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn provider_from_a_refresh_token_reads_identity_from_the_id_token() {
    let server = MockServer::start().await;
    token_request(TENANT, REFRESH_GRANT)
        .and(form_param("refresh_token", "kept-refresh-token"))
        .respond_with(token_response("exo-access-1", Some("refresh-2"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    let provider = DelegatedTokenProvider::from_refresh_token(
        config(&server, TENANT, ManualClock::new()),
        "kept-refresh-token",
    );
    assert!(provider.identity().is_none());
    provider.token(Resource::Exchange).await.unwrap();
    let identity = provider.identity().unwrap();
    assert_eq!(identity.tenant_id, TENANT_ID);
    assert_eq!(identity.user_principal_name.as_deref(), Some(UPN));
}

#[tokio::test]
async fn invalidate_makes_the_next_call_fetch_a_new_token() {
    let server = MockServer::start().await;
    let provider = signed_in(&server, ManualClock::new(), None).await;
    token_request(TENANT, REFRESH_GRANT)
        .respond_with(token_response("exo-access-2", Some("refresh-2"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    provider.invalidate(Resource::Exchange).await;
    assert_eq!(
        token_text(&provider, Resource::Exchange).await,
        "exo-access-2"
    );
    assert_eq!(
        token_text(&provider, Resource::Exchange).await,
        "exo-access-2"
    );
}

#[tokio::test]
async fn undecodable_token_answer_is_a_network_error_without_the_body() {
    let server = MockServer::start().await;
    token_request(TENANT, REFRESH_GRANT)
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "leaked-access-token"})),
        )
        .mount(&server)
        .await;
    let provider = DelegatedTokenProvider::from_refresh_token(
        config(&server, TENANT, ManualClock::new()),
        "kept-refresh-token",
    );
    let err = provider.token(Resource::Exchange).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(
        !format!("{err} {err:?}").contains("leaked-access-token"),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_login_url_is_refused_unless_explicitly_allowed() {
    let server = MockServer::start().await;
    let err = AuthConfig::builder(CLIENT_ID, TENANT)
        .login_url(server.uri())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(err.to_string().contains("login_url"), "{err}");
    let err = AuthConfig::builder(CLIENT_ID, TENANT)
        .login_url("http://login.example.com")
        .allow_http(true)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Both providers built on the token slots: the delegated one (refresh grant) and the
/// app-only one (client credentials), each against a token endpoint that answers slowly.
async fn slot_providers(server: &MockServer) -> Vec<(&'static str, Arc<dyn TokenProvider>)> {
    let delegated = signed_in(server, ManualClock::new(), None).await;
    let slow = |access: &str| {
        token_response(access, Some("refresh-2"), 3600).set_delay(Duration::from_millis(200))
    };
    for (grant, access) in [(REFRESH_GRANT, "delegated"), ("client_credentials", "app")] {
        token_request(TENANT, grant)
            .respond_with(slow(access))
            .mount(server)
            .await;
    }
    let config = config(server, TENANT, ManualClock::new());
    let app = sigsync_core::auth::AppOnlyTokenProvider::with_secret(config, "s").unwrap();
    vec![
        (REFRESH_GRANT, Arc::new(delegated)),
        ("client_credentials", Arc::new(app)),
    ]
}

#[tokio::test]
async fn every_slot_provider_shares_one_fetch_caches_it_and_fetches_again_after_invalidate() {
    let server = MockServer::start().await;
    for (grant, provider) in slot_providers(&server).await {
        let fetches = || async { requests(&server, &token_path(TENANT), grant).await.len() };
        let calls = (0..16).map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { token_text(provider.as_ref(), Resource::Graph).await })
        });
        let tokens = futures::future::join_all(calls).await;
        assert!(tokens
            .iter()
            .all(|t| t.as_ref().unwrap() == tokens[0].as_ref().unwrap()));
        assert_eq!(
            fetches().await,
            1,
            "{grant}: concurrent callers share one fetch"
        );
        token_text(provider.as_ref(), Resource::Graph).await;
        assert_eq!(fetches().await, 1, "{grant}: the token is cached");
        provider.invalidate(Resource::Graph).await;
        token_text(provider.as_ref(), Resource::Graph).await;
        assert_eq!(fetches().await, 2, "{grant}: invalidate forces a fetch");
    }
}
