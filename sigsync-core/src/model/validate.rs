//! The checks Exchange Online applies to connector and rule parameters, in one place: the
//! builders and the simulated tenant both call these.

use std::net::{IpAddr, Ipv4Addr};

use crate::{Error, Result};

/// Longest object name Exchange accepts (connectors and rules).
pub const MAX_NAME_LEN: usize = 64;
/// Longest connector `Comment` or rule `Comments`.
pub const MAX_COMMENT_LEN: usize = 1024;
/// Largest transport rule (conditions, exceptions and actions), in bytes.
pub const MAX_RULE_SIZE: usize = 8 * 1024;
/// Most transport rules an organisation may hold.
pub const MAX_RULES: usize = 300;

/// A directory object name: 1–64 characters, no leading or trailing blanks, no control characters.
pub fn name(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if value.chars().count() > MAX_NAME_LEN {
        return Err(Error::validation(
            field,
            format!(
                "is {} characters long; at most {MAX_NAME_LEN} are allowed",
                value.chars().count()
            ),
        ));
    }
    if value.trim() != value {
        return Err(Error::validation(
            field,
            "must not start or end with blanks",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A comment of at most 1024 characters.
pub fn comment(field: &str, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) if v.chars().count() > MAX_COMMENT_LEN => Err(Error::validation(
            field,
            format!(
                "is {} characters long; at most {MAX_COMMENT_LEN} are allowed",
                v.chars().count()
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether a bare `*` (every domain) is acceptable for a domain field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Star {
    /// `*` alone is allowed (inbound SenderDomains, RecipientDomains).
    Allowed,
    /// `*` alone is refused (TlsDomain, TlsSenderCertificateName).
    Refused,
}

/// An SMTP domain: `contoso.com`, or `*.contoso.com` for the domain and its subdomains;
/// an embedded wildcard (`a.*.contoso.com`) is refused.
pub fn domain(field: &str, value: &str, star: Star) -> Result<()> {
    if value == "*" {
        return match star {
            Star::Allowed => Ok(()),
            Star::Refused => Err(Error::validation(field, "a bare '*' is not allowed")),
        };
    }
    let rest = value.strip_prefix("*.").unwrap_or(value);
    if rest.contains('*') {
        return Err(Error::validation(
            field,
            format!("'{value}': a wildcard is only allowed as the leading '*.' label"),
        ));
    }
    if !is_hostname(rest) {
        return Err(Error::validation(
            field,
            format!("'{value}' is not a valid domain name"),
        ));
    }
    Ok(())
}

/// Checks each entry of a domain list.
pub fn domains(field: &str, values: &[String], star: Star) -> Result<()> {
    values.iter().try_for_each(|v| domain(field, v, star))
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn reserved_v4(ip: Ipv4Addr) -> bool {
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.octets()[0] >= 240
}

fn parse_cidr_v4(s: &str) -> Option<(Ipv4Addr, u8)> {
    match s.split_once('/') {
        Some((ip, bits)) => {
            let ip = ip.parse().ok()?;
            let bits: u8 = bits.parse().ok()?;
            (bits <= 32).then_some((ip, bits))
        }
        None => Some((s.parse().ok()?, 32)),
    }
}

/// A smart host: a fully qualified domain name, an IPv4 address or an IPv4 CIDR range
/// (no IPv6, no reserved ranges).
pub fn smart_host(field: &str, value: &str) -> Result<()> {
    if value
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'/')
    {
        let (ip, _) = parse_cidr_v4(value).ok_or_else(|| {
            Error::validation(
                field,
                format!("'{value}' is not a valid IPv4 address or range"),
            )
        })?;
        if reserved_v4(ip) {
            return Err(Error::validation(
                field,
                format!("'{value}' is in a reserved address range"),
            ));
        }
        return Ok(());
    }
    if value.contains(':') {
        return Err(Error::validation(
            field,
            format!("'{value}': IPv6 smart hosts are not supported"),
        ));
    }
    if !is_hostname(value) || !value.contains('.') {
        return Err(Error::validation(
            field,
            format!("'{value}' is not a fully qualified domain name"),
        ));
    }
    Ok(())
}

/// Inbound `SenderIPAddresses`: IPv4 addresses or CIDR ranges from /24 to /32; no IPv6, no
/// reserved ranges.
pub fn sender_ip(field: &str, value: &str) -> Result<()> {
    if value.contains(':') {
        return Err(Error::validation(
            field,
            format!("'{value}': IPv6 addresses are not supported"),
        ));
    }
    let (ip, bits) = parse_cidr_v4(value).ok_or_else(|| {
        Error::validation(
            field,
            format!("'{value}' is not an IPv4 address or CIDR range"),
        )
    })?;
    if bits < 24 {
        return Err(Error::validation(
            field,
            format!("'{value}': only ranges from /24 to /32 are accepted"),
        ));
    }
    if reserved_v4(ip) {
        return Err(Error::validation(
            field,
            format!("'{value}' is in a reserved address range"),
        ));
    }
    Ok(())
}

/// An IP range as rules and Enhanced Filtering take it: an address, `a-b`, or CIDR (IPv4 or IPv6).
pub fn ip_range(field: &str, value: &str) -> Result<()> {
    let bad = || {
        Error::validation(
            field,
            format!("'{value}' is not an IP address, range or CIDR"),
        )
    };
    if let Some((a, b)) = value.split_once('-') {
        let a: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let b: IpAddr = b.trim().parse().map_err(|_| bad())?;
        if a.is_ipv4() != b.is_ipv4() || a > b {
            return Err(Error::validation(
                field,
                format!(
                    "'{value}': the range must run from a lower to a higher address of one family"
                ),
            ));
        }
        return Ok(());
    }
    let (ip, bits) = match value.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (value, None),
    };
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    if let Some(bits) = bits {
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad());
        }
    }
    Ok(())
}

/// A message header name as rules take it (RFC 5322 field name).
pub fn header_name(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || !value.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(Error::validation(
            field,
            format!("'{value}' is not a valid header name"),
        ));
    }
    Ok(())
}

/// Words or patterns of a rule condition: at least one, none empty, no leading or trailing spaces.
pub fn words(field: &str, values: &[String]) -> Result<()> {
    if values.is_empty() {
        return Err(Error::validation(field, "at least one value is required"));
    }
    for v in values {
        if v.is_empty() || v.trim() != v {
            return Err(Error::validation(
                field,
                format!("'{v}' must be non-empty without leading or trailing spaces"),
            ));
        }
    }
    Ok(())
}

/// Both or neither of two paired parameters.
pub fn paired(first: (&str, bool), second: (&str, bool)) -> Result<()> {
    match (first.1, second.1) {
        (true, false) => Err(Error::validation(
            second.0,
            format!("is required when {} is set", first.0),
        )),
        (false, true) => Err(Error::validation(
            first.0,
            format!("is required when {} is set", second.0),
        )),
        _ => Ok(()),
    }
}

/// Fails with `reason` on `field` when `cond` holds.
pub fn refuse(cond: bool, field: &str, reason: &str) -> Result<()> {
    if cond {
        Err(Error::validation(field, reason))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_limits() {
        name("Name", "ok").unwrap();
        name("Name", &"x".repeat(64)).unwrap();
        assert!(name("Name", &"x".repeat(65))
            .unwrap_err()
            .to_string()
            .contains("at most 64"));
        assert!(name("Name", "").is_err());
        assert!(name("Name", " padded").is_err());
    }

    #[test]
    fn domain_wildcard_forms() {
        domain("D", "contoso.com", Star::Refused).unwrap();
        domain("D", "*.contoso.com", Star::Refused).unwrap();
        domain("D", "*", Star::Allowed).unwrap();
        assert!(domain("D", "*", Star::Refused).is_err());
        assert!(domain("D", "a.*.contoso.com", Star::Allowed).is_err());
        assert!(domain("D", "bad domain", Star::Allowed).is_err());
    }

    #[test]
    fn sender_ip_accepts_only_v4_24_to_32() {
        sender_ip("SenderIPAddresses", "52.1.2.3").unwrap();
        sender_ip("SenderIPAddresses", "52.1.2.0/24").unwrap();
        assert!(sender_ip("SenderIPAddresses", "52.1.0.0/23")
            .unwrap_err()
            .to_string()
            .contains("/24"));
        assert!(sender_ip("SenderIPAddresses", "2001:db8::1")
            .unwrap_err()
            .to_string()
            .contains("IPv6"));
        assert!(sender_ip("SenderIPAddresses", "10.0.0.1")
            .unwrap_err()
            .to_string()
            .contains("reserved"));
    }

    #[test]
    fn ip_range_forms() {
        ip_range("R", "52.1.2.3").unwrap();
        ip_range("R", "52.1.2.0/22").unwrap();
        ip_range("R", "52.1.2.3-52.1.2.9").unwrap();
        ip_range("R", "2001:db8::/32").unwrap();
        assert!(ip_range("R", "52.1.2.9-52.1.2.3").is_err());
        assert!(ip_range("R", "nope").is_err());
    }

    #[test]
    fn smart_host_forms() {
        smart_host("SmartHosts", "smtp.example.com").unwrap();
        smart_host("SmartHosts", "52.1.2.3").unwrap();
        smart_host("SmartHosts", "52.1.2.0/28").unwrap();
        assert!(smart_host("SmartHosts", "localhost").is_err());
        assert!(smart_host("SmartHosts", "2001:db8::1").is_err());
        assert!(smart_host("SmartHosts", "192.168.1.1").is_err());
    }
}
