//! The MIME injector: a reusable, thread-safe `Injector` built from a signature
//! configuration; each call releases the GIL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sigsync_core::inject::{
    Choice as InjectChoice, Envelope, InjectConfig, Injector as CoreInjector, MessageInfo,
    MessageKind as InjectKind,
};
use sigsync_core::signature::{
    Choice, MessageContext, MessageKind, Origin, SenderData, SignatureConfig, SignatureEngine,
    UserAttributes,
};
use sigsync_core::Error;

use crate::runtime::{core, detached, py_repr, runtime};
use crate::signature::{load_config, parse_user, Rendered};

/// The outcome of one injection: `(label, reason, message)` where label is `injected`,
/// `skipped` or `failed`.
pub type InjectResult = (&'static str, Option<String>, Py<PyBytes>);

/// How many policy choices an injector remembers before it starts over.
const CHOICE_CACHE: usize = 1024;

/// What a choice depends on when no asynchronous directory is involved: sender, recipients,
/// reply or not, and the caller's attributes (JSON).
type ChoiceKey = (String, Vec<String>, bool, Option<String>);

/// Puts signatures into MIME messages, choosing and rendering them with the configured
/// policy and directory. Share one between threads.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct Injector {
    engine: Arc<SignatureEngine>,
    injector: CoreInjector,
    config: SignatureConfig,
    /// Rendered choices by their inputs: rendering the templates costs more than inserting
    /// them, and a service sees the same sender and recipients again and again. Only
    /// deterministic choices are kept (caller-supplied attributes or the in-memory
    /// directory; never Graph, whose data changes).
    choices: Mutex<HashMap<ChoiceKey, InjectChoice>>,
}

impl Injector {
    /// The policy's choice for a message, with `sender`, `recipients` and `user` overriding
    /// what the message says and what the directory knows.
    fn choose(
        &self,
        info: &MessageInfo,
        sender: Option<&str>,
        recipients: Option<&[String]>,
        user: Option<(&UserAttributes, &str)>,
    ) -> Result<InjectChoice, Error> {
        let ctx = MessageContext::new(
            sender
                .map(str::to_owned)
                .or_else(|| info.sender.clone())
                .unwrap_or_default(),
            recipients.map_or_else(|| info.recipients.clone(), <[String]>::to_vec),
            match info.kind {
                InjectKind::New => MessageKind::New,
                _ => MessageKind::Reply,
            },
        );
        let key: ChoiceKey = (
            ctx.sender.clone(),
            ctx.recipients.clone(),
            ctx.kind == MessageKind::Reply,
            user.map(|(_, json)| json.to_owned()),
        );
        if let Some(hit) = self.cached().get(&key) {
            return Ok(hit.clone());
        }
        let (choice, deterministic) = match user {
            Some((u, _)) => {
                let sender = SenderData {
                    attributes: Some(u.clone()),
                    groups: Vec::new(),
                };
                (
                    self.engine.choose_with(&ctx, &sender, Origin::Server)?,
                    true,
                )
            }
            None => match self.engine.choose_sync(&ctx) {
                Err(Error::Config(_)) => {
                    // An asynchronous directory (Graph): wait for it on the runtime.
                    let rt = runtime().map_err(|e| Error::Internal(e.to_string()))?;
                    (rt.block_on(self.engine.choose(&ctx))?, false)
                }
                other => (other?, true),
            },
        };
        let choice = match choice {
            Choice::Sign(sig) => InjectChoice::Sign(sig),
            Choice::NoSignature(reason) => InjectChoice::NoSignature(reason.to_string()),
        };
        if deterministic {
            let mut cache = self.cached();
            if cache.len() >= CHOICE_CACHE {
                cache.clear();
            }
            cache.insert(key, choice.clone());
        }
        Ok(choice)
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashMap<ChoiceKey, InjectChoice>> {
        self.choices.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Injector {
    /// Builds from exactly one of `path` (TOML or JSON file), `toml` or `json` text.
    #[new]
    #[pyo3(signature = (*, path=None, toml=None, json=None, max_depth=32, max_parts=1000))]
    fn new(
        py: Python<'_>,
        path: Option<&str>,
        toml: Option<&str>,
        json: Option<&str>,
        max_depth: usize,
        max_parts: usize,
    ) -> PyResult<Self> {
        let config = load_config(path, toml, json)?;
        let built = config.clone();
        let engine = detached(py, move || core(built.engine(None)))?;
        let injector = core(CoreInjector::new(InjectConfig {
            loop_header: config.loop_header.clone(),
            max_depth,
            max_parts,
        }))?;
        Ok(Injector {
            engine: Arc::new(engine),
            injector,
            config,
            choices: Mutex::new(HashMap::new()),
        })
    }

    /// Injects the signature the policy chooses into `message`. Returns
    /// `(label, reason, message to send on)`; the message always carries the loop header.
    #[pyo3(signature = (message, *, sender=None, recipients=None, user_json=None))]
    fn inject(
        &self,
        py: Python<'_>,
        message: &[u8],
        sender: Option<String>,
        recipients: Option<Vec<String>>,
        user_json: Option<&str>,
    ) -> PyResult<InjectResult> {
        let user = match user_json {
            Some(json) => Some((parse_user(json)?, json)),
            None => None,
        };
        let (label, reason, out) = detached(py, || {
            let envelope = match (&sender, &recipients) {
                (Some(s), Some(r)) => Some(Envelope {
                    mail_from: Some(s.clone()),
                    rcpt_to: r.clone(),
                }),
                _ => None,
            };
            let failure: Mutex<Option<Error>> = Mutex::new(None);
            let mut out = Vec::with_capacity(message.len() + 4096);
            let outcome = self.injector.inject(
                message,
                envelope.as_ref(),
                |info| {
                    self.choose(
                        info,
                        sender.as_deref(),
                        recipients.as_deref(),
                        user.as_ref().map(|(u, json)| (u, *json)),
                    )
                    .unwrap_or_else(|e| {
                        let reason = e.to_string();
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        InjectChoice::NoSignature(reason)
                    })
                },
                &mut out,
            );
            let failed = failure.into_inner().unwrap_or_else(|p| p.into_inner());
            Ok(match (failed, &outcome) {
                (Some(e), _) => ("failed", Some(e.to_string()), out),
                (None, o) => (o.label(), o.reason(), out),
            })
        })?;
        Ok((label, reason, PyBytes::new(py, &out).unbind()))
    }

    /// Client-side rendering, as `Signatures.render`.
    #[pyo3(signature = (*, sender=None, recipients=Vec::new(), reply=false, user_json=None))]
    fn render(
        &self,
        py: Python<'_>,
        sender: Option<String>,
        recipients: Vec<String>,
        reply: bool,
        user_json: Option<&str>,
    ) -> PyResult<Rendered> {
        crate::signature::render_with(py, &self.engine, sender, recipients, reply, user_json)
    }

    /// The loop header as `(name, value)`.
    #[getter]
    fn loop_header(&self) -> (String, String) {
        let h = &self.config.loop_header;
        (h.name.clone(), h.value.clone())
    }

    fn __repr__(&self) -> String {
        format!(
            "Injector(signatures=[{}], rules={}, loop_header={})",
            self.config
                .signatures
                .keys()
                .map(|k| py_repr(Some(k)))
                .collect::<Vec<_>>()
                .join(", "),
            self.config.rules.len(),
            py_repr(Some(&self.config.loop_header.name))
        )
    }
}
