//! Preflight: what would make mail bounce or loop after setup, found before any write.

use std::fmt;

use serde::Serialize;

use super::config::{ConnectorSetup, SenderScope};
use super::plan::{owned, TenantView};
use crate::loop_header::value_of_pattern;
use crate::model::validate::MAX_RULES;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Setup would break mail: sigsync refuses to apply.
    Error,
    /// Setup works, but some mail may not be signed, or be signed wrongly.
    Warning,
}

/// One problem preflight found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// A stable identifier, e.g. `certificate_not_accepted_domain`.
    pub code: &'static str,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level} [{}]: {}", self.code, self.message)
    }
}

fn error(code: &'static str, message: String) -> Finding {
    Finding {
        severity: Severity::Error,
        code,
        message,
    }
}

fn warning(code: &'static str, message: String) -> Finding {
    Finding {
        severity: Severity::Warning,
        code,
        message,
    }
}

/// Checks a setup against what the tenant holds.
pub fn check(setup: &ConnectorSetup, view: &TenantView) -> Vec<Finding> {
    let mut findings = Vec::new();
    let profile = &setup.profile;
    let desired = setup.desired();

    // Microsoft's relay requirement: the certificate domain is an accepted domain.
    let cert = profile
        .certificate_name
        .trim_start_matches("*.")
        .to_ascii_lowercase();
    let accepted = view.accepted_domains.iter().any(|d| {
        let d = d.domain_name.to_ascii_lowercase();
        cert == d || cert.ends_with(&format!(".{d}"))
    });
    if !accepted {
        findings.push(error(
            "certificate_not_accepted_domain",
            format!(
                "the certificate name '{}' is not an accepted domain of the tenant; mail coming \
                 back from the service (and NDRs) would be refused with 550 5.7.64. Add it as a \
                 domain in the Microsoft 365 admin center first",
                profile.certificate_name
            ),
        ));
    }

    if desired.inbound.cloud_services_mail_enabled()
        != desired.outbound.cloud_services_mail_enabled()
    {
        findings.push(error(
            "cloud_services_mail_mismatch",
            "CloudServicesMailEnabled differs between the inbound and outbound connectors; \
             returning mail would lose its internal headers and be treated as external"
                .into(),
        ));
    }

    // Rules evaluated before ours.
    let ours = [&profile.names.routing_rule, &profile.names.auto_reply_rule];
    let our_position = view
        .rule(&profile.names.routing_rule)
        .and_then(|r| r.definition.priority())
        .unwrap_or(setup.priority);
    for rule in &view.rules {
        let d = &rule.definition;
        let above = d.priority().is_some_and(|p| p < our_position);
        if !above || !d.enabled() || ours.iter().any(|n| n.eq_ignore_ascii_case(rule.name())) {
            continue;
        }
        if let Some(target) = d.route_message_outbound_connector() {
            findings.push(warning(
                "gateway_first",
                format!(
                    "rule '{}' (priority {}) routes mail to connector '{target}' before sigsync's \
                     rule; a gateway that sees mail first can rewrite or encrypt it. Give it a \
                     lower priority than sigsync's rule",
                    rule.name(),
                    d.priority().unwrap_or_default()
                ),
            ));
        } else if d.stop_rule_processing() {
            findings.push(warning(
                "stop_processing_above",
                format!(
                    "enabled rule '{}' (priority {}) stops rule processing before sigsync's rule; \
                     mail it matches will not be signed",
                    rule.name(),
                    d.priority().unwrap_or_default()
                ),
            ));
        }
    }
    for c in &view.outbound {
        let d = &c.definition;
        let catch_all = d.recipient_domains().iter().any(|r| r == "*") || d.all_accepted_domains();
        if d.enabled()
            && !d.is_transport_rule_scoped()
            && catch_all
            && !owned(c, &profile.comment_marker)
        {
            findings.push(warning(
                "gateway_first",
                format!(
                    "outbound connector '{}' sends all mail to a smart host without a rule; make \
                     it rule-scoped and route to it with a rule below sigsync's",
                    c.name()
                ),
            ));
        }
    }

    // The loop header changed in one step: the service may still stamp a value the rule
    // would no longer except, and mail it sends back would be routed to it again.
    if let Some(rule) = view
        .rule(&profile.names.routing_rule)
        .filter(|r| owned(r, &profile.comment_marker))
    {
        let d = &rule.definition;
        let values: Vec<String> = d
            .except_if_header_matches_patterns()
            .iter()
            .map(|p| value_of_pattern(p))
            .collect();
        let header = d.except_if_header_matches_message_header().unwrap_or("");
        let same = header.eq_ignore_ascii_case(&profile.loop_header.name)
            && values.contains(&profile.loop_header.value);
        if !values.is_empty() && !same {
            let message = format!(
                "the routing rule excepts `{header}` with {values:?}, but the profile stamps \
                 `{}: {}`: while the service still stamps the old value, mail it sends back \
                 would be routed to it again. Change the value in two phases: keep the old one \
                 as loop_header.value and add the new one to extra_loop_header_values \
                 (ServiceProfile::begin_loop_header_rotation), configure, switch the service, \
                 then drop the old one",
                profile.loop_header.name, profile.loop_header.value
            );
            findings.push(if d.enabled() {
                error("loop_header_change", message)
            } else {
                warning("loop_header_change", message)
            });
        }
    }

    let missing_rules = ours
        .iter()
        .take(if desired.auto_reply_rule.is_some() {
            2
        } else {
            1
        })
        .filter(|n| view.rule(n).is_none())
        .count();
    if view.rules.len() + missing_rules > MAX_RULES {
        findings.push(error(
            "rule_limit",
            format!(
                "the tenant has {} transport rules; adding {missing_rules} would exceed \
                 Exchange's limit of {MAX_RULES}",
                view.rules.len()
            ),
        ));
    }

    if let SenderScope::Groups(groups) = &setup.scope {
        for wanted in groups {
            if view.group(wanted).is_none() {
                findings.push(error(
                    "unknown_group",
                    format!(
                        "'{wanted}' is not a mail-enabled group of the tenant (unknown, or a \
                         security group without mail); choose a distribution list, a \
                         mail-enabled security group or a Microsoft 365 group"
                    ),
                ));
            }
        }
    }
    findings
}
