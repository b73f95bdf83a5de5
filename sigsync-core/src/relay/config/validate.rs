//! Checks of the configuration that need no file, with errors that name the field.

use std::net::SocketAddr;

use super::{RelayConfig, Roots, TenantConfig};
use crate::model::validate::{self, Star};
use crate::{Error, Result};

impl RelayConfig {
    /// Checks every value that needs no file, naming the field that is wrong. (Files and
    /// certificates are checked when the relay is built from the configuration.)
    pub fn validate(&self) -> Result<()> {
        let l = &self.listener;
        let addr: SocketAddr = l.address.parse().map_err(|_| {
            Error::validation("listener.address", "must be ip:port, e.g. 0.0.0.0:25")
        })?;
        hostname("listener.hostname", &l.hostname)?;
        if l.allow_list.is_none() && !l.allow_any_source {
            return Err(Error::validation(
                "listener.allow_list",
                "give the file of Exchange Online's address ranges, or set allow_any_source = true",
            ));
        }
        if l.allow_plaintext_on_loopback && !addr.ip().is_loopback() {
            return Err(Error::validation(
                "listener.allow_plaintext_on_loopback",
                "only a loopback listener may accept mail without STARTTLS",
            ));
        }
        if !(1..=65535).contains(&l.backlog) {
            return Err(Error::validation(
                "listener.backlog",
                "must be between 1 and 65535",
            ));
        }
        let lim = &self.limits;
        if lim.max_connections == 0 {
            return Err(Error::validation(
                "limits.max_connections",
                "must be at least 1",
            ));
        }
        if lim.max_message_size < 1024 {
            return Err(Error::validation(
                "limits.max_message_size",
                "must be at least 1024",
            ));
        }
        if lim.max_message_size > u64::from(u32::MAX) / 2 {
            return Err(Error::validation(
                "limits.max_message_size",
                "must be below 2 GiB",
            ));
        }
        if lim.bytes_in_flight < 2 * lim.max_message_size {
            return Err(Error::validation(
                "limits.bytes_in_flight",
                "must hold at least one message of max_message_size twice",
            ));
        }
        if lim.injection_threads == Some(0) {
            return Err(Error::validation(
                "limits.injection_threads",
                "must be at least 1",
            ));
        }
        let t = &self.timeouts;
        for (field, v) in [
            ("command", t.command),
            ("data_block", t.data_block),
            ("connect", t.connect),
            ("greeting", t.greeting),
            ("mail_rcpt", t.mail_rcpt),
            ("data_init", t.data_init),
            ("data_block_send", t.data_block_send),
            ("data_termination", t.data_termination),
            ("processing", t.processing),
            ("injection", t.injection),
            ("directory", t.directory),
            ("tenant_slot", t.tenant_slot),
            ("shutdown_grace", t.shutdown_grace),
            (
                "next_hop.max_connection_age",
                self.next_hop.max_connection_age,
            ),
            ("next_hop.idle_timeout", self.next_hop.idle_timeout),
        ] {
            if !(v.is_finite() && v > 0.0 && v < 1e7) {
                let field = if field.contains('.') {
                    field.to_owned()
                } else {
                    format!("timeouts.{field}")
                };
                return Err(Error::validation(
                    field,
                    "must be a positive number of seconds",
                ));
            }
        }
        if let Roots::Named(n) = &self.next_hop.roots {
            if n != "webpki" {
                return Err(Error::validation(
                    "next_hop.roots",
                    "must be \"webpki\" or { file = \"roots.pem\" }",
                ));
            }
        }
        if self.next_hop.max_connections_per_tenant == 0 {
            return Err(Error::validation(
                "next_hop.max_connections_per_tenant",
                "must be at least 1",
            ));
        }
        if self.next_hop.max_messages_per_connection == 0 {
            return Err(Error::validation(
                "next_hop.max_messages_per_connection",
                "must be at least 1",
            ));
        }
        if let Some(m) = &self.metrics {
            m.address.parse::<SocketAddr>().map_err(|_| {
                Error::validation("metrics.address", "must be ip:port, e.g. 127.0.0.1:9465")
            })?;
        }
        let mut names = std::collections::HashSet::new();
        for (i, tenant) in self.tenants.iter().enumerate() {
            tenant.validate(&format!("tenants[{i}]"))?;
            if !names.insert(tenant.name.to_ascii_lowercase()) {
                return Err(Error::validation(
                    format!("tenants[{i}].name"),
                    format!("{:?} is used by an earlier tenant", tenant.name),
                ));
            }
        }
        Ok(())
    }
}

