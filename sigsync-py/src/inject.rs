//! The MIME injector: core's `SignatureInjector` (policy, templates and injector joined)
//! built from a signature configuration; each call releases the GIL.

use std::sync::Arc;

use std::mem::MaybeUninit;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sigsync_core::inject::{Envelope, Output, SignatureInjector};
use sigsync_core::signature::{SignatureConfig, SignatureEngine, UserAttributes};
use sigsync_core::Error;

use crate::errors::to_py_err;
use crate::runtime::{core, detached, py_repr};
use crate::signature::{load_config, render_with, signature_names, user_arg, Rendered};

/// The outcome of one injection: `(label, reason, message)` where label is `injected`,
/// `skipped` or `failed`.
pub type InjectResult = (&'static str, Option<String>, Py<PyBytes>);

/// Puts signatures into MIME messages, choosing and rendering them with the configured
/// policy and directory. Share one between threads.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct Injector {
    engine: Arc<SignatureEngine>,
    service: SignatureInjector,
    config: SignatureConfig,
}

#[pymethods]
impl Injector {
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
        let engine = Arc::new(detached(py, move || core(built.engine(None)))?);
        let service = core(SignatureInjector::new(engine.clone()))?;
        Ok(Injector {
            engine,
            service,
            config,
        })
    }

    /// Injects the signature the policy chooses into `message`. `sender` and `recipients`
    /// are the SMTP envelope (both or neither; else the headers). Returns `(label, reason,
    /// message to send on)`; the message always carries the loop header.
    /// `user` is a mapping of Graph attribute names, overriding the directory's (with
    /// `groups`, the sender's groups for group-scoped rules); a malformed one fails the
    /// message, which passes through.
    #[pyo3(signature = (message, *, sender=None, recipients=None, user=None))]
    fn inject(
        &self,
        py: Python<'_>,
        message: &[u8],
        sender: Option<String>,
        recipients: Option<Vec<String>>,
        user: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<InjectResult> {
        let envelope = match (sender, recipients) {
            (Some(s), Some(r)) => Some(Envelope {
                mail_from: Some(s),
                rcpt_to: r,
            }),
            (None, None) => None,
            _ => {
                return Err(to_py_err(Error::validation(
                    "envelope",
                    "give both sender and recipients (the SMTP envelope), or neither",
                )))
            }
        };
        // A malformed `user` is bad per-message input: the message fails and passes through
        // (the class never raises for a bad message), so no mail is dropped.
        let user = user
            .map(|u| {
                pythonize::depythonize::<UserAttributes>(u)
                    .map_err(|e| format!("user is not a user mapping: {e}"))
            })
            .transpose();
        let (outcome, output) = detached(py, || {
            Ok(match &user {
                Ok(user) => self
                    .service
                    .prepare(message, envelope.as_ref(), user.as_ref()),
                Err(reason) => self.service.pass_through(message, reason.clone()),
            })
        })?;
        let out = bytes_from(py, &output)?;
        Ok((outcome.label(), outcome.reason(), out))
    }

    /// Client-side rendering, as `Signatures.render`.
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

    /// The loop header as `(name, value)`.
    #[getter]
    fn loop_header(&self) -> (String, String) {
        let h = self.engine.loop_header();
        (h.name.clone(), h.value.clone())
    }

    fn __repr__(&self) -> String {
        format!(
            "Injector(signatures=[{}], rules={}, loop_header={})",
            signature_names(&self.config),
            self.config.rules.len(),
            py_repr(Some(&self.engine.loop_header().name))
        )
    }
}

/// A new `bytes` holding `output`, written straight into it with the GIL released: one
/// allocation of the exact size, neither zero-filled first nor copied from a scratch buffer.
/// (On large messages, the page faults of a second fresh buffer and the copy out of it cost
/// more than the injection itself.)
fn bytes_from(py: Python<'_>, output: &Output<'_>) -> PyResult<Py<PyBytes>> {
    let len = output.len();
    let size = ffi::Py_ssize_t::try_from(len)
        .map_err(|_| to_py_err(Error::Internal("the message is too large".into())))?;
    // SAFETY: with a null source, `PyBytes_FromStringAndSize` returns a new, uninitialised
    // `bytes` of `size` bytes (or null with a MemoryError set); it is a new reference of type
    // `bytes`, which `Py` takes over.
    let bytes: Py<PyBytes> = unsafe {
        Py::from_owned_ptr_or_err(py, ffi::PyBytes_FromStringAndSize(std::ptr::null(), size))?
    };
    // SAFETY: `PyBytes_AsString` of a `bytes` is its buffer of `len` bytes (plus the final
    // NUL). Nothing else refers to the object yet, so writing to it, without the GIL, races
    // with no one; the slice ends before the object is handed to Python.
    let buf: &mut [MaybeUninit<u8>] = unsafe {
        let ptr = ffi::PyBytes_AsString(bytes.as_ptr()).cast::<MaybeUninit<u8>>();
        std::slice::from_raw_parts_mut(ptr, len)
    };
    detached(py, move || {
        let mut at = 0;
        for chunk in output.chunks() {
            let dst = &mut buf[at..at + chunk.len()];
            // SAFETY: `dst` and `chunk` have the same length, and the new object cannot
            // overlap the input or the edits.
            unsafe {
                std::ptr::copy_nonoverlapping(chunk.as_ptr(), dst.as_mut_ptr().cast(), chunk.len())
            };
            at += chunk.len();
        }
        if at == len {
            Ok(())
        } else {
            Err(to_py_err(Error::Internal(
                "the prepared message is shorter than its length".into(),
            )))
        }
    })?;
    Ok(bytes)
}
