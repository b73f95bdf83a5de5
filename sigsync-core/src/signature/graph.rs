//! A [`Directory`] over Microsoft Graph: `/users/{id}` with `$select`, transitive membership
//! through `/users/{id}/transitiveMemberOf` (paged), `$batch` for several users, a cache with
//! expiry. Requests go through the one Graph client on the shared HTTP policy
//! ([`crate::http`]: HTTPS only, plain HTTP only to loopback when allowed, no credentials in the
//! URL, no redirects followed, one token refresh on 401), with bounded waits on 429.
//!
//! A sender address is first tried as a user principal name (`/users/{address}`); when that is
//! not found, as a primary SMTP address (`/users?$filter=mail eq '{address}'`), because the two
//! often differ. Membership is then asked by the user's object id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};
use url::Url;

use super::attributes::GRAPH_SELECT;
use super::directory::Directory;
use super::policy::normalize_address;
use super::UserAttributes;
use crate::auth::{Resource, TokenProvider};
use crate::graph::{GraphClient, ThrottleWait};
use crate::http::{base_url, AuthorizedClient, HttpConfig};
use crate::{Error, ErrorKind, Result};

/// The Graph endpoint of the commercial cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";

/// Graph accepts at most 20 requests in one `$batch`.
const BATCH_LIMIT: usize = 20;

/// Builds a [`GraphDirectory`].
pub struct GraphDirectoryBuilder {
    tokens: Arc<dyn TokenProvider>,
    base_url: String,
    allow_http: bool,
    cache_ttl: Duration,
    retry_budget: Duration,
    max_attempts: u32,
    timeout: Duration,
    custom: BTreeMap<String, String>,
}

impl GraphDirectoryBuilder {
    /// The Graph base URL (default [`DEFAULT_GRAPH_URL`]; national clouds have their own).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Allows an `http://` base URL (tests against a loopback server only).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// How long users and memberships stay cached (default 15 minutes; zero disables).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The most time one lookup waits for throttling (429/503 `Retry-After`) in total
    /// (default 10 s). A longer `Retry-After` fails at once with a throttling error.
    pub fn retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    /// The most attempts per request (default 4).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The timeout of one HTTP request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Fills the custom attribute `name` from a Graph user property, given as a dotted path
    /// (e.g. `onPremisesExtensionAttributes.extensionAttribute1`).
    pub fn custom_attribute(
        mut self,
        name: impl Into<String>,
        property: impl Into<String>,
    ) -> Self {
        self.custom.insert(name.into(), property.into());
        self
    }

    /// Validates the URL (HTTPS; plain HTTP only to a loopback host with `allow_http`; no
    /// credentials, query or fragment) and builds the client.
    pub fn build(self) -> Result<GraphDirectory> {
        let base = base_url("graph.base_url", &self.base_url, self.allow_http)?;
        let http = HttpConfig::new()
            .allow_http(self.allow_http)
            .timeout(self.timeout)
            .build_client()?;
        let mut select = GRAPH_SELECT.to_owned();
        for prop in self.custom.values() {
            let top = prop.split('.').next().unwrap_or_default();
            if top.is_empty() || !top.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::validation(
                    "graph.custom_attributes",
                    format!("{prop:?}"),
                ));
            }
            if !select.split(',').any(|s| s == top) {
                select.push(',');
                select.push_str(top);
            }
        }
        let graph = GraphClient::new(AuthorizedClient {
            http,
            provider: self.tokens,
            resource: Resource::Graph,
            base,
            timeout: self.timeout,
        })
        .with_wait(ThrottleWait {
            max_attempts: self.max_attempts,
            budget: self.retry_budget,
        });
        Ok(GraphDirectory {
            graph,
            select,
            custom: self.custom,
            cache_ttl: self.cache_ttl,
            users: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
        })
    }
}

type Cache<T> = Mutex<HashMap<String, (Instant, T)>>;

/// A user found in Graph: object id and attributes.
type Found = Option<(String, UserAttributes)>;

