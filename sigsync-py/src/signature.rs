//! Signature configurations and client-side rendering.

use std::sync::Arc;

use pyo3::prelude::*;
use sigsync_core::signature::{
    Choice, MessageContext, MessageKind, SignatureConfig, SignatureEngine, UserAttributes,
};
use sigsync_core::Error;

use crate::errors::to_py_err;
use crate::runtime::{block_on, core, detached, py_repr};

/// A rendering: `(html, text, disclaimer_html, disclaimer_text)` when signed, or the reason
/// there is no signature.
pub type Rendered = (
    Option<(String, String, Option<String>, Option<String>)>,
    Option<String>,
);

/// Reads a configuration from exactly one of a file path, TOML text or JSON text.
pub fn load_config(
    path: Option<&str>,
    toml: Option<&str>,
    json: Option<&str>,
) -> PyResult<SignatureConfig> {
    match (path, toml, json) {
        (Some(p), None, None) => core(SignatureConfig::load(p)),
        (None, Some(t), None) => core(SignatureConfig::from_toml_str(t)),
        (None, None, Some(j)) => core(SignatureConfig::from_json_str(j)),
        _ => Err(to_py_err(Error::validation(
            "config",
            "give exactly one of path, toml or json",
        ))),
    }
}

/// Reads user attributes from a mapping with Graph names (displayName, jobTitle, ...,
/// `custom`), with serde as from Graph's JSON: unknown keys are ignored, a value of the wrong
/// type is a validation error naming `user`.
pub fn user_arg(user: Option<&Bound<'_, PyAny>>) -> PyResult<Option<UserAttributes>> {
    user.map(|u| {
        pythonize::depythonize::<UserAttributes>(u)
            .map_err(|e| to_py_err(Error::validation("user", e.to_string())))
    })
    .transpose()
}

/// The configured signatures' names as Python string literals, for reprs.
pub fn signature_names(config: &SignatureConfig) -> String {
    config
        .signatures
        .keys()
        .map(|k| py_repr(Some(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Turns a policy choice into the Python-side shape.
pub fn rendered(choice: Choice) -> Rendered {
    match choice {
        Choice::Sign(s) => (
            Some((s.html, s.text, s.disclaimer_html, s.disclaimer_text)),
            None,
        ),
        Choice::NoSignature(reason) => (None, Some(reason.to_string())),
    }
}

/// Client-side rendering with `engine` for `sender` writing to `recipients`: with `user`
/// the given attributes are used, otherwise the configured directory's.
pub fn render_with(
    py: Python<'_>,
    engine: &Arc<SignatureEngine>,
    sender: Option<String>,
    recipients: Vec<String>,
    reply: bool,
    user: Option<UserAttributes>,
) -> PyResult<Rendered> {
    let kind = if reply {
        MessageKind::Reply
    } else {
        MessageKind::New
    };
    let sender = sender
        .or_else(|| user.as_ref().and_then(|u| u.mail.clone()))
        .unwrap_or_default();
    let ctx = MessageContext::new(sender, recipients, kind);
    let engine = engine.clone();
    let choice = match user {
        Some(user) => detached(py, move || core(engine.render_client_side(&user, &ctx)))?,
        None => block_on(py, async move {
            engine.choose_client_side(&ctx).await.map_err(to_py_err)
        })?,
    };
    Ok(rendered(choice))
}

/// Compiled signature templates, policy and directory, built from one configuration.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct Signatures {
    pub(crate) engine: Arc<SignatureEngine>,
    pub(crate) config: SignatureConfig,
}

#[pymethods]
impl Signatures {
    /// Builds from exactly one of `path` (TOML or JSON file), `toml` or `json` text.
    #[new]
    #[pyo3(signature = (*, path=None, toml=None, json=None))]
    fn new(
        py: Python<'_>,
        path: Option<&str>,
        toml: Option<&str>,
        json: Option<&str>,
    ) -> PyResult<Self> {
        let config = load_config(path, toml, json)?;
        let built = config.clone();
        let engine = detached(py, move || core(built.engine(None)))?;
        Ok(Signatures {
            engine: Arc::new(engine),
            config,
        })
    }

    /// Client-side rendering for `sender` writing to `recipients`: with `user` the
    /// given attributes are used, otherwise the configured directory's.
    #[pyo3(signature = (*, sender=None, recipients=Vec::new(), reply=false, user=None))]
    fn render(
        &self,
        py: Python<'_>,
        sender: Option<String>,
        recipients: Vec<String>,
        reply: bool,
        user: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Rendered> {
        render_with(py, &self.engine, sender, recipients, reply, user_arg(user)?)
    }

    /// The accepted domains (recipients there are internal).
    #[getter]
    fn accepted_domains(&self) -> Vec<String> {
        self.engine.accepted_domains().to_vec()
    }

    /// The loop header as `(name, value)`.
    #[getter]
    fn loop_header(&self) -> (String, String) {
        let h = self.engine.loop_header();
        (h.name.clone(), h.value.clone())
    }

    fn __repr__(&self) -> String {
        format!(
            "Signatures(signatures=[{}], rules={})",
            signature_names(&self.config),
            self.config.rules.len()
        )
    }
}
