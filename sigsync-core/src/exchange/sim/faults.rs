//! Fault injection for the simulated tenant: fail chosen calls with a chosen error class,
//! before or after the write took effect; and [`SimFaults`], the file that describes faults,
//! replication lag and redirects for a whole run (the setup example's `--sim-faults`).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SimTenant;
use crate::{ApiError, Error, ErrorKind, Result};

/// Which calls a fault hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTrigger {
    /// The call with this 1-based index (counting every cmdlet call the tenant receives).
    Call(u64),
    /// Calls of this cmdlet (e.g. `New-TransportRule`), case-insensitively.
    Cmdlet(String),
    /// Every nth call (n ≥ 1).
    EveryNth(u64),
    /// Every write (anything but `Get-*`).
    Writes,
}

/// A fault: calls matching `trigger` fail with an error of class `kind`, at most `times` times
/// (for ever when `None`). With `after_commit`, a write takes effect first and is reported as
/// failed afterwards, as a response lost on the way back or a 5xx after the commit would be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which calls it hits.
    pub trigger: FaultTrigger,
    /// The error class it produces.
    #[serde(with = "kind_serde")]
    pub kind: ErrorKind,
    /// How many more times it fires; `None` for every match.
    #[serde(default)]
    pub times: Option<u32>,
    /// Whether a write it hits is applied before the error is reported (reads are never
    /// applied: they just fail).
    #[serde(default)]
    pub after_commit: bool,
}

impl Fault {
    /// Fail call number `n` (1-based) once.
    pub fn on_call(n: u64, kind: ErrorKind) -> Self {
        Fault {
            trigger: FaultTrigger::Call(n),
            kind,
            times: Some(1),
            after_commit: false,
        }
    }

    /// Fail every call of `cmdlet`.
    pub fn on_cmdlet(cmdlet: impl Into<String>, kind: ErrorKind) -> Self {
        Fault {
            trigger: FaultTrigger::Cmdlet(cmdlet.into()),
            kind,
            times: None,
            after_commit: false,
        }
    }

    /// Fail every `n`th call.
    pub fn every_nth(n: u64, kind: ErrorKind) -> Self {
        Fault {
            trigger: FaultTrigger::EveryNth(n.max(1)),
            kind,
            times: None,
            after_commit: false,
        }
    }

    /// Fail every write.
    pub fn on_writes(kind: ErrorKind) -> Self {
        Fault {
            trigger: FaultTrigger::Writes,
            kind,
            times: None,
            after_commit: false,
        }
    }

    /// Limits how many times the fault fires.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    /// Lets a write it hits take effect before the error is reported (a lost response, a
    /// 5xx after the commit).
    pub fn after_commit(mut self) -> Self {
        self.after_commit = true;
        self
    }

    pub(super) fn matches(&self, index: u64, cmdlet: &str) -> bool {
        if self.times == Some(0) {
            return false;
        }
        match &self.trigger {
            FaultTrigger::Call(n) => *n == index,
            FaultTrigger::Cmdlet(c) => c.eq_ignore_ascii_case(cmdlet),
            FaultTrigger::EveryNth(n) => index.is_multiple_of(*n),
            FaultTrigger::Writes => !cmdlet.starts_with("Get-"),
        }
    }
}

