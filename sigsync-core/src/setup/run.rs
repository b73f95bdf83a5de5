//! One apply, pause, resume or removal in progress: runs steps in phases, records what each
//! did (applied, not applied, or unknown), takes over what an earlier run made, and undoes
//! only what is safe to undo.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;

use super::config::ConnectorSetup;
use super::engine::{ProgressFn, SetupEngine};
use super::plan::{self, with_article, Object, Op, Plan, Step, TenantView};
use super::report::{Progress, StepOutcome, StepReport};
use super::status::moves_mail;
use crate::exchange::{may_have_applied, Existing};
use crate::model::{Definition, ObjectKind, Params};
use crate::{Error, ErrorKind, Result};

/// What a successful step did.
enum Did {
    Done,
    Adopted,
}

/// One action in progress.
pub(super) struct Run<'a> {
    engine: &'a SetupEngine,
    setup: &'a ConnectorSetup,
    progress: ProgressFn<'a>,
    pub(super) steps: Vec<StepReport>,
    writes: AtomicUsize,
    pub(super) error: Option<Error>,
}

impl<'a> Run<'a> {
    pub(super) fn new(
        engine: &'a SetupEngine,
        setup: &'a ConnectorSetup,
        progress: ProgressFn<'a>,
    ) -> Self {
        Run {
            engine,
            setup,
            progress,
            steps: Vec::new(),
            writes: AtomicUsize::new(0),
            error: None,
        }
    }

    pub(super) fn failed(&self) -> bool {
        self.error.is_some()
    }

