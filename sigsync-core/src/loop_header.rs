//! The loop-prevention header: defined once, shared by the setup side (the routing rule's
//! exception, an escaped and anchored pattern) and the injector (the stamp).
//!
//! The value is a per-tenant secret in the weak sense: a sender who knows it can add the
//! header to a message (SMTP clients and Graph's `internetMessageHeaders` allow `X-` headers)
//! and so skip the service. A service profile therefore gets a random value when it is first
//! created ([`LoopHeader::generate`]), and keeps it. The residual risk: the value is visible
//! in every delivered message, so a recipient can learn it; rotate it (see
//! [`crate::setup::ServiceProfile::begin_loop_header_rotation`]) when that matters.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The header the signature service stamps on processed mail, and that the routing rule
/// excepts, so that mail coming back from the service is not routed to it again.
///
/// The value is restricted to a safe alphabet (ASCII letters, digits, `-`, `_` and `.`), so
/// that it survives every hop unchanged and its rule pattern is simple; the pattern is still
/// escaped and anchored ([`LoopHeader::pattern`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawLoopHeader")]
pub struct LoopHeader {
    /// Header name, e.g. `X-Sigsync-Processed`.
    pub name: String,
    /// Header value: a random token per tenant (see [`LoopHeader::generate`]).
    pub value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoopHeader {
    name: String,
    value: String,
}

impl TryFrom<RawLoopHeader> for LoopHeader {
    type Error = Error;
    fn try_from(raw: RawLoopHeader) -> Result<Self> {
        LoopHeader::new(raw.name, raw.value)
    }
}

impl LoopHeader {
    /// The default header name.
    pub const DEFAULT_NAME: &'static str = "X-Sigsync-Processed";
    /// The value of [`LoopHeader::default`]: fixed and documented, so anyone can forge it.
    /// Only for tests and for injecting without a service profile; a profile generates a
    /// random value instead.
    pub const DEFAULT_VALUE: &'static str = "true";
    /// The longest value accepted.
    pub const MAX_VALUE_LEN: usize = 128;

    /// A loop header with a custom name and value, validated.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let header = LoopHeader {
            name: name.into(),
            value: value.into(),
        };
        header.validate()?;
        Ok(header)
    }

    /// The default name with a new random value (128 bits from the operating system's
    /// random source, as 32 hexadecimal digits).
    pub fn generate() -> Self {
        LoopHeader {
            name: Self::DEFAULT_NAME.to_owned(),
            value: Self::random_value(),
        }
    }

    /// A new random value in the safe alphabet.
    pub fn random_value() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Checks the name is a valid header field name and the value is 1-128 characters of the
    /// safe alphabet.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|b| (33..=126).contains(&b) && b != b':')
        {
            return Err(Error::validation(
                "loop_header.name",
                "must be 1-64 printable ASCII characters without ':' or spaces",
            ));
        }
        check_value("loop_header.value", &self.value)
    }

    /// The header line as stamped on a message, with CRLF.
    pub fn line(&self) -> String {
        format!("{}: {}\r\n", self.name, self.value)
    }

    /// The routing rule's `ExceptIfHeaderMatchesPatterns` entry for this header's value: the
    /// value escaped as .NET's `Regex.Escape` does and anchored, `^value$`, so it matches the
    /// exact value and nothing else.
    pub fn pattern(&self) -> String {
        pattern_for(&self.value)
    }

    /// Whether `other` names the same header with the same value; otherwise an error that
    /// names both sources and both values.
    pub fn ensure_same(&self, source: &str, other: &LoopHeader, other_source: &str) -> Result<()> {
        if self.name.eq_ignore_ascii_case(&other.name) && self.value == other.value {
            return Ok(());
        }
        Err(Error::Config(format!(
            "loop header mismatch: {source} has `{}: {}` but {other_source} has `{}: {}`; the \
             routing rule excepts one and the service would stamp the other, so processed mail \
             would be routed again and again: keep the header in one place (the service profile)",
            self.name, self.value, other.name, other.value
        )))
    }
}

impl Default for LoopHeader {
    /// `X-Sigsync-Processed: true`: see [`LoopHeader::DEFAULT_VALUE`].
    fn default() -> Self {
        LoopHeader {
            name: Self::DEFAULT_NAME.to_owned(),
            value: Self::DEFAULT_VALUE.to_owned(),
        }
    }
}

