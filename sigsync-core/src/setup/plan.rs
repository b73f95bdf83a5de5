//! Plans: the ordered steps that take the tenant from what it holds to what a setup wants.

use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::config::Desired;
use crate::exchange::{AcceptedDomain, Existing, MailGroup};
use crate::model::{
    Definition, InboundConnector, ObjectKind, OutboundConnector, Params, TransportRule,
};
use crate::{Error, Result};

/// What the tenant holds: the reads a plan is computed from (made concurrently).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantView {
    /// Outbound connectors.
    pub outbound: Vec<Existing<OutboundConnector>>,
    /// Inbound connectors.
    pub inbound: Vec<Existing<InboundConnector>>,
    /// Transport rules, in priority order.
    pub rules: Vec<Existing<TransportRule>>,
    /// Accepted domains (read for preflight).
    pub accepted_domains: Vec<AcceptedDomain>,
    /// Mail-enabled groups (read when the scope names groups).
    pub groups: Vec<MailGroup>,
}

fn by_name<'a, D: Definition>(objects: &'a [Existing<D>], name: &str) -> Option<&'a Existing<D>> {
    objects.iter().find(|o| o.name().eq_ignore_ascii_case(name))
}

impl TenantView {
    /// The outbound connector called `name`, if any.
    pub fn outbound(&self, name: &str) -> Option<&Existing<OutboundConnector>> {
        by_name(&self.outbound, name)
    }
    /// The inbound connector called `name`, if any.
    pub fn inbound(&self, name: &str) -> Option<&Existing<InboundConnector>> {
        by_name(&self.inbound, name)
    }
    /// The transport rule called `name`, if any.
    pub fn rule(&self, name: &str) -> Option<&Existing<TransportRule>> {
        by_name(&self.rules, name)
    }
    /// The mail-enabled group with this address, display name or id, if any.
    pub fn group(&self, wanted: &str) -> Option<&MailGroup> {
        self.groups.iter().find(|g| {
            g.mail.eq_ignore_ascii_case(wanted)
                || g.display_name.eq_ignore_ascii_case(wanted)
                || g.id.eq_ignore_ascii_case(wanted)
        })
    }

    /// Adds what a step is known to have done (it returned success) to this view, which a
    /// read may not show yet (replication lag); `undone` for a create that was removed again.
    pub(crate) fn overlay(&mut self, step: &Step, undone: bool) {
        match step.kind {
            ObjectKind::OutboundConnector => {
                overlay_one(&mut self.outbound, step, undone, |o| match o {
                    Object::Outbound(d) => Some(d.clone()),
                    _ => None,
                })
            }
            ObjectKind::InboundConnector => {
                overlay_one(&mut self.inbound, step, undone, |o| match o {
                    Object::Inbound(d) => Some(d.clone()),
                    _ => None,
                })
            }
            ObjectKind::TransportRule => overlay_one(&mut self.rules, step, undone, |o| match o {
                Object::Rule(d) => Some(d.as_ref().clone()),
                _ => None,
            }),
        }
    }
}

fn overlay_one<D: Definition>(
    objects: &mut Vec<Existing<D>>,
    step: &Step,
    undone: bool,
    definition: fn(&Object) -> Option<D>,
) {
    let at = objects
        .iter()
        .position(|o| o.name().eq_ignore_ascii_case(&step.name));
    let with_param = |current: &D, key: &str, value: Value| {
        let mut p = current.to_params();
        p.insert(key.to_owned(), value);
        D::from_record(&p).ok()
    };
    match (step.op, at) {
        (Op::Create, Some(i)) if undone => {
            objects.remove(i);
        }
        (Op::Create, _) if undone => {}
        (Op::Create, at) => {
            let Some(def) = step.object.as_ref().and_then(definition) else {
                return;
            };
            match at {
                Some(i) => objects[i].definition = def,
                None => objects.push(Existing {
                    guid: String::new(),
                    when_created: None,
                    when_changed: None,
                    definition: def,
                }),
            }
        }
        (Op::Update, Some(i)) => {
            let mut p = objects[i].definition.to_params();
            for (k, v) in &step.params {
                p.insert(k.clone(), v.clone());
            }
            if let Ok(def) = D::from_record(&p) {
                objects[i].definition = def;
            }
        }
        (Op::Enable | Op::Disable, Some(i)) => {
            let on = Value::Bool(step.op == Op::Enable);
            if let Some(def) = with_param(&objects[i].definition, "Enabled", on) {
                objects[i].definition = def;
            }
        }
        (Op::Remove, Some(i)) => {
            objects.remove(i);
        }
        _ => {}
    }
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Create the object.
    Create,
    /// Change some of its parameters.
    Update,
    /// Enable a rule.
    Enable,
    /// Disable a rule.
    Disable,
    /// Remove the object.
    Remove,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Enable => "enable",
            Op::Disable => "disable",
            Op::Remove => "remove",
        })
    }
}

