//! What apply, pause, resume, remove and status report.

use std::fmt;

use serde::Serialize;

use super::plan::{Plan, Step};
use super::preflight::Finding;
use crate::Error;

/// Where a setup stands in the tenant: whether mail is routed through the service, and
/// whether it can come back. The same names in Rust, C, Python and the setup example's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStatus {
    /// Mail is routed through the service and can come back: the outbound connector is
    /// enabled, rule-scoped and sends to the profile's smart hosts with its TLS domain; the
    /// inbound connector is enabled and accepts the profile's certificate name; the routing
    /// rule is enabled, routes to that connector and excepts the loop header the service
    /// stamps; the auto-reply rule is in place when wanted.
    Configured,
    /// Mail flows, but not as set up: typically unsigned, because the routing rule's action
    /// is skipped (its outbound connector is missing, disabled or no longer rule-scoped), or
    /// automatic replies go through the service. The reasons say which.
    Degraded,
    /// Mail is routed out but may not come back, or loops: the inbound connector is missing,
    /// disabled or expects another certificate; the smart hosts or TLS domain are not the
    /// profile's; the loop-header exception is missing. Repair at once (or pause).
    AtRisk,
    /// Every object exists and the routing rule is disabled: mail flows untouched.
    Paused,
    /// Some objects exist, some do not, and no mail is routed.
    Partial,
    /// None of sigsync's objects exist.
    Absent,
}

impl SetupStatus {
    /// Every status.
    pub const ALL: &'static [SetupStatus] = &[
        SetupStatus::Configured,
        SetupStatus::Degraded,
        SetupStatus::AtRisk,
        SetupStatus::Paused,
        SetupStatus::Partial,
        SetupStatus::Absent,
    ];

    /// The stable snake_case name (`configured`, `degraded`, `at_risk`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SetupStatus::Configured => "configured",
            SetupStatus::Degraded => "degraded",
            SetupStatus::AtRisk => "at_risk",
            SetupStatus::Paused => "paused",
            SetupStatus::Partial => "partial",
            SetupStatus::Absent => "absent",
        }
    }
}

impl fmt::Display for SetupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a setup has the status it has (one reason per thing that is not as set up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// A stable identifier, e.g. `outbound_disabled`, `inbound_missing`, `loop_header`.
    pub code: &'static str,
    /// What is wrong and what it does to mail.
    pub message: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

/// A progress event.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A step started.
    Started(&'a Step),
    /// A step finished.
    Finished(&'a Step),
    /// An object a create step meant to make already existed as sigsync's (an earlier run
    /// the last read did not see yet): it was taken over, not created.
    Adopted(&'a Step),
    /// A step failed (or its outcome is unknown: the error says which).
    Failed(&'a Step, &'a Error),
    /// A step created by this apply is being removed again after a failure.
    Undoing(&'a Step),
}

/// A progress callback that ignores every event.
pub fn no_progress(_: Progress<'_>) {}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "error")]
pub enum StepOutcome {
    /// It was applied.
    Done,
    /// A create found the object already there as sigsync's and took it over (brought to
    /// the definition). Never undone.
    Adopted,
    /// It failed and was not applied, with the error.
    Failed(String),
    /// It failed in a way that may have been applied (a 5xx, a timeout, a lost response):
    /// counted as applied when deciding what is safe.
    Unknown(String),
    /// It was applied, then undone after a later failure.
    Undone,
    /// It was applied, and undoing it after a later failure failed too.
    UndoFailed(String),
}

/// A step and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// The step.
    #[serde(flatten)]
    pub step: Step,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: StepOutcome,
}

/// The result of apply, pause, resume or remove.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `configure`, `pause`, `resume` or `remove`.
    pub action: String,
    /// Each step run, in the order they ran.
    pub steps: Vec<StepReport>,
    /// Write calls made, undo included.
    pub writes: usize,
    /// Where the setup stands afterwards (read again after a failure, with what this run
    /// is known to have written); `None` when that read failed too.
    pub status: Option<SetupStatus>,
    /// Why, when the status is not the one the action aims for.
    pub reasons: Vec<Reason>,
    /// The plan that would finish the job or repair the tenant (run configure to apply it);
    /// empty when nothing is left.
    pub repair: Plan,
    /// The first failure, if any: nothing was written after it.
    #[serde(serialize_with = "error_message")]
    pub error: Option<Error>,
    /// Preflight findings (configure only).
    pub findings: Vec<Finding>,
}

fn error_message<S: serde::Serializer>(e: &Option<Error>, s: S) -> Result<S::Ok, S::Error> {
    e.as_ref().map(ToString::to_string).serialize(s)
}

impl Report {
    /// Whether every step succeeded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            let how = match &s.outcome {
                StepOutcome::Done => "done".to_owned(),
                StepOutcome::Adopted => "adopted (it existed already)".to_owned(),
                StepOutcome::Failed(e) => format!("FAILED: {e}"),
                StepOutcome::Unknown(e) => format!("FAILED, may have been applied: {e}"),
                StepOutcome::Undone => "undone".to_owned(),
                StepOutcome::UndoFailed(e) => format!("undo FAILED: {e}"),
            };
            writeln!(f, "{} ... {how}", s.step)?;
        }
        for r in &self.reasons {
            writeln!(f, "{r}")?;
        }
        if !self.repair.is_empty() {
            writeln!(f, "to repair, run configure; it would:\n{}", self.repair)?;
        }
        match self.status {
            Some(status) => write!(f, "{}: {status} ({} writes)", self.action, self.writes),
            None => write!(
                f,
                "{}: status unknown ({} writes)",
                self.action, self.writes
            ),
        }
    }
}

/// Where the setup stands, why, what drifted, and the plan that would repair it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Configured, degraded, at risk, paused, partial or absent.
    pub status: SetupStatus,
    /// Why it is not `configured` (or `paused`/`absent` as such): one reason per problem.
    pub reasons: Vec<Reason>,
    /// Update steps for fields someone changed (in the admin center, say).
    pub drift: Vec<Step>,
    /// The plan that would repair every difference (never changing paused to configured).
    pub repair: Plan,
    /// Preflight findings against the tenant as it is.
    pub findings: Vec<Finding>,
}
