//! InvokeCommand: the request shape, the answers, and how failures are classified.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sigsync_core::exchange::{ExchangeClient, RestExchangeClient, RetryPolicy, RetryingClient};
use sigsync_core::ErrorKind;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use crate::defs::*;

async fn mount(server: &MockServer, response: impl wiremock::Respond + 'static) {
    Mock::given(method("POST"))
        .and(path(invoke_path()))
        .respond_with(response)
        .mount(server)
        .await;
}

/// A server whose InvokeCommand answers every request with `answer`.
async fn serving(answer: impl wiremock::Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    mount(&server, answer).await;
    server
}

/// What listing the transport rules (signed in as an admin) fails with against `server`.
async fn list_error(server: &MockServer) -> sigsync_core::Error {
    client(server, CountingProvider::delegated())
        .list_transport_rules()
        .await
        .unwrap_err()
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

#[tokio::test]
async fn get_posts_the_cmdlet_body_with_bearer_json_headers_and_the_admin_anchor() {
    let server = serving(ok(json!([]))).await;
    let rules = client(&server, CountingProvider::delegated())
        .list_transport_rules()
        .await
        .unwrap();
    assert!(rules.is_empty());

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.url.path(), invoke_path());
    assert_eq!(header(r, "authorization"), "Bearer exo-1");
    assert_eq!(header(r, "content-type"), "application/json");
    assert_eq!(header(r, "x-responseformat"), "json");
    assert_eq!(header(r, "x-anchormailbox"), format!("UPN:{UPN}"));
    uuid::Uuid::parse_str(header(r, "client-request-id")).expect("a GUID per request");
    assert_eq!(
        body(r),
        json!({"CmdletInput": {"CmdletName": "Get-TransportRule", "Parameters": {"ResultSize": "Unlimited"}}})
    );
}

#[tokio::test]
async fn app_only_calls_anchor_on_the_tenant_system_mailbox() {
    let server = serving(ok(json!([]))).await;
    client(&server, CountingProvider::app_only())
        .remove_inbound_connector(INBOUND)
        .await
        .unwrap();
    let r = &requests(&server).await[0];
    assert_eq!(header(r, "x-anchormailbox"), SYSTEM_ANCHOR);
    assert_eq!(
        body(r),
        json!({"CmdletInput": {"CmdletName": "Remove-InboundConnector", "Parameters": {"Identity": INBOUND, "Confirm": false}}})
    );
}

#[tokio::test]
async fn configured_tenant_domain_goes_in_the_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"))
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let c = RestExchangeClient::builder(CountingProvider::delegated())
        .tenant("contoso.onmicrosoft.com")
        .exchange_url(server.uri())
        .allow_http(true)
        .build()
        .unwrap();
    c.list_inbound_connectors().await.unwrap();
}

#[tokio::test]
async fn create_sends_the_definition_and_reads_back_the_record() {
    let server = MockServer::start().await;
    let mut record = outbound().to_params();
    record.insert("Guid".into(), json!("d0d71cb9-0000-0000-0000-000000000001"));
    record.insert("Identity".into(), json!(OUTBOUND));
    record.insert(
        "WhenCreatedUTC".into(),
        json!("2026-07-24T18:58:31.0000000Z"),
    );
    record.insert("Name@data.type".into(), json!("System.String"));
    mount(&server, ok(json!([record]))).await;
    let created = client(&server, CountingProvider::delegated())
        .create_outbound_connector(&outbound())
        .await
        .unwrap();
    assert_eq!(created.guid, "d0d71cb9-0000-0000-0000-000000000001");
    assert_eq!(created.definition, outbound());
    let sent = body(&requests(&server).await[0]);
    assert_eq!(sent["CmdletInput"]["CmdletName"], "New-OutboundConnector");
    assert_eq!(sent["CmdletInput"]["Parameters"]["Name"], OUTBOUND);
    assert_eq!(
        sent["CmdletInput"]["Parameters"]["IsTransportRuleScoped"],
        true
    );
}

#[tokio::test]
async fn remove_enable_and_disable_accept_an_empty_answer() {
    let server = serving(ResponseTemplate::new(200)).await;
    let c = client(&server, CountingProvider::delegated());
    c.disable_transport_rule(RULE).await.unwrap();
    c.enable_transport_rule(RULE).await.unwrap();
    c.remove_transport_rule(RULE).await.unwrap();
}

#[tokio::test]
async fn get_without_a_value_array_is_an_error_not_an_empty_list() {
    let server = serving(ResponseTemplate::new(200)).await;
    let err = client(&server, CountingProvider::delegated())
        .list_outbound_connectors()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exchange);
}

