//! Where a setup stands: whether mail is actually routed through the service and can come
//! back, judged object by object from what the tenant holds; and which changes move mail.

use super::config::ConnectorSetup;
use super::plan::{owned, TenantView};
use super::report::{Reason, SetupStatus};
use crate::loop_header::value_of_pattern;
use crate::model::{ObjectKind, Params, RuleErrorAction};

/// Parameters whose change cannot strand or loop mail: changing them while the routing rule
/// is enabled is safe in any order.
const HARMLESS: &[&str] = &[
    "Comment",
    "Comments",
    "EFSkipLastIP",
    "EFSkipIPs",
    "EFUsers",
    "CloudServicesMailEnabled",
    "ConnectorSource",
    "TestMode",
    "MtaStsMode",
    "SmtpDaneMode",
];

/// Rule parameters that decide where routed mail goes and that processed mail is not routed
/// again; the rest (who is routed, which exceptions) only decides which mail is signed.
const RULE_ROUTING: &[&str] = &[
    "RouteMessageOutboundConnector",
    "ExceptIfHeaderMatchesMessageHeader",
    "ExceptIfHeaderMatchesPatterns",
    "Enabled",
];

/// Whether changing `params` on an object of `kind` can change where mail goes or whether
/// it can come back.
pub(crate) fn moves_mail(kind: ObjectKind, params: &Params) -> bool {
    params.keys().any(|k| match kind {
        ObjectKind::TransportRule => RULE_ROUTING.contains(&k.as_str()),
        _ => !HARMLESS.contains(&k.as_str()),
    })
}

fn reason(code: &'static str, message: String) -> Reason {
    Reason { code, message }
}