    pub(super) fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    /// Runs independent steps concurrently; false when one failed.
    pub(super) async fn phase(&mut self, steps: &[&Step]) -> bool {
        let results = join_all(steps.iter().map(|s| self.execute(s))).await;
        for (step, result) in steps.iter().zip(results) {
            let outcome = match result {
                Ok(Did::Done) => StepOutcome::Done,
                Ok(Did::Adopted) => StepOutcome::Adopted,
                Err(e) => {
                    let outcome = if may_have_applied(&e) {
                        StepOutcome::Unknown(e.to_string())
                    } else {
                        StepOutcome::Failed(e.to_string())
                    };
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

    async fn execute(&self, step: &Step) -> Result<Did> {
        (self.progress)(Progress::Started(step));
        self.writes.fetch_add(1, Ordering::Relaxed);
        let result = self.call(step).await;
        match &result {
            Ok(Did::Done) => (self.progress)(Progress::Finished(step)),
            Ok(Did::Adopted) => (self.progress)(Progress::Adopted(step)),
            Err(e) => (self.progress)(Progress::Failed(step, e)),
        }
        result
    }

    async fn call(&self, step: &Step) -> Result<Did> {
        let c = &self.engine.client;
        let (id, p) = (step.name.as_str(), &step.params);
        match (step.op, step.kind, &step.object) {
            (Op::Create, _, Some(object)) => match self.create(object).await {
                Ok(()) => Ok(Did::Done),
                // Created by an earlier run that the last read did not see yet (directory
                // replication), or by a retried call that landed: take it over if it is
                // ours. (The client reports a duplicate rule name as AlreadyExists too.)
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    self.adopt(object, e).await.map(|()| Did::Adopted)
                }
                Err(e) => Err(e),
            },
            (Op::Update, ObjectKind::OutboundConnector, _) => {
                c.update_outbound_connector(id, p).await.map(|()| Did::Done)
            }
            (Op::Update, ObjectKind::InboundConnector, _) => {
                c.update_inbound_connector(id, p).await.map(|()| Did::Done)
            }
            (Op::Update, ObjectKind::TransportRule, _) => {
                c.update_transport_rule(id, p).await.map(|()| Did::Done)
            }
            (Op::Enable, _, _) => c.enable_transport_rule(id).await.map(|()| Did::Done),
            (Op::Disable, _, _) => c.disable_transport_rule(id).await.map(|()| Did::Done),
            (Op::Remove, ObjectKind::OutboundConnector, _) => {
                c.remove_outbound_connector(id).await.map(|()| Did::Done)
            }
            (Op::Remove, ObjectKind::InboundConnector, _) => {
                c.remove_inbound_connector(id).await.map(|()| Did::Done)
            }
            (Op::Remove, ObjectKind::TransportRule, _) => {
                c.remove_transport_rule(id).await.map(|()| Did::Done)
            }
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
    /// When that would change where mail goes, it stops instead: the run's plan was made
    /// from a read that did not show the object, so its mail-safe order did not account for
    /// it.
    async fn adopt(&self, object: &Object, error: Error) -> Result<()> {
        let c = &self.engine.client;
        let marker = &self.setup.profile.comment_marker;
        match object {
            Object::Outbound(d) => {
                let found = c.list_outbound_connectors().await?;
                if let Some(changes) = adoption(d, &found, marker, error)? {
                    c.update_outbound_connector(d.name(), &changes).await?;
                }
            }
            Object::Inbound(d) => {
                let found = c.list_inbound_connectors().await?;
                if let Some(changes) = adoption(d, &found, marker, error)? {
                    c.update_inbound_connector(d.name(), &changes).await?;
                }
            }
            Object::Rule(d) => {
                let found = c.list_transport_rules().await?;
                let was_enabled = found
                    .iter()
                    .find(|r| r.name().eq_ignore_ascii_case(d.name()))
                    .map(|r| r.definition.enabled());
                if let Some(changes) = adoption(d.as_ref(), &found, marker, error)? {
                    c.update_transport_rule(d.name(), &changes).await?;
                }
                if d.enabled() && was_enabled == Some(false) {
                    c.enable_transport_rule(d.name()).await?;
                }
            }
        }
        Ok(())
    }

    /// Undoes a failed configure, only when that is provably safe: the tenant had no routing
    /// rule (the plan creates it) and this run wrote none; this run created the outbound
    /// connector (so no older rule can route through it); and a fresh read (`fresh`) shows no
    /// routing rule either. Then the objects this run created (never adopted ones, never ones
    /// whose create had an unknown outcome) are removed: rules, the outbound connector, the
    /// inbound connector last. In every other case they stay: unused rule-scoped connectors
    /// are harmless, and the report gives the repair plan.
    pub(super) async fn undo(&mut self, plan: &Plan, fresh: Option<&TenantView>) {
        let names = &self.setup.profile.names;
        let is = |s: &Step, kind: ObjectKind, name: &str| {
            s.kind == kind && s.name.eq_ignore_ascii_case(name)
        };
        let routing = names.routing_rule.as_str();
        let routing_planned_create = plan
            .steps
            .iter()
            .any(|s| is(s, ObjectKind::TransportRule, routing) && s.op == Op::Create);
        let routing_touched = self.steps.iter().any(|r| {
            is(&r.step, ObjectKind::TransportRule, routing)
                && !matches!(r.outcome, StepOutcome::Failed(_))
        });
        let outbound_created = self.steps.iter().any(|r| {
            is(
                &r.step,
                ObjectKind::OutboundConnector,
                &names.outbound_connector,
            ) && r.step.op == Op::Create
                && r.outcome == StepOutcome::Done
        });
        let Some(fresh) = fresh else { return };
        let rule_seen = fresh.rule(routing).is_some()
            || fresh.rules.iter().any(|r| {
                r.definition.enabled()
                    && r.definition
                        .route_message_outbound_connector()
                        .is_some_and(|t| t.eq_ignore_ascii_case(&names.outbound_connector))
            });
        if !routing_planned_create || routing_touched || !outbound_created || rule_seen {
            return;
        }
        let mut order: Vec<(ObjectKind, String)> = self
            .steps
            .iter()
            .filter(|r| r.step.op == Op::Create && r.outcome == StepOutcome::Done)
            .map(|r| (r.step.kind, r.step.name.clone()))
            .collect();
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
            let ok = result.is_ok();
            if let Some(report) = self
                .steps
                .iter_mut()
                .find(|s| s.step.kind == kind && s.step.name == name && s.step.op == Op::Create)
            {
                report.outcome = match result {
                    Ok(_) => StepOutcome::Undone,
                    Err(e) => StepOutcome::UndoFailed(e.to_string()),
                };
            }
            if !ok {
                // Leave the rest in place (the inbound connector last of all).
                break;
            }
        }
    }

    /// `view` with what this run is known to have done (steps that returned success, creates
    /// undone again) laid over it.
    pub(super) fn overlay(&self, mut view: TenantView) -> TenantView {
        for r in &self.steps {
            match r.outcome {
                StepOutcome::Done | StepOutcome::Adopted => view.overlay(&r.step, false),
                StepOutcome::Undone => view.overlay(&r.step, true),
                _ => {}
            }
        }
        view
    }
}

/// The changes that adopt an existing object named like `desired`: `None` when it is already
/// as wanted; a conflict when it is not sigsync's or when the changes would move mail;
/// `error` when it cannot be found.
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
            "{} named '{}' already exists and was not created by sigsync",
            with_article(D::KIND),
            o.name()
        ))),
        Some(o) => {
            let changes = desired.changes_from(&o.definition);
            if moves_mail(D::KIND, &changes) {
                let fields: Vec<&str> = changes.keys().map(String::as_str).collect();
                return Err(Error::Conflict(format!(
                    "'{}' already exists (made by an earlier run that the last read did not \
                     show yet) and differs in {}: sigsync does not change where mail goes \
                     from an outdated read; run configure again",
                    o.name(),
                    fields.join(", ")
                )));
            }
            Ok((!changes.is_empty()).then_some(changes))
        }
    }
}
