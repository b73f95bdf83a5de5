//! One process-wide tokio runtime, and the helpers every blocking call goes through: they
//! release the GIL, turn Ctrl-C into `KeyboardInterrupt`, and turn a Rust panic into
//! `sigsync.InternalError` (never `PanicException`).

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use sigsync_core::Error;
use tokio::runtime::Runtime;

use crate::errors::to_py_err;

/// The runtime and the process that built it: a forked child builds its own, because the
/// parent's worker threads do not exist in the child.
static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// How often a blocking call looks for a pending `KeyboardInterrupt`.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// The process-wide runtime (rebuilt after a fork).
pub fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, rt)) = slot.take() {
        if owner == pid {
            let shared = rt.clone();
            *slot = Some((owner, rt));
            return Ok(shared);
        }
        // A forked child: the parent's worker threads do not exist here, and shutting the
        // runtime down would wait for them. Leak it instead.
        std::mem::forget(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sigsync")
        .enable_all()
        .build()
        .map_err(|e| to_py_err(Error::Internal(format!("cannot start the runtime: {e}"))))?;
    let rt = Arc::new(rt);
    *slot = Some((pid, rt.clone()));
    Ok(rt)
}

/// The message of a caught panic.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The `InternalError` for a caught panic.
fn panic_error(payload: Box<dyn Any + Send>) -> PyErr {
    to_py_err(Error::Internal(format!(
        "a bug in sigsync (a panic was caught): {}",
        panic_message(payload.as_ref())
    )))
}

/// Runs `f` with the GIL held, turning a panic into `InternalError`.
pub fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(p)))
}

/// Runs CPU-heavy `f` with the GIL released, turning a panic into `InternalError`.
pub fn detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> PyResult<T> + Send,
    T: Send,
{
    py.detach(|| catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(p))))
}

/// Runs `fut` to completion on the runtime with the GIL released. A pending
/// `KeyboardInterrupt` (Ctrl-C in the main thread) drops the future and is raised; a panic
/// becomes `InternalError`.
pub fn block_on<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send,
    T: Send,
{
    let rt = runtime()?;
    py.detach(move || {
        catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async move {
                let interrupted = async {
                    loop {
                        tokio::time::sleep(SIGNAL_POLL).await;
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            return e;
                        }
                    }
                };
                tokio::select! {
                    result = fut => result,
                    e = interrupted => Err(e),
                }
            })
        }))
        .unwrap_or_else(|p| Err(panic_error(p)))
    })
}

/// Converts a core result.
pub fn core<T>(result: sigsync_core::Result<T>) -> PyResult<T> {
    result.map_err(to_py_err)
}

/// A string as Python's `repr` shows it (`None` for `None`).
pub fn py_repr(value: Option<&str>) -> String {
    match value {
        None => "None".into(),
        Some(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}
