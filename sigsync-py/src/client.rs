//! The Exchange Online client (REST, with the retry layer), over custom or per-cloud URLs.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use serde_json::Value;
use sigsync_core::exchange::rest::RestExchangeClient;
use sigsync_core::exchange::{ExchangeClient as CoreClient, RetryPolicy, RetryingClient};
use sigsync_core::model::{InboundConnector, OutboundConnector, TransportRule};
use sigsync_core::Error;

use crate::auth::{parse_cloud, Credentials};
use crate::errors::to_py_err;
use crate::models::{checked, existing_json, params_from_json, Kind};
use crate::runtime::{block_on, core, py_repr};

/// A client of Exchange Online and Microsoft Graph for one tenant. Every call blocks with the
/// GIL released; throttling and transient errors are retried in one layer.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct ExchangeClient {
    pub(crate) client: Arc<dyn CoreClient>,
    description: String,
}

fn json_string(value: impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(&value).map_err(|e| to_py_err(Error::Internal(e.to_string())))
}

#[pymethods]
impl ExchangeClient {
    /// A client with `credentials`. `exchange_url` and `graph_url` replace the cloud's
    /// endpoints; plain `http://` is refused unless `allow_http` (loopback only).
    /// `max_attempts` bounds the attempts per call (1 = no retries) and `max_retry_wait` the
    /// seconds one call may spend waiting between attempts.
    #[new]
    #[pyo3(signature = (credentials, *, tenant=None, cloud="global", exchange_url=None, graph_url=None, allow_http=false, timeout=None, max_attempts=5, max_retry_wait=120.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        credentials: &Credentials,
        tenant: Option<String>,
        cloud: &str,
        exchange_url: Option<String>,
        graph_url: Option<String>,
        allow_http: bool,
        timeout: Option<f64>,
        max_attempts: u32,
        max_retry_wait: f64,
    ) -> PyResult<Self> {
        let invalid = |field: &str, reason: String| to_py_err(Error::validation(field, reason));
        let mut builder = RestExchangeClient::builder(credentials.provider.clone())
            .cloud(parse_cloud(cloud)?)
            .allow_http(allow_http);
        if let Some(t) = tenant {
            builder = builder.tenant(t);
        }
        if let Some(u) = exchange_url {
            builder = builder.exchange_url(u);
        }
        if let Some(u) = graph_url {
            builder = builder.graph_url(u);
        }
        if let Some(t) = timeout {
            let t =
                Duration::try_from_secs_f64(t).map_err(|e| invalid("timeout", e.to_string()))?;
            builder = builder.timeout(t);
        }
        let rest = core(builder.build())?;
        let description = format!(
            "ExchangeClient(exchange_url={}, graph_url={})",
            py_repr(Some(rest.exchange_url().as_str())),
            py_repr(Some(rest.graph_url().as_str()))
        );
        if max_attempts == 0 {
            return Err(invalid("max_attempts", "must be at least 1".into()));
        }
        let policy = RetryPolicy {
            max_attempts,
            max_total: Duration::try_from_secs_f64(max_retry_wait)
                .map_err(|e| invalid("max_retry_wait", e.to_string()))?,
            ..RetryPolicy::default()
        };
        Ok(ExchangeClient {
            client: Arc::new(RetryingClient::new(rest, policy)),
            description,
        })
    }

    /// Every object of `kind` as JSON (guid, timestamps, parameters).
    fn list(&self, py: Python<'_>, kind: &str) -> PyResult<String> {
        let kind = Kind::parse(kind)?;
        let client = self.client.clone();
        let value = block_on(py, async move {
            let v = match kind {
                Kind::Outbound => {
                    existing_json(&client.list_outbound_connectors().await.map_err(to_py_err)?)
                }
                Kind::Inbound => {
                    existing_json(&client.list_inbound_connectors().await.map_err(to_py_err)?)
                }
                Kind::Rule => {
                    existing_json(&client.list_transport_rules().await.map_err(to_py_err)?)
                }
            };
            Ok(v)
        })?;
        Ok(value.to_string())
    }

    /// Creates the object of `kind` from its parameters (JSON); returns it as it exists.
    fn create(&self, py: Python<'_>, kind: &str, params_json: &str) -> PyResult<String> {
        let kind = Kind::parse(kind)?;
        let params = params_from_json(params_json)?;
        let client = self.client.clone();
        let value = match kind {
            Kind::Outbound => {
                let d: OutboundConnector = checked(&params)?;
                block_on(py, async move {
                    let e = client
                        .create_outbound_connector(&d)
                        .await
                        .map_err(to_py_err)?;
                    Ok(existing_json(&[e]))
                })?
            }
            Kind::Inbound => {
                let d: InboundConnector = checked(&params)?;
                block_on(py, async move {
                    let e = client
                        .create_inbound_connector(&d)
                        .await
                        .map_err(to_py_err)?;
                    Ok(existing_json(&[e]))
                })?
            }
            Kind::Rule => {
                let d: TransportRule = checked(&params)?;
                block_on(py, async move {
                    let e = client.create_transport_rule(&d).await.map_err(to_py_err)?;
                    Ok(existing_json(&[e]))
                })?
            }
        };
        Ok(match value {
            Value::Array(mut items) if !items.is_empty() => items.remove(0).to_string(),
            other => other.to_string(),
        })
    }

    /// Sets only the given parameters (JSON) on the object of `kind` named `identity`.
    fn update(
        &self,
        py: Python<'_>,
        kind: &str,
        identity: String,
        changes_json: &str,
    ) -> PyResult<()> {
        let kind = Kind::parse(kind)?;
        let changes = params_from_json(changes_json)?;
        let client = self.client.clone();
        block_on(py, async move {
            match kind {
                Kind::Outbound => client.update_outbound_connector(&identity, &changes).await,
                Kind::Inbound => client.update_inbound_connector(&identity, &changes).await,
                Kind::Rule => client.update_transport_rule(&identity, &changes).await,
            }
            .map_err(to_py_err)
        })
    }

    /// Removes the object of `kind` named `identity`.
    fn remove(&self, py: Python<'_>, kind: &str, identity: String) -> PyResult<()> {
        let kind = Kind::parse(kind)?;
        let client = self.client.clone();
        block_on(py, async move {
            match kind {
                Kind::Outbound => client.remove_outbound_connector(&identity).await,
                Kind::Inbound => client.remove_inbound_connector(&identity).await,
                Kind::Rule => client.remove_transport_rule(&identity).await,
            }
            .map_err(to_py_err)
        })
    }

    /// Enables or disables the transport rule named `identity`.
    fn set_rule_enabled(&self, py: Python<'_>, identity: String, enabled: bool) -> PyResult<()> {
        let client = self.client.clone();
        block_on(py, async move {
            if enabled {
                client.enable_transport_rule(&identity).await
            } else {
                client.disable_transport_rule(&identity).await
            }
            .map_err(to_py_err)
        })
    }

    /// The mail-enabled groups as JSON.
    fn list_mail_enabled_groups(&self, py: Python<'_>) -> PyResult<String> {
        let client = self.client.clone();
        let groups = block_on(py, async move {
            client.list_mail_enabled_groups().await.map_err(to_py_err)
        })?;
        json_string(groups)
    }

    /// The accepted domains as JSON.
    fn list_accepted_domains(&self, py: Python<'_>) -> PyResult<String> {
        let client = self.client.clone();
        let domains = block_on(py, async move {
            client.list_accepted_domains().await.map_err(to_py_err)
        })?;
        json_string(domains)
    }

    fn __repr__(&self) -> String {
        self.description.clone()
    }
}
