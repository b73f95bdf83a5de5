//! The relay (`sigsync.Relay` wraps it): core's `Relay` built from its TOML or from settings,
//! started, reloaded and stopped on the package's runtime with the GIL released.
//!
//! A stop runs as a task on the runtime: once begun it completes whatever happens to the
//! Python caller that waits for it (a cancelled `stop_async`, a `KeyboardInterrupt`), and every
//! later wait sees its report.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use sigsync_core::relay::{Relay as CoreRelay, RelayConfig, StaticResolver, StopReport};
use sigsync_core::Error;
use tokio::sync::{watch, RwLock};

use crate::errors::to_py_err;
use crate::runtime::{block_on, core, runtime};

/// A stop's outcome as Python sees it: `(drained, cut)`.
type Report = (bool, i64);

/// The relay while it runs. The lock lets a reload read it while a stop waits to take it.
struct Running {
    relay: Arc<RwLock<Option<CoreRelay>>>,
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    done: watch::Receiver<Option<Report>>,
    done_tx: watch::Sender<Option<Report>>,
}

enum State {
    /// Not started, or stopped (with the last stop's report).
    Idle(Option<Report>),
    /// `start` is binding the listener.
    Starting,
    Running(Running),
    /// A stop task runs; the receiver sees its report.
    Stopping {
        done: watch::Receiver<Option<Report>>,
        local_addr: SocketAddr,
        metrics_addr: Option<SocketAddr>,
    },
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Idle(None) => "idle",
            State::Idle(Some(_)) => "stopped",
            State::Starting => "starting",
            State::Running(_) => "running",
            State::Stopping { .. } => "stopping",
        }
    }
}

fn not_running(state: &State) -> PyErr {
    to_py_err(Error::Conflict(format!(
        "the relay is not running (it is {})",
        state.name()
    )))
}

fn addr_tuple(a: SocketAddr) -> (String, u16) {
    (a.ip().to_string(), a.port())
}

/// The SMTP relay: built from its configuration, started and stopped explicitly. Use
/// `sigsync.Relay`, the class around it.
#[pyclass(module = "sigsync._sigsync", frozen)]
pub struct RelayServer {
    config: RelayConfig,
    resolver: Option<Arc<StaticResolver>>,
    state: Arc<Mutex<State>>,
}

impl RelayServer {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn running<T>(&self, f: impl FnOnce(&Running) -> T) -> PyResult<T> {
        match &*self.state() {
            State::Running(r) => Ok(f(r)),
            other => Err(not_running(other)),
        }
    }

    /// Turns a running relay into a stopping one whose stop runs as a task on `rt`.
    fn begin(&self, rt: Arc<tokio::runtime::Runtime>, grace: Option<Duration>) {
        let mut state = self.state();
        let running = match std::mem::replace(&mut *state, State::Starting) {
            State::Running(r) => r,
            other => {
                *state = other;
                return;
            }
        };
        *state = State::Stopping {
            done: running.done.clone(),
            local_addr: running.local_addr,
            metrics_addr: running.metrics_addr,
        };
        let shared = self.state.clone();
        rt.spawn(async move {
            let relay = running.relay.write().await.take();
            let report = match relay {
                Some(relay) => relay.stop(grace).await,
                None => StopReport {
                    drained: true,
                    cut: 0,
                },
            };
            let report = (report.drained, report.cut);
            *shared.lock().unwrap_or_else(|p| p.into_inner()) = State::Idle(Some(report));
            let _ = running.done_tx.send(Some(report));
        });
    }

    /// The listener's and the metrics endpoint's addresses, while running or stopping.
    fn addrs(&self) -> PyResult<(SocketAddr, Option<SocketAddr>)> {
        match &*self.state() {
            State::Running(r) => Ok((r.local_addr, r.metrics_addr)),
            State::Stopping {
                local_addr,
                metrics_addr,
                ..
            } => Ok((*local_addr, *metrics_addr)),
            other => Err(not_running(other)),
        }
    }
}

