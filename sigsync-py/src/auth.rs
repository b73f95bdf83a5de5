//! Microsoft sign-in: the device code flow (prompt through a Python callback) and app-only
//! credentials. Both yield a `Credentials` object the Exchange client takes.

use std::sync::Arc;

use pyo3::prelude::*;
use sigsync_core::auth::{
    AppOnlyTokenProvider, AuthConfig, CertificateCredential, Cloud, DeviceCodeFlow, TokenProvider,
};
use sigsync_core::{Error, Secret};

use crate::errors::to_py_err;
use crate::runtime::{block_on, core, py_repr};

/// Parses a cloud name (`global`, `usgovgcchigh`, `usgovdod`, `china`).
pub fn parse_cloud(name: &str) -> PyResult<Cloud> {
    match name.to_ascii_lowercase().as_str() {
        "global" => Ok(Cloud::Global),
        "usgovgcchigh" | "gcchigh" => Ok(Cloud::UsGovGccHigh),
        "usgovdod" | "dod" => Ok(Cloud::UsGovDod),
        "china" => Ok(Cloud::China),
        other => Err(to_py_err(Error::validation(
            "cloud",
            format!("unknown cloud {other:?}"),
        ))),
    }
}

fn config(
    client_id: &str,
    tenant: &str,
    cloud: &str,
    login_url: Option<&str>,
    allow_http: bool,
) -> PyResult<AuthConfig> {
    let mut builder = AuthConfig::builder(client_id, tenant)
        .cloud(parse_cloud(cloud)?)
        .allow_http(allow_http);
    if let Some(url) = login_url {
        builder = builder.login_url(url);
    }
    core(builder.build())
}

/// Signed-in credentials: hands out Exchange and Graph tokens and refreshes them. Tokens
/// never appear in its repr.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct Credentials {
    pub(crate) provider: Arc<dyn TokenProvider>,
    kind: &'static str,
}

#[pymethods]
impl Credentials {
    /// The tenant id (a GUID) the credentials belong to, when known.
    #[getter]
    fn tenant_id(&self) -> Option<String> {
        self.provider.identity().map(|i| i.tenant_id)
    }

    /// The signed-in admin's user principal name; `None` for app-only credentials.
    #[getter]
    fn user_principal_name(&self) -> Option<String> {
        self.provider.identity().and_then(|i| i.user_principal_name)
    }

    /// `"delegated"` (device code) or `"app_only"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn __repr__(&self) -> String {
        format!(
            "Credentials(kind={}, tenant_id={}, user_principal_name={})",
            py_repr(Some(self.kind)),
            py_repr(self.tenant_id().as_deref()),
            py_repr(self.user_principal_name().as_deref())
        )
    }
}

/// Signs in with a device code. `prompt` is called once with `(user_code,
/// verification_uri, message, expires_in_secs, interval_secs)`; if it raises, the sign-in is
/// cancelled and the exception propagates. Blocks (with the GIL released) until the admin
/// finishes.
#[pyfunction]
#[pyo3(signature = (client_id, tenant, prompt, *, cloud="global", login_url=None, allow_http=false))]
pub fn sign_in_device_code(
    py: Python<'_>,
    client_id: &str,
    tenant: &str,
    prompt: Py<PyAny>,
    cloud: &str,
    login_url: Option<&str>,
    allow_http: bool,
) -> PyResult<Credentials> {
    let flow = DeviceCodeFlow::new(config(client_id, tenant, cloud, login_url, allow_http)?);
    let provider = block_on(py, async move {
        let pending = flow.start().await.map_err(to_py_err)?;
        let p = pending.prompt().clone();
        Python::attach(|py| {
            prompt.call1(
                py,
                (
                    p.user_code,
                    p.verification_uri,
                    p.message,
                    p.expires_in.as_secs_f64(),
                    p.interval.as_secs_f64(),
                ),
            )
        })?;
        pending.wait().await.map_err(to_py_err)
    })?;
    Ok(Credentials {
        provider: Arc::new(provider),
        kind: "delegated",
    })
}

/// App-only sign-in (client credentials) with a client secret or a certificate (PEM
/// certificate and private key). Fetches a first token to check the credentials.
#[pyfunction]
#[pyo3(signature = (client_id, tenant, *, client_secret=None, certificate_pem=None, private_key_pem=None, cloud="global", login_url=None, allow_http=false))]
#[allow(clippy::too_many_arguments)]
pub fn sign_in_app_only(
    py: Python<'_>,
    client_id: &str,
    tenant: &str,
    client_secret: Option<String>,
    certificate_pem: Option<String>,
    private_key_pem: Option<String>,
    cloud: &str,
    login_url: Option<&str>,
    allow_http: bool,
) -> PyResult<Credentials> {
    let config = config(client_id, tenant, cloud, login_url, allow_http)?;
    let provider = match (client_secret, certificate_pem, private_key_pem) {
        (Some(secret), None, None) => core(AppOnlyTokenProvider::with_secret(
            config,
            Secret::new(secret),
        ))?,
        (None, Some(cert), Some(key)) => {
            let cert = core(CertificateCredential::from_pem(cert, &Secret::new(key)))?;
            core(AppOnlyTokenProvider::with_certificate(config, cert))?
        }
        _ => {
            return Err(to_py_err(Error::validation(
                "credential",
                "give either client_secret, or certificate_pem and private_key_pem",
            )))
        }
    };
    let provider: Arc<dyn TokenProvider> = Arc::new(provider);
    let check = provider.clone();
    block_on(py, async move {
        check
            .token(sigsync_core::auth::Resource::Exchange)
            .await
            .map(drop)
            .map_err(to_py_err)
    })?;
    Ok(Credentials {
        provider,
        kind: "app_only",
    })
}
