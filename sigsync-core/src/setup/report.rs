//! What apply, pause, resume, remove and status report.

use std::fmt;

use serde::Serialize;

use super::plan::{Plan, Step};
use super::preflight::Finding;
use crate::Error;

/// Where a setup stands in the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStatus {
    /// Every object exists and the routing rule is enabled.
    Configured,
    /// Every object exists and the routing rule is disabled: mail flows untouched.
    Paused,
    /// Some objects exist, some do not.
    Partial,
    /// None of sigsync's objects exist.
    Absent,
}

impl fmt::Display for SetupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetupStatus::Configured => "configured",
            SetupStatus::Paused => "paused",
            SetupStatus::Partial => "partial",
            SetupStatus::Absent => "absent",
        })
    }
}

/// A progress event.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A step started.
    Started(&'a Step),
    /// A step finished.
    Finished(&'a Step),
    /// A step failed.
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
    /// It failed, with the error.
    Failed(String),
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
    /// Where the setup stands afterwards (read again after a failure); `None` when that read
    /// failed too.
    pub status: Option<SetupStatus>,
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
                StepOutcome::Failed(e) => format!("FAILED: {e}"),
                StepOutcome::Undone => "undone".to_owned(),
                StepOutcome::UndoFailed(e) => format!("undo FAILED: {e}"),
            };
            writeln!(f, "{} ... {how}", s.step)?;
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

/// Where the setup stands, what drifted, and the plan that would repair it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Configured, paused, partial or absent.
    pub status: SetupStatus,
    /// Update steps for fields someone changed (in the admin center, say).
    pub drift: Vec<Step>,
    /// The plan that would repair every difference (never changing paused to configured).
    pub repair: Plan,
    /// Preflight findings against the tenant as it is.
    pub findings: Vec<Finding>,
}
