//! The simulated tenant served over HTTP on loopback (`sigsync.Simulator` wraps it).

use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use sigsync_core::exchange::sim::{
    Fault, SignInOutcome, SimGroup, SimServer as CoreServer, SimServerOptions, SimSettings,
    SimTenant, SimUser,
};
use sigsync_core::exchange::GroupKind;
use sigsync_core::Error;

use crate::errors::to_py_err;
use crate::models::existing_json;
use crate::runtime::{block_on, core, guard, py_repr};

fn invalid(field: &str, reason: impl Into<String>) -> PyErr {
    to_py_err(Error::validation(field, reason))
}

fn group_kind(kind: &str) -> PyResult<GroupKind> {
    serde_json::from_value(serde_json::Value::String(kind.to_owned()))
        .map_err(|_| invalid("kind", format!("unknown group kind {kind:?}")))
}

fn error_kind(name: &str) -> PyResult<sigsync_core::ErrorKind> {
    sigsync_core::ErrorKind::ALL
        .iter()
        .copied()
        .find(|k| k.name() == name || k.python_class() == name)
        .ok_or_else(|| invalid("kind", format!("unknown error kind {name:?}")))
}

/// A simulated Exchange Online tenant (with Microsoft sign-in and Graph) served over HTTP on
/// `127.0.0.1`. Use `sigsync.Simulator`, the context manager around it.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct SimServer {
    server: Mutex<Option<CoreServer>>,
    tenant: SimTenant,
    uri: String,
    tenant_id: String,
    tenant_domain: String,
}

impl SimServer {
    fn with_server<T>(&self, f: impl FnOnce(&CoreServer) -> T) -> PyResult<T> {
        let slot = self.server.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(s) => Ok(f(s)),
            None => Err(to_py_err(Error::Config("the simulator is closed".into()))),
        }
    }
}