/// A fixed resolver from `mx` (domain to hosts) and `hosts` (host to addresses).
fn static_resolver(
    mx: Option<HashMap<String, Vec<String>>>,
    hosts: Option<HashMap<String, Vec<String>>>,
) -> PyResult<Option<Arc<StaticResolver>>> {
    if mx.is_none() && hosts.is_none() {
        return Ok(None);
    }
    let mut r = StaticResolver::new();
    for (domain, targets) in mx.unwrap_or_default() {
        r = r.with_mx(&domain, targets);
    }
    for (host, addrs) in hosts.unwrap_or_default() {
        let ips = addrs
            .iter()
            .map(|a| {
                a.parse::<IpAddr>().map_err(|_| {
                    to_py_err(Error::validation(
                        format!("resolver.hosts[{host:?}]"),
                        format!("{a:?} is not an IP address"),
                    ))
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        r = r.with_host(&host, ips);
    }
    Ok(Some(Arc::new(r)))
}

impl Drop for RelayServer {
    /// A relay dropped while running stops as `stop` would (with the configured grace period),
    /// rather than listening until the process ends.
    fn drop(&mut self) {
        if !matches!(*self.state(), State::Running(_)) {
            return;
        }
        if let Ok(rt) = runtime() {
            self.begin(rt, None);
        }
    }
}

#[pymethods]
impl RelayServer {
    /// Builds (without starting) from exactly one of `path` (the TOML file), `toml` (its text;
    /// relative paths against `base_dir`) or `json` (the same settings as JSON). `mx` and
    /// `hosts` replace DNS with a fixed table (MX hosts per domain, addresses per host).
    #[new]
    #[pyo3(signature = (*, path=None, toml=None, json=None, base_dir=None, mx=None, hosts=None))]
    fn new(
        path: Option<&str>,
        toml: Option<&str>,
        json: Option<&str>,
        base_dir: Option<&str>,
        mx: Option<HashMap<String, Vec<String>>>,
        hosts: Option<HashMap<String, Vec<String>>>,
    ) -> PyResult<Self> {
        let base = base_dir.map(Path::new);
        let config = match (path, toml, json) {
            (Some(p), None, None) => core(RelayConfig::load(p))?,
            (None, Some(t), None) => core(RelayConfig::from_toml_str(t, base))?,
            (None, None, Some(j)) => {
                let value = serde_json::from_str(j)
                    .map_err(|e| to_py_err(Error::Config(format!("relay settings: {e}"))))?;
                core(RelayConfig::from_value(value, base))?
            }
            _ => {
                return Err(to_py_err(Error::validation(
                    "config",
                    "give exactly one of path, toml or json",
                )))
            }
        };
        Ok(RelayServer {
            config,
            resolver: static_resolver(mx, hosts)?,
            state: Arc::new(Mutex::new(State::Idle(None))),
        })
    }

    /// Checks every file and certificate, binds the listener (and the metrics endpoint) and
    /// starts accepting. A relay that was stopped starts again with the same configuration.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        {
            let mut state = self.state();
            match &*state {
                State::Idle(_) => *state = State::Starting,
                other => {
                    return Err(to_py_err(Error::Conflict(format!(
                        "the relay is already {}",
                        other.name()
                    ))))
                }
            }
        }
        let mut builder = CoreRelay::builder(self.config.clone());
        if let Some(r) = &self.resolver {
            builder = builder.resolver(r.clone());
        }
        let started = block_on(py, async move { core(builder.start().await) });
        let mut state = self.state();
        match started {
            Ok(relay) => {
                let (done_tx, done) = watch::channel(None);
                *state = State::Running(Running {
                    local_addr: relay.local_addr(),
                    metrics_addr: relay.metrics_addr(),
                    relay: Arc::new(RwLock::new(Some(relay))),
                    done,
                    done_tx,
                });
                Ok(())
            }
            Err(e) => {
                *state = State::Idle(None);
                Err(e)
            }
        }
    }

    /// Begins a graceful stop without waiting for it: stop accepting, let transactions in
    /// flight finish within `timeout` seconds (default: `timeouts.shutdown_grace`), then close
    /// what is left. The stop completes on the runtime whoever waits; `wait_stopped` waits.
    #[pyo3(signature = (timeout=None))]
    fn begin_stop(&self, timeout: Option<f64>) -> PyResult<()> {
        let grace = match timeout {
            Some(t) if !(t.is_finite() && t >= 0.0) => {
                return Err(to_py_err(Error::validation(
                    "timeout",
                    "must be a number of seconds, 0 or more",
                )))
            }
            t => t.map(Duration::from_secs_f64),
        };
        self.begin(runtime()?, grace);
        Ok(())
    }
    /// Waits (up to `timeout` seconds; forever if `None`) until the relay has stopped, and
    /// returns the stop's `(drained, cut)`; `None` if it is still running when the time is up.
    /// A relay never started returns `(True, 0)`.
    #[pyo3(signature = (timeout=None))]
    fn wait_stopped(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Report>> {
        let mut done = match &*self.state() {
            State::Idle(report) => return Ok(Some(report.unwrap_or((true, 0)))),
            State::Running(r) => r.done.clone(),
            State::Stopping { done, .. } => done.clone(),
            State::Starting => {
                return Err(to_py_err(Error::Conflict("the relay is starting".into())))
            }
        };
        block_on(py, async move {
            let stopped = async {
                match done.wait_for(Option::is_some).await {
                    Ok(r) => Ok(*r),
                    Err(_) => Err(to_py_err(Error::Internal(
                        "the relay's stop task ended without a report".into(),
                    ))),
                }
            };
            match timeout {
                None => stopped.await,
                Some(t) => {
                    match tokio::time::timeout(Duration::from_secs_f64(t.max(0.0)), stopped).await {
                        Ok(r) => r,
                        Err(_) => Ok(None),
                    }
                }
            }
        })
    }

    /// Calls `callback((drained, cut))` once the relay has stopped (at once if it has), from
    /// a runtime thread; with `None` if the stop task ended without a report (a bug). For
    /// `stop_async`: nothing waits in a Python thread, so a cancelled await leaves nothing
    /// behind.
    fn on_stopped(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let done = match &*self.state() {
            State::Idle(report) => Err(report.unwrap_or((true, 0))),
            State::Running(r) => Ok(r.done.clone()),
            State::Stopping { done, .. } => Ok(done.clone()),
            State::Starting => {
                return Err(to_py_err(Error::Conflict("the relay is starting".into())))
            }
        };
        let mut done = match done {
            Ok(done) => done,
            Err(report) => return callback.call1(py, (Some(report),)).map(drop),
        };
        runtime()?.spawn(async move {
            let report = done.wait_for(Option::is_some).await.ok().and_then(|r| *r);
            Python::attach(|py| {
                if let Err(e) = callback.call1(py, (report,)) {
                    e.write_unraisable(py, None);
                }
            });
        });
        Ok(())
    }

    /// Reads the configuration file again (or, for a relay built from text or settings, the
    /// files it names) and swaps in certificates, tenants and the allow-list without dropping
    /// sessions. On any error nothing changes.
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        let relay = self.running(|r| r.relay.clone())?;
        let from_file = self.config.source.is_some();
        let config = self.config.clone();
        block_on(py, async move {
            let guard = relay.read().await;
            let Some(relay) = guard.as_ref() else {
                return Err(to_py_err(Error::Conflict("the relay is stopping".into())));
            };
            if from_file {
                core(relay.reload().await)
            } else {
                core(relay.reload_with(config).await)
            }
        })
    }

    /// The counters as JSON: `{"tenants": {name: {accepted, injected, ...}}, "connections",
    /// "bytes_in_flight"}`.
    fn stats_json(&self) -> PyResult<String> {
        let relay = self.running(|r| r.relay.clone())?;
        let guard = relay
            .try_read()
            .map_err(|_| to_py_err(Error::Conflict("the relay is stopping".into())))?;
        let stats = guard
            .as_ref()
            .map(CoreRelay::stats)
            .ok_or_else(|| to_py_err(Error::Conflict("the relay is stopping".into())))?;
        serde_json::to_string(&stats).map_err(|e| to_py_err(Error::Internal(e.to_string())))
    }

    /// `idle`, `starting`, `running`, `stopping` or `stopped`.
    #[getter]
    fn state_name(&self) -> &'static str {
        self.state().name()
    }

    /// The listener's `(host, port)` (while running or stopping).
    #[getter]
    fn local_addr(&self) -> PyResult<(String, u16)> {
        Ok(addr_tuple(self.addrs()?.0))
    }

    /// The metrics endpoint's `(host, port)`, `None` when not configured (while running or
    /// stopping).
    #[getter]
    fn metrics_addr(&self) -> PyResult<Option<(String, u16)>> {
        Ok(self.addrs()?.1.map(addr_tuple))
    }

    /// The tenants' names, in configuration order.
    #[getter]
    fn tenant_names(&self) -> Vec<String> {
        self.config.tenants.iter().map(|t| t.name.clone()).collect()
    }

    /// The file the configuration was read from, if any.
    #[getter]
    fn source(&self) -> Option<String> {
        self.config.source.as_ref().map(|p| p.display().to_string())
    }

    fn __repr__(&self) -> String {
        let state = self.state();
        let addr = match &*state {
            State::Running(Running { local_addr, .. }) | State::Stopping { local_addr, .. } => {
                format!(", local_addr={local_addr}")
            }
            _ => String::new(),
        };
        format!(
            "RelayServer(state={:?}{addr}, tenants={:?})",
            state.name(),
            self.tenant_names()
        )
    }
}
