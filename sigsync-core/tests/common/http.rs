//! Loopback HTTP fixtures shared by the test binaries (included with `#[path]` as
//! `http_fixtures`): answers in turn, a token provider that counts, clocks that never sleep,
//! request readers and Graph-shaped answers.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use serde_json::{json, Value};
use sigsync_core::auth::{AccessToken, Resource, SignedInIdentity, TokenProvider};
use sigsync_core::Result;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The tenant the fixtures sign in to, and its admin.
pub const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const UPN: &str = "admin@contoso.onmicrosoft.com";

/// Answers with each response in turn, then keeps answering with the last.
pub struct Sequence(Mutex<VecDeque<ResponseTemplate>>);

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

/// Hands out `exo-N` / `graph-N`, where N (from 1) grows with each invalidation of that
/// resource.
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
impl sigsync_core::exchange::Clock for TestClock {
    fn now(&self) -> Instant {
        self.start + self.slept.lock().unwrap().iter().sum::<Duration>()
    }
    async fn sleep(&self, d: Duration) {
        self.slept.lock().unwrap().push(d);
    }
}

/// A sign-in clock that only moves when told, or when a sign-in "sleeps" (which returns at
/// once, or never when made with [`ManualClock::blocking`]).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
    sleeps: Mutex<Vec<Duration>>,
    block_sleeps: bool,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Self::with(false)
    }

    /// A clock whose `sleep` never returns (for cancel tests).
    pub fn blocking() -> Arc<Self> {
        Self::with(true)
    }

    fn with(block_sleeps: bool) -> Arc<Self> {
        Arc::new(ManualClock {
            now: Mutex::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            sleeps: Mutex::new(Vec::new()),
            block_sleeps,
        })
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }

    pub fn unix_now(&self) -> u64 {
        let now = *self.now.lock().unwrap();
        now.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// The clock's current time plus `secs` seconds.
    pub fn now_plus(&self, secs: u64) -> SystemTime {
        *self.now.lock().unwrap() + Duration::from_secs(secs)
    }
}

#[async_trait]
impl sigsync_core::auth::Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }

    async fn sleep(&self, duration: Duration) {
        self.sleeps.lock().unwrap().push(duration);
        if self.block_sleeps {
            std::future::pending::<()>().await;
        }
        self.advance(duration);
        tokio::task::yield_now().await;
    }
}

/// The value of header `name` of `request` (which must have it).
pub fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The JSON body of `request`.
pub fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// A Graph collection page holding `value`, with `@odata.nextLink` when `next` is given.
pub fn graph_page(value: Value, next: Option<&str>) -> ResponseTemplate {
    let mut page = json!({ "value": value });
    if let Some(next) = next {
        page["@odata.nextLink"] = next.into();
    }
    ResponseTemplate::new(200).set_body_json(page)
}

/// Graph's error envelope, `{"error": {"code", "message"}}`.
pub fn graph_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": code, "message": message}}))
}

/// Mounts Graph's look-up of the user whose primary address is `address`
/// (`/v1.0/users?$filter=mail eq '…'`), answering `users`, expected `times` times.
pub async fn mount_mail_lookup(server: &MockServer, address: &str, users: Value, times: u64) {
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$filter", format!("mail eq '{address}'")))
        .respond_with(graph_page(users, None))
        .expect(times)
        .mount(server)
        .await;
}