/// The error Exchange Online would return for a fault of class `kind` on `cmdlet`, with the
/// status and exception type the real service uses.
pub fn injected_error(kind: ErrorKind, cmdlet: &str, retry_after: Duration) -> Error {
    let (status, code, message) = match kind {
        ErrorKind::NotFound => (
            404,
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            "The operation couldn't be performed because the object couldn't be found (injected fault).",
        ),
        ErrorKind::AlreadyExists => (
            400,
            "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
            "The object already exists (injected fault).",
        ),
        ErrorKind::Rejected => (
            400,
            "System.ArgumentException",
            "The parameter value is not valid (injected fault).",
        ),
        ErrorKind::Unauthorized => (401, "Unauthorized", "The access token is not valid (injected fault)."),
        ErrorKind::Forbidden => (
            403,
            "CmdletAccessDeniedException",
            "The user isn't assigned to any management roles (injected fault).",
        ),
        ErrorKind::Throttled => (
            429,
            "TooManyRequests",
            "You have reached the maximum number of concurrent requests per tenant. Please wait and try again (injected fault).",
        ),
        ErrorKind::Transient => (
            503,
            "Microsoft.Exchange.Data.Storage.ServerBusyException",
            "The server is busy (injected fault).",
        ),
        ErrorKind::Network => return Error::Network(format!("{cmdlet}: connection reset (injected fault)")),
        _ => (500, "InternalServerError", "Error executing cmdlet (injected fault)."),
    };
    let mut e = ApiError::new(kind, message)
        .with_status(status)
        .with_code(code)
        .with_operation(cmdlet);
    if kind == ErrorKind::Throttled {
        e = e.with_retry_after(retry_after);
    }
    Error::Api(e)
}

/// Faults, replication lag and redirects for a simulated tenant and its HTTP server, as one
/// JSON file (the setup example's `--sim-faults FILE`). Every key is optional:
///
/// ```json
/// {
///   "redirects": 1,
///   "replication_lag_reads": 1, "change_lag_reads": 1, "removal_lag_reads": 1,
///   "throttle_retry_after_ms": 10,
///   "faults": [
///     {"trigger": {"every_nth": 3}, "kind": "throttled"},
///     {"trigger": {"cmdlet": "New-TransportRule"}, "kind": "transient", "times": 1, "after_commit": true},
///     {"trigger": "writes", "kind": "rejected", "times": 1}
///   ]
/// }
/// ```
///
/// `redirects`: how many Exchange requests the HTTP server answers with a redirect to another
/// host before it serves them (only over HTTP). The lag keys set the tenant's
/// [`SimSettings`](super::SimSettings) of the same names. A fault's `kind` is an
/// [`ErrorKind`] name (`throttled`, `transient`, `network`, `rejected`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimFaults {
    /// The call faults.
    pub faults: Vec<Fault>,
    /// How many Exchange requests are redirected to another host first (HTTP only).
    pub redirects: u32,
    /// Reads that miss a new object after its creation.
    pub replication_lag_reads: Option<u32>,
    /// Reads that still show an object as it was before an update, enable or disable.
    pub change_lag_reads: Option<u32>,
    /// Reads that still show an object after its removal.
    pub removal_lag_reads: Option<u32>,
    /// The Retry-After of injected throttling.
    pub throttle_retry_after_ms: Option<u64>,
}

impl SimFaults {
    /// Reads the JSON form; unknown keys are refused.
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|e| Error::Config(format!("simulated faults: {e}")))
    }

    /// Reads a faults file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&json)
    }

    /// Injects the faults into `tenant` and sets its lag (the redirects are the HTTP server's:
    /// see [`SimServer::redirect_next`](super::SimServer::redirect_next)).
    pub fn apply_to(&self, tenant: &SimTenant) {
        let mut settings = tenant.settings();
        if let Some(n) = self.replication_lag_reads {
            settings.replication_lag_reads = n;
        }
        if let Some(n) = self.change_lag_reads {
            settings.change_lag_reads = n;
        }
        if let Some(n) = self.removal_lag_reads {
            settings.removal_lag_reads = n;
        }
        if let Some(ms) = self.throttle_retry_after_ms {
            settings.throttle_retry_after_ms = ms;
        }
        tenant.set_settings(settings);
        for fault in &self.faults {
            tenant.inject(fault.clone());
        }
    }
}

mod kind_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ErrorKind;

    pub fn serialize<S: Serializer>(kind: &ErrorKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ErrorKind, D::Error> {
        let name = String::deserialize(d)?;
        ErrorKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error kind '{name}'")))
    }
}
