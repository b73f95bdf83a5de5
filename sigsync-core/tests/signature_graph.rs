//! The Graph directory against a real HTTP server on loopback (wiremock): `$select`, not
//! found, paging, throttling, token refresh, batching and caching.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sigsync_core::auth::StaticTokenProvider;
use sigsync_core::signature::{
    Choice, Directory, GraphDirectory, MessageContext, MessageKind, Rule, SignatureEngine,
    TemplatePair, UserAttributes, TEXT_MARKER_SERVER,
};
use sigsync_core::ErrorKind;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "common/http.rs"]
mod http_fixtures;
use http_fixtures::{graph_error, graph_page, mount_mail_lookup, CountingProvider};

fn graph(server: &MockServer) -> GraphDirectory {
    GraphDirectory::builder(Arc::new(StaticTokenProvider::new("exo", "graph-token")))
        .base_url(format!("{}/v1.0", server.uri()))
        .allow_http(true)
        .retry_budget(Duration::from_secs(2))
        .build()
        .unwrap()
}

const ADELE_ID: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";

fn adele() -> serde_json::Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
        "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
        "displayName": "Adele Vance",
        "jobTitle": "Retail Manager",
        "department": "Retail",
        "mail": "AdeleV@contoso.com",
        "businessPhones": ["+1 425 555 0109"],
        "mobilePhone": null,
        "onPremisesExtensionAttributes": {"extensionAttribute1": "she/her"}
    })
}

#[tokio::test]
async fn user_lookup_selects_signature_fields_with_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/adelev@contoso.com"))
        .and(header("authorization", "Bearer graph-token"))
        .and(query_param(
            "$select",
            "id,userPrincipalName,displayName,givenName,surname,jobTitle,department,companyName,\
             mail,businessPhones,mobilePhone,officeLocation,streetAddress,city,state,postalCode,\
             country,onPremisesExtensionAttributes",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(adele()))
        .expect(1)
        .mount(&server)
        .await;
    let dir = GraphDirectory::builder(Arc::new(StaticTokenProvider::new("exo", "graph-token")))
        .base_url(format!("{}/v1.0/", server.uri()))
        .allow_http(true)
        .custom_attribute(
            "pronouns",
            "onPremisesExtensionAttributes.extensionAttribute1",
        )
        .build()
        .unwrap();
    let user = dir.user("AdeleV@Contoso.com").await.unwrap().unwrap();
    assert_eq!(user.display_name.as_deref(), Some("Adele Vance"));
    assert_eq!(user.business_phones, vec!["+1 425 555 0109".to_string()]);
    assert_eq!(
        user.custom.get("pronouns").map(String::as_str),
        Some("she/her")
    );
    // Cached: the second lookup does not reach the server (expect(1) above).
    dir.user("adelev@contoso.com").await.unwrap().unwrap();
}

#[tokio::test]
async fn zero_cache_ttl_looks_up_every_time() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/adelev@contoso.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(adele()))
        .expect(2)
        .mount(&server)
        .await;
    let dir = GraphDirectory::builder(Arc::new(StaticTokenProvider::new("e", "g")))
        .base_url(format!("{}/v1.0", server.uri()))
        .allow_http(true)
        .cache_ttl(Duration::ZERO)
        .build()
        .unwrap();
    dir.user("adelev@contoso.com").await.unwrap();
    dir.user("adelev@contoso.com").await.unwrap();
}

