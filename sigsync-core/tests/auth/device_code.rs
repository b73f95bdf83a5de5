//! The device-code sign-in against a loopback token server.

use std::time::Duration;

use sigsync_core::auth::{DeviceCodeFlow, Resource, TokenProvider};
use sigsync_core::ErrorKind;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::common::*;

const TENANT: &str = "organizations";

async fn mount_device_code(server: &MockServer, expires_in: u64, interval: u64) {
    Mock::given(method("POST"))
        .and(path(device_path(TENANT)))
        .and(form_param("client_id", CLIENT_ID))
        .respond_with(device_code_response(expires_in, interval))
        .mount(server)
        .await;
}

#[tokio::test]
async fn device_code_sign_in_shows_prompt_and_yields_tokens_and_identity() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    mount_device_code(&server, 900, 5).await;
    token_request(TENANT, DEVICE_GRANT)
        .and(form_param("device_code", DEVICE_CODE))
        .respond_with(sequence([
            oauth_error(
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ),
            token_response("exo-access-1", Some("refresh-1"), 3600),
        ]))
        .expect(2)
        .mount(&server)
        .await;

    let flow = DeviceCodeFlow::new(config(&server, TENANT, clock.clone()));
    let pending = flow.start().await.unwrap();
    let prompt = pending.prompt().clone();
    assert_eq!(prompt.user_code, USER_CODE);
    assert_eq!(prompt.verification_uri, "https://microsoft.com/devicelogin");
    assert_eq!(prompt.expires_in, Duration::from_secs(900));
    assert_eq!(prompt.expires_at, clock.now_plus(900));
    assert_eq!(prompt.interval, Duration::from_secs(5));
    assert!(prompt.message.unwrap().contains(USER_CODE));

    let provider = pending.wait().await.unwrap();
    let identity = provider.identity().unwrap();
    assert_eq!(identity.tenant_id, TENANT_ID);
    assert_eq!(identity.user_principal_name.as_deref(), Some(UPN));
    // The first token is served from the sign-in itself: no refresh.
    let token = provider.token(Resource::Exchange).await.unwrap();
    assert_eq!(token.secret.expose(), "exo-access-1");
    assert_eq!(token.expires_at, Some(clock.now_plus(3600)));

    let start = &server.received_requests().await.unwrap()[0];
    let scope = form(start)["scope"].clone();
    let scopes: Vec<&str> = scope.split(' ').collect();
    assert_eq!(scopes[0], EXO_SCOPE, "the resource scope comes first");
    for s in ["openid", "profile", "offline_access"] {
        assert!(scopes.contains(&s), "{s} missing from {scope}");
    }
    let polls = requests(&server, &token_path(TENANT), DEVICE_GRANT).await;
    assert_eq!(form(&polls[0])["client_id"], CLIENT_ID);
}

#[tokio::test]
async fn sign_in_hands_the_prompt_to_the_callback() {
    let server = MockServer::start().await;
    mount_device_code(&server, 900, 5).await;
    token_request(TENANT, DEVICE_GRANT)
        .respond_with(token_response("exo-access-1", Some("refresh-1"), 3600))
        .mount(&server)
        .await;
    let flow = DeviceCodeFlow::new(config(&server, TENANT, ManualClock::new()));
    let mut shown = None;
    let provider = flow
        .sign_in(|prompt| shown = Some(prompt.user_code.clone()))
        .await
        .unwrap();
    assert_eq!(shown.as_deref(), Some(USER_CODE));
    assert!(provider.is_signed_in());
}

#[tokio::test]
async fn polling_waits_the_interval_and_slow_down_adds_five_seconds() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    mount_device_code(&server, 900, 5).await;
    let pending = || oauth_error("authorization_pending", 70016, "Authorization is pending.");
    token_request(TENANT, DEVICE_GRANT)
        .respond_with(sequence([
            pending(),
            oauth_error("slow_down", 70016, "Slow down."),
            pending(),
            pending(),
            token_response("exo-access-1", Some("refresh-1"), 3600),
        ]))
        .expect(5)
        .mount(&server)
        .await;

    let flow = DeviceCodeFlow::new(config(&server, TENANT, clock.clone()));
    flow.start().await.unwrap().wait().await.unwrap();
    let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    assert_eq!(
        secs,
        [5, 10, 10, 10],
        "interval 5 s, then 10 s after slow_down"
    );
}

