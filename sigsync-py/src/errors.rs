//! The one conversion from a core error to a Python exception.
//!
//! The classes live in the pure-Python module `sigsync._errors` (so they can subclass
//! `ValueError` too and carry typed attributes); [`to_py_err`] picks the class that
//! [`ErrorKind::python_class`] names, so every kind maps in one place.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use sigsync_core::{Error, ErrorKind};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The Python exception for a core error.
pub fn to_py_err(err: Error) -> PyErr {
    Python::attach(|py| build(py, &err).unwrap_or_else(|e| e))
}

/// The exception class for `kind`.
pub fn class_for(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyAny>> {
    let module = ERRORS.get_or_try_init(py, || py.import("sigsync._errors").map(Bound::unbind))?;
    module.bind(py).getattr(kind.python_class())
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let kind = err.kind();
    let class = class_for(py, kind)?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("kind", kind.name())?;
    match err {
        Error::Validation { field, reason } => {
            kwargs.set_item("field", field)?;
            kwargs.set_item("reason", reason)?;
        }
        Error::Api(api) => {
            kwargs.set_item("status", api.status)?;
            kwargs.set_item("code", api.code.as_deref())?;
            kwargs.set_item("message", &api.message)?;
            kwargs.set_item("retry_after", api.retry_after.map(|d| d.as_secs_f64()))?;
            kwargs.set_item("operation", api.operation.as_deref())?;
        }
        Error::Auth(auth) => {
            kwargs.set_item("code", auth.code.as_deref())?;
            kwargs.set_item("aadsts", auth.aadsts)?;
            kwargs.set_item("description", &auth.description)?;
        }
        _ => {}
    }
    let args = PyTuple::new(py, [err.to_string()])?;
    let value = class.call(args, Some(&kwargs))?;
    if value.is_instance_of::<pyo3::exceptions::PyBaseException>() {
        Ok(PyErr::from_value(value))
    } else {
        Ok(PyRuntimeError::new_err(err.to_string()))
    }
}

/// Every error kind as `(name, code, class name)`, in table order: the tests check that
/// each names an exception class of the package.
#[pyfunction]
pub fn error_kinds() -> Vec<(&'static str, u32, &'static str)> {
    ErrorKind::ALL
        .iter()
        .map(|k| (k.name(), k.code(), k.python_class()))
        .collect()
}

/// Raises the exception a core error of kind `name` becomes, with sample attributes: for
/// tests of the mapping.
#[pyfunction]
pub fn raise_sample_error(name: &str) -> PyResult<()> {
    use sigsync_core::{ApiError, AuthError};
    let kind = ErrorKind::ALL
        .iter()
        .copied()
        .find(|k| k.name() == name)
        .ok_or_else(|| to_py_err(Error::validation("name", format!("no error kind {name:?}"))))?;
    let err = match kind {
        ErrorKind::Validation => Error::validation("SmartHosts", "at least one is required"),
        ErrorKind::Config => Error::Config("sample".into()),
        ErrorKind::Conflict => Error::Conflict("sample".into()),
        ErrorKind::Network => Error::Network("sample".into()),
        ErrorKind::Internal => Error::Internal("sample".into()),
        k if k.code() / 100 == 2 => Error::Auth(AuthError {
            kind: k,
            code: Some("invalid_grant".into()),
            aadsts: Some(70000),
            description: "sample".into(),
        }),
        k => {
            let mut api = ApiError::new(k, "sample")
                .with_status(400)
                .with_code("SampleException")
                .with_operation("New-TransportRule");
            if k == ErrorKind::Throttled {
                api = api
                    .with_status(429)
                    .with_retry_after(std::time::Duration::from_millis(1500));
            }
            Error::Api(api)
        }
    };
    Err(to_py_err(err))
}

/// Panics inside the boundary: the tests check that Python sees `InternalError`.
#[pyfunction]
pub fn panic_for_test(py: Python<'_>) -> PyResult<()> {
    crate::runtime::detached(py, || -> PyResult<()> {
        panic!("deliberate panic for a test")
    })
}
