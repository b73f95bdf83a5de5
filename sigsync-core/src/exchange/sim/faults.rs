//! Fault injection for the simulated tenant: fail chosen calls with a chosen error class.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ApiError, Error, ErrorKind};

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
/// (for ever when `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which calls it hits.
    pub trigger: FaultTrigger,
    /// The error class it produces.
    #[serde(with = "kind_serde")]
    pub kind: ErrorKind,
    /// How many more times it fires; `None` for every match.
    pub times: Option<u32>,
}

impl Fault {
    /// Fail call number `n` (1-based) once.
    pub fn on_call(n: u64, kind: ErrorKind) -> Self {
        Fault {
            trigger: FaultTrigger::Call(n),
            kind,
            times: Some(1),
        }
    }

    /// Fail every call of `cmdlet`.
    pub fn on_cmdlet(cmdlet: impl Into<String>, kind: ErrorKind) -> Self {
        Fault {
            trigger: FaultTrigger::Cmdlet(cmdlet.into()),
            kind,
            times: None,
        }
    }

    /// Fail every `n`th call.
    pub fn every_nth(n: u64, kind: ErrorKind) -> Self {
        Fault {
            trigger: FaultTrigger::EveryNth(n.max(1)),
            kind,
            times: None,
        }
    }

    /// Fail every write.
    pub fn on_writes(kind: ErrorKind) -> Self {
        Fault {
            trigger: FaultTrigger::Writes,
            kind,
            times: None,
        }
    }

    /// Limits how many times the fault fires.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
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
