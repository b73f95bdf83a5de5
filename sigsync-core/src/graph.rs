//! Microsoft Graph over the shared HTTP policy ([`crate::http`]: HTTPS only, plain HTTP only to
//! loopback when allowed, no redirects followed, the token only to the configured host): one
//! client for the setup engine's group listing and the signature directory, with one pager
//! and one reading of Graph's error envelope.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::Instrument;
use url::Url;

use crate::http::{body_text, clip, join_path, parse_retry_after, AuthorizedClient, ErrorResponse};
use crate::{ApiError, Error, ErrorKind, Result};

/// The group properties every group query selects.
const GROUP_SELECT: &str = "id,displayName,mail,groupTypes,mailEnabled,securityEnabled";

/// The most pages one listing follows.
const MAX_PAGES: usize = 1000;

/// A Graph object as returned (only the properties asked for, plus `@odata` annotations).
pub type GraphObject = Map<String, Value>;

/// The kind of a mail-enabled group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// A distribution list.
    Distribution,
    /// A mail-enabled security group.
    MailEnabledSecurity,
    /// A Microsoft 365 group.
    Microsoft365,
    /// A security group without mail (cannot scope a rule).
    Security,
}

impl GroupKind {
    /// Whether groups of this kind have an address a transport rule can use.
    pub fn is_mail_enabled(self) -> bool {
        !matches!(self, GroupKind::Security)
    }
}

/// A group that can scope the routing rule (`FromMemberOf`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailGroup {
    /// The directory object id.
    pub id: String,
    /// The display name.
    pub display_name: String,
    /// The primary SMTP address.
    pub mail: String,
    /// What kind of group it is.
    pub kind: GroupKind,
}

/// A group a user belongs to, directly or through nested groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphGroup {
    /// The directory object id.
    pub id: String,
    /// The display name.
    pub display_name: String,
    /// The primary SMTP address, for mail-enabled groups.
    pub mail: Option<String>,
    /// What kind of group it is.
    pub kind: GroupKind,
}

/// The kind of a Graph group: `Unified` in `groupTypes` is a Microsoft 365 group; otherwise a
/// mail-enabled group is a security group when `securityEnabled`, else a distribution list;
/// a group without mail is a plain security group.
pub fn group_kind(group: &GraphObject) -> GroupKind {
    let flag = |k: &str| group.get(k).and_then(Value::as_bool).unwrap_or(false);
    let unified = group
        .get("groupTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("Unified")));
    if unified {
        GroupKind::Microsoft365
    } else if !flag("mailEnabled") {
        GroupKind::Security
    } else if flag("securityEnabled") {
        GroupKind::MailEnabledSecurity
    } else {
        GroupKind::Distribution
    }
}

/// Reads one Graph collection page: its `value` objects and its `@odata.nextLink`.
pub fn parse_graph_page(
    body: &[u8],
) -> std::result::Result<(Vec<GraphObject>, Option<String>), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    graph_page(&v)
}

type Page = (Vec<GraphObject>, Option<String>);

fn graph_page(v: &Value) -> std::result::Result<Page, String> {
    let items = match v.get("value") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_object().cloned())
            .collect(),
        _ => return Err("no `value` array in the collection".into()),
    };
    let next = v
        .get("@odata.nextLink")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Ok((items, next))
}

fn text(obj: &GraphObject, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn graph_group(obj: &GraphObject) -> Option<GraphGroup> {
    Some(GraphGroup {
        id: text(obj, "id")?,
        display_name: text(obj, "displayName").unwrap_or_default(),
        mail: text(obj, "mail"),
        kind: group_kind(obj),
    })
}

fn is_group(obj: &GraphObject) -> bool {
    match obj.get("@odata.type").and_then(Value::as_str) {
        Some(t) => t == "#microsoft.graph.group",
        None => obj.contains_key("mailEnabled") || obj.contains_key("groupTypes"),
    }
}

/// How long one request may wait out throttling (429, 503, 504 with their `Retry-After`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThrottleWait {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The most time one request may spend waiting.
    pub budget: Duration,
}

/// The Graph client: requests under the configured Graph base, pages, errors.
#[derive(Debug, Clone)]
pub(crate) struct GraphClient {
    auth: AuthorizedClient,
    /// `None`: no waiting here (the setup engine's retry layer waits).
    wait: Option<ThrottleWait>,
}

