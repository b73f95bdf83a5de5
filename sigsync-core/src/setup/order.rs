//! The mail-safe order of a plan's writes: which run together, which wait for which.

use super::config::ConnectorSetup;
use super::plan::{self, Op, Plan, PlanContext, Step};
use super::status::moves_mail;
use crate::model::ObjectKind;

/// The phases `plan` runs in, each a set of independent steps run together, in order:
///
/// 1. rule disables and removals (and, when two or more connector writes would change where
///    mail goes while the routing rule exists, a disable of that rule: mail is never routed
///    through a half-changed pair);
/// 2. the connectors and the auto-reply rule; when no routing rule is in sight and mail
///    would move, their creates alone (a read may have missed a rule: an object found to
///    exist already, adopted only if that moves no mail, stops the run first);
/// 3. then those updates;
/// 4. the routing rule, once both connectors are in place;
/// 5. enables (and the routing rule again, after a disable of phase 1, when it should be on).
pub(crate) fn phases(setup: &ConnectorSetup, plan: &Plan, context: &PlanContext) -> Vec<Vec<Step>> {
    let routing = setup.profile.names.routing_rule.as_str();
    let is_routing =
        |s: &Step| s.kind == ObjectKind::TransportRule && s.name.eq_ignore_ascii_case(routing);
    let moving = plan
        .steps
        .iter()
        .filter(|s| s.kind != ObjectKind::TransportRule)
        .filter(|s| match s.op {
            Op::Create => true,
            Op::Update => moves_mail(s.kind, &s.params),
            _ => false,
        })
        .count();
    let existing_rule = context
        .view
        .rule(routing)
        .filter(|r| plan::owned(r, &setup.profile.comment_marker))
        .map(|r| r.name().to_owned());
    let steps = |keep: &dyn Fn(&Step) -> bool| -> Vec<Step> {
        plan.steps.iter().filter(|s| keep(s)).cloned().collect()
    };
    let mut first = steps(&|s| matches!(s.op, Op::Disable | Op::Remove));
    let mut last = steps(&|s| s.op == Op::Enable);
    if let Some(name) = existing_rule.as_deref().filter(|_| moving >= 2) {
        if !first.iter().any(|s| is_routing(s) && s.op == Op::Disable) {
            first.push(Step::new(Op::Disable, ObjectKind::TransportRule, name));
        }
        if context.routing_enabled && !last.iter().any(&is_routing) {
            last.push(Step::new(Op::Enable, ObjectKind::TransportRule, name));
        }
    }
    let unseen_rule = existing_rule.is_none() && moving >= 2;
    let (objects_first, objects_then) = if unseen_rule {
        (
            steps(&|s| !is_routing(s) && s.op == Op::Create),
            steps(&|s| !is_routing(s) && s.op == Op::Update),
        )
    } else {
        (
            steps(&|s| !is_routing(s) && matches!(s.op, Op::Create | Op::Update)),
            Vec::new(),
        )
    };
    vec![
        first,
        objects_first,
        objects_then,
        steps(&|s| is_routing(s) && matches!(s.op, Op::Create | Op::Update)),
        last,
    ]
}
