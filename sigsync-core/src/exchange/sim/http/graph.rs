//! Simulated Microsoft Graph: `GET /v1.0/groups`, `/v1.0/users/{id or upn}` and
//! `/v1.0/users/{id}/transitiveMemberOf[/microsoft.graph.group]`, paged with `@odata.nextLink` like Graph.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use url::Url;
use wiremock::{Request, ResponseTemplate};

use super::{bearer, Shared};
use crate::auth::Resource;
use crate::exchange::sim::{SimGroup, SimUser};
use crate::exchange::GroupKind;

pub(super) fn respond(shared: &Shared, path: &[&str], request: &Request) -> ResponseTemplate {
    if bearer(request).and_then(|t| shared.token_resource(t)) != Some(Resource::Graph) {
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        );
    }
    let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
    match path {
        ["groups"] => {
            let mail_only = query
                .get("$filter")
                .is_some_and(|f| f.replace(' ', "").eq_ignore_ascii_case("mailEnabledeqtrue"));
            let groups: Vec<Value> = shared
                .tenant
                .groups()
                .iter()
                .filter(|g| !mail_only || g.kind.is_mail_enabled())
                .map(group_json)
                .collect();
            page(shared, &request.url, &query, groups)
        }
        ["users", id] => match find_user(shared, id) {
            Some(user) => {
                let mut obj = user_json(&user);
                if let Some(select) = query.get("$select") {
                    let keep: Vec<&str> = select.split(',').map(str::trim).collect();
                    obj.retain(|k, _| keep.iter().any(|s| s.eq_ignore_ascii_case(k)));
                }
                obj.insert(
                    "@odata.context".into(),
                    json!(format!("{}/v1.0/$metadata#users/$entity", shared.base)),
                );
                ResponseTemplate::new(200).set_body_json(Value::Object(obj))
            }
            None => user_not_found(id),
        },
        // With or without the type cast the signature directory adds (groups only: all the
        // simulated directory holds).
        ["users", id, "transitiveMemberOf"]
        | ["users", id, "transitiveMemberOf", "microsoft.graph.group"] => {
            match find_user(shared, id) {
                Some(user) => {
                    let groups = transitive_groups(&shared.tenant.groups(), &user)
                        .iter()
                        .map(group_json)
                        .collect();
                    page(shared, &request.url, &query, groups)
                }
                None => user_not_found(id),
            }
        }
        _ => graph_error(
            400,
            "BadRequest",
            &format!("Resource not found for the segment '{}'.", path.join("/")),
        ),
    }
}

fn find_user(shared: &Shared, id: &str) -> Option<SimUser> {
    shared
        .tenant
        .users()
        .into_iter()
        .find(|u| u.id.eq_ignore_ascii_case(id) || u.user_principal_name.eq_ignore_ascii_case(id))
}

/// The groups `user` is in, directly or through groups nested in groups.
fn transitive_groups(groups: &[SimGroup], user: &SimUser) -> Vec<SimGroup> {
    let mut found: Vec<SimGroup> = groups
        .iter()
        .filter(|g| g.members.iter().any(|m| user.is_named_by(m)))
        .cloned()
        .collect();
    loop {
        let more: Vec<SimGroup> = groups
            .iter()
            .filter(|g| !found.iter().any(|f| f.id == g.id))
            .filter(|g| {
                g.members.iter().any(|m| {
                    found.iter().any(|f| {
                        f.id.eq_ignore_ascii_case(m)
                            || f.mail.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(m))
                    })
                })
            })
            .cloned()
            .collect();
        if more.is_empty() {
            return found;
        }
        found.extend(more);
    }
}

fn group_json(g: &SimGroup) -> Value {
    let (mail_enabled, security_enabled, types): (bool, bool, &[&str]) = match g.kind {
        GroupKind::Distribution => (true, false, &[]),
        GroupKind::MailEnabledSecurity => (true, true, &[]),
        GroupKind::Microsoft365 => (true, false, &["Unified"]),
        GroupKind::Security => (false, true, &[]),
    };
    json!({
        "@odata.type": "#microsoft.graph.group",
        "id": g.id,
        "displayName": g.display_name,
        "mail": g.mail,
        "mailEnabled": mail_enabled,
        "securityEnabled": security_enabled,
        "groupTypes": types,
    })
}

fn user_json(u: &SimUser) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert("id".into(), json!(u.id));
    obj.insert("userPrincipalName".into(), json!(u.user_principal_name));
    obj.insert("displayName".into(), json!(u.display_name));
    obj.insert("mail".into(), json!(u.mail));
    for (k, v) in &u.properties {
        obj.insert(k.clone(), v.clone());
    }
    obj
}

/// One page of `items` at `$skiptoken`, with a nextLink to the rest.
fn page(
    shared: &Shared,
    url: &Url,
    query: &HashMap<String, String>,
    items: Vec<Value>,
) -> ResponseTemplate {
    let size = query
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .map_or(shared.options.page_size, |t| {
            t.min(shared.options.page_size)
        })
        .max(1);
    let skip = query
        .get("$skiptoken")
        .and_then(|t| t.strip_prefix("sim-"))
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (skip + size).min(items.len());
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#directoryObjects", shared.base),
        "value": items.get(skip.min(end)..end).unwrap_or_default(),
    });
    if end < items.len() {
        // The request's own URL names `localhost`; links use the address the server is on.
        let mut next =
            Url::parse(&format!("{}{}", shared.base, url.path())).unwrap_or_else(|_| url.clone());
        {
            let mut pairs = next.query_pairs_mut();
            pairs.clear();
            for (k, v) in query.iter().filter(|(k, _)| *k != "$skiptoken") {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("$skiptoken", &format!("sim-{end}"));
        }
        body["@odata.nextLink"] = json!(next.as_str());
    }
    ResponseTemplate::new(200).set_body_json(body)
}

fn user_not_found(id: &str) -> ResponseTemplate {
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

fn graph_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": uuid::Uuid::new_v4().to_string(),
                "client-request-id": uuid::Uuid::new_v4().to_string(),
            }
        }
    }))
}
