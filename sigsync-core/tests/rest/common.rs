//! Helpers: a client on a wiremock server and Exchange-shaped answers; the token provider that
//! counts, the clocks and the request readers come from the shared `common/http.rs`.
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{json, Value};
use sigsync_core::exchange::RestExchangeClient;
use wiremock::{MockServer, ResponseTemplate};

pub use crate::http_fixtures::*;

pub const SYSTEM_ANCHOR: &str =
    "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A client for `server` with `provider`, tenant from the identity.
pub fn client(server: &MockServer, provider: Arc<CountingProvider>) -> RestExchangeClient {
    RestExchangeClient::builder(provider)
        .exchange_url(server.uri())
        .graph_url(format!("{}/v1.0", server.uri()))
        .allow_http(true)
        .build()
        .unwrap()
}

pub fn invoke_path() -> String {
    format!("/adminapi/beta/{TENANT_ID}/InvokeCommand")
}

/// InvokeCommand's success envelope around `records`.
pub fn ok(records: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "@odata.context": "https://outlook.office365.com/adminapi/beta/x/$metadata#Collection(Exchange.GenericHashTable)",
        "@adminapi.warnings": [],
        "value": records,
    }))
}

/// The error envelope with `details[0].message = "id|type|text"`.
pub fn exo_error(status: u16, exception: &str, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {
            "code": if status == 404 { "NotFound" } else { "BadRequest" },
            "message": "Error executing cmdlet",
            "details": [{"code": "Client", "target": "", "message": format!("Ex6F9304|{exception}|{text}")}],
            "innererror": {"message": text, "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException", "stacktrace": ""}
        }
    }))
}
