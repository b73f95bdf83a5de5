//! The simulated tenant's cmdlets: Exchange Online's rules for connectors and transport rules
//! (parameters, names, references, priorities) on every write. What Get-* answers is in
//! `records`.

use serde_json::{json, Value};

use super::{records, Removed, State, Stored};
use crate::exchange::CmdletInput;
use crate::model::{
    Definition, InboundConnector, ObjectKind, OutboundConnector, Params, TransportRule,
};
use crate::{ApiError, Error, ErrorKind, Result};

const NOT_FOUND: &str = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
const ARGUMENT: &str = "System.ArgumentException";
const VALIDATION: &str = "Microsoft.Exchange.Data.DataValidationException";
const STILL_REFERENCED: &str = "Microsoft.Exchange.Management.SystemConfigurationTasks.ConnectorIncorrectUsageConnectorStillReferencedException";
const PARAMETER_BINDING: &str = "System.Management.Automation.ParameterBindingException";

fn fail(cmdlet: &str, kind: ErrorKind, code: &str, message: String) -> Error {
    let status = if kind == ErrorKind::NotFound {
        404
    } else {
        400
    };
    Error::Api(
        ApiError::new(kind, message)
            .with_status(status)
            .with_code(code)
            .with_operation(cmdlet),
    )
}

fn not_found(cmdlet: &str, identity: &str) -> Error {
    fail(
        cmdlet,
        ErrorKind::NotFound,
        NOT_FOUND,
        format!("The operation couldn't be performed because object '{identity}' couldn't be found on 'SIM01.PROD.OUTLOOK.COM'."),
    )
}

fn now() -> String {
    // Exchange's seven-digit fraction: `yyyy-MM-ddTHH:mm:ss.fffffffZ`.
    let t = chrono::Utc::now();
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        chrono::Timelike::nanosecond(&t) % 1_000_000_000 / 100
    )
}

/// Runs one cmdlet against the state.
pub(super) fn run(state: &mut State, input: &CmdletInput) -> Result<Vec<Params>> {
    let Some((verb, noun)) = input.name.split_once('-') else {
        return Err(unknown_cmdlet(&input.name));
    };
    let kind = match noun.to_ascii_lowercase().as_str() {
        "outboundconnector" => ObjectKind::OutboundConnector,
        "inboundconnector" => ObjectKind::InboundConnector,
        "transportrule" => ObjectKind::TransportRule,
        "accepteddomain" if verb.eq_ignore_ascii_case("Get") => {
            return Ok(records::accepted_domains(state))
        }
        _ => return Err(unknown_cmdlet(&input.name)),
    };
    match kind {
        ObjectKind::OutboundConnector => dispatch::<OutboundConnector>(state, verb, input),
        ObjectKind::InboundConnector => dispatch::<InboundConnector>(state, verb, input),
        ObjectKind::TransportRule => dispatch::<TransportRule>(state, verb, input),
    }
}

fn unknown_cmdlet(name: &str) -> Error {
    fail(
        name,
        ErrorKind::Rejected,
        "System.Management.Automation.CommandNotFoundException",
        format!("The term '{name}' is not recognized as a cmdlet."),
    )
}

fn dispatch<D: Definition>(
    state: &mut State,
    verb: &str,
    input: &CmdletInput,
) -> Result<Vec<Params>> {
    let rule = D::KIND == ObjectKind::TransportRule;
    let cmdlet = input.name.as_str();
    let allowed: &[&str] = match verb.to_ascii_lowercase().as_str() {
        "get" => &["Identity", "ResultSize"],
        "new" => &["Confirm"],
        "set" => &["Identity", "Confirm"],
        "remove" | "enable" | "disable" if verb.eq_ignore_ascii_case("remove") || rule => {
            &["Identity", "Confirm"]
        }
        _ => return Err(unknown_cmdlet(cmdlet)),
    };
    let modelled: &[&str] = match verb.to_ascii_lowercase().as_str() {
        "new" => modelled_params::<D>(),
        "set" => modelled_params::<D>(),
        _ => &[],
    };
    for key in input.params.keys() {
        let set_enabled = rule && verb.eq_ignore_ascii_case("set") && key == "Enabled";
        if set_enabled || !(allowed.contains(&key.as_str()) || modelled.contains(&key.as_str())) {
            return Err(fail(
                cmdlet,
                ErrorKind::Rejected,
                PARAMETER_BINDING,
                format!("A parameter cannot be found that matches parameter name '{key}'."),
            ));
        }
    }
    match verb.to_ascii_lowercase().as_str() {
        "get" => records::get::<D>(state, input),
        "new" => create::<D>(state, input).map(|r| vec![r]),
        "set" => update::<D>(state, input).map(|_| Vec::new()),
        "remove" => remove::<D>(state, input).map(|_| Vec::new()),
        "enable" => set_rule_state(state, input, true).map(|_| Vec::new()),
        _ => set_rule_state(state, input, false).map(|_| Vec::new()),
    }
}

