//! Graph: mail-enabled groups across pages, users, transitive memberships, errors.

use std::time::Duration;

use serde_json::json;
use sigsync_core::exchange::{ExchangeClient, GroupKind};
use sigsync_core::ErrorKind;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

#[tokio::test]
async fn mail_enabled_groups_follow_next_links_and_get_their_kinds() {
    let server = MockServer::start().await;
    let next = format!("{}/v1.0/groups?$skiptoken=page2", server.uri());
    Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .and(query_param("$skiptoken", "page2"))
        .respond_with(graph_page(
            json!([
                {"id": "g3", "displayName": "All staff", "mail": "staff@contoso.com", "groupTypes": ["Unified"], "mailEnabled": true, "securityEnabled": false},
                {"id": "g4", "displayName": "No mail", "mail": null, "groupTypes": [], "mailEnabled": false, "securityEnabled": true},
            ]),
            None,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .and(query_param("$filter", "mailEnabled eq true"))
        .and(query_param(
            "$select",
            "id,displayName,mail,groupTypes,mailEnabled,securityEnabled",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups",
            "value": [
                {"id": "g1", "displayName": "Sales", "mail": "sales@contoso.com", "groupTypes": [], "mailEnabled": true, "securityEnabled": false},
                {"id": "g2", "displayName": "Finance", "mail": "finance@contoso.com", "groupTypes": [], "mailEnabled": true, "securityEnabled": true},
            ],
            "@odata.nextLink": next,
        })))
        .mount(&server)
        .await;

    let groups = client(&server, CountingProvider::delegated())
        .list_mail_enabled_groups()
        .await
        .unwrap();
    let got: Vec<_> = groups.iter().map(|g| (g.id.as_str(), g.kind)).collect();
    assert_eq!(
        got,
        [
            ("g1", GroupKind::Distribution),
            ("g2", GroupKind::MailEnabledSecurity),
            ("g3", GroupKind::Microsoft365)
        ]
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(header(r, "authorization"), "Bearer graph-1");
        assert!(r.headers.get("consistencylevel").is_none());
    }
}

#[tokio::test]
async fn graph_errors_are_classified_by_status_with_graphs_code() {
    let server = MockServer::start().await;
    let error = |status: u16, code: &str| graph_error(status, code, &format!("{code} happened"));
    Mock::given(path("/v1.0/users/missing@contoso.com"))
        .respond_with(error(404, "Request_ResourceNotFound"))
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/users/busy@contoso.com"))
        .respond_with(error(429, "TooManyRequests").insert_header("Retry-After", "4"))
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/users/down@contoso.com"))
        .respond_with(error(503, "serviceNotAvailable"))
        .mount(&server)
        .await;
    let c = client(&server, CountingProvider::delegated());

    let e = c.get_user("missing@contoso.com", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.code(), Some("Request_ResourceNotFound"));
    let e = c.get_user("busy@contoso.com", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
    let e = c.get_user("down@contoso.com", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn graph_unauthorized_refreshes_the_graph_token_once() {
    let server = MockServer::start().await;
    Mock::given(path("/v1.0/users/a@contoso.com"))
        .respond_with(sequence([
            ResponseTemplate::new(401).set_body_json(
                json!({"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}),
            ),
            ResponseTemplate::new(200).set_body_json(json!({"id": "u1"})),
        ]))
        .mount(&server)
        .await;
    let provider = CountingProvider::delegated();
    let user = client(&server, provider.clone())
        .get_user("a@contoso.com", &[])
        .await
        .unwrap();
    assert_eq!(user["id"], "u1");
    assert_eq!(provider.invalidations(), 1);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(header(&reqs[1], "authorization"), "Bearer graph-2");
}

#[tokio::test]
async fn get_user_selects_properties_and_encodes_the_upn() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/ext_a%23EXT%23@contoso.onmicrosoft.com"))
        .and(query_param("$select", "displayName,jobTitle,department"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"displayName": "A", "jobTitle": "Engineer", "department": "R&D"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let user = client(&server, CountingProvider::delegated())
        .get_user(
            "ext_a#EXT#@contoso.onmicrosoft.com",
            &["displayName", "jobTitle", "department"],
        )
        .await
        .unwrap();
    assert_eq!(user["department"], "R&D");
    let r = &server.received_requests().await.unwrap()[0];
    assert!(r.url.path().contains("%23EXT%23"), "{}", r.url);
}

#[tokio::test]
async fn transitive_membership_keeps_groups_and_answers_membership_checks() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u1/transitiveMemberOf"))
        .respond_with(graph_page(
            json!([
                {"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "Sales", "mail": "sales@contoso.com", "groupTypes": [], "mailEnabled": true, "securityEnabled": false},
                {"@odata.type": "#microsoft.graph.directoryRole", "id": "r1", "displayName": "Global Reader"},
                {"@odata.type": "#microsoft.graph.group", "id": "g9", "displayName": "Everyone", "mail": null, "groupTypes": [], "mailEnabled": false, "securityEnabled": true},
            ]),
            None,
        ))
        .mount(&server)
        .await;
    let c = client(&server, CountingProvider::delegated());
    let groups = c.transitive_member_of("u1").await.unwrap();
    let ids: Vec<_> = groups.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["g1", "g9"]);
    assert_eq!(groups[1].kind, GroupKind::Security);
    assert!(c.is_member_of("u1", "SALES@contoso.com").await.unwrap());
    assert!(c.is_member_of("u1", "g9").await.unwrap());
    assert!(!c.is_member_of("u1", "r1").await.unwrap());
}
