//! `POST {exchange}/adminapi/beta/{tenant}/InvokeCommand`: the request, and reading the answer.

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;
use tracing::Instrument;
use url::Url;

use super::client::{now, RestExchangeClient};
use super::errors::exchange_error;
use crate::auth::{Resource, SignedInIdentity};
use crate::exchange::CmdletInput;
use crate::http::{join_path, Answer};
use crate::model::Params;
use crate::{ApiError, Error, ErrorKind, Result};

/// The tenant system mailbox that app-only calls anchor on.
const SYSTEM_MAILBOX: &str = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

/// The most pages one Get-* follows before giving up (each is tried once).
const MAX_PAGES: usize = 50;

/// What one InvokeCommand page said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvokePage {
    /// The output records (`value`).
    pub records: Vec<Params>,
    /// `@adminapi.warnings`.
    pub warnings: Vec<String>,
    /// `@odata.nextLink`.
    pub next_link: Option<String>,
    /// Whether the answer had a `value` array at all.
    pub has_value: bool,
}

/// Parses a successful InvokeCommand body. An empty body, or one without `value`, is no records
/// (Remove-/Enable-/Disable- cmdlets have no output). Unknown keys are ignored.
pub fn parse_invoke_page(body: &[u8]) -> std::result::Result<InvokePage, String> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(InvokePage::default());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("the answer is not a JSON object")?;
    let has_value = matches!(obj.get("value"), Some(Value::Array(_)));
    let records = match obj.get("value") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(o) => Ok(o.clone()),
                other => Err(format!("a record is not an object: {other}")),
            })
            .collect::<std::result::Result<_, _>>()?,
        Some(other) => return Err(format!("`value` is not an array: {other}")),
    };
    let warnings = obj
        .get("@adminapi.warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_owned))
        .collect();
    let next_link = obj
        .get("@odata.nextLink")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Ok(InvokePage {
        records,
        warnings,
        next_link,
        has_value,
    })
}

/// The `X-AnchorMailbox` value: `UPN:<upn>` for an admin; for an app the tenant system mailbox,
/// `APP:SystemMailbox{…}@<tenant id>` (or `UPN:SystemMailbox{…}@<domain>` when the tenant is
/// known by a domain).
pub fn anchor_mailbox(identity: Option<&SignedInIdentity>, tenant: &str) -> String {
    match identity {
        Some(SignedInIdentity {
            user_principal_name: Some(upn),
            ..
        }) if !upn.is_empty() => format!("UPN:{upn}"),
        Some(id) if uuid::Uuid::parse_str(&id.tenant_id).is_ok() => {
            format!("APP:{SYSTEM_MAILBOX}@{}", id.tenant_id)
        }
        Some(id) if !id.tenant_id.is_empty() => format!("UPN:{SYSTEM_MAILBOX}@{}", id.tenant_id),
        // Only a domain is known: ScubaGear's form of the same anchor.
        _ => format!("UPN:{SYSTEM_MAILBOX}@{tenant}"),
    }
}

impl RestExchangeClient {
    /// Runs one cmdlet through InvokeCommand and returns its records; see the module docs for
    /// how truncation and errors are handled.
    pub(super) async fn invoke_command(&self, input: &CmdletInput) -> Result<Vec<Params>> {
        let request_id = uuid::Uuid::new_v4();
        let span = tracing::info_span!("exchange", cmdlet = %input.name, request_id = %request_id);
        self.invoke_inner(input, request_id)
            .instrument(span)
            .await
            .map_err(|e| match e {
                Error::Api(api) if api.operation.is_none() => {
                    Error::Api(api.with_operation(&input.name))
                }
                other => other,
            })
    }

