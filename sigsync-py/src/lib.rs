//! The native module `sigsync._sigsync` behind the Python package `sigsync`.
//!
//! A thin layer: it converts arguments and results (JSON for structured values, which the
//! pure-Python layer turns into classes) and errors; behaviour lives in `sigsync-core`. Every
//! network or CPU-heavy call releases the GIL and catches panics (the `runtime` module).

use pyo3::prelude::*;

mod auth;
mod client;
mod errors;
mod inject;
mod models;
mod relay;
mod runtime;
mod setup;
mod signature;
mod sim;

/// The native part of the `sigsync` package.
#[pymodule(gil_used = false)]
fn _sigsync(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(errors::error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(errors::raise_sample_error, m)?)?;
    m.add_function(wrap_pyfunction!(errors::panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(models::definition_params, m)?)?;
    m.add_function(wrap_pyfunction!(models::validate_definition, m)?)?;
    m.add_function(wrap_pyfunction!(models::definition_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(models::enum_values, m)?)?;
    m.add_function(wrap_pyfunction!(setup::normalize_profile, m)?)?;
    m.add_function(wrap_pyfunction!(setup::create_profile, m)?)?;
    m.add_function(wrap_pyfunction!(setup::load_or_init_profile, m)?)?;
    m.add_function(wrap_pyfunction!(setup::normalize_setup, m)?)?;
    m.add_function(wrap_pyfunction!(setup::desired_definitions, m)?)?;
    m.add_function(wrap_pyfunction!(auth::sign_in_device_code, m)?)?;
    m.add_function(wrap_pyfunction!(auth::sign_in_app_only, m)?)?;
    m.add_class::<auth::Credentials>()?;
    m.add_class::<client::ExchangeClient>()?;
    m.add_class::<setup::SetupEngine>()?;
    m.add_class::<setup::Plan>()?;
    m.add_class::<setup::Report>()?;
    m.add_class::<signature::Signatures>()?;
    m.add_class::<inject::Injector>()?;
    m.add_class::<sim::SimServer>()?;
    m.add_class::<relay::RelayServer>()?;
    Ok(())
}