/// One parameter a step changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The cmdlet parameter.
    pub field: String,
    /// Its value now (`null` when unset or when the object does not exist yet).
    pub from: Value,
    /// Its value after the step.
    pub to: Value,
}

/// A definition of any kind, as a create step carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// An outbound connector.
    Outbound(OutboundConnector),
    /// An inbound connector.
    Inbound(InboundConnector),
    /// A transport rule.
    Rule(Box<TransportRule>),
}

/// One write the plan makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What it does.
    pub op: Op,
    /// To which kind of object.
    pub kind: ObjectKind,
    /// The object's name.
    pub name: String,
    /// The parameters it sets (creates list every parameter they send).
    pub changes: Vec<FieldChange>,
    pub(crate) object: Option<Object>,
    pub(crate) params: Params,
}

impl Step {
    pub(crate) fn new(op: Op, kind: ObjectKind, name: &str) -> Self {
        Step {
            op,
            kind,
            name: name.to_owned(),
            changes: Vec::new(),
            object: None,
            params: Params::new(),
        }
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Step", 4)?;
        st.serialize_field("op", &self.op)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("changes", &self.changes)?;
        st.end()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.as_str().replace('_', " ");
        write!(f, "{} {kind} '{}'", self.op, self.name)?;
        if self.op == Op::Update {
            for c in &self.changes {
                write!(f, "\n    {}: {} -> {}", c.field, c.from, c.to)?;
            }
        }
        Ok(())
    }
}

/// The ordered writes that converge the tenant, and the objects already as wanted.
///
/// A plan from [`SetupEngine::plan`](super::SetupEngine::plan) (or a status's repair plan)
/// remembers the tenant it was computed from, so that apply can order its writes safely
/// without reading again.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    /// The writes, in the order they are listed (apply runs them in mail-safe phases).
    pub steps: Vec<Step>,
    /// Objects that need no change, as `(kind, name)`.
    pub unchanged: Vec<(ObjectKind, String)>,
    #[serde(skip)]
    pub(crate) context: Option<Arc<PlanContext>>,
}

/// What a plan was computed from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlanContext {
    /// The tenant as read.
    pub view: TenantView,
    /// Whether the routing rule should end up enabled (configure, or it was enabled).
    pub routing_enabled: bool,
}

impl PartialEq for Plan {
    /// Plans are equal when they make the same writes (what they were computed from aside).
    fn eq(&self, other: &Self) -> bool {
        self.steps == other.steps && self.unchanged == other.unchanged
    }
}

impl Plan {
    /// Whether the plan makes no write.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("nothing to change");
        }
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "{}. {step}", i + 1)?;
        }
        Ok(())
    }
}

/// How the plan treats a routing rule's enabled state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleState {
    /// Enable it (configure).
    Enable,
    /// Leave it as it is (staged configure, status repair).
    Keep,
}

/// Whether an existing object belongs to sigsync: its comment carries the marker.
pub(crate) fn owned<D: Definition>(object: &Existing<D>, marker: &str) -> bool {
    object
        .definition
        .to_params()
        .iter()
        .filter(|(k, _)| *k == "Comment" || *k == "Comments")
        .any(|(_, v)| v.as_str().is_some_and(|c| c.contains(marker)))
}