fn modelled_params<D: Definition>() -> &'static [&'static str] {
    match D::KIND {
        ObjectKind::OutboundConnector => OutboundConnector::PARAMS,
        ObjectKind::InboundConnector => InboundConnector::PARAMS,
        ObjectKind::TransportRule => TransportRule::PARAMS,
    }
}

pub(super) fn store(state: &mut State, kind: ObjectKind) -> &mut Vec<Stored> {
    match kind {
        ObjectKind::OutboundConnector => &mut state.outbound,
        ObjectKind::InboundConnector => &mut state.inbound,
        ObjectKind::TransportRule => &mut state.rules,
    }
}

pub(super) fn name_of(s: &Stored) -> &str {
    s.params
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn find(objects: &[Stored], identity: &str) -> Option<usize> {
    objects.iter().position(|s| {
        name_of(s).eq_ignore_ascii_case(identity) || s.guid.eq_ignore_ascii_case(identity)
    })
}

fn identity(input: &CmdletInput) -> Result<&str> {
    input.identity().filter(|i| !i.is_empty()).ok_or_else(|| {
        fail(
            &input.name,
            ErrorKind::Rejected,
            PARAMETER_BINDING,
            "Cannot bind argument to parameter 'Identity' because it is null.".into(),
        )
    })
}

/// Finds a visible object by identity, counting the lookup as a read of a hidden one.
pub(super) fn visible(state: &mut State, kind: ObjectKind, input: &CmdletInput) -> Result<usize> {
    let id = identity(input)?;
    let objects = store(state, kind);
    match find(objects, id) {
        Some(i) if objects[i].hidden_reads == 0 => Ok(i),
        Some(i) => {
            objects[i].hidden_reads -= 1;
            Err(not_found(&input.name, id))
        }
        None => Err(not_found(&input.name, id)),
    }
}

fn parse_valid<D: Definition>(cmdlet: &str, params: &Params) -> Result<D> {
    let def = D::from_record(params).map_err(|e| rejected(cmdlet, e))?;
    def.validate().map_err(|e| rejected(cmdlet, e))?;
    Ok(def)
}

fn rejected(cmdlet: &str, e: Error) -> Error {
    fail(cmdlet, ErrorKind::Rejected, VALIDATION, e.to_string())
}

fn name_taken(state: &State, kind: ObjectKind, name: &str, except: Option<usize>) -> bool {
    let clash = |objects: &[Stored], skip: Option<usize>| {
        objects
            .iter()
            .enumerate()
            .any(|(i, s)| Some(i) != skip && name_of(s).eq_ignore_ascii_case(name))
    };
    let own = match kind {
        ObjectKind::OutboundConnector => &state.outbound,
        ObjectKind::InboundConnector => &state.inbound,
        ObjectKind::TransportRule => &state.rules,
    };
    clash(own, except)
        || (state.settings.shared_connector_names
            && match kind {
                ObjectKind::OutboundConnector => clash(&state.inbound, None),
                ObjectKind::InboundConnector => clash(&state.outbound, None),
                ObjectKind::TransportRule => false,
            })
}

fn duplicate(cmdlet: &str, kind: ObjectKind, name: &str) -> Error {
    match kind {
        ObjectKind::TransportRule => fail(
            cmdlet,
            ErrorKind::Rejected,
            ARGUMENT,
            format!(
                "A transport rule with the name '{name}' already exists.\r\nParameter name: Name"
            ),
        ),
        _ => fail(
            cmdlet,
            ErrorKind::AlreadyExists,
            &format!(
                "Microsoft.Exchange.Management.Tasks.Error{}AlreadyExistsException",
                kind.noun()
            ),
            format!("{} '{name}' already exists.", kind.noun()),
        ),
    }
}

/// Resolves RouteMessageOutboundConnector as New-/Set-TransportRule do; returns the
/// connector's stored Name.
fn resolve_route(state: &mut State, cmdlet: &str, wanted: &str) -> Result<String> {
    let refuse = |why: &str| {
        fail(
            cmdlet,
            ErrorKind::Rejected,
            ARGUMENT,
            format!("RouteMessageOutboundConnector: outbound connector '{wanted}' {why}.\r\nParameter name: RouteMessageOutboundConnector"),
        )
    };
    let named =
        |s: &Stored| name_of(s).eq_ignore_ascii_case(wanted) || s.guid.eq_ignore_ascii_case(wanted);
    // The lookup is a directory read: it counts against a new connector's replication lag.
    if let Some(s) = state
        .outbound
        .iter_mut()
        .find(|s| named(s) && s.hidden_reads > 0)
    {
        s.hidden_reads -= 1;
        return Err(refuse("couldn't be found"));
    }
    let matches: Vec<&Stored> = state.outbound.iter().filter(|s| named(s)).collect();
    let connector = match matches.as_slice() {
        [] => return Err(refuse("couldn't be found")),
        [one] => *one,
        _ => return Err(refuse("isn't unique")),
    };
    let flag = |key: &str| connector.params.get(key).and_then(Value::as_bool);
    if flag("Enabled") == Some(false) {
        return Err(refuse("is disabled"));
    }
    if flag("IsTransportRuleScoped") != Some(true) {
        return Err(refuse(
            "isn't scoped to transport rules (IsTransportRuleScoped is false)",
        ));
    }
    Ok(name_of(connector).to_owned())
}

fn referencing_rule<'a>(state: &'a State, connector: &str) -> Option<&'a str> {
    state.rules.iter().find_map(|r| {
        r.params
            .get("RouteMessageOutboundConnector")
            .and_then(Value::as_str)
            .filter(|c| c.eq_ignore_ascii_case(connector))
            .map(|_| name_of(r))
    })
}