#[tokio::test]
async fn each_terminal_poll_error_ends_sign_in_with_its_kind_code_and_aadsts() {
    let cases = [
        ("authorization_declined", 70000, ErrorKind::SignInDeclined),
        ("access_denied", 70000, ErrorKind::SignInDeclined),
        ("expired_token", 70019, ErrorKind::SignInExpired),
        ("bad_verification_code", 70018, ErrorKind::Auth),
        ("invalid_client", 7000218, ErrorKind::Auth),
        ("invalid_grant", 50126, ErrorKind::Auth),
        ("invalid_scope", 70011, ErrorKind::Auth),
        ("temporarily_unavailable", 90033, ErrorKind::Auth),
    ];
    for (code, aadsts, kind) in cases {
        let server = MockServer::start().await;
        mount_device_code(&server, 900, 5).await;
        let text = format!("{code} happened.");
        token_request(TENANT, DEVICE_GRANT)
            .respond_with(sequence([
                oauth_error("authorization_pending", 70016, "Authorization is pending."),
                oauth_error(code, aadsts, &text),
            ]))
            .expect(2)
            .mount(&server)
            .await;
        let flow = DeviceCodeFlow::new(config(&server, TENANT, ManualClock::new()));
        let err = flow.start().await.unwrap().wait().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        let sigsync_core::Error::Auth(auth) = &err else {
            panic!("{code}: not an auth error: {err:?}");
        };
        assert_eq!(auth.code.as_deref(), Some(code));
        assert_eq!(auth.aadsts, Some(aadsts), "{code}");
        assert!(
            auth.description.contains(&text),
            "{code}: {}",
            auth.description
        );
        assert!(!err.to_string().contains(DEVICE_CODE));
    }
}

/// The token endpoint answers every poll with `authorization_pending`.
async fn mount_pending_forever(server: &MockServer) {
    token_request(TENANT, DEVICE_GRANT)
        .respond_with(oauth_error(
            "authorization_pending",
            70016,
            "Authorization is pending.",
        ))
        .mount(server)
        .await;
}

#[tokio::test]
async fn sign_in_expires_when_the_code_runs_out_while_pending() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    mount_device_code(&server, 15, 5).await;
    mount_pending_forever(&server).await;
    let flow = DeviceCodeFlow::new(config(&server, TENANT, clock.clone()));
    let err = flow.start().await.unwrap().wait().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SignInExpired);
    assert_eq!(err.code(), Some("expired_token"));
    let polls = requests(&server, &token_path(TENANT), DEVICE_GRANT).await;
    assert_eq!(
        polls.len(),
        4,
        "polls at 0, 5, 10 and 15 s, none after expiry"
    );
    assert_eq!(
        clock.sleeps().iter().sum::<Duration>(),
        Duration::from_secs(20)
    );
}

#[tokio::test]
async fn time_spent_before_waiting_counts_against_the_expiry() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    mount_device_code(&server, 900, 5).await;
    mount_pending_forever(&server).await;
    let flow = DeviceCodeFlow::new(config(&server, TENANT, clock.clone()));
    let pending = flow.start().await.unwrap();
    clock.advance(Duration::from_secs(901));
    let err = pending.wait().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SignInExpired);
}

#[tokio::test]
async fn cancel_ends_a_pending_sign_in() {
    let server = MockServer::start().await;
    mount_device_code(&server, 900, 5).await;
    mount_pending_forever(&server).await;
    // The clock's sleep never returns: only the cancel can end the wait.
    let flow = DeviceCodeFlow::new(config(&server, TENANT, ManualClock::blocking()));
    let pending = flow.start().await.unwrap();
    let canceller = pending.canceller();
    let waiting = tokio::spawn(pending.wait());
    while requests(&server, &token_path(TENANT), DEVICE_GRANT)
        .await
        .is_empty()
    {
        tokio::task::yield_now().await;
    }
    canceller.cancel();
    let err = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("cancel ends the wait")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SignInCancelled);
}

#[tokio::test]
async fn cancel_before_waiting_ends_without_polling() {
    let server = MockServer::start().await;
    mount_device_code(&server, 900, 5).await;
    let flow = DeviceCodeFlow::new(config(&server, TENANT, ManualClock::new()));
    let pending = flow.start().await.unwrap();
    pending.canceller().cancel();
    let err = pending.wait().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SignInCancelled);
    assert!(requests(&server, &token_path(TENANT), DEVICE_GRANT)
        .await
        .is_empty());
}

#[tokio::test]
async fn device_code_request_error_carries_microsoft_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(device_path(TENANT)))
        .respond_with(oauth_error(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ))
        .mount(&server)
        .await;
    let flow = DeviceCodeFlow::new(config(&server, TENANT, ManualClock::new()));
    let err = flow.start().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.code(), Some("invalid_client"));
    let sigsync_core::Error::Auth(auth) = err else {
        panic!()
    };
    assert_eq!(auth.aadsts, Some(7000218));
}

#[tokio::test]
async fn first_token_can_be_for_graph() {
    let server = MockServer::start().await;
    mount_device_code(&server, 900, 5).await;
    token_request(TENANT, DEVICE_GRANT)
        .respond_with(token_response("graph-access-1", Some("refresh-1"), 3600))
        .mount(&server)
        .await;
    let flow =
        DeviceCodeFlow::new(config(&server, TENANT, ManualClock::new())).resource(Resource::Graph);
    let provider = flow.start().await.unwrap().wait().await.unwrap();
    let start = &server.received_requests().await.unwrap()[0];
    assert!(form(start)["scope"].starts_with(GRAPH_SCOPE));
    let token = provider.token(Resource::Graph).await.unwrap();
    assert_eq!(token.secret.expose(), "graph-access-1");
}
