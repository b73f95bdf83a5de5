//! The setup engine: reads, plans and applies in mail-safe order, with a cautious undo on
//! failure; pauses, resumes, removes, and reports status, its reasons and drift.

use std::sync::Arc;

use super::config::{ConnectorSetup, SenderScope};
use super::order;
use super::plan::{self, compute, Op, Plan, PlanContext, RuleState, Step, TenantView};
use super::preflight::{self, Finding, Severity};
use super::report::{Progress, Report, SetupStatus, StatusReport};
use super::run::Run;
use super::status;
use crate::exchange::ExchangeClient;
use crate::model::ObjectKind;
use crate::{Error, Result};

/// A progress callback: told when each step starts, finishes or fails.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress<'_>) + Send + Sync);

/// Converges a tenant to a [`ConnectorSetup`] through any [`ExchangeClient`].
///
/// Wrap the client in [`crate::exchange::RetryingClient`] for retries: the engine itself
/// never retries.
pub struct SetupEngine {
    pub(super) client: Arc<dyn ExchangeClient>,
}

impl SetupEngine {
    /// An engine over `client`.
    pub fn new(client: Arc<dyn ExchangeClient>) -> Self {
        SetupEngine { client }
    }

    /// Reads what the setup needs, every read concurrently (one round trip).
    pub async fn read(&self, setup: &ConnectorSetup) -> Result<TenantView> {
        let c = &self.client;
        let groups = async {
            match setup.scope {
                SenderScope::Groups(_) => c.list_mail_enabled_groups().await,
                SenderScope::AllUsers => Ok(Vec::new()),
            }
        };
        let (outbound, inbound, rules, accepted_domains, groups) = futures::try_join!(
            c.list_outbound_connectors(),
            c.list_inbound_connectors(),
            c.list_transport_rules(),
            c.list_accepted_domains(),
            groups,
        )?;
        Ok(TenantView {
            outbound,
            inbound,
            rules,
            accepted_domains,
            groups,
        })
    }

    /// The setup with group names resolved to the groups' addresses, as the rule stores them.
    pub(super) fn resolved(setup: &ConnectorSetup, view: &TenantView) -> ConnectorSetup {
        let mut setup = setup.clone();
        if let SenderScope::Groups(groups) = &mut setup.scope {
            for wanted in groups.iter_mut() {
                if let Some(g) = view.group(wanted) {
                    *wanted = g.mail.clone();
                }
            }
        }
        setup
    }

    /// Preflight findings for `setup` against the tenant, before any write.
    pub async fn preflight(&self, setup: &ConnectorSetup) -> Result<Vec<Finding>> {
        let view = self.read(setup).await?;
        Ok(preflight::check(setup, &view))
    }

    /// The plan that would configure the tenant (a dry run), with the preflight findings.
    pub async fn plan(&self, setup: &ConnectorSetup) -> Result<(Plan, Vec<Finding>)> {
        setup.validate()?;
        let view = self.read(setup).await?;
        let findings = preflight::check(setup, &view);
        let state = if setup.staged {
            RuleState::Keep
        } else {
            RuleState::Enable
        };
        let plan = compute(
            &Self::resolved(setup, &view).desired(),
            &view,
            &setup.profile.comment_marker,
            state,
        )?;
        Ok((plan, findings))
    }

    /// Configures the tenant: reads, preflight, plan, apply. Fails before any write when
    /// preflight finds an error or a foreign object holds one of sigsync's names.
    pub async fn configure(
        &self,
        setup: &ConnectorSetup,
        progress: ProgressFn<'_>,
    ) -> Result<Report> {
        let (plan, findings) = self.plan(setup).await?;
        self.configure_with(setup, &plan, findings, progress).await
    }

    /// Configures with a plan and findings from [`SetupEngine::plan`] (read once: the plan
    /// shown is the plan applied): fails before any write when a finding is an error;
    /// otherwise applies the plan and attaches the findings to the report.
    pub async fn configure_with(
        &self,
        setup: &ConnectorSetup,
        plan: &Plan,
        findings: Vec<Finding>,
        progress: ProgressFn<'_>,
    ) -> Result<Report> {
        if let Some(f) = findings.iter().find(|f| f.severity == Severity::Error) {
            return Err(Error::validation(f.code, f.message.clone()));
        }
        let mut report = self.apply(setup, plan, progress).await;
        report.findings = findings;
        Ok(report)
    }

