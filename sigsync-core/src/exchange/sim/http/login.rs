//! Simulated Microsoft sign-in: `/{tenant}/oauth2/v2.0/devicecode` and `/token` (device code,
//! refresh token and client credentials grants). Access and refresh tokens are random opaque
//! strings; the ID token is an unsigned JWT with `tid`, `oid` and the user's name.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use serde_json::{json, Value};
use wiremock::{Request, ResponseTemplate};

use super::{Shared, SignInOutcome};
use crate::auth::Resource;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Tokens the server issued.
#[derive(Default)]
pub(super) struct Tokens {
    /// device code → (polls so far, the resource asked for).
    device_codes: HashMap<String, (u32, Resource)>,
    refresh: HashSet<String>,
    /// access token → the resource it is for.
    pub(super) access: HashMap<String, Resource>,
    /// The grant types answered with tokens, in order.
    pub(super) grants: Vec<String>,
}

impl Shared {
    /// The resource an access token of this server is valid for.
    pub(super) fn token_resource(&self, token: &str) -> Option<Resource> {
        self.lock_tokens().access.get(token).copied()
    }
}

pub(super) fn respond(
    shared: &Shared,
    tenant: &str,
    endpoint: &str,
    request: &Request,
) -> ResponseTemplate {
    if !(shared.is_tenant(tenant)
        || tenant.eq_ignore_ascii_case("organizations")
        || tenant.eq_ignore_ascii_case("common"))
    {
        return oauth_error(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    if form.get("client_id").is_none_or(String::is_empty) {
        return oauth_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    }
    match endpoint {
        "devicecode" => device_code(shared, &form),
        "token" => token(shared, &form),
        _ => ResponseTemplate::new(404),
    }
}

fn device_code(shared: &Shared, form: &HashMap<String, String>) -> ResponseTemplate {
    let Some(resource) = resource_of(form.get("scope")) else {
        return invalid_scope();
    };
    let device_code = random("device");
    let user_code: String = uuid::Uuid::new_v4().simple().to_string()[..9].to_ascii_uppercase();
    shared
        .lock_tokens()
        .device_codes
        .insert(device_code.clone(), (0, resource));
    let uri = format!("{}/devicelogin", shared.base);
    ResponseTemplate::new(200).set_body_json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": shared.options.device_code_lifetime_secs,
        "interval": shared.options.interval_secs,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
}

fn token(shared: &Shared, form: &HashMap<String, String>) -> ResponseTemplate {
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    match grant {
        DEVICE_GRANT => {
            let code = form.get("device_code").cloned().unwrap_or_default();
            let mut tokens = shared.lock_tokens();
            let Some((polls, resource)) = tokens.device_codes.get_mut(&code) else {
                return oauth_error(
                    400,
                    "bad_verification_code",
                    70018,
                    "Invalid verification code.",
                );
            };
            *polls += 1;
            let resource = *resource;
            if *polls <= shared.options.pending_polls {
                return oauth_error(
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                );
            }
            match shared.options.sign_in {
                SignInOutcome::Decline => {
                    tokens.device_codes.remove(&code);
                    oauth_error(
                        400,
                        "authorization_declined",
                        70000,
                        "The user declined the sign-in.",
                    )
                }
                SignInOutcome::Expire => {
                    tokens.device_codes.remove(&code);
                    oauth_error(400, "expired_token", 70019, "Verification code expired.")
                }
                SignInOutcome::Approve => {
                    tokens.device_codes.remove(&code);
                    drop(tokens);
                    issue(shared, grant, resource, true)
                }
            }
        }
        "refresh_token" => {
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            if !shared.lock_tokens().refresh.contains(&rt) {
                return oauth_error(
                    400,
                    "invalid_grant",
                    700082,
                    "The refresh token has expired or is not valid.",
                );
            }
            match resource_of(form.get("scope")) {
                Some(resource) => issue(shared, grant, resource, true),
                None => invalid_scope(),
            }
        }
        "client_credentials" => {
            let has_assertion = form.contains_key("client_assertion");
            let secret_ok = match &shared.options.client_secret {
                None => has_assertion || form.contains_key("client_secret"),
                Some(expected) => has_assertion || form.get("client_secret") == Some(expected),
            };
            if !secret_ok {
                return oauth_error(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided.",
                );
            }
            let scope = form.get("scope").map(String::as_str).unwrap_or("");
            if !scope.ends_with("/.default") {
                return invalid_scope();
            }
            match resource_of(Some(&scope.to_owned())) {
                Some(resource) => issue(shared, grant, resource, false),
                None => invalid_scope(),
            }
        }
        other => oauth_error(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

/// Issues an access token for `resource` (and, delegated, a refresh and an ID token).
fn issue(shared: &Shared, grant: &str, resource: Resource, delegated: bool) -> ResponseTemplate {
    let o = &shared.options;
    let oid = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        o.user_principal_name.hash(&mut h);
        let v = h.finish();
        uuid::Uuid::from_u64_pair(v, v.rotate_left(17))
    };
    let audience = match resource {
        Resource::Graph => "https://graph.microsoft.com",
        _ => "https://outlook.office365.com",
    };
    // Opaque, as access tokens are to clients (Microsoft's are not always JWTs): who signed
    // in is in the ID token, and app-only credentials know their tenant.
    let access = random("access");
    let mut body = json!({
        "token_type": "Bearer",
        "scope": format!("{audience}/.default"),
        "expires_in": o.token_lifetime_secs,
        "ext_expires_in": o.token_lifetime_secs,
        "access_token": access,
    });
    let mut tokens = shared.lock_tokens();
    tokens.access.insert(access, resource);
    tokens.grants.push(grant.to_owned());
    if delegated {
        let rt = random("refresh");
        tokens.refresh.insert(rt.clone());
        body["refresh_token"] = json!(rt);
        body["id_token"] = json!(jwt(&json!({
            "tid": o.tenant_id,
            "oid": oid.to_string(),
            "preferred_username": o.user_principal_name,
            "name": "Simulated admin",
            "ver": "2.0",
        })));
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// The resource of the first scope that names one (Exchange or Graph).
fn resource_of(scope: Option<&String>) -> Option<Resource> {
    scope?.split(' ').find_map(|s| {
        let s = s.to_ascii_lowercase();
        if s.contains("graph") {
            Some(Resource::Graph)
        } else if s.contains("outlook") || s.contains("exchange") {
            Some(Resource::Exchange)
        } else {
            None
        }
    })
}

fn invalid_scope() -> ResponseTemplate {
    oauth_error(
        400,
        "invalid_scope",
        70011,
        "The provided value for the input parameter 'scope' is not valid.",
    )
}

fn random(prefix: &str) -> String {
    format!("sim-{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn jwt(claims: &Value) -> String {
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.",
        enc(r#"{"typ":"JWT","alg":"none"}"#),
        enc(&claims.to_string())
    )
}

fn oauth_error(status: u16, code: &str, aadsts: u32, text: &str) -> ResponseTemplate {
    let trace = uuid::Uuid::new_v4();
    ResponseTemplate::new(status).set_body_json(json!({
        "error": code,
        "error_description": format!("AADSTS{aadsts}: {text} Trace ID: {trace}"),
        "error_codes": [aadsts],
        "trace_id": trace.to_string(),
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    }))
}