/// `an outbound connector`, `an inbound connector`, `a transport rule`.
pub(crate) fn with_article(kind: ObjectKind) -> String {
    let noun = kind.as_str().replace('_', " ");
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}

fn foreign(kind: ObjectKind, name: &str) -> Error {
    Error::Conflict(format!(
        "the tenant has {} named '{name}' that sigsync did not create (its comment lacks \
         sigsync's marker); sigsync will not take it over: rename it, or choose another name \
         in the service profile",
        with_article(kind)
    ))
}

fn changes_of(params: &Params, current: Option<&Params>) -> Vec<FieldChange> {
    params
        .iter()
        .map(|(field, to)| FieldChange {
            field: field.clone(),
            from: current
                .and_then(|c| c.get(field))
                .cloned()
                .unwrap_or(Value::Null),
            to: to.clone(),
        })
        .collect()
}

/// Adds the create or update step that converges one object.
pub(crate) fn converge<D: Definition>(
    plan: &mut Plan,
    desired: &D,
    current: Option<&Existing<D>>,
    marker: &str,
    wrap: fn(D) -> Object,
) -> Result<()> {
    match current {
        None => {
            let mut step = Step::new(Op::Create, D::KIND, desired.name());
            step.params = desired.to_new_params();
            step.changes = changes_of(&step.params, None);
            step.object = Some(wrap(desired.clone()));
            plan.steps.push(step);
        }
        Some(existing) if !owned(existing, marker) => {
            return Err(foreign(D::KIND, existing.name()))
        }
        Some(existing) => {
            let params = desired.changes_from(&existing.definition);
            if params.is_empty() {
                plan.unchanged.push((D::KIND, existing.name().to_owned()));
            } else {
                let mut step = Step::new(Op::Update, D::KIND, existing.name());
                step.changes = changes_of(&params, Some(&existing.definition.to_params()));
                step.params = params;
                plan.steps.push(step);
            }
        }
    }
    Ok(())
}

/// The plan that converges `view` to `desired`.
pub(crate) fn compute(
    desired: &Desired,
    view: &TenantView,
    marker: &str,
    state: RuleState,
) -> Result<Plan> {
    let mut plan = Plan {
        context: Some(Arc::new(PlanContext {
            view: view.clone(),
            routing_enabled: match state {
                RuleState::Enable => desired.routing_rule.enabled(),
                RuleState::Keep => view
                    .rule(desired.routing_rule.name())
                    .map_or(desired.routing_rule.enabled(), |r| r.definition.enabled()),
            },
        })),
        ..Plan::default()
    };
    converge(
        &mut plan,
        &desired.inbound,
        view.inbound(desired.inbound.name()),
        marker,
        Object::Inbound,
    )?;
    converge(
        &mut plan,
        &desired.outbound,
        view.outbound(desired.outbound.name()),
        marker,
        Object::Outbound,
    )?;
    let routing_on = view
        .rule(desired.routing_rule.name())
        .is_some_and(|r| r.definition.enabled());
    for rule in desired
        .auto_reply_rule
        .iter()
        .chain([&desired.routing_rule])
    {
        let current = view.rule(rule.name());
        converge(&mut plan, rule, current, marker, |r| {
            Object::Rule(Box::new(r))
        })?;
        if let Some(existing) = current {
            let want = rule.enabled();
            let is = existing.definition.enabled();
            let is_routing = std::ptr::eq(rule, &desired.routing_rule);
            // Keeping the routing rule's state still repairs a disabled auto-reply rule
            // while mail is routed (replies would go through the service).
            let repair_auto = state == RuleState::Keep && !is_routing && want && routing_on;
            if want != is && (state == RuleState::Enable || repair_auto) {
                let op = if want { Op::Enable } else { Op::Disable };
                plan.steps
                    .push(Step::new(op, ObjectKind::TransportRule, existing.name()));
            }
        }
    }
    Ok(plan)
}
