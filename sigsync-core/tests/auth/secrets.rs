//! No public type that holds a secret shows it in `Debug` or `Display`.

use std::sync::Arc;

use sigsync_core::auth::{
    AccessToken, AppOnlyTokenProvider, CertificateCredential, ClientCredential, DeviceCodeFlow,
    MemoryTokenCache, Resource, StoredSignIn, TokenCache, TokenProvider,
};
use sigsync_core::Secret;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::app_only::{CERT_PEM, KEY_PEM};
use crate::common::*;

const TENANT: &str = TENANT_ID;
const CLIENT_SECRET: &str = "client-secret-value-x9";
const ACCESS: &str = "exo-access-token-x9";
const REFRESH: &str = "refresh-token-value-x9";

fn assert_hidden(what: &str, shown: &str) {
    let key_body = KEY_PEM.lines().nth(1).unwrap();
    for secret in [CLIENT_SECRET, ACCESS, REFRESH, DEVICE_CODE, key_body] {
        assert!(!shown.contains(secret), "{what} shows a secret: {shown}");
    }
}

#[tokio::test]
async fn no_public_type_holding_a_secret_shows_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(device_path(TENANT)))
        .respond_with(device_code_response(900, 5))
        .mount(&server)
        .await;
    token_request(TENANT, DEVICE_GRANT)
        .respond_with(token_response(ACCESS, Some(REFRESH), 3600))
        .mount(&server)
        .await;
    let config = config(&server, TENANT, ManualClock::new());
    let cache = Arc::new(MemoryTokenCache::new());
    let flow = DeviceCodeFlow::new(config.clone()).token_cache(cache.clone());
    let pending = flow.start().await.unwrap();
    assert_hidden("PendingSignIn", &format!("{pending:?}"));
    assert_hidden("DeviceCodePrompt", &format!("{:?}", pending.prompt()));
    assert_hidden("SignInCanceller", &format!("{:?}", pending.canceller()));
    let provider = pending.wait().await.unwrap();
    assert_hidden("DelegatedTokenProvider", &format!("{provider:?}"));
    let token = provider.token(Resource::Exchange).await.unwrap();
    assert_eq!(token.secret.expose(), ACCESS);
    assert_hidden("AccessToken", &format!("{token:?}"));
    assert_hidden("Secret", &format!("{} {:?}", token.secret, token.secret));
    let stored = cache.load().await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.expose(), REFRESH);
    assert_hidden("StoredSignIn", &format!("{stored:?}"));
    assert_hidden("MemoryTokenCache", &format!("{cache:?}"));
    assert_hidden("DeviceCodeFlow", &format!("{flow:?}"));
    assert_hidden("AuthConfig", &format!("{config:?}"));

    let secret = ClientCredential::Secret(Secret::new(CLIENT_SECRET));
    assert_hidden("ClientCredential::Secret", &format!("{secret:?}"));
    let app = AppOnlyTokenProvider::new(config.clone(), secret).unwrap();
    assert_hidden("AppOnlyTokenProvider", &format!("{app:?}"));
    let cert = CertificateCredential::from_pem(CERT_PEM, &Secret::new(KEY_PEM)).unwrap();
    assert_hidden("CertificateCredential", &format!("{cert:?}"));
    let cert = ClientCredential::Certificate(cert);
    assert_hidden("ClientCredential::Certificate", &format!("{cert:?}"));
    let app = AppOnlyTokenProvider::new(config, cert).unwrap();
    assert_hidden("AppOnlyTokenProvider", &format!("{app:?}"));

    let built = StoredSignIn {
        refresh_token: Secret::new(REFRESH),
        identity: None,
    };
    assert_hidden("StoredSignIn", &format!("{built:?}"));
    assert_hidden(
        "AccessToken",
        &format!("{:?}", AccessToken::new(ACCESS, None)),
    );
}