#[tokio::test]
async fn pipe_separated_not_found_envelope_is_not_found_with_exchanges_words() {
    let server = serving(exo_error(
            404,
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            "The operation couldn't be performed because object 'X' couldn't be found on 'DC1.PROD.OUTLOOK.COM'.",
        )).await;
    let err = client(&server, CountingProvider::delegated())
        .remove_outbound_connector("X")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        err.code(),
        Some("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException")
    );
    let api = err.as_api().unwrap();
    assert_eq!(api.operation.as_deref(), Some("Remove-OutboundConnector"));
    assert!(api.message.contains("couldn't be found on 'DC1"), "{err}");
}

#[tokio::test]
async fn json_string_detail_envelope_is_already_exists() {
    let server = MockServer::start().await;
    let detail = json!({
        "Message": "The object 'CN=Signature service (outbound)' already exists.",
        "TypeName": "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
        "StackTrace": null, "InnerError": null
    })
    .to_string();
    mount(
        &server,
        ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": "BadRequest", "message": "Error executing cmdlet",
            "details": [{"code": "Client", "target": "", "message": detail}]
        }})),
    )
    .await;
    let err = client(&server, CountingProvider::delegated())
        .create_outbound_connector(&outbound())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[tokio::test]
async fn forbidden_with_a_nul_body_says_which_role_is_missing() {
    let server = serving(
        ResponseTemplate::new(403)
            .set_body_bytes(vec![0u8; 16])
            .insert_header(
                "x-ms-diagnostics",
                "2000001;reason=\"The user has no role\"",
            ),
    )
    .await;
    let err = client(&server, CountingProvider::app_only())
        .list_outbound_connectors()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.status(), Some(403));
    let text = err.to_string();
    assert!(text.contains("Exchange Administrator"), "{text}");
    assert!(text.contains("The user has no role"), "{text}");
}

#[tokio::test]
async fn unauthorized_refreshes_the_token_once_and_replays() {
    let server = serving(sequence([ResponseTemplate::new(401), ok(json!([]))])).await;
    let provider = CountingProvider::delegated();
    client(&server, provider.clone())
        .list_inbound_connectors()
        .await
        .unwrap();
    assert_eq!(provider.invalidations(), 1);
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(header(&reqs[0], "authorization"), "Bearer exo-1");
    assert_eq!(header(&reqs[1], "authorization"), "Bearer exo-2");
    assert_eq!(body(&reqs[0]), body(&reqs[1]));
}

#[tokio::test]
async fn a_second_unauthorized_fails_without_further_replays() {
    let server = serving(ResponseTemplate::new(401)).await;
    let provider = CountingProvider::delegated();
    let err = client(&server, provider.clone())
        .list_inbound_connectors()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(provider.invalidations(), 1);
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn throttling_carries_retry_after_and_is_not_retried_by_the_client() {
    let server = serving(ResponseTemplate::new(429).insert_header("Retry-After", "12")).await;
    let err = list_error(&server).await;
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn throttling_without_retry_after_leaves_the_delay_to_the_retry_layer() {
    let server = serving(ResponseTemplate::new(429)).await;
    let err = list_error(&server).await;
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), None);
}

#[tokio::test]
async fn concurrent_requests_text_is_throttling_whatever_the_status() {
    let server = serving(ResponseTemplate::new(400).set_body_string(
            "You have reached the maximum number of concurrent requests per tenant. Please wait and try again.",
        )).await;
    let err = list_error(&server).await;
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn service_unavailable_is_transient_and_made_once() {
    let server = serving(ResponseTemplate::new(503)).await;
    let err = list_error(&server).await;
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn transient_exception_type_on_a_400_is_transient() {
    let server = serving(exo_error(
        400,
        "Microsoft.Exchange.Data.Storage.ServerBusyException",
        "busy",
    ))
    .await;
    let err = list_error(&server).await;
    assert_eq!(err.kind(), ErrorKind::Transient);
}

#[tokio::test]
async fn truncated_get_tries_the_next_link_once_then_fails_loudly() {
    let server = MockServer::start().await;
    let next = format!("{}{}?$skiptoken=abc", server.uri(), invoke_path());
    mount(
        &server,
        sequence([
            ResponseTemplate::new(200).set_body_json(json!({
                "@adminapi.warnings": ["There are more results available than are currently displayed."],
                "value": [{"DomainName": "contoso.com", "DomainType": "Authoritative", "Default": true}],
                "@odata.nextLink": next,
            })),
            exo_error(400, "System.InvalidOperationException", "Expired or Invalid pagination request. Default Expiry time is 00:30:00"),
        ]),
    )
    .await;
    let err = client(&server, CountingProvider::delegated())
        .list_accepted_domains()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exchange);
    let text = err.to_string();
    assert!(text.contains("truncated"), "{text}");
    assert!(
        text.contains("Expired or Invalid pagination request"),
        "{text}"
    );
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2, "the next page is tried exactly once");
    assert_eq!(reqs[1].url.query(), Some("$skiptoken=abc"));
    assert_eq!(body(&reqs[0]), body(&reqs[1]));
    assert_eq!(
        header(&reqs[1], "x-anchormailbox"),
        header(&reqs[0], "x-anchormailbox")
    );
}

