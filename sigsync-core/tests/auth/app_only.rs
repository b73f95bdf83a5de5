//! App-only sign-in: client secret and certificate assertion.

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;
use sigsync_core::auth::{
    AppOnlyTokenProvider, AssertionAlgorithm, CertificateCredential, Resource, TokenProvider,
};
use sigsync_core::{ErrorKind, Secret};
use wiremock::{MockServer, ResponseTemplate};

use crate::common::*;

const TENANT: &str = TENANT_ID;
const GRANT: &str = "client_credentials";
pub const CERT_PEM: &str = include_str!("../fixtures/app-cert.pem");
pub const KEY_PEM: &str = include_str!("../fixtures/app-key.pem");
const PUBKEY_PEM: &str = include_str!("../fixtures/app-pubkey.pem");
/// `openssl x509 -outform DER | openssl dgst -sha256 -binary | base64url` of the fixture.
const CERT_SHA256_B64URL: &str = "SAgbNYpN0MSctchrJ0WiKi1bA234a9NZg5oTt8r_SOw";
/// The same with SHA-1.
const CERT_SHA1_B64URL: &str = "rztimCFv0_Ww-7_Cd_lY8LyEf2c";

fn app_token(access: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": access,
    }))
}

#[tokio::test]
async fn client_secret_flow_gets_one_token_per_resource() {
    let server = MockServer::start().await;
    token_request(TENANT, GRANT)
        .and(form_param("client_secret", "app-secret-value"))
        .and(form_param("scope", EXO_SCOPE))
        .respond_with(app_token("exo-app-token"))
        .expect(1)
        .mount(&server)
        .await;
    token_request(TENANT, GRANT)
        .and(form_param("client_secret", "app-secret-value"))
        .and(form_param("scope", GRAPH_SCOPE))
        .respond_with(app_token("graph-app-token"))
        .expect(1)
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let provider = AppOnlyTokenProvider::with_secret(
        config(&server, TENANT, clock.clone()),
        "app-secret-value",
    )
    .unwrap();

    let exo = provider.token(Resource::Exchange).await.unwrap();
    assert_eq!(exo.secret.expose(), "exo-app-token");
    assert_eq!(exo.expires_at, Some(clock.now_plus(3599)));
    assert_eq!(
        token_text(&provider, Resource::Graph).await,
        "graph-app-token"
    );
    // Cached: no second request for either.
    provider.token(Resource::Exchange).await.unwrap();
    provider.token(Resource::Graph).await.unwrap();

    let identity = provider.identity().unwrap();
    assert_eq!(identity.tenant_id, TENANT_ID);
    assert_eq!(identity.user_principal_name, None);
    let sent = form(&server.received_requests().await.unwrap()[0]);
    assert_eq!(sent["client_id"], CLIENT_ID);
    assert!(!sent.contains_key("client_assertion"));
}

#[tokio::test]
async fn app_only_token_is_fetched_again_before_expiry() {
    let server = MockServer::start().await;
    token_request(TENANT, GRANT)
        .respond_with(sequence([app_token("exo-app-1"), app_token("exo-app-2")]))
        .expect(2)
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let provider =
        AppOnlyTokenProvider::with_secret(config(&server, TENANT, clock.clone()), "s").unwrap();
    assert_eq!(token_text(&provider, Resource::Exchange).await, "exo-app-1");
    clock.advance(std::time::Duration::from_secs(3599 - 299));
    assert_eq!(token_text(&provider, Resource::Exchange).await, "exo-app-2");
}