    /// Applies `plan` in mail-safe phases: rule disables and removals first; then the
    /// connectors and the auto-reply rule (concurrently); then the routing rule, only once
    /// both connectors are in place; enables last. When two or more connector writes would
    /// change where mail goes (smart hosts, TLS domain, certificate name, a connector
    /// created) while the routing rule exists, the rule is disabled first and enabled again
    /// last, so mail is never routed through a half-changed pair. After a failure nothing
    /// further is written; what this apply created is removed again only when nothing can
    /// route through it (see the report's steps), and the report gives the status (read
    /// again) with the repair plan.
    pub async fn apply(
        &self,
        setup: &ConnectorSetup,
        plan: &Plan,
        progress: ProgressFn<'_>,
    ) -> Report {
        let context = match &plan.context {
            Some(c) => c.clone(),
            None => Arc::new(PlanContext {
                view: self.read(setup).await.unwrap_or_default(),
                routing_enabled: !setup.staged,
            }),
        };
        let phases = order::phases(setup, plan, &context);
        let mut run = Run::new(self, setup, progress);
        for phase in phases.iter().filter(|p| !p.is_empty()) {
            if !run.phase(&phase.iter().collect::<Vec<_>>()).await {
                break;
            }
        }
        let view = if run.failed() {
            let fresh = self.read(setup).await.ok();
            run.undo(plan, fresh.as_ref()).await;
            fresh
        } else {
            Some(context.view.clone())
        };
        let state = if setup.staged {
            RuleState::Keep
        } else {
            RuleState::Enable
        };
        self.finish(run, "configure", setup, view, Some(state))
    }

