//! The connector and rule definitions: validated by core, carried to Python as cmdlet
//! parameters (JSON), so the Python classes hold exactly what core would send.

use pyo3::prelude::*;
use serde_json::{json, Value};
use sigsync_core::exchange::Existing;
use sigsync_core::model::{Definition, InboundConnector, OutboundConnector, Params, TransportRule};
use sigsync_core::Error;

use crate::errors::to_py_err;
use crate::runtime::{core, guard};

/// The three definition kinds, by their snake_case names.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `outbound_connector`.
    Outbound,
    /// `inbound_connector`.
    Inbound,
    /// `transport_rule`.
    Rule,
}

impl Kind {
    /// Parses `outbound_connector`, `inbound_connector` or `transport_rule`.
    pub fn parse(kind: &str) -> PyResult<Kind> {
        match kind {
            "outbound_connector" => Ok(Kind::Outbound),
            "inbound_connector" => Ok(Kind::Inbound),
            "transport_rule" => Ok(Kind::Rule),
            other => Err(to_py_err(Error::validation(
                "kind",
                format!("unknown definition kind {other:?}"),
            ))),
        }
    }
}

/// Parses a JSON object of cmdlet parameters.
pub fn params_from_json(json: &str) -> PyResult<Params> {
    serde_json::from_str(json).map_err(|e| {
        to_py_err(Error::validation(
            "params",
            format!("not a JSON object: {e}"),
        ))
    })
}

/// Reads and validates a definition from cmdlet parameters.
pub fn checked<D: Definition>(params: &Params) -> PyResult<D> {
    let d = core(D::from_record(params))?;
    core(d.validate())?;
    Ok(d)
}

/// Existing objects as JSON: guid, timestamps and every parameter.
pub fn existing_json<D: Definition>(objects: &[Existing<D>]) -> Value {
    objects
        .iter()
        .map(|o| {
            json!({
                "guid": o.guid,
                "when_created": o.when_created,
                "when_changed": o.when_changed,
                "params": Value::Object(o.definition.to_params()),
            })
        })
        .collect()
}

/// The cmdlet parameter names a definition kind models, `Name` first.
#[pyfunction]
pub fn definition_params(kind: &str) -> PyResult<Vec<&'static str>> {
    Ok(match Kind::parse(kind)? {
        Kind::Outbound => OutboundConnector::PARAMS.to_vec(),
        Kind::Inbound => InboundConnector::PARAMS.to_vec(),
        Kind::Rule => TransportRule::PARAMS.to_vec(),
    })
}

/// Validates a definition given as cmdlet parameters (JSON) as Exchange Online would, and
/// returns every modelled parameter (unset ones as null) as JSON. Raises `ValidationError`
/// naming the parameter.
#[pyfunction]
pub fn validate_definition(kind: &str, params_json: &str) -> PyResult<String> {
    guard(|| {
        let params = params_from_json(params_json)?;
        let out = match Kind::parse(kind)? {
            Kind::Outbound => checked::<OutboundConnector>(&params)?.to_params(),
            Kind::Inbound => checked::<InboundConnector>(&params)?.to_params(),
            Kind::Rule => checked::<TransportRule>(&params)?.to_params(),
        };
        Ok(Value::Object(out).to_string())
    })
}

/// Every modelled parameter of a definition that sets only its `Name`, as JSON: the
/// defaults (not validated).
#[pyfunction]
pub fn definition_defaults(kind: &str) -> PyResult<String> {
    let mut params = Params::new();
    params.insert("Name".into(), Value::String("x".into()));
    let out = match Kind::parse(kind)? {
        Kind::Outbound => core(OutboundConnector::from_record(&params))?.to_params(),
        Kind::Inbound => core(InboundConnector::from_record(&params))?.to_params(),
        Kind::Rule => core(TransportRule::from_record(&params))?.to_params(),
    };
    Ok(Value::Object(out).to_string())
}

/// The wire names of a cmdlet enumeration (`ConnectorType`, `TlsSettings`, ...).
#[pyfunction]
pub fn enum_values(name: &str) -> PyResult<Vec<&'static str>> {
    use sigsync_core::model::*;
    fn names<E: ParamEnum>() -> Vec<&'static str> {
        E::VALUES.iter().map(|(_, n)| *n).collect()
    }
    Ok(match name {
        "ConnectorType" => names::<ConnectorType>(),
        "TlsSettings" => names::<TlsSettings>(),
        "FromScope" => names::<FromScope>(),
        "SentToScope" => names::<SentToScope>(),
        "MessageType" => names::<MessageType>(),
        "RuleMode" => names::<RuleMode>(),
        "RuleErrorAction" => names::<RuleErrorAction>(),
        "SenderAddressLocation" => names::<SenderAddressLocation>(),
        other => {
            return Err(to_py_err(Error::validation(
                "name",
                format!("unknown enumeration {other:?}"),
            )))
        }
    })
}