#[pymethods]
impl SimServer {
    /// Starts a server. `state` is a tenant saved with `state_json()`; `sign_in` is
    /// "approve", "decline" or "expire".
    #[new]
    #[pyo3(signature = (*, state=None, tenant_id=None, tenant_domain=None, user_principal_name=None, pending_polls=0, sign_in="approve", interval_secs=1, client_secret=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        state: Option<&str>,
        tenant_id: Option<String>,
        tenant_domain: Option<String>,
        user_principal_name: Option<String>,
        pending_polls: u32,
        sign_in: &str,
        interval_secs: u64,
        client_secret: Option<String>,
    ) -> PyResult<Self> {
        let tenant = match state {
            Some(json) => core(SimTenant::load_json(json))?,
            None => SimTenant::new(),
        };
        let mut options = SimServerOptions::default();
        if let Some(id) = tenant_id {
            options.tenant_id = id;
        }
        if let Some(domain) = tenant_domain {
            options.tenant_domain = domain;
        }
        if let Some(upn) = user_principal_name {
            options.user_principal_name = upn;
        }
        options.pending_polls = pending_polls;
        options.interval_secs = interval_secs;
        options.client_secret = client_secret;
        options.sign_in = match sign_in {
            "approve" => SignInOutcome::Approve,
            "decline" => SignInOutcome::Decline,
            "expire" => SignInOutcome::Expire,
            other => return Err(invalid("sign_in", format!("unknown outcome {other:?}"))),
        };
        let served = tenant.clone();
        let server = block_on(
            py,
            async move { Ok(CoreServer::start(served, options).await) },
        )?;
        Ok(SimServer {
            uri: server.uri(),
            tenant_id: server.tenant_id().to_owned(),
            tenant_domain: server.tenant_domain().to_owned(),
            server: Mutex::new(Some(server)),
            tenant,
        })
    }

    /// The server's root URL.
    #[getter]
    fn uri(&self) -> String {
        self.uri.clone()
    }

    /// The tenant id (a GUID).
    #[getter]
    fn tenant_id(&self) -> String {
        self.tenant_id.clone()
    }

    /// The tenant's initial domain.
    #[getter]
    fn tenant_domain(&self) -> String {
        self.tenant_domain.clone()
    }

    /// Whether the server is still serving.
    #[getter]
    fn running(&self) -> bool {
        self.server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Stops serving (idempotent).
    fn close(&self, py: Python<'_>) {
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        py.detach(move || drop(server));
    }

    /// Adds an accepted domain.
    #[pyo3(signature = (domain, *, default=false))]
    fn add_accepted_domain(&self, domain: &str, default: bool) {
        self.tenant.add_accepted_domain(domain, default);
    }

    /// Adds a group; `kind` is distribution, mail_enabled_security, microsoft365 or
    /// security. Returns its id.
    #[pyo3(signature = (display_name, *, mail=None, kind="distribution", members=Vec::new()))]
    fn add_group(
        &self,
        display_name: &str,
        mail: Option<&str>,
        kind: &str,
        members: Vec<String>,
    ) -> PyResult<String> {
        let group = SimGroup::new(display_name, mail, group_kind(kind)?).with_members(members);
        let id = group.id.clone();
        self.tenant.add_group(group);
        Ok(id)
    }

    /// Adds a user with Graph properties (`jobTitle`, ... as a JSON object). Returns its id.
    #[pyo3(signature = (user_principal_name, display_name, *, properties_json="{}"))]
    fn add_user(
        &self,
        user_principal_name: &str,
        display_name: &str,
        properties_json: &str,
    ) -> PyResult<String> {
        let mut user = SimUser::new(user_principal_name, display_name);
        let props: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(properties_json)
                .map_err(|e| invalid("properties", e.to_string()))?;
        for (k, v) in props {
            user = user.with_property(k, v);
        }
        let id = user.id.clone();
        self.tenant.add_user(user);
        Ok(id)
    }

    /// Makes calls fail with an error of `kind` (an error kind name such as "throttled" or
    /// a class name such as "ThrottledError"). Exactly one trigger: `call` (1-based index),
    /// `cmdlet`, `every_nth`, or `writes`; `times` limits how often it fires.
    #[pyo3(signature = (kind, *, call=None, cmdlet=None, every_nth=None, writes=false, times=None))]
    fn inject_fault(
        &self,
        kind: &str,
        call: Option<u64>,
        cmdlet: Option<String>,
        every_nth: Option<u64>,
        writes: bool,
        times: Option<u32>,
    ) -> PyResult<()> {
        let kind = error_kind(kind)?;
        let triggers = call.is_some() as u8
            + cmdlet.is_some() as u8
            + every_nth.is_some() as u8
            + writes as u8;
        if triggers != 1 {
            return Err(invalid(
                "trigger",
                "give exactly one of call, cmdlet, every_nth or writes",
            ));
        }
        let fault = if let Some(n) = call {
            Fault::on_call(n, kind)
        } else if let Some(c) = cmdlet {
            Fault::on_cmdlet(c, kind)
        } else if let Some(n) = every_nth {
            if n == 0 {
                return Err(invalid("every_nth", "must be at least 1"));
            }
            Fault::every_nth(n, kind)
        } else {
            Fault::on_writes(kind)
        };
        self.tenant
            .inject(times.map_or(fault.clone(), |t| fault.times(t)));
        Ok(())
    }

    /// Removes every injected fault.
    fn clear_faults(&self) {
        self.tenant.clear_faults();
    }

    /// Adds `seconds` of latency to every call.
    fn set_latency(&self, seconds: f64) -> PyResult<()> {
        let latency =
            Duration::try_from_secs_f64(seconds).map_err(|e| invalid("seconds", e.to_string()))?;
        self.tenant.set_latency(latency);
        Ok(())
    }

    /// The tenant's behaviour settings as JSON.
    fn settings_json(&self) -> String {
        serde_json::to_string(&self.tenant.settings()).unwrap_or_default()
    }

    /// Replaces the behaviour settings (JSON; missing keys take their defaults).
    fn set_settings_json(&self, json: &str) -> PyResult<()> {
        let settings: SimSettings =
            serde_json::from_str(json).map_err(|e| invalid("settings", e.to_string()))?;
        self.tenant.set_settings(settings);
        Ok(())
    }

    /// Every call received, as `(index, cmdlet, identity, error kind name or None)`.
    fn calls(&self) -> Vec<(u64, String, Option<String>, Option<&'static str>)> {
        self.tenant
            .calls()
            .into_iter()
            .map(|c| (c.index, c.cmdlet, c.identity, c.error.map(|k| k.name())))
            .collect()
    }

    /// How many write calls the tenant received.
    fn write_count(&self) -> usize {
        self.tenant.write_count()
    }

    /// Forgets the calls received so far.
    fn reset_calls(&self) {
        self.tenant.reset_calls();
    }

    /// What the tenant holds: `{"outbound_connector": [...], "inbound_connector": [...],
    /// "transport_rule": [...]}` as JSON, each object with its guid and parameters.
    fn snapshot_json(&self) -> PyResult<String> {
        guard(|| {
            let s = self.tenant.snapshot();
            Ok(serde_json::json!({
                "outbound_connector": existing_json(&s.outbound),
                "inbound_connector": existing_json(&s.inbound),
                "transport_rule": existing_json(&s.rules),
            })
            .to_string())
        })
    }

    /// The whole tenant (settings, objects, directory) as JSON, for `SimServer(state=...)`.
    fn state_json(&self) -> String {
        self.tenant.save_json()
    }

    /// Makes every access token issued so far invalid (the next call gets HTTP 401).
    fn revoke_access_tokens(&self) -> PyResult<()> {
        self.with_server(|s| s.revoke_access_tokens())
    }

    /// How many token requests of `grant_type` were answered.
    fn token_requests(&self, grant_type: &str) -> PyResult<usize> {
        self.with_server(|s| s.token_requests(grant_type))
    }

    fn __repr__(&self) -> String {
        format!(
            "SimServer(uri={}, tenant_id={}, running={})",
            py_repr(Some(&self.uri)),
            py_repr(Some(&self.tenant_id)),
            if self.running() { "True" } else { "False" }
        )
    }
}