    /// Pauses: disables sigsync's rules, so mail flows normally and untouched.
    pub async fn pause(&self, setup: &ConnectorSetup, progress: ProgressFn<'_>) -> Result<Report> {
        let view = self.read(setup).await?;
        let names = &setup.profile.names;
        let steps: Vec<Step> = [&names.routing_rule, &names.auto_reply_rule]
            .into_iter()
            .filter_map(|n| self.owned_rule(setup, &view, n).transpose())
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|(_, enabled)| *enabled)
            .map(|(name, _)| Step::new(Op::Disable, ObjectKind::TransportRule, &name))
            .collect();
        let mut run = Run::new(self, setup, progress);
        run.phase(&steps.iter().collect::<Vec<_>>()).await;
        let view = self.after(&run, setup, view).await;
        Ok(self.finish(run, "pause", setup, view, None))
    }

    /// Resumes: enables sigsync's rules again (the auto-reply rule first, so replies bypass
    /// the service from the start), only when mail routed by them would come back: both
    /// connectors in place and enabled, with the profile's smart hosts, TLS domain and
    /// certificate name, and the loop-header exception in the rule. Otherwise it refuses
    /// with the reasons; configure repairs.
    pub async fn resume(&self, setup: &ConnectorSetup, progress: ProgressFn<'_>) -> Result<Report> {
        let view = self.read(setup).await?;
        let names = &setup.profile.names;
        match view.rule(&names.routing_rule) {
            None => {
                return Err(Error::Conflict(format!(
                    "cannot resume: the routing rule '{}' does not exist; run configure to set \
                     up (or repair) the setup",
                    names.routing_rule
                )))
            }
            Some(rule) if plan::owned(rule, &setup.profile.comment_marker) => {
                let (would_be, reasons) = status::classify(setup, &view, Some(true));
                let only_auto = reasons.iter().all(|r| r.code == "auto_reply_rule");
                if !(would_be == SetupStatus::Configured
                    || (would_be == SetupStatus::Degraded && only_auto))
                {
                    let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                    return Err(Error::Conflict(format!(
                        "cannot resume: mail routed now would be {would_be}: {}; run configure \
                         to repair the setup",
                        why.join("; ")
                    )));
                }
            }
            Some(_) => {}
        }
        let mut run = Run::new(self, setup, progress);
        for name in [&names.auto_reply_rule, &names.routing_rule] {
            if let Some((name, false)) = self.owned_rule(setup, &view, name)? {
                let step = Step::new(Op::Enable, ObjectKind::TransportRule, &name);
                if !run.phase(&[&step]).await {
                    break;
                }
            }
        }
        let view = self.after(&run, setup, view).await;
        Ok(self.finish(run, "resume", setup, view, None))
    }

    /// Removes what sigsync created and nothing else: the rules first, then the outbound
    /// connector, and the inbound connector last, so mail already at the service can still
    /// come back. Stops at the first failure.
    pub async fn remove(&self, setup: &ConnectorSetup, progress: ProgressFn<'_>) -> Result<Report> {
        let view = self.read(setup).await?;
        let names = &setup.profile.names;
        let marker = &setup.profile.comment_marker;
        let rules: Vec<Step> = [&names.routing_rule, &names.auto_reply_rule]
            .into_iter()
            .filter_map(|n| view.rule(n).filter(|r| plan::owned(r, marker)))
            .map(|r| Step::new(Op::Remove, ObjectKind::TransportRule, r.name()))
            .collect();
        let outbound: Vec<Step> = view
            .outbound(&names.outbound_connector)
            .filter(|c| plan::owned(c, marker))
            .map(|c| Step::new(Op::Remove, ObjectKind::OutboundConnector, c.name()))
            .into_iter()
            .collect();
        let inbound: Vec<Step> = view
            .inbound(&names.inbound_connector)
            .filter(|c| plan::owned(c, marker))
            .map(|c| Step::new(Op::Remove, ObjectKind::InboundConnector, c.name()))
            .into_iter()
            .collect();
        let mut run = Run::new(self, setup, progress);
        for phase in [&rules, &outbound, &inbound] {
            if !phase.is_empty() && !run.phase(&phase.iter().collect::<Vec<_>>()).await {
                break;
            }
        }
        let view = self.after(&run, setup, view).await;
        Ok(self.finish(run, "remove", setup, view, None))
    }

    /// Whether the tenant is configured (mail routed through the service and able to come
    /// back), degraded, at risk, paused, partly set up or clean, and why; any drift from the
    /// setup (a field changed in the admin center); and the plan that would repair it.
    pub async fn status(&self, setup: &ConnectorSetup) -> Result<StatusReport> {
        let view = self.read(setup).await?;
        let resolved = Self::resolved(setup, &view);
        let marker = &setup.profile.comment_marker;
        let repair = compute(&resolved.desired(), &view, marker, RuleState::Keep)?;
        let drift = repair
            .steps
            .iter()
            .filter(|s| s.op == Op::Update)
            .cloned()
            .collect();
        let (status, reasons) = status::classify(&resolved, &view, None);
        Ok(StatusReport {
            status,
            reasons,
            drift,
            repair,
            findings: preflight::check(setup, &view),
        })
    }

    /// The tenant after a pause, resume or removal: as read before, when every step
    /// succeeded; read again after a failure.
    async fn after(
        &self,
        run: &Run<'_>,
        setup: &ConnectorSetup,
        before: TenantView,
    ) -> Option<TenantView> {
        if run.failed() {
            self.read(setup).await.ok()
        } else {
            Some(before)
        }
    }

    /// The report: the status of `view` (`None`: unknown) with this run's known writes laid
    /// over it, the reasons, and for configure (`repair_state`) the plan still needed.
    fn finish(
        &self,
        run: Run<'_>,
        action: &str,
        setup: &ConnectorSetup,
        view: Option<TenantView>,
        repair_state: Option<RuleState>,
    ) -> Report {
        let view = view.map(|v| run.overlay(v));
        let mut report = Report {
            action: action.to_owned(),
            steps: Vec::new(),
            writes: run.writes(),
            status: None,
            reasons: Vec::new(),
            repair: Plan::default(),
            error: None,
            findings: Vec::new(),
        };
        if let Some(view) = &view {
            let resolved = Self::resolved(setup, view);
            let (status, reasons) = status::classify(&resolved, view, None);
            report.status = Some(status);
            report.reasons = reasons;
            if let Some(state) = repair_state {
                let marker = &setup.profile.comment_marker;
                report.repair =
                    compute(&resolved.desired(), view, marker, state).unwrap_or_default();
            }
        }
        report.steps = run.steps;
        report.error = run.error;
        report
    }

    fn owned_rule(
        &self,
        setup: &ConnectorSetup,
        view: &TenantView,
        name: &str,
    ) -> Result<Option<(String, bool)>> {
        match view.rule(name) {
            None => Ok(None),
            Some(r) if plan::owned(r, &setup.profile.comment_marker) => {
                Ok(Some((r.name().to_owned(), r.definition.enabled())))
            }
            Some(r) => Err(Error::Conflict(format!(
                "transport rule '{}' was not created by sigsync; it is left alone",
                r.name()
            ))),
        }
    }
}