#[tokio::test]
async fn unknown_user_is_none_and_still_gets_a_signature() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/ghost@contoso.com"))
        .respond_with(graph_error(
            404,
            "Request_ResourceNotFound",
            "Resource 'ghost@contoso.com' does not exist",
        ))
        .mount(&server)
        .await;
    mount_mail_lookup(&server, "ghost@contoso.com", json!([]), 1).await;
    let dir = graph(&server);
    assert_eq!(dir.user("ghost@contoso.com").await.unwrap(), None);
    assert!(!dir.is_member("ghost@contoso.com", "sales").await.unwrap());

    let engine = SignatureEngine::builder()
        .signature(
            "s",
            TemplatePair::new(
                "{{ displayName }}\n{{ mail }}\n{{ companyName }}",
                "{{ mail }}",
            ),
        )
        .fallback(UserAttributes {
            company_name: Some("Contoso".into()),
            ..Default::default()
        })
        .rule(Rule::new("all").signature("s"))
        .directory(Arc::new(dir))
        .build()
        .unwrap();
    let ctx = MessageContext::new("ghost@contoso.com", ["x@fabrikam.com"], MessageKind::New);
    let Choice::Sign(r) = engine.choose(&ctx).await.unwrap() else {
        panic!("unknown users are signed")
    };
    assert_eq!(
        r.html,
        format!(
            "<div data-sigsync=\"server\">{TEXT_MARKER_SERVER}ghost@contoso.com\nContoso</div>"
        )
    );
}

#[tokio::test]
async fn transitive_membership_follows_next_links() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/adelev@contoso.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(adele()))
        .expect(1)
        .mount(&server)
        .await;
    let next = format!(
        "{}/v1.0/users/{ADELE_ID}/transitiveMemberOf/microsoft.graph.group?$skiptoken=X1",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/users/{ADELE_ID}/transitiveMemberOf/microsoft.graph.group"
        )))
        .and(query_param("$skiptoken", "X1"))
        .respond_with(graph_page(
            json!([{"id": "22222222-0000-0000-0000-000000000002", "mail": "Sales@contoso.com"}]),
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/users/{ADELE_ID}/transitiveMemberOf/microsoft.graph.group"
        )))
        .and(query_param("$top", "999"))
        .respond_with(graph_page(
            json!([{"id": "11111111-0000-0000-0000-000000000001", "mail": null}]),
            Some(&next),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let dir = graph(&server);
    assert!(dir
        .is_member("adelev@contoso.com", "sales@contoso.com")
        .await
        .unwrap());
    assert!(dir
        .is_member("adelev@contoso.com", "11111111-0000-0000-0000-000000000001")
        .await
        .unwrap());
    assert!(!dir
        .is_member("adelev@contoso.com", "other@contoso.com")
        .await
        .unwrap());
}

#[tokio::test]
async fn next_link_to_another_host_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/adelev@contoso.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(adele()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/users/{ADELE_ID}/transitiveMemberOf/microsoft.graph.group"
        )))
        .respond_with(graph_page(
            json!([]),
            Some("https://evil.example.com/steal"),
        ))
        .mount(&server)
        .await;
    let e = graph(&server)
        .groups_of("adelev@contoso.com")
        .await
        .unwrap_err();
    // The same refusal as for every Microsoft call: the token never leaves the Graph host.
    assert!(e.to_string().contains("https://evil.example.com"), "{e}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn throttling_waits_for_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(adele()))
        .mount(&server)
        .await;
    let user = graph(&server).user("adelev@contoso.com").await.unwrap();
    assert!(user.is_some());
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn throttling_beyond_the_budget_fails_fast_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "120")
                .set_body_json(
                    json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}}),
                ),
        )
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let e = graph(&server).user("adelev@contoso.com").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(e.code(), Some("TooManyRequests"));
}

#[tokio::test]
async fn throttled_directory_does_not_stop_mail() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .mount(&server)
        .await;
    let engine = SignatureEngine::builder()
        .signature("s", TemplatePair::new("{{ mail }}", "{{ mail }}"))
        .rule(Rule::new("all").signature("s"))
        .directory(Arc::new(graph(&server)))
        .build()
        .unwrap();
    let ctx = MessageContext::new("adelev@contoso.com", ["x@fabrikam.com"], MessageKind::New);
    let choice = engine.choose(&ctx).await.unwrap();
    assert!(choice
        .signature()
        .unwrap()
        .text
        .ends_with("adelev@contoso.com"));
}