#[tokio::test]
async fn app_only_credentials_carry_their_tenant_and_never_read_the_access_token() {
    for (tenant, anchor) in [
        (
            "contoso.onmicrosoft.com",
            "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com",
        ),
        (
            TENANT_ID,
            "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@72f988bf-86f1-41af-91ab-2d7cd011db47",
        ),
    ] {
        let server = MockServer::start().await;
        // An opaque access token (not a JWT): nothing to decode, and nothing needed from it.
        token_request(tenant, GRANT)
            .respond_with(app_token("opaque-access-token"))
            .mount(&server)
            .await;
        wiremock::Mock::given(wiremock::matchers::path(format!(
            "/adminapi/beta/{tenant}/InvokeCommand"
        )))
        .and(wiremock::matchers::header("x-anchormailbox", anchor))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer opaque-access-token",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .expect(1)
        .mount(&server)
        .await;
        let provider =
            AppOnlyTokenProvider::with_secret(config(&server, tenant, ManualClock::new()), "s")
                .unwrap();
        let identity = provider.identity().unwrap();
        assert_eq!(identity.tenant_id, tenant);
        assert_eq!(identity.user_principal_name, None);
        // No second `tenant` argument: the credentials name it.
        let client = sigsync_core::exchange::RestExchangeClient::builder(Arc::new(provider))
            .exchange_url(server.uri())
            .allow_http(true)
            .build()
            .unwrap();
        use sigsync_core::exchange::ExchangeClient;
        assert!(client.list_transport_rules().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn app_only_error_carries_code_and_aadsts() {
    let server = MockServer::start().await;
    token_request(TENANT, GRANT)
        .respond_with(oauth_error(
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        ))
        .mount(&server)
        .await;
    let provider = AppOnlyTokenProvider::with_secret(
        config(&server, TENANT, ManualClock::new()),
        "wrong-secret",
    )
    .unwrap();
    let err = provider.token(Resource::Exchange).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let sigsync_core::Error::Auth(auth) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(auth.code.as_deref(), Some("invalid_client"));
    assert_eq!(auth.aadsts, Some(7000215));
    assert!(!format!("{err} {err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn app_only_refuses_the_organizations_tenant() {
    let server = MockServer::start().await;
    let err = AppOnlyTokenProvider::with_secret(
        config(&server, "organizations", ManualClock::new()),
        "s",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
}

fn decode_assertion(
    assertion: &str,
    alg: Algorithm,
    audience: &str,
) -> jsonwebtoken::TokenData<serde_json::Value> {
    let mut validation = Validation::new(alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    // The manual clock is far from the real one: check times below instead.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let key = DecodingKey::from_rsa_pem(PUBKEY_PEM.as_bytes()).unwrap();
    jsonwebtoken::decode(assertion, &key, &validation).expect("a valid signature and claims")
}

#[tokio::test]
async fn certificate_assertion_is_ps256_with_sha256_thumbprint_and_documented_claims() {
    let server = MockServer::start().await;
    token_request(TENANT, GRANT)
        .and(form_param(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ))
        .and(form_param("scope", EXO_SCOPE))
        .respond_with(app_token("exo-app-token"))
        .expect(2)
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let config = config(&server, TENANT, clock.clone());
    let token_url = config.token_url().to_string();
    let cert = CertificateCredential::from_pem(CERT_PEM, &Secret::new(KEY_PEM)).unwrap();
    assert_eq!(cert.x5t_s256(), CERT_SHA256_B64URL);
    let provider = AppOnlyTokenProvider::with_certificate(config, cert).unwrap();
    assert_eq!(
        token_text(&provider, Resource::Exchange).await,
        "exo-app-token"
    );
    provider.invalidate(Resource::Exchange).await;
    provider.token(Resource::Exchange).await.unwrap();

    let sent: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(form)
        .collect();
    assert!(!sent[0].contains_key("client_secret"));
    let decoded = decode_assertion(&sent[0]["client_assertion"], Algorithm::PS256, &token_url);
    assert_eq!(decoded.header.alg, Algorithm::PS256);
    assert_eq!(decoded.header.typ.as_deref(), Some("JWT"));
    assert_eq!(decoded.header.x5t_s256.as_deref(), Some(CERT_SHA256_B64URL));
    assert_eq!(decoded.header.x5t, None);
    let claims = &decoded.claims;
    assert_eq!(claims["aud"], token_url.as_str());
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["nbf"], clock.unix_now());
    assert_eq!(claims["exp"], clock.unix_now() + 600);
    let jti = claims["jti"].as_str().unwrap();
    uuid::Uuid::parse_str(jti).expect("jti is a GUID");
    // Each request carries a fresh assertion.
    let jtis: HashSet<String> = sent
        .iter()
        .map(|f| {
            decode_assertion(&f["client_assertion"], Algorithm::PS256, &token_url).claims["jti"]
                .to_string()
        })
        .collect();
    assert_eq!(jtis.len(), 2);
}

#[tokio::test]
async fn rs256_assertion_carries_the_sha1_thumbprint() {
    let server = MockServer::start().await;
    token_request(TENANT, GRANT)
        .respond_with(app_token("exo-app-token"))
        .mount(&server)
        .await;
    let config = config(&server, TENANT, ManualClock::new());
    let token_url = config.token_url().to_string();
    let cert = CertificateCredential::from_pem(CERT_PEM, &Secret::new(KEY_PEM))
        .unwrap()
        .algorithm(AssertionAlgorithm::Rs256);
    assert_eq!(cert.x5t(), CERT_SHA1_B64URL);
    let provider = AppOnlyTokenProvider::with_certificate(config, cert).unwrap();
    provider.token(Resource::Graph).await.unwrap();
    let sent = form(&server.received_requests().await.unwrap()[0]);
    assert_eq!(sent["scope"], GRAPH_SCOPE);
    let decoded = decode_assertion(&sent["client_assertion"], Algorithm::RS256, &token_url);
    assert_eq!(decoded.header.alg, Algorithm::RS256);
    assert_eq!(decoded.header.x5t.as_deref(), Some(CERT_SHA1_B64URL));
    assert_eq!(decoded.header.x5t_s256, None);
}

#[test]
fn unusable_certificate_or_key_is_refused_up_front() {
    let key = Secret::new(KEY_PEM);
    let err = CertificateCredential::from_pem("not a pem", &key).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(err.to_string().contains("certificate"), "{err}");
    let err = CertificateCredential::from_pem(CERT_PEM, &Secret::new(CERT_PEM)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(err.to_string().contains("private_key"), "{err}");
}

#[tokio::test]
async fn national_cloud_chooses_the_scopes_requested() {
    let server = MockServer::start().await;
    token_request(TENANT, GRANT)
        .respond_with(app_token("token"))
        .mount(&server)
        .await;
    let config = sigsync_core::auth::AuthConfig::builder(CLIENT_ID, TENANT)
        .cloud(sigsync_core::auth::Cloud::UsGovDod)
        .login_url(server.uri())
        .allow_http(true)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let provider = AppOnlyTokenProvider::with_secret(config, "s").unwrap();
    provider.token(Resource::Exchange).await.unwrap();
    provider.token(Resource::Graph).await.unwrap();
    let scopes: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| form(r)["scope"].clone())
        .collect();
    assert_eq!(
        scopes,
        [
            "https://outlook-dod.office365.us/.default",
            "https://dod-graph.microsoft.us/.default"
        ]
    );
}