/// Checks a loop-header value: 1-128 characters of ASCII letters, digits, `-`, `_` and `.`.
pub(crate) fn check_value(field: &str, value: &str) -> Result<()> {
    let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if value.is_empty() || value.len() > LoopHeader::MAX_VALUE_LEN || !value.bytes().all(safe) {
        return Err(Error::validation(
            field,
            format!(
                "must be 1-{} characters of ASCII letters, digits, '-', '_' and '.' \
                 (got {value:?})",
                LoopHeader::MAX_VALUE_LEN
            ),
        ));
    }
    Ok(())
}

/// The characters .NET's `Regex.Escape` escapes (white space besides).
const REGEX_SPECIAL: &[char] = &[
    '\\', '*', '+', '?', '|', '{', '[', '(', ')', '^', '$', '.', '#',
];

/// `^value$` with the value escaped as .NET's `Regex.Escape` does.
pub fn pattern_for(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    out.push('^');
    for c in value.chars() {
        if REGEX_SPECIAL.contains(&c) || c.is_whitespace() {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// The value a rule pattern excepts: the inverse of [`pattern_for`]. An unanchored pattern
/// (written by older versions) is read as its literal value.
pub fn value_of_pattern(pattern: &str) -> String {
    let inner = match (pattern.strip_prefix('^'), pattern.ends_with('$')) {
        (Some(rest), true) if !rest.ends_with("\\$") => &rest[..rest.len() - 1],
        _ => pattern,
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_loop_header_is_valid() {
        LoopHeader::default().validate().unwrap();
        assert_eq!(
            LoopHeader::default().line(),
            "X-Sigsync-Processed: true\r\n"
        );
    }

    #[test]
    fn loop_header_rejects_bad_name_and_value() {
        let e = LoopHeader::new("X Bad", "true").unwrap_err();
        assert!(e.to_string().contains("loop_header.name"));
        for bad in [
            "two\r\nlines",
            "a+b",
            "(x)",
            "$x",
            "a b",
            "",
            "ü",
            &"x".repeat(129),
        ] {
            let e = LoopHeader::new("X-Ok", bad).unwrap_err();
            assert!(e.to_string().contains("loop_header.value"), "{bad:?}: {e}");
        }
        LoopHeader::new("X-Ok", "Aa0-_.z").unwrap();
    }

    #[test]
    fn generated_values_are_random_and_valid() {
        let a = LoopHeader::generate();
        let b = LoopHeader::generate();
        a.validate().unwrap();
        assert_eq!(a.name, LoopHeader::DEFAULT_NAME);
        assert_eq!(a.value.len(), 32);
        assert_ne!(a.value, b.value);
    }

    #[test]
    fn pattern_is_escaped_anchored_and_reads_back() {
        assert_eq!(pattern_for("true"), "^true$");
        assert_eq!(pattern_for("v1.2-x_y"), "^v1\\.2-x_y$");
        // Every character .NET's Regex.Escape escapes is escaped, and reads back.
        let nasty = "a\\*+?|{[()^$.# b";
        let p = pattern_for(nasty);
        assert_eq!(p, "^a\\\\\\*\\+\\?\\|\\{\\[\\(\\)\\^\\$\\.\\#\\ b$");
        assert_eq!(value_of_pattern(&p), nasty);
        // Older versions wrote the bare value.
        assert_eq!(value_of_pattern("true"), "true");
        assert_eq!(value_of_pattern("^x\\$"), "^x$");
    }

    #[test]
    fn deserializing_validates() {
        let h: LoopHeader = serde_json::from_str(r#"{"name":"X-A","value":"abc"}"#).unwrap();
        assert_eq!(h.value, "abc");
        let e = serde_json::from_str::<LoopHeader>(r#"{"name":"X-A","value":"a+b"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("loop_header.value"), "{e}");
    }

    #[test]
    fn ensure_same_names_both_sources() {
        let a = LoopHeader::new("X-A", "one").unwrap();
        let b = LoopHeader::new("X-A", "two").unwrap();
        a.ensure_same("p", &a.clone(), "q").unwrap();
        let e = a.ensure_same("the profile", &b, "the config").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("the profile has `X-A: one`")
                && text.contains("the config has `X-A: two`"),
            "{text}"
        );
    }
}
