//! The setup engine: preflight, plan, configure/apply, pause, resume, remove and status,
//! with progress through a Python callback.

use std::sync::Arc;

use pyo3::prelude::*;
use sigsync_core::setup::{
    ConnectorSetup, Plan as CorePlan, Progress, Report as CoreReport, ServiceProfile,
    SetupEngine as CoreEngine,
};
use sigsync_core::Error;

use crate::client::ExchangeClient;
use crate::errors::to_py_err;
use crate::runtime::{block_on, core, guard};

fn to_json(value: impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(&value).map_err(|e| to_py_err(Error::Internal(e.to_string())))
}

/// Reads a connector setup from JSON and validates it.
fn parse_setup(json: &str) -> PyResult<ConnectorSetup> {
    let setup: ConnectorSetup = serde_json::from_str(json)
        .map_err(|e| to_py_err(Error::Config(format!("connector setup: {e}"))))?;
    core(setup.validate())?;
    Ok(setup)
}

/// Reads a saved service profile from JSON (the one reader: `tls_domain` defaults to the
/// first smart host; a missing loop-header value is an error), validates it; returns the
/// whole profile as JSON.
#[pyfunction]
pub fn normalize_profile(json: &str) -> PyResult<String> {
    guard(|| to_json(core(ServiceProfile::from_json(json))?))
}

/// A new service profile from JSON: as `normalize_profile`, but a missing loop-header value
/// is generated (random); returns the whole profile as JSON.
#[pyfunction]
pub fn create_profile(json: &str) -> PyResult<String> {
    guard(|| to_json(core(ServiceProfile::create_from_json(json))?))
}

/// Reads a profile file, generating and saving its loop-header value when it has none;
/// returns the profile as JSON and whether the file was written.
#[pyfunction]
pub fn load_or_init_profile(path: std::path::PathBuf) -> PyResult<(String, bool)> {
    guard(|| {
        let (profile, written) = core(ServiceProfile::load_or_init(&path))?;
        Ok((to_json(profile)?, written))
    })
}

/// Validates a connector setup given as JSON; returns it as JSON with every field.
#[pyfunction]
pub fn normalize_setup(json: &str) -> PyResult<String> {
    guard(|| to_json(parse_setup(json)?))
}

/// The definitions a connector setup turns into, as JSON: `outbound`, `inbound`,
/// `routing_rule` and `auto_reply_rule` (null when auto-replies are not excepted), each as
/// cmdlet parameters.
#[pyfunction]
pub fn desired_definitions(json: &str) -> PyResult<String> {
    guard(|| {
        let d = parse_setup(json)?.desired();
        let value = serde_json::json!({
            "outbound": d.outbound.to_params(),
            "inbound": d.inbound.to_params(),
            "routing_rule": d.routing_rule.to_params(),
            "auto_reply_rule": d.auto_reply_rule.map(|r| r.to_params()),
        });
        Ok(value.to_string())
    })
}

/// A plan computed by `SetupEngine.plan`, to show or to apply.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct Plan {
    plan: CorePlan,
    findings: String,
}

#[pymethods]
impl Plan {
    /// The plan as JSON: `steps` (op, kind, name, changes) and `unchanged`.
    fn to_json(&self) -> String {
        self.plan.to_json()
    }

    /// The preflight findings found with the plan, as JSON.
    fn findings_json(&self) -> String {
        self.findings.clone()
    }

    fn __str__(&self) -> String {
        self.plan.to_string()
    }

    fn __len__(&self) -> usize {
        self.plan.steps.len()
    }
}

/// What configure, apply, pause, resume or remove did.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct Report {
    report: CoreReport,
}

#[pymethods]
impl Report {
    /// The report as JSON: action, steps with outcomes, writes, status, error, findings.
    fn to_json(&self) -> String {
        self.report.to_json()
    }

    /// Whether every step succeeded.
    #[getter]
    fn succeeded(&self) -> bool {
        self.report.succeeded()
    }

    /// The first failure as a `sigsync` exception instance, or `None`.
    fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.report
            .error
            .clone()
            .map(|e| to_py_err(e).into_value(py).into_any())
    }

    fn __str__(&self) -> String {
        self.report.to_string()
    }
}

/// Calls the Python progress callback with `(event, step_json, error)`; an exception it
/// raises is reported as unraisable (progress cannot stop a half-applied plan).
fn progress_fn(callback: Option<Py<PyAny>>) -> impl Fn(Progress<'_>) + Send + Sync {
    move |p: Progress<'_>| {
        let Some(cb) = &callback else { return };
        let (event, step, error) = match p {
            Progress::Started(s) => ("started", s, None),
            Progress::Finished(s) => ("finished", s, None),
            Progress::Adopted(s) => ("adopted", s, None),
            Progress::Failed(s, e) => ("failed", s, Some(e.clone())),
            Progress::Undoing(s) => ("undoing", s, None),
        };
        let step = serde_json::to_string(step).unwrap_or_default();
        let error = error.map(to_py_err);
        Python::attach(|py| {
            let error = error.map(|e| e.into_value(py).into_any());
            if let Err(e) = cb.call1(py, (event, step, error)) {
                e.write_unraisable(py, Some(cb.bind(py)));
            }
        });
    }
}