#[tokio::test]
async fn unauthorized_refreshes_the_token_once_and_retries() {
    let server = MockServer::start().await;
    Mock::given(header("authorization", "Bearer graph-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(header("authorization", "Bearer graph-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(adele()))
        .mount(&server)
        .await;
    let tokens = CountingProvider::app_only();
    let dir = GraphDirectory::builder(tokens.clone())
        .base_url(server.uri())
        .allow_http(true)
        .build()
        .unwrap();
    assert!(dir.user("adelev@contoso.com").await.unwrap().is_some());
    assert_eq!(tokens.invalidations(), 1);
}

#[tokio::test]
async fn persistent_unauthorized_is_an_error_after_one_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let e = graph(&server).user("a@contoso.com").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert_eq!(e.status(), Some(401));
}

#[tokio::test]
async fn batched_lookup_asks_once_and_maps_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1.0/$batch"))
        .and(body_partial_json(json!({"requests": [
            {"id": "0", "method": "GET"}, {"id": "1", "method": "GET"}
        ]})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"responses": [
                {"id": "1", "status": 404, "body": {"error": {"code": "Request_ResourceNotFound"}}},
                {"id": "0", "status": 200, "body": adele()}
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_mail_lookup(&server, "ghost@contoso.com", json!([]), 1).await;
    let dir = graph(&server);
    let users = dir
        .users(&[
            "adelev@contoso.com".into(),
            "ghost@contoso.com".into(),
            "ADELEV@contoso.com".into(),
        ])
        .await
        .unwrap();
    assert_eq!(users.len(), 3);
    assert_eq!(
        users[0].as_ref().unwrap().display_name.as_deref(),
        Some("Adele Vance")
    );
    assert_eq!(users[1], None);
    assert_eq!(users[2], users[0]);
    let requests = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body["requests"][0]["url"].as_str().unwrap(),
        "/users/adelev@contoso.com?$select=id,userPrincipalName,displayName,givenName,surname,\
         jobTitle,department,companyName,mail,businessPhones,mobilePhone,officeLocation,\
         streetAddress,city,state,postalCode,country"
    );
    // Cached by the batch: no further request.
    dir.user("adelev@contoso.com").await.unwrap();
}

#[test]
fn base_url_follows_the_shared_http_policy() {
    let tokens = Arc::new(StaticTokenProvider::new("e", "g"));
    let build = |url: &str, allow_http: bool| {
        GraphDirectory::builder(tokens.clone())
            .base_url(url)
            .allow_http(allow_http)
            .build()
    };
    for (url, allow_http) in [
        // Plain http, unless allowed, and then only to a loopback host.
        ("http://graph.example.com/v1.0", false),
        ("http://graph.example.com/v1.0", true),
        ("http://127.0.0.1:1/v1.0", false),
        // Credentials, a query or another scheme in the URL.
        ("https://user:secret@graph.example.com/v1.0", false),
        ("https://graph.example.com/v1.0?x=1", false),
        ("ftp://graph.example.com/v1.0", false),
    ] {
        let e = build(url, allow_http).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation, "{url}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }
    assert!(build("http://127.0.0.1:1/v1.0", true).is_ok());
    assert!(GraphDirectory::builder(tokens.clone()).build().is_ok());
}

#[tokio::test]
async fn address_that_is_not_the_upn_is_found_by_mail() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/adele.vance@contoso.com"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$filter", "mail eq 'adele.vance@contoso.com'"))
        .and(query_param("$top", "1"))
        .respond_with(graph_page(json!([adele()]), None))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/users/{ADELE_ID}/transitiveMemberOf/microsoft.graph.group"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "g1", "mail": "sales@contoso.com"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let dir = graph(&server);
    let user = dir.user("Adele.Vance@contoso.com").await.unwrap().unwrap();
    assert_eq!(user.display_name.as_deref(), Some("Adele Vance"));
    assert!(dir
        .is_member("adele.vance@contoso.com", "g1")
        .await
        .unwrap());
}