impl TenantConfig {
    fn validate(&self, at: &str) -> Result<()> {
        let f = |name: &str| format!("{at}.{name}");
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(Error::validation(
                f("name"),
                "must be 1-64 letters, digits, '-', '_' or '.'",
            ));
        }
        uuid::Uuid::parse_str(&self.tenant_id)
            .map_err(|_| Error::validation(f("tenant_id"), "must be the tenant's id (a GUID)"))?;
        hostname(&f("initial_domain"), &self.initial_domain)?;
        for d in &self.domains {
            hostname(&f("domains"), d)?;
        }
        if let Some(ep) = &self.return_endpoint {
            parse_endpoint(ep, 25).ok_or_else(|| {
                Error::validation(f("return_endpoint"), "must be host or host:port")
            })?;
        }
        if self.max_connections == Some(0) {
            return Err(Error::validation(
                f("max_connections"),
                "must be at least 1",
            ));
        }
        if let Some(g) = &self.graph {
            if g.client_id.trim().is_empty() {
                return Err(Error::validation(f("graph.client_id"), "is required"));
            }
            match (&g.certificate, &g.private_key, &g.secret_file) {
                (Some(_), Some(_), None) | (None, None, Some(_)) => {}
                _ => {
                    return Err(Error::validation(
                        f("graph"),
                        "give certificate and private_key, or secret_file",
                    ))
                }
            }
        }
        Ok(())
    }
}

/// A host or domain name, no wildcard.
pub(crate) fn hostname(field: &str, value: &str) -> Result<()> {
    if value.contains('*') {
        return Err(Error::validation(
            field,
            format!("'{value}': no wildcard here"),
        ));
    }
    validate::domain(field, value, Star::Refused)
}

/// `host` or `host:port` (IPv6 in brackets).
pub(crate) fn parse_endpoint(s: &str, default_port: u16) -> Option<(String, u16)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((s.to_owned(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::relay::config::DkimArc;

    const MINIMAL: &str = r#"
        [listener]
        address = "127.0.0.1:2525"
        hostname = "relay.test"
        certificate = "relay.pem"
        private_key = "relay.key"
        allow_any_source = true

        [[tenants]]
        name = "contoso"
        tenant_id = "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01"
        initial_domain = "contoso.onmicrosoft.com"
        profile = "contoso/profile.json"
        signatures = "contoso/signature.toml"
        client_certificate = "contoso/client.pem"
        client_key = "contoso/client.key"
    "#;

    fn field(toml: &str) -> String {
        match RelayConfig::from_toml_str(toml, None).unwrap_err() {
            Error::Validation { field, .. } => field,
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_minimal_configuration_gets_rfc_defaults() {
        let c = RelayConfig::from_toml_str(MINIMAL, Some(Path::new("/etc/sigsync"))).unwrap();
        assert_eq!(c.timeouts.data_termination, 600.0);
        assert_eq!(c.limits.max_message_size, 157_286_400);
        assert!(c.listener.chunking && c.tenants[0].return_tls);
        assert_eq!(c.listener.backlog, 1024);
        assert_eq!(c.tenants[0].dkim_arc, DkimArc::Strip);
        assert_eq!(
            c.resolve(&c.tenants[0].profile),
            Path::new("/etc/sigsync/contoso/profile.json")
        );
    }

    #[test]
    fn errors_name_the_field_that_is_wrong() {
        assert_eq!(
            field(&MINIMAL.replace("allow_any_source = true", "")),
            "listener.allow_list"
        );
        assert_eq!(
            field(&MINIMAL.replace("9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01", "contoso")),
            "tenants[0].tenant_id"
        );
        let two = format!(
            "{MINIMAL}{}",
            &MINIMAL[MINIMAL.find("[[tenants]]").unwrap()..]
        );
        assert_eq!(field(&two), "tenants[1].name");
        assert_eq!(
            field(&format!("{MINIMAL}return_endpoint = \"a:b:c\"\n")),
            "tenants[0].return_endpoint"
        );
        assert_eq!(
            field(&MINIMAL.replace(
                "127.0.0.1:2525\"",
                "0.0.0.0:25\"\nallow_plaintext_on_loopback = true"
            )),
            "listener.allow_plaintext_on_loopback"
        );
        assert_eq!(
            field(&format!("{MINIMAL}[tenants.graph]\nclient_id = \"x\"\n")),
            "tenants[0].graph"
        );
        assert_eq!(
            field(&format!("[timeouts]\nprocessing = -1\n{MINIMAL}")),
            "timeouts.processing"
        );
        for bad in ["0", "65536"] {
            assert_eq!(
                field(&MINIMAL.replace(
                    "127.0.0.1:2525\"",
                    &format!("127.0.0.1:2525\"\nbacklog = {bad}")
                )),
                "listener.backlog"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let e = RelayConfig::from_toml_str(&format!("{MINIMAL}colour = \"red\"\n"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn endpoints_parse_with_and_without_port() {
        assert_eq!(parse_endpoint("mx.test", 25), Some(("mx.test".into(), 25)));
        assert_eq!(
            parse_endpoint("mx.test:2525", 25),
            Some(("mx.test".into(), 2525))
        );
        assert_eq!(parse_endpoint("[::1]:26", 25), Some(("::1".into(), 26)));
        assert_eq!(parse_endpoint("::1", 25), None);
        assert_eq!(parse_endpoint("", 25), None);
    }
}