/// Runs the connector wizard's operations against one tenant.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct SetupEngine {
    engine: Arc<CoreEngine>,
}

impl SetupEngine {
    fn report<F, Fut>(
        &self,
        py: Python<'_>,
        setup: &str,
        progress: Option<Py<PyAny>>,
        op: F,
    ) -> PyResult<Report>
    where
        F: FnOnce(Arc<CoreEngine>, ConnectorSetup, Box<dyn Fn(Progress<'_>) + Send + Sync>) -> Fut
            + Send,
        Fut: std::future::Future<Output = sigsync_core::Result<CoreReport>> + Send,
    {
        let setup = parse_setup(setup)?;
        let engine = self.engine.clone();
        let progress: Box<dyn Fn(Progress<'_>) + Send + Sync> = Box::new(progress_fn(progress));
        let report = block_on(py, async move {
            op(engine, setup, progress).await.map_err(to_py_err)
        })?;
        Ok(Report { report })
    }
}

#[pymethods]
impl SetupEngine {
    /// An engine over `client`.
    #[new]
    fn new(client: &ExchangeClient) -> Self {
        SetupEngine {
            engine: Arc::new(CoreEngine::new(client.client.clone())),
        }
    }

    /// Preflight findings (JSON) for the setup against the tenant, before any write.
    fn preflight(&self, py: Python<'_>, setup: &str) -> PyResult<String> {
        let setup = parse_setup(setup)?;
        let engine = self.engine.clone();
        let findings = block_on(py, async move {
            engine.preflight(&setup).await.map_err(to_py_err)
        })?;
        to_json(findings)
    }

    /// The plan that would configure the tenant (a dry run).
    fn plan(&self, py: Python<'_>, setup: &str) -> PyResult<Plan> {
        let setup = parse_setup(setup)?;
        let engine = self.engine.clone();
        let (plan, findings) =
            block_on(
                py,
                async move { engine.plan(&setup).await.map_err(to_py_err) },
            )?;
        Ok(Plan {
            plan,
            findings: to_json(findings)?,
        })
    }

    /// Reads, checks, plans and applies.
    #[pyo3(signature = (setup, progress=None))]
    fn configure(
        &self,
        py: Python<'_>,
        setup: &str,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Report> {
        self.report(py, setup, progress, |engine, setup, progress| async move {
            engine.configure(&setup, &*progress).await
        })
    }

    /// Applies a plan computed earlier.
    #[pyo3(signature = (setup, plan, progress=None))]
    fn apply(
        &self,
        py: Python<'_>,
        setup: &str,
        plan: &Plan,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Report> {
        let plan = plan.plan.clone();
        self.report(py, setup, progress, |engine, setup, progress| async move {
            Ok(engine.apply(&setup, &plan, &*progress).await)
        })
    }

    /// Disables sigsync's rules: mail flows normally and untouched.
    #[pyo3(signature = (setup, progress=None))]
    fn pause(&self, py: Python<'_>, setup: &str, progress: Option<Py<PyAny>>) -> PyResult<Report> {
        self.report(py, setup, progress, |engine, setup, progress| async move {
            engine.pause(&setup, &*progress).await
        })
    }

    /// Enables sigsync's rules again.
    #[pyo3(signature = (setup, progress=None))]
    fn resume(&self, py: Python<'_>, setup: &str, progress: Option<Py<PyAny>>) -> PyResult<Report> {
        self.report(py, setup, progress, |engine, setup, progress| async move {
            engine.resume(&setup, &*progress).await
        })
    }

    /// Removes what sigsync created: rules, then the outbound, then the inbound connector.
    #[pyo3(signature = (setup, progress=None))]
    fn remove(&self, py: Python<'_>, setup: &str, progress: Option<Py<PyAny>>) -> PyResult<Report> {
        self.report(py, setup, progress, |engine, setup, progress| async move {
            engine.remove(&setup, &*progress).await
        })
    }

    /// Where the setup stands, drift and the repair plan, as JSON.
    fn status(&self, py: Python<'_>, setup: &str) -> PyResult<String> {
        let setup = parse_setup(setup)?;
        let engine = self.engine.clone();
        let status = block_on(
            py,
            async move { engine.status(&setup).await.map_err(to_py_err) },
        )?;
        to_json(status)
    }
}
