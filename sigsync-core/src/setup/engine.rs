//! The setup engine: reads, plans and applies in mail-safe order, with undo on failure;
//! pauses, resumes, removes, and reports status and drift.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::join_all;

use super::config::{ConnectorSetup, SenderScope};
use super::plan::{self, compute, Object, Op, Plan, RuleState, Step, TenantView};
use super::preflight::{self, Finding, Severity};
use super::report::{Progress, Report, SetupStatus, StatusReport, StepOutcome, StepReport};
use crate::exchange::ExchangeClient;
use crate::exchange::Existing;
use crate::model::{Definition, ObjectKind, Params};
use crate::{Error, ErrorKind, Result};

/// A progress callback: told when each step starts, finishes or fails.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress<'_>) + Send + Sync);

/// Converges a tenant to a [`ConnectorSetup`] through any [`ExchangeClient`].
///
/// Wrap the client in [`crate::exchange::RetryingClient`] for retries: the engine itself
/// never retries.
pub struct SetupEngine {
    client: Arc<dyn ExchangeClient>,
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
    fn resolved(setup: &ConnectorSetup, view: &TenantView) -> ConnectorSetup {
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
        if let Some(f) = findings.iter().find(|f| f.severity == Severity::Error) {
            return Err(Error::validation(f.code, f.message.clone()));
        }
        let mut report = self.apply(setup, &plan, progress).await;
        report.findings = findings;
        Ok(report)
    }

    /// Applies `plan` in mail-safe phases: rule disables and removals first; then the
    /// connectors and the auto-reply rule (concurrently); then the routing rule, only once
    /// both connectors are in place; enables last. After a failure nothing further is
    /// written, and what this apply created is removed again when no rule depends on it.
    pub async fn apply(
        &self,
        setup: &ConnectorSetup,
        plan: &Plan,
        progress: ProgressFn<'_>,
    ) -> Report {
        let routing = setup.profile.names.routing_rule.as_str();
        let is_routing =
            |s: &Step| s.kind == ObjectKind::TransportRule && s.name.eq_ignore_ascii_case(routing);
        let phases: [Vec<&Step>; 4] = [
            plan.steps
                .iter()
                .filter(|s| matches!(s.op, Op::Disable | Op::Remove))
                .collect(),
            plan.steps
                .iter()
                .filter(|s| matches!(s.op, Op::Create | Op::Update) && !is_routing(s))
                .collect(),
            plan.steps
                .iter()
                .filter(|s| matches!(s.op, Op::Create | Op::Update) && is_routing(s))
                .collect(),
            plan.steps.iter().filter(|s| s.op == Op::Enable).collect(),
        ];
        let mut run = Run::new(self, setup, progress);
        for phase in phases.iter().filter(|p| !p.is_empty()) {
            if !run.phase(phase).await {
                break;
            }
        }
        if run.failed() {
            let routing_existed = !plan
                .steps
                .iter()
                .any(|s| is_routing(s) && s.op == Op::Create);
            run.undo(routing_existed).await;
            let status = self.status(setup).await.ok();
            return run.finish("configure", status.map(|s| s.status));
        }
        run.finish(
            "configure",
            Some(
                if setup.staged
                    && plan
                        .steps
                        .iter()
                        .any(|s| is_routing(s) && s.op == Op::Create)
                {
                    SetupStatus::Paused
                } else {
                    SetupStatus::Configured
                },
            ),
        )
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
        let status = if run.failed() {
            self.status(setup).await.ok().map(|s| s.status)
        } else {
            Some(Self::status_of(setup, &view, Some(false)))
        };
        Ok(run.finish("pause", status))
    }

