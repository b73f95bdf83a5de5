//! Helpers: a token provider that counts refreshes, clocks that never sleep, a client on a
//! wiremock server, Exchange-shaped answers.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use serde_json::{json, Value};
use sigsync_core::auth::{AccessToken, Resource, SignedInIdentity, TokenProvider};
use sigsync_core::exchange::{Clock, RestExchangeClient};
use sigsync_core::Result;
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const UPN: &str = "admin@contoso.onmicrosoft.com";
pub const SYSTEM_ANCHOR: &str =
    "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Hands out `exo-N` / `graph-N`, where N grows with each invalidation of that resource.
pub struct CountingProvider {
    identity: Option<SignedInIdentity>,
    exchange_generation: AtomicUsize,
    graph_generation: AtomicUsize,
    pub invalidations: AtomicUsize,
}

impl CountingProvider {
    pub fn delegated() -> Arc<Self> {
        Self::with(Some(SignedInIdentity {
            tenant_id: TENANT_ID.into(),
            user_principal_name: Some(UPN.into()),
        }))
    }

    pub fn app_only() -> Arc<Self> {
        Self::with(Some(SignedInIdentity {
            tenant_id: TENANT_ID.into(),
            user_principal_name: None,
        }))
    }

    pub fn with(identity: Option<SignedInIdentity>) -> Arc<Self> {
        Arc::new(CountingProvider {
            identity,
            exchange_generation: AtomicUsize::new(1),
            graph_generation: AtomicUsize::new(1),
            invalidations: AtomicUsize::new(0),
        })
    }

    pub fn invalidations(&self) -> usize {
        self.invalidations.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenProvider for CountingProvider {
    async fn token(&self, resource: Resource) -> Result<AccessToken> {
        let secret = match resource {
            Resource::Graph => format!("graph-{}", self.graph_generation.load(Ordering::SeqCst)),
            _ => format!("exo-{}", self.exchange_generation.load(Ordering::SeqCst)),
        };
        Ok(AccessToken::new(secret, None))
    }

    async fn invalidate(&self, resource: Resource) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        match resource {
            Resource::Graph => self.graph_generation.fetch_add(1, Ordering::SeqCst),
            _ => self.exchange_generation.fetch_add(1, Ordering::SeqCst),
        };
    }

    fn identity(&self) -> Option<SignedInIdentity> {
        self.identity.clone()
    }
}

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

/// Answers with each response in turn, then keeps answering with the last.
pub struct Sequence(Mutex<std::collections::VecDeque<ResponseTemplate>>);

pub fn sequence(responses: impl IntoIterator<Item = ResponseTemplate>) -> Sequence {
    Sequence(Mutex::new(responses.into_iter().collect()))
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut queue = self.0.lock().unwrap();
        if queue.len() > 1 {
            queue.pop_front().unwrap()
        } else {
            queue.front().cloned().expect("a response")
        }
    }
}

pub fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

pub fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// A retry clock that never sleeps: it records each wait and moves its time forward.
pub struct TestClock {
    start: Instant,
    slept: Mutex<Vec<Duration>>,
}

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(TestClock {
            start: Instant::now(),
            slept: Mutex::new(Vec::new()),
        })
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().unwrap().clone()
    }
}

#[async_trait]
impl Clock for TestClock {
    fn now(&self) -> Instant {
        self.start + self.slept.lock().unwrap().iter().sum::<Duration>()
    }
    async fn sleep(&self, d: Duration) {
        self.slept.lock().unwrap().push(d);
    }
}

/// A sign-in clock that moves only when the sign-in "sleeps" (which returns at once).
#[derive(Debug)]
pub struct SignInClock {
    now: Mutex<SystemTime>,
    pub sleeps: Mutex<Vec<Duration>>,
}

impl SignInClock {
    pub fn new() -> Arc<Self> {
        Arc::new(SignInClock {
            now: Mutex::new(SystemTime::now()),
            sleeps: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl sigsync_core::auth::Clock for SignInClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }
    async fn sleep(&self, d: Duration) {
        self.sleeps.lock().unwrap().push(d);
        *self.now.lock().unwrap() += d;
        tokio::task::yield_now().await;
    }
}