fn still_referenced(cmdlet: &str, connector: &str, rule: &str) -> Error {
    fail(
        cmdlet,
        ErrorKind::Rejected,
        STILL_REFERENCED,
        format!("Outbound connector '{connector}' is referenced by transport rule '{rule}'; remove or change the rule first."),
    )
}

fn create<D: Definition>(state: &mut State, input: &CmdletInput) -> Result<Params> {
    let cmdlet = input.name.as_str();
    let mut params = input.params.clone();
    params.remove("Confirm");
    let def: D = parse_valid(cmdlet, &params)?;
    if name_taken(state, D::KIND, def.name(), None) {
        return Err(duplicate(cmdlet, D::KIND, def.name()));
    }
    let mut stored_params = def.to_params();
    let mut position = None;
    if D::KIND == ObjectKind::TransportRule {
        if state.rules.len() >= state.settings.max_rules {
            return Err(fail(
                cmdlet,
                ErrorKind::Rejected,
                "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.RulesValidationException",
                format!(
                    "The maximum number of transport rules ({}) has been reached.",
                    state.settings.max_rules
                ),
            ));
        }
        let count = state.rules.len();
        if let Some(p) = stored_params.remove("Priority").and_then(|v| v.as_u64()) {
            if p as usize > count {
                return Err(fail(
                    cmdlet,
                    ErrorKind::Rejected,
                    ARGUMENT,
                    format!("Priority {p} is out of range; valid values are 0 to {count}.\r\nParameter name: Priority"),
                ));
            }
            position = Some(p as usize);
        }
        route_check(state, cmdlet, &mut stored_params)?;
    }
    let stamp = now();
    let stored = Stored {
        guid: uuid::Uuid::new_v4().to_string(),
        params: stored_params,
        created: stamp.clone(),
        changed: stamp,
        hidden_reads: state.settings.replication_lag_reads,
        stale: None,
    };
    let objects = store(state, D::KIND);
    let index = position.unwrap_or(objects.len());
    objects.insert(index, stored);
    let created = &objects[index];
    Ok(records::record::<D>(
        created,
        &created.params,
        index,
        D::KIND == ObjectKind::TransportRule,
    ))
}