    /// Resumes: enables sigsync's rules again, once both connectors are in place (the
    /// auto-reply rule first, so replies bypass the service from the start).
    pub async fn resume(&self, setup: &ConnectorSetup, progress: ProgressFn<'_>) -> Result<Report> {
        let view = self.read(setup).await?;
        let names = &setup.profile.names;
        let marker = &setup.profile.comment_marker;
        let outbound_ready = view.outbound(&names.outbound_connector).is_some_and(|c| {
            plan::owned(c, marker)
                && c.definition.enabled()
                && c.definition.is_transport_rule_scoped()
        });
        let inbound_ready = view
            .inbound(&names.inbound_connector)
            .is_some_and(|c| plan::owned(c, marker) && c.definition.enabled());
        if !(outbound_ready && inbound_ready) {
            return Err(Error::Conflict(
                "cannot resume: sigsync's connectors are missing or disabled; run configure to repair the setup".into(),
            ));
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
        let status = if run.failed() {
            self.status(setup).await.ok().map(|s| s.status)
        } else {
            Some(Self::status_of(setup, &view, Some(true)))
        };
        Ok(run.finish("resume", status))
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
        let status = if run.failed() {
            self.status(setup).await.ok().map(|s| s.status)
        } else {
            Some(SetupStatus::Absent)
        };
        Ok(run.finish("remove", status))
    }

    /// Whether the tenant is configured, paused, partly set up or clean; any drift from the
    /// setup (a field changed in the admin center); and the plan that would repair it.
    pub async fn status(&self, setup: &ConnectorSetup) -> Result<StatusReport> {
        let view = self.read(setup).await?;
        let desired = Self::resolved(setup, &view).desired();
        let marker = &setup.profile.comment_marker;
        let repair = compute(&desired, &view, marker, RuleState::Keep)?;
        let drift = repair
            .steps
            .iter()
            .filter(|s| s.op == Op::Update)
            .cloned()
            .collect();
        let status = Self::status_of(setup, &view, None);
        Ok(StatusReport {
            status,
            drift,
            repair,
            findings: preflight::check(setup, &view),
        })
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

    /// Classifies `view`; `rule_enabled` overrides the routing rule's state as read (the
    /// state after a successful pause or resume).
    fn status_of(
        setup: &ConnectorSetup,
        view: &TenantView,
        rule_enabled: Option<bool>,
    ) -> SetupStatus {
        let n = &setup.profile.names;
        let marker = &setup.profile.comment_marker;
        let outbound = view
            .outbound(&n.outbound_connector)
            .filter(|c| plan::owned(c, marker));
        let inbound = view
            .inbound(&n.inbound_connector)
            .filter(|c| plan::owned(c, marker));
        let rule = view
            .rule(&n.routing_rule)
            .filter(|r| plan::owned(r, marker));
        let auto = view
            .rule(&n.auto_reply_rule)
            .filter(|r| plan::owned(r, marker));
        let wants_auto = setup.exceptions.auto_replies;
        let present = [
            outbound.is_some(),
            inbound.is_some(),
            rule.is_some(),
            !wants_auto || auto.is_some(),
        ];
        if outbound.is_none() && inbound.is_none() && rule.is_none() && auto.is_none() {
            SetupStatus::Absent
        } else if present.iter().all(|p| *p) {
            match rule {
                Some(r) if rule_enabled.unwrap_or(r.definition.enabled()) => {
                    SetupStatus::Configured
                }
                _ => SetupStatus::Paused,
            }
        } else {
            SetupStatus::Partial
        }
    }
}

/// The changes that adopt an existing object named like `desired`: `None` when it is already
/// as wanted; a conflict when it is not sigsync's; `error` when it cannot be found.
fn adoption<D: Definition>(
    desired: &D,
    found: &[Existing<D>],
    marker: &str,
    error: Error,
) -> Result<Option<Params>> {
    match found
        .iter()
        .find(|o| o.name().eq_ignore_ascii_case(desired.name()))
    {
        None => Err(error),
        Some(o) if !plan::owned(o, marker) => Err(Error::Conflict(format!(
            "'{}' already exists and was not created by sigsync",
            o.name()
        ))),
        Some(o) => {
            let changes = desired.changes_from(&o.definition);
            Ok((!changes.is_empty()).then_some(changes))
        }
    }
}

/// One apply, pause, resume or removal in progress: runs phases, records outcomes.
struct Run<'a> {
    engine: &'a SetupEngine,
    routing: String,
    marker: String,
    progress: ProgressFn<'a>,
    steps: Vec<StepReport>,
    created: Vec<(ObjectKind, String)>,
    writes: AtomicUsize,
    error: Option<Error>,
}

impl<'a> Run<'a> {
    fn new(engine: &'a SetupEngine, setup: &ConnectorSetup, progress: ProgressFn<'a>) -> Self {
        Run {
            engine,
            routing: setup.profile.names.routing_rule.clone(),
            marker: setup.profile.comment_marker.clone(),
            progress,
            steps: Vec::new(),
            created: Vec::new(),
            writes: AtomicUsize::new(0),
            error: None,
        }
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Runs independent steps concurrently; false when one failed.
    async fn phase(&mut self, steps: &[&Step]) -> bool {
        let results = join_all(steps.iter().map(|s| self.execute(s))).await;
        for (step, result) in steps.iter().zip(results) {
            let outcome = match result {
                Ok(()) => {
                    if step.op == Op::Create {
                        self.created.push((step.kind, step.name.clone()));
                    }
                    StepOutcome::Done
                }
                Err(e) => {
                    let outcome = StepOutcome::Failed(e.to_string());
                    self.error.get_or_insert(e);
                    outcome
                }
            };
            self.steps.push(StepReport {
                step: (*step).clone(),
                outcome,
            });
        }
        !self.failed()
    }

    async fn execute(&self, step: &Step) -> Result<()> {
        (self.progress)(Progress::Started(step));
        self.writes.fetch_add(1, Ordering::Relaxed);
        let result = self.call(step).await;
        match &result {
            Ok(()) => (self.progress)(Progress::Finished(step)),
            Err(e) => (self.progress)(Progress::Failed(step, e)),
        }
        result
    }

    async fn call(&self, step: &Step) -> Result<()> {
        let c = &self.engine.client;
        let (id, p) = (step.name.as_str(), &step.params);
        match (step.op, step.kind, &step.object) {
            (Op::Create, _, Some(object)) => match self.create(object).await {
                // Created by an earlier run that the last read did not see yet (directory
                // replication), or by a retried call that landed: adopt it if it is ours.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => self.adopt(object, e).await,
                other => other,
            },
            (Op::Update, ObjectKind::OutboundConnector, _) => {
                c.update_outbound_connector(id, p).await
            }
            (Op::Update, ObjectKind::InboundConnector, _) => {
                c.update_inbound_connector(id, p).await
            }
            (Op::Update, ObjectKind::TransportRule, _) => c.update_transport_rule(id, p).await,
            (Op::Enable, _, _) => c.enable_transport_rule(id).await,
            (Op::Disable, _, _) => c.disable_transport_rule(id).await,
            (Op::Remove, ObjectKind::OutboundConnector, _) => c.remove_outbound_connector(id).await,
            (Op::Remove, ObjectKind::InboundConnector, _) => c.remove_inbound_connector(id).await,
            (Op::Remove, ObjectKind::TransportRule, _) => c.remove_transport_rule(id).await,
            (Op::Create, _, None) => Err(Error::Internal(format!(
                "create step for '{id}' carries no definition"
            ))),
        }
    }

    async fn create(&self, object: &Object) -> Result<()> {
        let c = &self.engine.client;
        match object {
            Object::Outbound(d) => c.create_outbound_connector(d).await.map(drop),
            Object::Inbound(d) => c.create_inbound_connector(d).await.map(drop),
            Object::Rule(d) => c.create_transport_rule(d).await.map(drop),
        }
    }

    /// Takes over an object that already exists under the name a create used, when it
    /// carries sigsync's marker: brings its fields (and a rule's state) to the definition.
    async fn adopt(&self, object: &Object, error: Error) -> Result<()> {
        let c = &self.engine.client;
        match object {
            Object::Outbound(d) => {
                let found = c.list_outbound_connectors().await?;
                if let Some(changes) = adoption(d, &found, &self.marker, error)? {
                    c.update_outbound_connector(d.name(), &changes).await?;
                }
            }
            Object::Inbound(d) => {
                let found = c.list_inbound_connectors().await?;
                if let Some(changes) = adoption(d, &found, &self.marker, error)? {
                    c.update_inbound_connector(d.name(), &changes).await?;
                }
            }
            Object::Rule(d) => {
                let found = c.list_transport_rules().await?;
                let was_enabled = found
                    .iter()
                    .find(|r| r.name().eq_ignore_ascii_case(d.name()))
                    .map(|r| r.definition.enabled());
                if let Some(changes) = adoption(d.as_ref(), &found, &self.marker, error)? {
                    c.update_transport_rule(d.name(), &changes).await?;
                }
                if d.enabled() && was_enabled == Some(false) {
                    c.enable_transport_rule(d.name()).await?;
                }
            }
        }
        Ok(())
    }

    /// Removes what this run created (the auto-reply rule, then the outbound connector, the
    /// inbound connector last) when the routing rule does not exist: without it the objects
    /// are unused, and removing them leaves the tenant as it was. When the routing rule
    /// exists, the connectors it routes to stay.
    async fn undo(&mut self, routing_existed: bool) {
        let routing_created = self
            .created
            .iter()
            .any(|(k, n)| *k == ObjectKind::TransportRule && n.eq_ignore_ascii_case(&self.routing));
        if routing_existed || routing_created {
            return;
        }
        let mut order = self.created.clone();
        order.sort_by_key(|(k, _)| match k {
            ObjectKind::TransportRule => 0,
            ObjectKind::OutboundConnector => 1,
            ObjectKind::InboundConnector => 2,
        });
        for (kind, name) in order {
            let step = Step::new(Op::Remove, kind, &name);
            (self.progress)(Progress::Undoing(&step));
            self.writes.fetch_add(1, Ordering::Relaxed);
            let result = self.call(&step).await;
            if let Some(report) = self
                .steps
                .iter_mut()
                .find(|s| s.step.kind == kind && s.step.name == name && s.step.op == Op::Create)
            {
                report.outcome = match result {
                    Ok(()) => StepOutcome::Undone,
                    Err(e) => StepOutcome::UndoFailed(e.to_string()),
                };
            }
        }
    }

    fn finish(self, action: &str, status: Option<SetupStatus>) -> Report {
        Report {
            action: action.to_owned(),
            steps: self.steps,
            writes: self.writes.load(Ordering::Relaxed),
            status,
            error: self.error,
            findings: Vec::new(),
        }
    }
}
