//! What the simulated tenant's Get-* cmdlets answer: records shaped as Exchange Online shapes
//! them (identity, GUID, state and priority of rules, sizes and sender domains as Exchange
//! renders them), with replication lag (objects hidden, removed or changed a few reads late).
//! The writes are in `store`.

use serde_json::{json, Value};

use super::store::{name_of, store, visible};
use super::{State, Stored};
use crate::exchange::CmdletInput;
use crate::model::{Definition, ObjectKind, Params};
use crate::Result;

pub(super) fn accepted_domains(state: &State) -> Vec<Params> {
    state
        .accepted_domains
        .iter()
        .map(|d| {
            let Value::Object(p) = json!({
                "Name": d.domain_name, "Identity": d.domain_name, "DomainName": d.domain_name,
                "DomainType": d.domain_type, "Default": d.default, "IsValid": true,
            }) else {
                unreachable!("json! object literal")
            };
            p
        })
        .collect()
}

/// The Get-* record of a stored object showing `params` (its own, or what a lagging read still
/// sees), shaped as the real service shapes it.
pub(super) fn record<D: Definition>(
    s: &Stored,
    params: &Params,
    index: usize,
    rule: bool,
) -> Params {
    let mut p = params.clone();
    let name = p
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    p.insert("Identity".into(), json!(name));
    p.insert("Guid".into(), json!(s.guid));
    p.insert("IsValid".into(), json!(true));
    if rule {
        let enabled = p
            .remove("Enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        p.insert(
            "State".into(),
            json!(if enabled { "Enabled" } else { "Disabled" }),
        );
        p.insert("Priority".into(), json!(index));
        p.insert("ImmutableId".into(), json!(s.guid));
        p.insert(
            "WhenChanged".into(),
            json!(s.changed.replace('Z', "+00:00")),
        );
        p.insert("WhenChanged@data.type".into(), json!("System.DateTime"));
        p.insert(
            "Description".into(),
            json!("If the message:\n\t...\nTake the following actions:\n\t..."),
        );
        p.insert(
            "DistinguishedName".into(),
            json!(format!("CN={name},CN=TransportVersioned,CN=Rules,CN=Transport Settings,CN=Configuration,CN=sim.onmicrosoft.com")),
        );
        if let Some(bytes) = p.get("ExceptIfMessageSizeOver").and_then(Value::as_u64) {
            let shown = format!(
                "{:.1} MB ({} bytes)",
                bytes as f64 / 1048576.0,
                group_digits(bytes)
            );
            p.insert("ExceptIfMessageSizeOver".into(), json!(shown));
        }
    } else {
        p.insert("WhenCreatedUTC".into(), json!(s.created));
        p.insert("WhenChangedUTC".into(), json!(s.changed));
        p.insert("ConnectorSource".into(), json!("AdminUI"));
        p.insert("AdminDisplayName".into(), json!(""));
    }
    if D::KIND == ObjectKind::InboundConnector {
        if let Some(Value::Array(domains)) = p.get_mut("SenderDomains") {
            for d in domains.iter_mut() {
                if let Some(s) = d.as_str() {
                    *d = json!(format!("smtp:{s};1"));
                }
            }
        }
    }
    p
}

fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What one read shows of a visible object: its parameters, or the ones before a recent
/// change while that change has not replicated (counting the read).
fn as_read(s: &mut Stored) -> Params {
    match s.stale.as_mut() {
        Some((old, reads)) if *reads > 0 => {
            *reads -= 1;
            let shown = old.clone();
            if *reads == 0 {
                s.stale = None;
            }
            shown
        }
        _ => s.params.clone(),
    }
}

pub(super) fn get<D: Definition>(state: &mut State, input: &CmdletInput) -> Result<Vec<Params>> {
    let rule = D::KIND == ObjectKind::TransportRule;
    if let Some(id) = input.identity().filter(|i| !i.is_empty()) {
        // A removal that has not replicated yet: the read still finds the object.
        if let Some(r) = state.removed.iter_mut().find(|r| {
            r.kind == D::KIND
                && r.reads > 0
                && (name_of(&r.stored).eq_ignore_ascii_case(id)
                    || r.stored.guid.eq_ignore_ascii_case(id))
        }) {
            r.reads -= 1;
            let shown = r.stored.params.clone();
            return Ok(vec![record::<D>(&r.stored, &shown, r.index, rule)]);
        }
        let i = visible(state, D::KIND, input)?;
        let s = &mut store(state, D::KIND)[i];
        let shown = as_read(s);
        return Ok(vec![record::<D>(s, &shown, i, rule)]);
    }
    let objects = store(state, D::KIND);
    let mut out = Vec::new();
    for (i, s) in objects.iter_mut().enumerate() {
        if s.hidden_reads > 0 {
            s.hidden_reads -= 1;
        } else {
            let shown = as_read(s);
            out.push((i, record::<D>(s, &shown, i, rule)));
        }
    }
    for r in state
        .removed
        .iter_mut()
        .filter(|r| r.kind == D::KIND && r.reads > 0)
    {
        r.reads -= 1;
        let shown = r.stored.params.clone();
        out.push((r.index, record::<D>(&r.stored, &shown, r.index, rule)));
    }
    state.removed.retain(|r| r.reads > 0);
    // Rules come back in priority order, a removed one where it stood.
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, p)| p).collect())
}