    async fn invoke_inner(
        &self,
        input: &CmdletInput,
        request_id: uuid::Uuid,
    ) -> Result<Vec<Params>> {
        // The token first: a sign-in knows who signed in once it has one.
        self.inner
            .exchange
            .provider
            .token(Resource::Exchange)
            .await?;
        let tenant = self.tenant()?;
        let url = join_path(
            &self.inner.exchange.base,
            &["adminapi", "beta", &tenant, "InvokeCommand"],
        );
        let body = input.to_body();
        let anchor = anchor_mailbox(self.inner.exchange.provider.identity().as_ref(), &tenant);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("x-responseformat", HeaderValue::from_static("json"));
        headers.insert(
            "client-request-id",
            HeaderValue::from_str(&request_id.to_string()).expect("a UUID is a header value"),
        );
        headers.insert(
            "x-anchormailbox",
            HeaderValue::from_str(&anchor).map_err(|_| {
                Error::validation("user_principal_name", "not usable in X-AnchorMailbox")
            })?,
        );

        let started = std::time::Instant::now();
        let answer = self.post(&url, &headers, &body).await?;
        tracing::debug!(
            status = answer.status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "InvokeCommand"
        );
        let mut page = self.read_page(&answer)?;
        let mut records = std::mem::take(&mut page.records);
        if !input.is_write() && !page.has_value {
            return Err(Error::Api(
                ApiError::new(
                    ErrorKind::Exchange,
                    "the answer has no `value`: cannot tell what exists",
                )
                .with_status(answer.status)
                .with_operation(&input.name),
            ));
        }
        if !input.is_write() {
            let mut pages = 1;
            while page.next_link.is_some() || !page.warnings.is_empty() {
                let Some(next) = page.next_link.take() else {
                    return Err(truncated(
                        input,
                        format!("Exchange warned {:?} and gave no next page", page.warnings),
                        None,
                    ));
                };
                if pages >= MAX_PAGES {
                    return Err(truncated(
                        input,
                        format!("more than {MAX_PAGES} pages"),
                        None,
                    ));
                }
                let next_url = Url::parse(&next).map_err(|e| {
                    truncated(input, format!("the next page link is not a URL: {e}"), None)
                })?;
                tracing::debug!(page = pages + 1, "following @odata.nextLink");
                page = match self.post(&next_url, &headers, &body).await {
                    Ok(a) if a.is_success() => self.read_page(&a)?,
                    Ok(a) => {
                        let e = exchange_error(&a.error_response(), now());
                        return Err(truncated(input, e.message.clone(), Some(e)));
                    }
                    Err(e) => return Err(truncated(input, e.to_string(), e.as_api().cloned())),
                };
                records.append(&mut page.records);
                pages += 1;
            }
        } else if !page.warnings.is_empty() {
            tracing::warn!(warnings = ?page.warnings, "Exchange warned");
        }
        Ok(records)
    }

    async fn post(&self, url: &Url, headers: &HeaderMap, body: &Value) -> Result<Answer> {
        self.inner
            .exchange
            .send(Method::POST, url, headers, Some(body))
            .await
    }

    fn read_page(&self, answer: &Answer) -> Result<InvokePage> {
        if !answer.is_success() {
            return Err(Error::Api(exchange_error(&answer.error_response(), now())));
        }
        parse_invoke_page(&answer.body).map_err(|e| {
            Error::Network(format!(
                "undecodable InvokeCommand answer (HTTP {}): {e}",
                answer.status
            ))
        })
    }
}

/// The loud failure for a Get-* whose results are incomplete.
fn truncated(input: &CmdletInput, reason: String, cause: Option<ApiError>) -> Error {
    let message = format!(
        "the results were truncated and the rest could not be read, so none are returned: {reason}"
    );
    let mut e = ApiError::new(ErrorKind::Exchange, message).with_operation(&input.name);
    if let Some(cause) = cause {
        if let Some(status) = cause.status {
            e = e.with_status(status);
        }
        if let Some(code) = cause.code {
            e = e.with_code(code);
        }
    }
    Error::Api(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_page_reads_value_warnings_and_next_link_ignoring_unknown_keys() {
        let page = parse_invoke_page(
            br#"{"@odata.context":"x","@adminapi.warnings":["more results"],"value":[{"Name":"A","Name@data.type":"System.String"}],"@odata.nextLink":"https://h/next"}"#,
        )
        .unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.records[0]["Name"], "A");
        assert_eq!(page.warnings, ["more results"]);
        assert_eq!(page.next_link.as_deref(), Some("https://h/next"));
        assert!(page.has_value);
    }

    #[test]
    fn empty_body_or_missing_value_is_no_records() {
        assert_eq!(parse_invoke_page(b"").unwrap(), InvokePage::default());
        assert_eq!(parse_invoke_page(b"{}").unwrap(), InvokePage::default());
        assert!(parse_invoke_page(b"<html>").is_err());
        assert!(parse_invoke_page(br#"{"value":[1]}"#).is_err());
    }

    #[test]
    fn anchor_is_the_admin_upn_or_the_tenant_system_mailbox() {
        let admin = SignedInIdentity {
            tenant_id: "t".into(),
            user_principal_name: Some("admin@contoso.com".into()),
        };
        assert_eq!(anchor_mailbox(Some(&admin), "x"), "UPN:admin@contoso.com");
        let app = SignedInIdentity {
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            user_principal_name: None,
        };
        assert_eq!(
            anchor_mailbox(Some(&app), "contoso.com"),
            "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@72f988bf-86f1-41af-91ab-2d7cd011db47"
        );
        assert_eq!(
            anchor_mailbox(None, "contoso.com"),
            "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.com"
        );
    }
}