/// Classifies what `view` holds for `setup` (whose groups are already resolved); with
/// `rule_enabled`, as if the routing rule were in that state.
pub(crate) fn classify(
    setup: &ConnectorSetup,
    view: &TenantView,
    rule_enabled: Option<bool>,
) -> (SetupStatus, Vec<Reason>) {
    let p = &setup.profile;
    let n = &p.names;
    let marker = &p.comment_marker;
    let outbound = view
        .outbound(&n.outbound_connector)
        .filter(|c| owned(c, marker));
    let inbound = view
        .inbound(&n.inbound_connector)
        .filter(|c| owned(c, marker));
    let rule = view.rule(&n.routing_rule).filter(|r| owned(r, marker));
    let auto = view.rule(&n.auto_reply_rule).filter(|r| owned(r, marker));
    let wants_auto = setup.exceptions.auto_replies;
    if outbound.is_none() && inbound.is_none() && rule.is_none() && auto.is_none() {
        return (SetupStatus::Absent, Vec::new());
    }
    let missing =
        |code, what: &str, name: &str| reason(code, format!("{what} '{name}' does not exist"));
    let routing_on = rule.is_some_and(|r| rule_enabled.unwrap_or(r.definition.enabled()));
    let Some(rule) = rule.filter(|_| routing_on) else {
        // No mail is routed: nothing is at risk.
        let mut reasons = Vec::new();
        if outbound.is_none() {
            reasons.push(missing(
                "outbound_missing",
                "the outbound connector",
                &n.outbound_connector,
            ));
        }
        if inbound.is_none() {
            reasons.push(missing(
                "inbound_missing",
                "the inbound connector",
                &n.inbound_connector,
            ));
        }
        if rule.is_none() {
            reasons.push(missing(
                "routing_rule_missing",
                "the routing rule",
                &n.routing_rule,
            ));
        }
        if wants_auto && auto.is_none() {
            reasons.push(missing(
                "auto_reply_rule",
                "the auto-reply rule",
                &n.auto_reply_rule,
            ));
        }
        return if reasons.is_empty() {
            (SetupStatus::Paused, reasons)
        } else {
            (SetupStatus::Partial, reasons)
        };
    };

    let mut at_risk = Vec::new();
    let mut degraded = Vec::new();
    let r = &rule.definition;
    let routes_to_ours = r
        .route_message_outbound_connector()
        .is_some_and(|t| t.eq_ignore_ascii_case(&n.outbound_connector));
    if !routes_to_ours {
        at_risk.push(reason(
            "routes_elsewhere",
            format!(
                "the routing rule routes to '{}', not to sigsync's outbound connector '{}': \
                 mail goes where sigsync cannot tell whether it comes back",
                r.route_message_outbound_connector().unwrap_or("(nothing)"),
                n.outbound_connector
            ),
        ));
    }
    // Exchange routes only through an enabled, rule-scoped connector; otherwise the rule's
    // action fails at delivery time (RuleErrorAction decides what then happens).
    let unusable = match outbound {
        None => Some(format!(
            "the outbound connector '{}' does not exist",
            n.outbound_connector
        )),
        Some(c) if !c.definition.enabled() => Some(format!(
            "the outbound connector '{}' is disabled",
            n.outbound_connector
        )),
        Some(c) if !c.definition.is_transport_rule_scoped() => Some(format!(
            "the outbound connector '{}' is no longer rule-scoped",
            n.outbound_connector
        )),
        Some(_) => None,
    };
    let code = match outbound {
        None => "outbound_missing",
        Some(c) if !c.definition.enabled() => "outbound_disabled",
        _ => "outbound_not_rule_scoped",
    };
    match &unusable {
        Some(what) if routes_to_ours && r.rule_error_action() == RuleErrorAction::Defer => at_risk
            .push(reason(
                code,
                format!(
                    "{what}: the routing rule's action fails and, with RuleErrorAction Defer, \
                     mail is deferred and then returned to the sender"
                ),
            )),
        Some(what) if routes_to_ours => degraded.push(reason(
            code,
            format!("{what}: the routing rule's action is skipped and mail leaves unsigned"),
        )),
        _ => {}
    }
    let routed = routes_to_ours && unusable.is_none();
    if let (true, Some(c)) = (routed, outbound) {
        let d = &c.definition;
        let mut hosts: Vec<String> = d
            .smart_hosts()
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let mut want: Vec<String> = p
            .smart_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        hosts.sort();
        want.sort();
        if hosts != want {
            at_risk.push(reason(
                "smart_hosts",
                format!(
                    "the outbound connector sends to {:?}, not to the service's {:?}: that host \
                     may not send mail back",
                    d.smart_hosts(),
                    p.smart_hosts
                ),
            ));
        }
        if !d
            .tls_domain()
            .is_some_and(|t| t.eq_ignore_ascii_case(&p.tls_domain))
        {
            at_risk.push(reason(
                "tls_domain",
                format!(
                    "the outbound connector expects the certificate name {:?}, not the \
                     service's '{}': delivery to the service fails (450 4.7.320) and mail is \
                     returned after 24 hours",
                    d.tls_domain(),
                    p.tls_domain
                ),
            ));
        }
    }
    if routed {
        match inbound {
            None => at_risk.push(reason(
                "inbound_missing",
                format!(
                    "the inbound connector '{}' does not exist: processed mail cannot come \
                     back (550 5.7.64 TenantAttribution)",
                    n.inbound_connector
                ),
            )),
            Some(c) if !c.definition.enabled() => at_risk.push(reason(
                "inbound_disabled",
                format!(
                    "the inbound connector '{}' is disabled: processed mail cannot come back",
                    n.inbound_connector
                ),
            )),
            Some(c)
                if !c
                    .definition
                    .tls_sender_certificate_name()
                    .is_some_and(|t| t.eq_ignore_ascii_case(&p.certificate_name)) =>
            {
                at_risk.push(reason(
                    "certificate_name",
                    format!(
                        "the inbound connector accepts the certificate {:?}, not the \
                         service's '{}': processed mail is refused (550 5.7.64)",
                        c.definition.tls_sender_certificate_name(),
                        p.certificate_name
                    ),
                ))
            }
            Some(_) => {}
        }
        let header_ok = r
            .except_if_header_matches_message_header()
            .is_some_and(|h| h.eq_ignore_ascii_case(&p.loop_header.name));
        let values: Vec<String> = r
            .except_if_header_matches_patterns()
            .iter()
            .map(|pattern| value_of_pattern(pattern))
            .collect();
        if !header_ok || !values.contains(&p.loop_header.value) {
            at_risk.push(reason(
                "loop_header",
                format!(
                    "the routing rule does not except `{}: {}`, the header the service \
                     stamps: processed mail is routed to the service again until it bounces",
                    p.loop_header.name, p.loop_header.value
                ),
            ));
        }
    }
    if wants_auto && !auto.is_some_and(|a| a.definition.enabled()) {
        degraded.push(reason(
            "auto_reply_rule",
            format!(
                "the auto-reply rule '{}' is missing or disabled: automatic replies go through \
                 the service",
                n.auto_reply_rule
            ),
        ));
    }
    let status = if !at_risk.is_empty() {
        SetupStatus::AtRisk
    } else if !degraded.is_empty() {
        SetupStatus::Degraded
    } else {
        SetupStatus::Configured
    };
    at_risk.extend(degraded);
    (status, at_risk)
}
