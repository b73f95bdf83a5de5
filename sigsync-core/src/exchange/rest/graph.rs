//! Microsoft Graph: the mail-enabled groups that can scope the routing rule, and the user and
//! membership look-ups the signature engine needs. Pages are followed through
//! `@odata.nextLink`, on the Graph host only.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::Instrument;
use url::Url;

use super::client::{join_path, now, RestExchangeClient};
use super::errors::graph_error;
use crate::auth::Resource;
use crate::exchange::{GroupKind, MailGroup};
use crate::{Error, Result};

/// The group properties every group query selects.
const GROUP_SELECT: &str = "id,displayName,mail,groupTypes,mailEnabled,securityEnabled";

/// The most pages one listing follows.
const MAX_PAGES: usize = 1000;

/// A Graph object as returned (only the properties asked for, plus `@odata` annotations).
pub type GraphObject = Map<String, Value>;

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

impl RestExchangeClient {
    /// Every mail-enabled group (distribution lists, mail-enabled security groups, Microsoft
    /// 365 groups) through Graph, all pages.
    pub(super) async fn graph_mail_enabled_groups(&self) -> Result<Vec<MailGroup>> {
        let mut url = join_path(&self.inner.graph_url, &["groups"]);
        // `mailEnabled eq true` is a default query: no ConsistencyLevel/$count needed.
        url.set_query(Some(&format!(
            "$filter=mailEnabled%20eq%20true&$select={GROUP_SELECT}&$top=999"
        )));
        let objects = self.graph_list("list groups", url).await?;
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
    pub async fn get_user(&self, id_or_upn: &str, select: &[&str]) -> Result<GraphObject> {
        let mut url = join_path(&self.inner.graph_url, &["users", id_or_upn]);
        if !select.is_empty() {
            url.set_query(Some(&format!("$select={}", select.join(","))));
        }
        let value = self.graph_get("get user", &url).await?;
        match value {
            Value::Object(obj) => Ok(obj),
            other => Err(Error::Network(format!(
                "get user: expected an object, got {other}"
            ))),
        }
    }

    /// The groups `user` (id or user principal name) belongs to, directly or through nested
    /// groups (Graph's `transitiveMemberOf`; directory roles and units are left out).
    pub async fn transitive_member_of(&self, user: &str) -> Result<Vec<GraphGroup>> {
        let mut url = join_path(
            &self.inner.graph_url,
            &["users", user, "transitiveMemberOf"],
        );
        url.set_query(Some(&format!("$select={GROUP_SELECT}&$top=999")));
        let objects = self.graph_list("list memberships", url).await?;
        Ok(objects
            .iter()
            .filter(|o| is_group(o))
            .filter_map(graph_group)
            .collect())
    }

    /// Whether `user` is a member of the group `group_id_or_mail` (by id or address), directly
    /// or through nested groups.
    pub async fn is_member_of(&self, user: &str, group_id_or_mail: &str) -> Result<bool> {
        Ok(self.transitive_member_of(user).await?.iter().any(|g| {
            g.id.eq_ignore_ascii_case(group_id_or_mail)
                || g.mail
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(group_id_or_mail))
        }))
    }

    /// GETs a collection and every page after it.
    async fn graph_list(&self, what: &str, first: Url) -> Result<Vec<GraphObject>> {
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
            let value = self.graph_get(what, &url).await?;
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

    /// One authenticated Graph GET, decoded as JSON; errors classified.
    async fn graph_get(&self, what: &str, url: &Url) -> Result<Value> {
        let request_id = uuid::Uuid::new_v4();
        let span = tracing::info_span!("graph", op = what, request_id = %request_id);
        async {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
            headers.insert(
                "client-request-id",
                HeaderValue::from_str(&request_id.to_string()).expect("a UUID is a header value"),
            );
            let answer = self
                .send(Resource::Graph, Method::GET, url, &headers, None)
                .await?;
            tracing::debug!(status = answer.status, "Graph");
            if !answer.is_success() {
                return Err(Error::Api(
                    graph_error(&answer.error_response(), now()).with_operation(what),
                ));
            }
            answer.json(what)
        }
        .instrument(span)
        .await
    }
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
}
