//! The setup engine: the connector wizard as a library.
//!
//! A [`ConnectorSetup`] (a [`ServiceProfile`], whose mail, internal too or external only, the
//! exceptions) becomes the desired outbound connector, inbound connector and rules;
//! [`SetupEngine`] reads the tenant in one concurrent round, plans ([`Plan`]) against it,
//! and applies in mail-safe order: both connectors exist before the rule that routes to them
//! is created or enabled, a change that moves mail through both connectors happens with the
//! routing rule off, and on removal the rule goes first and the inbound connector last. After
//! a failure, undo removes only what the run created and nothing can route through; writes of
//! unknown outcome count as applied. Objects are matched by name, case-insensitively, and
//! recognised as sigsync's by the profile's comment marker; a foreign object with one of
//! sigsync's names is a [`crate::Error::Conflict`], never taken over; one an earlier run made
//! that a lagging read missed is adopted (and reported so). [`SetupStatus`] says whether mail
//! is actually routed through the service and can come back (`configured`), flows unsigned
//! (`degraded`), or may not come back (`at_risk`), with the reasons and the repair plan.
//!
//! ```
//! # #[cfg(feature = "sim")] // the simulated tenant
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use sigsync_core::exchange::sim::SimTenant;
//! use sigsync_core::setup::{no_progress, ConnectorSetup, ServiceProfile, SetupEngine, SetupStatus};
//!
//! let tenant = SimTenant::new();
//! tenant.add_accepted_domain("contoso.com", true);
//! tenant.add_accepted_domain("tenant1.smtp.signatures.example.com", false);
//! let profile = ServiceProfile::builder()
//!     .smart_hosts(["smtp.signatures.example.com"])
//!     .certificate_name("tenant1.smtp.signatures.example.com")
//!     .build()?;
//! let setup = ConnectorSetup::builder(profile).build()?;
//! let engine = SetupEngine::new(Arc::new(tenant.clone()));
//!
//! let report = engine.configure(&setup, &no_progress).await?;
//! assert!(report.succeeded());
//! assert_eq!(engine.status(&setup).await?.status, SetupStatus::Configured);
//! // Running it again changes nothing.
//! assert!(engine.plan(&setup).await?.0.is_empty());
//! # Ok::<(), sigsync_core::Error>(()) }).unwrap();
//! ```

mod config;
mod engine;
mod order;
mod plan;
pub mod preflight;
mod profile;
mod report;
mod run;
mod status;

pub use config::{
    ConnectorSetup, ConnectorSetupBuilder, Desired, Exceptions, SenderScope, GROUP_SUBMITTED_HEADER,
};
pub use engine::{ProgressFn, SetupEngine};
pub use plan::{FieldChange, Object, Op, Plan, Step, TenantView};
pub use preflight::{Finding, Severity};
pub use profile::{ObjectNames, ServiceProfile, ServiceProfileBuilder};
pub use report::{
    no_progress, Progress, Reason, Report, SetupStatus, StatusReport, StepOutcome, StepReport,
};
