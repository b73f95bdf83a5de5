//! The configuration from settings a program already holds (a binding's keyword arguments,
//! JSON): the same struct and validation as the file, and a value that does not fit names its
//! field, as `validate` does.

use std::path::Path;

use super::RelayConfig;
use crate::{Error, Result};

impl RelayConfig {
    /// Builds the configuration from a value shaped like the TOML file (tables as maps, arrays
    /// of tables as lists) and validates it; relative paths resolve against `base_dir`. A
    /// missing, unknown or mistyped key is an [`Error::Validation`] naming it
    /// (`tenants[0].tenant_id`, `listener.address`).
    pub fn from_value(value: serde_json::Value, base_dir: Option<&Path>) -> Result<Self> {
        let mut config = named(value)?;
        config.base_dir = base_dir.map(Path::to_path_buf);
        config.validate()?;
        Ok(config)
    }
}

/// Deserializes the configuration; an error inside a key names the key's path, one at the top
/// (a TOML syntax error) is an [`Error::Config`].
pub(super) fn named<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RelayConfig>
where
    D::Error: std::fmt::Display,
{
    serde_path_to_error::deserialize(d).map_err(|e| {
        let field = e.path().to_string();
        let reason = e.into_inner().to_string();
        let reason = reason.trim_end();
        if field == "." {
            Error::Config(format!("relay configuration: {reason}"))
        } else {
            Error::validation(field, reason)
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn minimal() -> serde_json::Value {
        json!({
            "listener": {
                "address": "127.0.0.1:2525", "hostname": "relay.test",
                "certificate": "relay.pem", "private_key": "relay.key", "allow_any_source": true,
            },
            "tenants": [{
                "name": "contoso", "tenant_id": "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01",
                "initial_domain": "contoso.onmicrosoft.com", "profile": "p.json",
                "signatures": "s.toml", "client_certificate": "c.pem", "client_key": "c.key",
            }],
        })
    }

    fn field(value: serde_json::Value) -> String {
        match RelayConfig::from_value(value, None).unwrap_err() {
            Error::Validation { field, .. } => field,
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_value_builds_the_same_configuration_as_the_file() {
        let c = RelayConfig::from_value(minimal(), Some(Path::new("/etc/sigsync"))).unwrap();
        let text = toml::to_string(&c).unwrap();
        let from_file = RelayConfig::from_toml_str(&text, Some(Path::new("/etc/sigsync"))).unwrap();
        assert_eq!(c, from_file);
    }

    #[test]
    fn missing_unknown_and_mistyped_keys_name_the_field() {
        let mut v = minimal();
        v["limits"] = json!({"max_connections": "many"});
        assert_eq!(field(v), "limits.max_connections");
        let mut v = minimal();
        v["tenants"][0]["colour"] = json!("red");
        assert!(field(v).starts_with("tenants[0]"));
        let mut v = minimal();
        v["listener"].as_object_mut().unwrap().remove("hostname");
        assert_eq!(field(v), "listener");
        let mut v = minimal();
        v["tenants"][0]["tenant_id"] = json!("contoso");
        assert_eq!(field(v), "tenants[0].tenant_id");
    }

    #[test]
    fn toml_names_the_mistyped_key_and_keeps_syntax_errors_as_configuration_errors() {
        let c = RelayConfig::from_value(minimal(), None).unwrap();
        let text = toml::to_string(&c).unwrap();
        let bad = text.replace("max_connections = 1000", "max_connections = \"many\"");
        match RelayConfig::from_toml_str(&bad, None).unwrap_err() {
            Error::Validation { field, .. } => assert_eq!(field, "limits.max_connections"),
            e => panic!("{e:?}"),
        }
        let broken = format!("{text}\n[listener\n");
        assert!(matches!(
            RelayConfig::from_toml_str(&broken, None).unwrap_err(),
            Error::Config(_)
        ));
    }
}
