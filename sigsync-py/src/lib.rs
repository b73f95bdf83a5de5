//! The native module `sigsync._sigsync` behind the Python package `sigsync`.

use pyo3::prelude::*;

/// The native part of the `sigsync` package.
#[pymodule(gil_used = false)]
fn _sigsync(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
