//! Cmdlet parameters as InvokeCommand carries them (JSON), and the conversions of each kind of
//! field to and from them. Parsing is lenient in the ways Get-* records need (nulls, `smtp:*;1`
//! address spaces, `"22.5 MB (23,592,960 bytes)"` sizes) and strict about types.

use serde_json::{Map, Value};

use super::enums::ParamEnum;
use crate::{Error, Result};

/// Cmdlet parameters (or the fields of a Get-* record): parameter name to JSON value.
pub type Params = Map<String, Value>;

fn type_error(field: &str, expected: &str, found: &Value) -> Error {
    Error::validation(field, format!("expected {expected}, found {found}"))
}

/// A boolean; `null` or absent gives `default`. PowerShell-style strings are accepted.
pub fn flag_from(field: &str, v: Option<&Value>, default: bool) -> Result<bool> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(type_error(field, "a boolean", other)),
    }
}

/// An optional string; `null`, absent or empty gives `None`.
pub fn text_from(field: &str, v: Option<&Value>) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(type_error(field, "a string", other)),
    }
}

/// The required `Name`.
pub fn name_from(field: &str, v: Option<&Value>) -> Result<String> {
    text_from(field, v)?.ok_or_else(|| Error::validation(field, "is required"))
}

/// A list of strings; `null` or absent gives an empty list, a single string one entry.
pub fn list_from(field: &str, v: Option<&Value>) -> Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(type_error(field, "a list of strings", other)),
            })
            .collect(),
        Some(other) => Err(type_error(field, "a list of strings", other)),
    }
}

/// A list of domains, where Get-* may return address-space syntax (`smtp:*;1`).
pub fn domains_from(field: &str, v: Option<&Value>) -> Result<Vec<String>> {
    Ok(list_from(field, v)?
        .into_iter()
        .map(|s| strip_address_space(&s).to_owned())
        .collect())
}

/// `smtp:contoso.com;1` → `contoso.com`; plain domains are returned as they are.
pub fn strip_address_space(s: &str) -> &str {
    let s = match s.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("smtp") => rest,
        _ => s,
    };
    match s.rsplit_once(';') {
        Some((domain, cost)) if cost.bytes().all(|b| b.is_ascii_digit()) => domain,
        _ => s,
    }
}

/// An optional enumeration value.
pub fn choice_from<T: ParamEnum>(field: &str, v: Option<&Value>) -> Result<Option<T>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(v) => T::from_json(field, v).map(Some),
    }
}

/// An optional non-negative 32-bit number.
pub fn number_from(field: &str, v: Option<&Value>) -> Result<Option<u32>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| Error::validation(field, format!("{n} is not a non-negative integer"))),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| {
                Error::validation(field, format!("'{s}' is not a non-negative integer"))
            })
        }
        Some(other) => Err(type_error(field, "a number", other)),
    }
}

/// A `ByteQuantifiedSize` in bytes: a number, `"23592960"`, `"30 MB"`, or the Get-* display
/// form `"22.5 MB (23,592,960 bytes)"`.
pub fn size_from(field: &str, v: Option<&Value>) -> Result<Option<u64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| Error::validation(field, format!("{n} is not a size in bytes"))),
        Some(Value::String(s)) => parse_size(s)
            .map(Some)
            .ok_or_else(|| Error::validation(field, format!("'{s}' is not a size"))),
        Some(other) => Err(type_error(field, "a size", other)),
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    if let (Some(open), true) = (s.find('('), s.ends_with("bytes)")) {
        let digits: String = s[open + 1..]
            .chars()
            .take_while(|c| *c != 'b')
            .filter(char::is_ascii_digit)
            .collect();
        return digits.parse().ok();
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    let bytes = num * factor as f64;
    (bytes >= 0.0 && bytes.fract() == 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// JSON for a list of strings.
pub fn list_to(values: &[String]) -> Value {
    Value::Array(values.iter().cloned().map(Value::String).collect())
}

/// JSON for an optional string.
pub fn text_to(value: Option<&str>) -> Value {
    value.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

/// JSON for an optional enumeration value.
pub fn choice_to<T: ParamEnum>(value: Option<T>) -> Value {
    value.map_or(Value::Null, |v| Value::String(v.as_str().to_owned()))
}

/// Whether two parameter values mean the same to Exchange: strings and lists compare
/// case-insensitively, lists ignore order, `null`, `""` and `[]` are all "unset".
pub fn same_value(a: &Value, b: &Value) -> bool {
    fn unset(v: &Value) -> bool {
        matches!(v, Value::Null)
            || v.as_str() == Some("")
            || v.as_array().is_some_and(Vec::is_empty)
    }
    fn folded_list(v: &Value) -> Option<Vec<String>> {
        let mut items: Vec<String> = v
            .as_array()?
            .iter()
            .map(|i| i.as_str().map(str::to_ascii_lowercase))
            .collect::<Option<_>>()?;
        items.sort();
        items.dedup();
        Some(items)
    }
    if unset(a) && unset(b) {
        return true;
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Array(_), Value::Array(_)) => match (folded_list(a), folded_list(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn address_space_forms_are_stripped() {
        assert_eq!(strip_address_space("smtp:*;1"), "*");
        assert_eq!(strip_address_space("SMTP:contoso.com;10"), "contoso.com");
        assert_eq!(strip_address_space("contoso.com"), "contoso.com");
    }

    #[test]
    fn sizes_in_every_form() {
        let f = "ExceptIfMessageSizeOver";
        assert_eq!(
            size_from(f, Some(&json!(23592960))).unwrap(),
            Some(23592960)
        );
        assert_eq!(
            size_from(f, Some(&json!("23592960"))).unwrap(),
            Some(23592960)
        );
        assert_eq!(size_from(f, Some(&json!("30 MB"))).unwrap(), Some(30 << 20));
        assert_eq!(
            size_from(f, Some(&json!("22.5 MB (23,592,960 bytes)"))).unwrap(),
            Some(23592960)
        );
        assert!(size_from(f, Some(&json!("lots"))).is_err());
    }

    #[test]
    fn nulls_and_empties_read_as_unset() {
        assert_eq!(text_from("Comment", Some(&Value::Null)).unwrap(), None);
        assert_eq!(text_from("Comment", Some(&json!(""))).unwrap(), None);
        assert!(list_from("SmartHosts", Some(&Value::Null))
            .unwrap()
            .is_empty());
        assert!(flag_from("Enabled", None, true).unwrap());
        assert!(flag_from("Enabled", Some(&json!(7)), true)
            .unwrap_err()
            .to_string()
            .contains("Enabled"));
    }

    #[test]
    fn same_value_ignores_case_order_and_unset_forms() {
        assert!(same_value(
            &json!(["B.com", "a.com"]),
            &json!(["a.com", "b.com"])
        ));
        assert!(same_value(&Value::Null, &json!([])));
        assert!(same_value(&json!("OnPremises"), &json!("onpremises")));
        assert!(!same_value(&json!(true), &json!(false)));
    }
}