impl GraphClient {
    /// A client sending through `auth` (for [`crate::auth::Resource::Graph`]).
    pub fn new(auth: AuthorizedClient) -> Self {
        GraphClient { auth, wait: None }
    }

    /// Waits out throttling within `wait` (the signature directory, which has no retry layer).
    pub fn with_wait(mut self, wait: ThrottleWait) -> Self {
        self.wait = Some(wait);
        self
    }

    /// The Graph base, e.g. `https://graph.microsoft.com/v1.0`.
    pub fn base(&self) -> &Url {
        &self.auth.base
    }

    /// `{base}/{segments...}`, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        join_path(&self.auth.base, segments)
    }

    /// One GET, decoded as JSON; a failure (404 included) is a classified error.
    pub async fn get(&self, what: &str, url: &Url) -> Result<Value> {
        self.request(what, Method::GET, url, None).await
    }

    /// One POST of `body` (e.g. `$batch`), decoded as JSON.
    pub async fn post(&self, what: &str, url: &Url, body: &Value) -> Result<Value> {
        self.request(what, Method::POST, url, Some(body)).await
    }

    /// GETs a collection and every page after it (next links on the Graph host only).
    pub async fn list(&self, what: &str, first: Url) -> Result<Vec<GraphObject>> {
        let mut out = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::Network(format!(
                    "{what}: more than {MAX_PAGES} pages"
                )));
            }
            let value = self.get(what, &url).await?;
            let (mut items, link) =
                graph_page(&value).map_err(|e| Error::Network(format!("{what}: {e}")))?;
            out.append(&mut items);
            next = match link {
                Some(link) => Some(Url::parse(&link).map_err(|e| {
                    Error::Network(format!("{what}: the next page link is not a URL: {e}"))
                })?),
                None => None,
            };
        }
        Ok(out)
    }

    /// Every mail-enabled group (distribution lists, mail-enabled security groups, Microsoft
    /// 365 groups), all pages.
    pub async fn mail_enabled_groups(&self) -> Result<Vec<MailGroup>> {
        let mut url = self.url(&["groups"]);
        // `mailEnabled eq true` is a default query: no ConsistencyLevel/$count needed.
        url.set_query(Some(&format!(
            "$filter=mailEnabled%20eq%20true&$select={GROUP_SELECT}&$top=999"
        )));
        let objects = self.list("list groups", url).await?;
        Ok(objects
            .iter()
            .filter_map(graph_group)
            .filter(|g| g.kind.is_mail_enabled())
            .filter_map(|g| {
                Some(MailGroup {
                    mail: g.mail?,
                    id: g.id,
                    display_name: g.display_name,
                    kind: g.kind,
                })
            })
            .collect())
    }

    /// One user by id or user principal name, with the properties in `select` (Graph's
    /// default set when empty).
    pub async fn user(&self, id_or_upn: &str, select: &[&str]) -> Result<GraphObject> {
        let mut url = self.url(&["users", id_or_upn]);
        if !select.is_empty() {
            url.set_query(Some(&format!("$select={}", select.join(","))));
        }
        match self.get("get user", &url).await? {
            Value::Object(obj) => Ok(obj),
            other => Err(Error::Network(format!(
                "get user: expected an object, got {other}"
            ))),
        }
    }

    /// The groups `user` (id or user principal name) belongs to, directly or through nested
    /// groups (`transitiveMemberOf`; directory roles and units are left out).
    pub async fn transitive_member_of(&self, user: &str) -> Result<Vec<GraphGroup>> {
        let mut url = self.url(&["users", user, "transitiveMemberOf"]);
        url.set_query(Some(&format!("$select={GROUP_SELECT}&$top=999")));
        let objects = self.list("list memberships", url).await?;
        Ok(objects
            .iter()
            .filter(|o| is_group(o))
            .filter_map(graph_group)
            .collect())
    }

    async fn request(
        &self,
        what: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Value> {
        let request_id = uuid::Uuid::new_v4();
        let span = tracing::info_span!("graph", op = what, request_id = %request_id);
        async {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
            headers.insert(
                "client-request-id",
                HeaderValue::from_str(&request_id.to_string()).expect("a UUID is a header value"),
            );
            let started = Instant::now();
            let mut attempt = 1;
            loop {
                let answer = self.auth.send(method.clone(), url, &headers, body).await?;
                tracing::debug!(status = answer.status, attempt, "Graph");
                if answer.is_success() {
                    if answer.body.is_empty() {
                        return Ok(Value::Null);
                    }
                    return answer.json(what);
                }
                let error = answer.error_response();
                let error = Error::Api(graph_error(&error, SystemTime::now()).with_operation(what));
                match self.wait {
                    Some(w)
                        if error.kind() == ErrorKind::Throttled
                            || matches!(answer.status, 503 | 504) =>
                    {
                        let wait = error.retry_after().unwrap_or_else(|| {
                            Duration::from_millis(500 * 2u64.pow(attempt.min(6)))
                        });
                        if attempt >= w.max_attempts || started.elapsed() + wait > w.budget {
                            return Err(error);
                        }
                        tracing::info!(
                            wait_ms = wait.as_millis() as u64,
                            "Graph throttled; waiting"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    _ => return Err(error),
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// Classifies a failed Graph answer (`{"error": {"code", "message"}}`).
pub fn graph_error(response: &ErrorResponse<'_>, now: SystemTime) -> ApiError {
    let status = response.status;
    let envelope = serde_json::from_slice::<Value>(response.body).ok();
    let error = envelope.as_ref().and_then(|v| v.get("error"));
    let field = |k: &str| {
        error
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let code = field("code");
    let kind = match status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::Throttled,
        // Graph's reads are safe to repeat: any server error is worth another try.
        500..=599 => ErrorKind::Transient,
        400 | 422 => ErrorKind::Rejected,
        _ => ErrorKind::Exchange,
    };
    let message = field("message")
        .map(clip)
        .or_else(|| Some(body_text(response.body)).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| format!("Graph answered HTTP {status} without a message"));
    let mut e = ApiError::new(kind, message).with_status(status);
    if let Some(code) = code {
        e = e.with_code(code);
    }
    if let Some(d) = response.retry_after.and_then(|v| parse_retry_after(v, now)) {
        e = e.with_retry_after(d);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> GraphObject {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn group_kinds_follow_group_types_and_flags() {
        let k = |v| group_kind(&obj(v));
        assert_eq!(
            k(json!({"groupTypes":["Unified"],"mailEnabled":true,"securityEnabled":false})),
            GroupKind::Microsoft365
        );
        assert_eq!(
            k(json!({"groupTypes":[],"mailEnabled":true,"securityEnabled":true})),
            GroupKind::MailEnabledSecurity
        );
        assert_eq!(
            k(json!({"groupTypes":[],"mailEnabled":true,"securityEnabled":false})),
            GroupKind::Distribution
        );
        assert_eq!(
            k(json!({"groupTypes":[],"mailEnabled":false,"securityEnabled":true})),
            GroupKind::Security
        );
    }

    #[test]
    fn graph_page_reads_value_and_next_link() {
        let (items, next) = parse_graph_page(
            br#"{"@odata.context":"c","value":[{"id":"1"}],"@odata.nextLink":"https://g/next"}"#,
        )
        .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(next.as_deref(), Some("https://g/next"));
        assert!(parse_graph_page(br#"{"id":"1"}"#).is_err());
    }

    #[test]
    fn only_groups_count_as_memberships() {
        assert!(is_group(&obj(
            json!({"@odata.type":"#microsoft.graph.group"})
        )));
        assert!(!is_group(&obj(
            json!({"@odata.type":"#microsoft.graph.directoryRole"})
        )));
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn graph_errors_keep_code_and_classify_by_status() {
        let e = graph_error(
            &ErrorResponse {
                status: 404,
                body: br#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist."}}"#,
                ..Default::default()
            },
            now(),
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.code.as_deref(), Some("Request_ResourceNotFound"));
        let e = graph_error(
            &ErrorResponse {
                status: 429,
                body: br#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
                retry_after: Some("2"),
                ..Default::default()
            },
            now(),
        );
        assert_eq!(e.kind, ErrorKind::Throttled);
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
    }
}