fn route_check(state: &mut State, cmdlet: &str, params: &mut Params) -> Result<()> {
    if state.settings.permissive || !state.settings.check_rule_connector {
        return Ok(());
    }
    if let Some(wanted) = params
        .get("RouteMessageOutboundConnector")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        let canonical = resolve_route(state, cmdlet, &wanted)?;
        params.insert("RouteMessageOutboundConnector".into(), json!(canonical));
    }
    Ok(())
}

fn update<D: Definition>(state: &mut State, input: &CmdletInput) -> Result<()> {
    let cmdlet = input.name.as_str();
    let index = visible(state, D::KIND, input)?;
    let current = store(state, D::KIND)[index].params.clone();
    let mut merged = current.clone();
    for (k, v) in &input.params {
        if k != "Identity" && k != "Confirm" {
            merged.insert(k.clone(), v.clone());
        }
    }
    let def: D = parse_valid(cmdlet, &merged)?;
    if name_taken(state, D::KIND, def.name(), Some(index)) {
        return Err(duplicate(cmdlet, D::KIND, def.name()));
    }
    let mut new_params = def.to_params();
    let mut new_position = None;
    match D::KIND {
        ObjectKind::TransportRule => {
            if let Some(p) = input.params.get("Priority").and_then(Value::as_u64) {
                let max = state.rules.len() - 1;
                if p as usize > max {
                    return Err(fail(
                        cmdlet,
                        ErrorKind::Rejected,
                        ARGUMENT,
                        format!("Priority {p} is out of range; valid values are 0 to {max}.\r\nParameter name: Priority"),
                    ));
                }
                new_position = Some(p as usize);
            }
            new_params.remove("Priority");
            if input.params.contains_key("RouteMessageOutboundConnector") {
                route_check(state, cmdlet, &mut new_params)?;
            }
        }
        ObjectKind::OutboundConnector if !state.settings.permissive => {
            let old_name = current
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let flag = |p: &Params, k: &str| p.get(k).and_then(Value::as_bool);
            let breaks_reference = flag(&new_params, "Enabled") == Some(false)
                || flag(&new_params, "IsTransportRuleScoped") == Some(false)
                || !def.name().eq_ignore_ascii_case(old_name);
            if breaks_reference {
                if let Some(rule) = referencing_rule(state, old_name) {
                    return Err(still_referenced(cmdlet, old_name, rule));
                }
            }
        }
        _ => {}
    }
    let lag = state.settings.change_lag_reads;
    let objects = store(state, D::KIND);
    let mut stored = objects.remove(index);
    let old = std::mem::replace(&mut stored.params, new_params);
    remember_old(&mut stored, old, lag);
    stored.changed = now();
    objects.insert(new_position.unwrap_or(index), stored);
    Ok(())
}

/// Lets the next `lag` reads still see `old` (the oldest unreplicated state wins).
fn remember_old(stored: &mut Stored, old: Params, lag: u32) {
    if lag > 0 && stored.hidden_reads == 0 {
        match stored.stale.as_mut() {
            Some((_, reads)) => *reads = lag,
            None => stored.stale = Some((old, lag)),
        }
    }
}

fn remove<D: Definition>(state: &mut State, input: &CmdletInput) -> Result<()> {
    let index = visible(state, D::KIND, input)?;
    if D::KIND == ObjectKind::OutboundConnector && !state.settings.permissive {
        let name = name_of(&state.outbound[index]).to_owned();
        if let Some(rule) = referencing_rule(state, &name) {
            return Err(still_referenced(&input.name, &name, rule));
        }
    }
    let lag = state.settings.removal_lag_reads;
    let mut stored = store(state, D::KIND).remove(index);
    if lag > 0 && stored.hidden_reads == 0 {
        if let Some((old, _)) = stored.stale.take() {
            stored.params = old;
        }
        state.removed.push(Removed {
            kind: D::KIND,
            index,
            stored,
            reads: lag,
        });
    }
    Ok(())
}

fn set_rule_state(state: &mut State, input: &CmdletInput, enabled: bool) -> Result<()> {
    let index = visible(state, ObjectKind::TransportRule, input)?;
    if enabled {
        let mut params = state.rules[index].params.clone();
        route_check(state, &input.name, &mut params)?;
    }
    let lag = state.settings.change_lag_reads;
    let rule = &mut state.rules[index];
    let old = rule.params.clone();
    rule.params.insert("Enabled".into(), json!(enabled));
    remember_old(rule, old, lag);
    rule.changed = now();
    Ok(())
}