#[tokio::test]
async fn a_next_link_that_answers_completes_the_list() {
    let server = MockServer::start().await;
    let next = format!("{}{}?$skiptoken=abc", server.uri(), invoke_path());
    mount(
        &server,
        sequence([
            ResponseTemplate::new(200).set_body_json(json!({
                "value": [{"DomainName": "contoso.com", "DomainType": "Authoritative", "Default": true}],
                "@odata.nextLink": next,
            })),
            ok(json!([{"DomainName": "fabrikam.com", "DomainType": "Authoritative", "Default": false}])),
        ]),
    )
    .await;
    let domains = client(&server, CountingProvider::delegated())
        .list_accepted_domains()
        .await
        .unwrap();
    let names: Vec<_> = domains.iter().map(|d| d.domain_name.as_str()).collect();
    assert_eq!(names, ["contoso.com", "fabrikam.com"]);
}

#[tokio::test]
async fn warnings_on_a_get_without_a_next_page_fail_loudly() {
    let server = serving(ResponseTemplate::new(200).set_body_json(json!({
            "@adminapi.warnings": ["There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter."],
            "value": [],
        }))).await;
    let err = list_error(&server).await;
    assert_eq!(err.kind(), ErrorKind::Exchange);
    assert!(err.to_string().contains("ResultSize"), "{err}");
}

#[tokio::test]
async fn a_next_link_to_another_host_is_never_followed() {
    let server = serving(ResponseTemplate::new(200).set_body_json(json!({
            "value": [],
            "@odata.nextLink": "https://elsewhere.example.com/adminapi/beta/x/InvokeCommand?$skiptoken=1",
        }))).await;
    let err = list_error(&server).await;
    assert!(err.to_string().contains("elsewhere.example.com"), "{err}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let c = RestExchangeClient::builder(CountingProvider::delegated())
        .exchange_url(format!("http://127.0.0.1:{port}"))
        .allow_http(true)
        .build()
        .unwrap();
    let err = c.list_transport_rules().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
}

#[tokio::test]
async fn a_slow_answer_times_out_as_a_network_error() {
    let server = serving(ok(json!([])).set_delay(Duration::from_secs(5))).await;
    let c = RestExchangeClient::builder(CountingProvider::delegated())
        .exchange_url(server.uri())
        .allow_http(true)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = c.list_transport_rules().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn tokens_never_appear_in_errors_or_debug() {
    let server = serving(ResponseTemplate::new(401)).await;
    let c = client(&server, CountingProvider::delegated());
    let err = c.list_transport_rules().await.unwrap_err();
    for text in [err.to_string(), format!("{err:?}"), format!("{c:?}")] {
        assert!(!text.contains("exo-1") && !text.contains("exo-2"), "{text}");
    }
}

#[tokio::test]
async fn the_retry_layer_waits_the_retry_after_the_http_client_reports() {
    let server = serving(sequence([
        ResponseTemplate::new(429).insert_header("Retry-After", "7"),
        ResponseTemplate::new(503),
        ok(json!([])),
    ]))
    .await;
    let clock = TestClock::new();
    let c = RetryingClient::with_clock(
        client(&server, CountingProvider::delegated()),
        RetryPolicy::default(),
        clock.clone(),
    );
    c.list_transport_rules().await.unwrap();
    assert_eq!(clock.sleeps()[0], Duration::from_secs(7));
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(requests(&server).await.len(), 3);
    let _ = Arc::strong_count(&clock);
}

#[tokio::test]
async fn retry_after_as_an_http_date_becomes_a_delay() {
    let server = MockServer::start().await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(30);
    mount(
        &server,
        ResponseTemplate::new(429).insert_header(
            "Retry-After",
            at.format("%a, %d %b %Y %H:%M:%S GMT").to_string().as_str(),
        ),
    )
    .await;
    let err = list_error(&server).await;
    let after = err.retry_after().expect("a delay from the date");
    assert!(
        after > Duration::from_secs(25) && after <= Duration::from_secs(30),
        "{after:?}"
    );
}
