//! The loop-prevention header: defined once, shared by the setup side (the rule's exception)
//! and the injector (the stamp).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The header the signature service stamps on processed mail, and that the routing rule
/// excepts, so that mail coming back from the service is not routed to it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoopHeader {
    /// Header name, e.g. `X-Sigsync-Processed`.
    pub name: String,
    /// Header value, e.g. `true`.
    pub value: String,
}

impl LoopHeader {
    /// The default header name.
    pub const DEFAULT_NAME: &'static str = "X-Sigsync-Processed";
    /// The default header value.
    pub const DEFAULT_VALUE: &'static str = "true";

    /// A loop header with a custom name and value, validated as an RFC 5322 field.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let header = LoopHeader {
            name: name.into(),
            value: value.into(),
        };
        header.validate()?;
        Ok(header)
    }

    /// Checks the name is a valid header field name and the value a single-line token.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|b| (33..=126).contains(&b) && b != b':')
        {
            return Err(Error::validation(
                "LoopHeader.name",
                "must be 1-64 printable ASCII characters without ':' or spaces",
            ));
        }
        if self.value.is_empty()
            || self.value.len() > 128
            || self.value.trim() != self.value
            || !self.value.bytes().all(|b| (32..=126).contains(&b))
        {
            return Err(Error::validation(
                "LoopHeader.value",
                "must be 1-128 printable ASCII characters without leading or trailing spaces",
            ));
        }
        Ok(())
    }

    /// The header line as stamped on a message, with CRLF.
    pub fn line(&self) -> String {
        format!("{}: {}\r\n", self.name, self.value)
    }
}

impl Default for LoopHeader {
    fn default() -> Self {
        LoopHeader {
            name: Self::DEFAULT_NAME.to_owned(),
            value: Self::DEFAULT_VALUE.to_owned(),
        }
    }
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
        assert!(e.to_string().contains("LoopHeader.name"));
        let e = LoopHeader::new("X-Ok", "two\r\nlines").unwrap_err();
        assert!(e.to_string().contains("LoopHeader.value"));
    }
}
