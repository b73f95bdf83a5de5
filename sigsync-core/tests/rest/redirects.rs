//! Redirects on every Microsoft call path (Exchange reads and writes, Graph's group listing,
//! the signature directory's user look-ups and `$batch`), with every redirect status: never
//! followed (the token stays on the configured host), the request sent again to the
//! configured host a bounded number of times, and persistent redirects named by `Location`.

use std::sync::Arc;

use serde_json::json;
use sigsync_core::auth::StaticTokenProvider;
use sigsync_core::exchange::{ExchangeClient, RestExchangeClient};
use sigsync_core::http::MAX_REDIRECT_REISSUES;
use sigsync_core::model::Params;
use sigsync_core::signature::{Directory, GraphDirectory};
use sigsync_core::Result;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

const LOCATION: &str = "https://outlook-emea.office365.example/adminapi/beta/x/InvokeCommand";
const STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

fn redirect(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("Location", LOCATION)
}

/// The answer each call path expects once it gets through.
fn success() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "value": [],
        "id": "u1",
        "displayName": "User",
        "responses": [],
    }))
}

type Call = fn(&MockServer) -> futures::future::BoxFuture<'static, Result<()>>;

fn rest(server: &MockServer) -> RestExchangeClient {
    client(server, CountingProvider::delegated())
}

fn directory(server: &MockServer) -> GraphDirectory {
    GraphDirectory::builder(Arc::new(StaticTokenProvider::new("exo", "graph-token")))
        .base_url(format!("{}/v1.0", server.uri()))
        .allow_http(true)
        .cache_ttl(std::time::Duration::ZERO)
        .build()
        .unwrap()
}

const CALLS: &[(&str, Call)] = &[
    ("Exchange read", |s| {
        let c = rest(s);
        Box::pin(async move { c.list_transport_rules().await.map(drop) })
    }),
    ("Exchange write", |s| {
        let c = rest(s);
        Box::pin(async move {
            let mut p = Params::new();
            p.insert("Comment".into(), json!("x"));
            c.update_outbound_connector("Sigsync Outbound Connector", &p)
                .await
        })
    }),
    ("Graph group listing", |s| {
        let c = rest(s);
        Box::pin(async move { c.list_mail_enabled_groups().await.map(drop) })
    }),
    ("directory user look-up", |s| {
        let d = directory(s);
        Box::pin(async move { d.user("adele@contoso.com").await.map(drop) })
    }),
    ("directory $batch", |s| {
        let d = directory(s);
        Box::pin(async move {
            d.users(&["a@contoso.com".into(), "b@contoso.com".into()])
                .await
                .map(drop)
        })
    }),
];

#[tokio::test]
async fn a_redirect_is_sent_again_to_the_configured_host_on_every_call_path() {
    for (name, call) in CALLS {
        for status in STATUSES {
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(redirect(status))
                .up_to_n_times(1)
                .with_priority(1)
                .mount(&server)
                .await;
            Mock::given(any())
                .respond_with(success())
                .mount(&server)
                .await;
            call(&server)
                .await
                .unwrap_or_else(|e| panic!("{name}, {status}: {e}"));
            let requests = server.received_requests().await.unwrap();
            assert!(requests.len() >= 2, "{name}, {status}: sent again");
            // Same path, same method, on our server: the Location was never visited.
            assert_eq!(requests[0].url.path(), requests[1].url.path(), "{name}");
            assert_eq!(requests[0].method, requests[1].method, "{name}");
            assert_eq!(
                header(&requests[0], "authorization"),
                header(&requests[1], "authorization")
            );
        }
    }
}

#[tokio::test]
async fn persistent_redirects_fail_naming_the_location_after_a_bounded_number_of_tries() {
    for (name, call) in CALLS {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(redirect(302))
            .mount(&server)
            .await;
        let e = call(&server).await.unwrap_err();
        assert!(e.to_string().contains(LOCATION), "{name}: {e}");
        assert_eq!(e.status(), Some(302), "{name}");
        let requests = server.received_requests().await.unwrap();
        assert_eq!(
            requests.len() as u32,
            1 + MAX_REDIRECT_REISSUES,
            "{name}: bounded"
        );
    }
}