/// Directory data from Microsoft Graph (needs `User.Read.All` and `GroupMember.Read.All`).
pub struct GraphDirectory {
    graph: GraphClient,
    select: String,
    custom: BTreeMap<String, String>,
    cache_ttl: Duration,
    users: Cache<Found>,
    groups: Cache<Arc<BTreeSet<String>>>,
}

impl std::fmt::Debug for GraphDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphDirectory")
            .field("base", &self.graph.base().as_str())
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl GraphDirectory {
    /// A builder that gets Graph tokens from `tokens`.
    pub fn builder(tokens: Arc<dyn TokenProvider>) -> GraphDirectoryBuilder {
        GraphDirectoryBuilder {
            tokens,
            base_url: DEFAULT_GRAPH_URL.to_owned(),
            allow_http: false,
            cache_ttl: Duration::from_secs(15 * 60),
            retry_budget: Duration::from_secs(10),
            max_attempts: 4,
            timeout: Duration::from_secs(10),
            custom: BTreeMap::new(),
        }
    }

    /// Drops every cached user and membership.
    pub fn clear_cache(&self) {
        lock(&self.users).clear();
        lock(&self.groups).clear();
    }

    /// `{base}/users/{address}/<rest...>` with the address as one encoded path segment.
    fn user_url(&self, address: &str, rest: &[&str]) -> Url {
        let segments: Vec<&str> = ["users", address]
            .into_iter()
            .chain(rest.iter().copied())
            .collect();
        self.graph.url(&segments)
    }

    /// A GET whose "not found" is `None`.
    async fn get_found(&self, what: &str, url: &Url) -> Result<Option<Value>> {
        match self.graph.get(what, url).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The path and query of a user lookup relative to the base, for `$batch`.
    fn relative_user_url(&self, address: &str) -> String {
        let mut url = Url::parse("http://x/users").expect("static URL");
        url.path_segments_mut().expect("has a path").push(address);
        format!("{}?$select={}", url.path(), self.select)
    }

    fn parse_user(&self, body: &Value) -> Result<(String, UserAttributes)> {
        let id = body["id"]
            .as_str()
            .ok_or_else(|| Error::Network("Graph user object without an id".into()))?
            .to_owned();
        let mut user: UserAttributes = serde_json::from_value(body.clone())
            .map_err(|e| Error::Network(format!("unexpected Graph user object: {e}")))?;
        for (name, path) in &self.custom {
            let v = path.split('.').try_fold(body, |v, key| v.get(key));
            if let Some(Value::String(s)) = v {
                user.custom.insert(name.clone(), s.clone());
            }
        }
        Ok((id, user))
    }

    /// Looks a user up by UPN, then by primary SMTP address; cached (not-found too).
    async fn lookup(&self, address: &str) -> Result<Found> {
        let key = normalize_address(address);
        if let Some(u) = self.cached(&self.users, &key) {
            return Ok(u);
        }
        let mut url = self.user_url(&key, &[]);
        url.query_pairs_mut().append_pair("$select", &self.select);
        let found = match self.get_found("getUser", &url).await? {
            Some(body) => Some(self.parse_user(&body)?),
            None => self.lookup_by_mail(&key).await?,
        };
        self.store(&self.users, key, found.clone());
        Ok(found)
    }

    /// `/users?$filter=mail eq '<address>'`: for senders whose address is not their UPN.
    async fn lookup_by_mail(&self, key: &str) -> Result<Found> {
        let mut url = self.graph.url(&["users"]);
        url.query_pairs_mut()
            .append_pair("$filter", &format!("mail eq '{}'", key.replace('\'', "''")))
            .append_pair("$select", &self.select)
            .append_pair("$top", "1");
        let page = self
            .get_found("listUsers", &url)
            .await?
            .unwrap_or(Value::Null);
        match page["value"].as_array().and_then(|v| v.first()) {
            Some(body) => Ok(Some(self.parse_user(body)?)),
            None => Ok(None),
        }
    }

    fn cached<T: Clone>(&self, cache: &Cache<T>, key: &str) -> Option<T> {
        let map = lock(cache);
        let (at, v) = map.get(key)?;
        (at.elapsed() < self.cache_ttl).then(|| v.clone())
    }

    fn store<T>(&self, cache: &Cache<T>, key: String, value: T) {
        if !self.cache_ttl.is_zero() {
            let mut map = lock(cache);
            // Drop expired entries now and then (amortized), not on every insert.
            if map.len() >= 1024 && map.len().is_power_of_two() {
                map.retain(|_, (at, _)| at.elapsed() < self.cache_ttl);
            }
            map.insert(key, (Instant::now(), value));
        }
    }

    /// Every group (ids and mail addresses, lower-cased) the user is a member of, transitively,
    /// following `@odata.nextLink` pages.
    pub async fn groups_of(&self, address: &str) -> Result<Arc<BTreeSet<String>>> {
        let key = normalize_address(address);
        if let Some(g) = self.cached(&self.groups, &key) {
            return Ok(g);
        }
        let Some((id, _)) = self.lookup(&key).await? else {
            let none = Arc::new(BTreeSet::new());
            self.store(&self.groups, key, none.clone());
            return Ok(none);
        };
        let mut url = self.user_url(&id, &["transitiveMemberOf", "microsoft.graph.group"]);
        url.query_pairs_mut()
            .append_pair("$select", "id,mail")
            .append_pair("$top", "999");
        let listed = match self.graph.list("transitiveMemberOf", url).await {
            Ok(listed) => listed,
            // Unknown user: no groups.
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut groups = BTreeSet::new();
        for g in &listed {
            for field in ["id", "mail"] {
                if let Some(v) = g.get(field).and_then(Value::as_str) {
                    groups.insert(v.to_ascii_lowercase());
                }
            }
        }
        let groups = Arc::new(groups);
        self.store(&self.groups, key, groups.clone());
        Ok(groups)
    }
}

#[async_trait]
impl Directory for GraphDirectory {
    async fn user(&self, address: &str) -> Result<Option<UserAttributes>> {
        Ok(self.lookup(address).await?.map(|(_, user)| user))
    }

    async fn is_member(&self, address: &str, group: &str) -> Result<bool> {
        Ok(self
            .groups_of(address)
            .await?
            .contains(&normalize_address(group)))
    }

    async fn users(&self, addresses: &[String]) -> Result<Vec<Option<UserAttributes>>> {
        let keys: Vec<String> = addresses.iter().map(|a| normalize_address(a)).collect();
        let mut found: HashMap<String, Found> = HashMap::new();
        let missing: Vec<&String> = {
            let mut seen = BTreeSet::new();
            keys.iter()
                .filter(|k| match self.cached(&self.users, k) {
                    Some(u) => {
                        found.insert((*k).clone(), u);
                        false
                    }
                    None => seen.insert((*k).clone()),
                })
                .collect()
        };
        let batch_url = self.graph.url(&["$batch"]);
        for chunk in missing.chunks(BATCH_LIMIT) {
            let requests: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    json!({"id": i.to_string(), "method": "GET", "url": self.relative_user_url(k)})
                })
                .collect();
            let body = json!({ "requests": requests });
            let resp = self.graph.post("$batch", &batch_url, &body).await?;
            let mut answered = BTreeSet::new();
            for r in resp["responses"].as_array().into_iter().flatten() {
                let Some(i) = r["id"].as_str().and_then(|i| i.parse::<usize>().ok()) else {
                    continue;
                };
                let Some(key) = chunk.get(i) else { continue };
                let user = match r["status"].as_u64() {
                    Some(200) => Some(self.parse_user(&r["body"])?),
                    Some(404) => self.lookup_by_mail(key).await?,
                    // Throttled or failed inside the batch: ask for that user alone.
                    _ => continue,
                };
                answered.insert(i);
                self.store(&self.users, (*key).clone(), user.clone());
                found.insert((*key).clone(), user);
            }
            for (i, key) in chunk.iter().enumerate() {
                if !answered.contains(&i) {
                    let user = self.lookup(key).await?;
                    found.insert((*key).clone(), user);
                }
            }
        }
        Ok(keys
            .iter()
            .map(|k| found.get(k).cloned().flatten().map(|(_, user)| user))
            .collect())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
