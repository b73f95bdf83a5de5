//! Simulated `POST /adminapi/beta/{tenant}/InvokeCommand`: the tenant's answer in the success
//! envelope, or its error in the envelope Exchange uses (§1.6 of the reference).

use serde_json::{json, Value};
use wiremock::{Request, ResponseTemplate};

use super::{bearer, Shared};
use crate::auth::Resource;
use crate::exchange::CmdletInput;
use crate::{ApiError, Error, ErrorKind};

pub(super) fn respond(shared: &Shared, tenant: &str, request: &Request) -> ResponseTemplate {
    match bearer(request).and_then(|t| shared.token_resource(t)) {
        Some(Resource::Exchange) => {}
        // A missing, unknown, revoked or Graph token: Exchange answers a bare 401.
        _ => {
            return ResponseTemplate::new(401).insert_header(
                "WWW-Authenticate",
                "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", error=\"invalid_token\"",
            )
        }
    }
    if !shared.is_tenant(tenant) {
        return error_envelope(
            &ApiError::new(
                ErrorKind::Exchange,
                format!("Tenant '{tenant}' is not known."),
            )
            .with_status(400)
            .with_code("Microsoft.Exchange.Configuration.Tasks.InvalidTenantException"),
        );
    }
    let input = match parse_input(&request.body) {
        Ok(input) => input,
        Err(message) => {
            return error_envelope(
                &ApiError::new(ErrorKind::Rejected, message)
                    .with_status(400)
                    .with_code("System.Management.Automation.ParameterBindingException"),
            )
        }
    };
    let latency = shared.tenant.latency();
    let answer = match shared.tenant.invoke_sync(&input) {
        Ok(records) => ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": format!("{}/adminapi/beta/{tenant}/$metadata#Collection(Exchange.GenericHashTable)", shared.base),
            "@adminapi.warnings": [],
            "value": records,
        })),
        Err(Error::Api(e)) => error_envelope(&e),
        // The HTTP stand-in for a dropped connection: an answer the client cannot decode.
        Err(Error::Network(_)) => ResponseTemplate::new(200)
            .set_body_raw(r#"{"@odata.context":"x","value":[{"Na"#, "application/json"),
        Err(other) => error_envelope(
            &ApiError::new(ErrorKind::Exchange, other.to_string())
                .with_status(500)
                .with_code("System.InvalidOperationException"),
        ),
    };
    answer.set_delay(latency)
}

/// Reads `{"CmdletInput": {"CmdletName": .., "Parameters": {..}}}`.
fn parse_input(body: &[u8]) -> Result<CmdletInput, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("The request body is not JSON: {e}"))?;
    let input = v
        .get("CmdletInput")
        .ok_or("The request body has no CmdletInput.")?;
    let name = input
        .get("CmdletName")
        .and_then(Value::as_str)
        .ok_or("CmdletInput has no CmdletName.")?;
    let params = match input.get("Parameters") {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return Err("CmdletInput.Parameters is not an object.".into()),
    };
    Ok(CmdletInput::new(name, params))
}

/// The answer Exchange gives for `e`: a plain-text 429 with Retry-After for throttling, a bare
/// 401, or the JSON error envelope with `details[0].message = "id|Type|text"`.
fn error_envelope(e: &ApiError) -> ResponseTemplate {
    let status = e.status.unwrap_or(match e.kind {
        ErrorKind::NotFound => 404,
        ErrorKind::Throttled => 429,
        ErrorKind::Transient => 503,
        ErrorKind::Forbidden => 403,
        ErrorKind::Unauthorized => 401,
        _ => 400,
    });
    match e.kind {
        ErrorKind::Throttled => {
            let mut t = ResponseTemplate::new(status).set_body_string(
                "You have reached the maximum number of concurrent requests per tenant. Please wait and try again.",
            );
            if let Some(after) = e.retry_after {
                let secs = after.as_millis().div_ceil(1000);
                t = t.insert_header("Retry-After", secs.to_string().as_str());
            }
            t
        }
        ErrorKind::Unauthorized => ResponseTemplate::new(401),
        _ => {
            let code = e
                .code
                .clone()
                .unwrap_or_else(|| "System.InvalidOperationException".into());
            let error_id = format!(
                "Ex{:06X}",
                uuid::Uuid::new_v4().as_u128() as u32 & 0xFF_FFFF
            );
            let mut t = ResponseTemplate::new(status).set_body_json(json!({
                "error": {
                    "code": status_code_name(status),
                    "message": "Error executing cmdlet",
                    "details": [{
                        "code": "Client",
                        "target": "",
                        "message": format!("{error_id}|{code}|{}", e.message),
                    }],
                    "innererror": {
                        "message": e.message,
                        "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                        "stacktrace": "",
                        "internalexception": { "message": e.message, "type": code },
                    },
                }
            }));
            if let Some(after) = e.retry_after {
                t = t.insert_header("Retry-After", after.as_secs().to_string().as_str());
            }
            t
        }
    }
}

fn status_code_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        403 => "Forbidden",
        404 => "NotFound",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "InternalServerError",
    }
}
