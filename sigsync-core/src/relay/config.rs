//! The relay's one configuration file (TOML), read once, validated with errors that name the
//! field (`tenants[2].client_certificate`), and read again on reload.
//!
//! Times are in seconds (fractions allowed); sizes in bytes. `examples/relay.toml` is a
//! commented sample of every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::validate::{self, Star};
use crate::{Error, Result};

/// The whole configuration: the listener, limits, timeouts, the return leg, metrics and the
/// tenants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// Where and how Exchange Online connects.
    pub listener: ListenerConfig,
    /// Connection, size and memory limits.
    #[serde(default)]
    pub limits: Limits,
    /// Deadlines on both legs (RFC 5321 §4.5.3.2 defaults) and of the processing.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Defaults of the return leg (to each tenant's Exchange Online).
    #[serde(default)]
    pub next_hop: NextHopConfig,
    /// The Prometheus text endpoint and health check (off when absent).
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// The tenants this relay serves.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// The folder relative paths resolve against (the file's folder when loaded from a file).
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
    /// The file this configuration was read from (what `reload` reads again).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// The SMTP listener Exchange Online's outbound connector points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Address and port, e.g. `0.0.0.0:25` (Exchange connects on port 25 only).
    pub address: String,
    /// The name in the greeting and EHLO reply: the smart host's name (its certificate name).
    pub hostname: String,
    /// PEM certificate chain of the listener (RSA: Exchange's cipher suites are RSA-only).
    pub certificate: PathBuf,
    /// PEM private key of the listener.
    pub private_key: PathBuf,
    /// File of source addresses and CIDR ranges allowed to connect, one per line (`#`
    /// comments): Exchange Online's published ranges, kept current by the operator. Re-read on
    /// reload.
    #[serde(default)]
    pub allow_list: Option<PathBuf>,
    /// Accept connections from any address (no allow-list). Off by default.
    #[serde(default)]
    pub allow_any_source: bool,
    /// Accept mail without STARTTLS from loopback clients (tests, benchmarks). Off by default:
    /// mail before STARTTLS is refused.
    #[serde(default)]
    pub allow_plaintext_on_loopback: bool,
    /// Advertise XOORG, so Exchange may name the sending organisation on MAIL FROM (not
    /// verified against a real tenant; off by default).
    #[serde(default)]
    pub advertise_xoorg: bool,
    /// Advertise CHUNKING (BDAT). On by default.
    #[serde(default = "yes")]
    pub chunking: bool,
    /// Ask the sender for a client certificate and verify it against these PEM roots (whether
    /// Exchange presents one is not known; a client without one is still served).
    #[serde(default)]
    pub client_certificate_roots: Option<PathBuf>,
    /// Accept a listener certificate whose key is not RSA (whether Exchange can use one is
    /// not known). Off by default.
    #[serde(default)]
    pub allow_non_rsa_certificate: bool,
}

/// Connection, size and memory limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Most concurrent connections from senders (further ones get `421 4.3.2`).
    pub max_connections: usize,
    /// Largest message accepted (default 150 MiB, Exchange Online's maximum).
    pub max_message_size: u64,
    /// Bytes of messages held in memory at once, over all connections; each message counts
    /// twice its size (received and signed copy). Past it: `452 4.3.1`.
    pub bytes_in_flight: u64,
    /// Threads that inject larger messages at once (default: the number of CPUs).
    pub injection_threads: Option<usize>,
    /// Messages up to this size are signed on the network thread that received them (tens of
    /// microseconds, less than a hand-off to another thread costs); larger ones on the
    /// injection threads, within `timeouts.injection`. 0 sends every message to them.
    pub inline_injection_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1000,
            max_message_size: 157_286_400,
            bytes_in_flight: 2 << 30,
            injection_threads: None,
            inline_injection_bytes: 64 * 1024,
        }
    }
}

/// Deadlines, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// Waiting for the sender's next command (server timeout, RFC 5321: 5 min).
    pub command: f64,
    /// Waiting for the next block of message data from the sender (3 min).
    pub data_block: f64,
    /// Connecting to the next hop.
    pub connect: f64,
    /// The next hop's greeting (5 min), and each reply to EHLO and STARTTLS.
    pub greeting: f64,
    /// The next hop's reply to MAIL and to each RCPT (5 min).
    pub mail_rcpt: f64,
    /// The next hop's reply to DATA (2 min).
    pub data_init: f64,
    /// Writing each block of data to the next hop (3 min).
    pub data_block_send: f64,
    /// The next hop's reply after the end of data (10 min).
    pub data_termination: f64,
    /// From the sender's end of data to ours towards the next hop: after it the transaction
    /// is deferred (4xx) instead of sent. Keep it well below the sender's own timeout.
    pub processing: f64,
    /// Injection of one message on the injection threads; past it the message goes on unsigned
    /// (with the loop header).
    pub injection: f64,
    /// The sender's directory lookup (started at MAIL FROM); past it the signature is rendered
    /// without directory data.
    pub directory: f64,
    /// Waiting for a free connection slot of the tenant's return leg.
    pub tenant_slot: f64,
    /// How long `stop` lets transactions in flight finish.
    pub shutdown_grace: f64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: 300.0,
            data_block: 180.0,
            connect: 30.0,
            greeting: 300.0,
            mail_rcpt: 300.0,
            data_init: 120.0,
            data_block_send: 180.0,
            data_termination: 600.0,
            processing: 120.0,
            injection: 10.0,
            directory: 5.0,
            tenant_slot: 30.0,
            shutdown_grace: 60.0,
        }
    }
}

/// Trust anchors for the return leg's server certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Roots {
    /// `"webpki"`: the Mozilla roots bundled with the relay.
    Named(String),
    /// A PEM file of roots (tests use their own CA).
    File {
        /// The PEM file.
        file: PathBuf,
    },
}

impl Default for Roots {
    fn default() -> Self {
        Roots::Named("webpki".into())
    }
}

/// Defaults of the return leg.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NextHopConfig {
    /// Roots the tenants' endpoints are verified against.
    pub roots: Roots,
    /// The port of the tenants' endpoints (25).
    pub port: u16,
    /// Oldest age of a connection that takes a new message, in seconds (Exchange closes
    /// inbound connections after 20 minutes; default 19).
    pub max_connection_age: f64,
    /// Most messages sent over one connection.
    pub max_messages_per_connection: u32,
    /// How long an idle connection is kept for reuse, in seconds.
    pub idle_timeout: f64,
    /// Most connections open at once to one tenant (a tenant may lower it).
    pub max_connections_per_tenant: usize,
}

impl Default for NextHopConfig {
    fn default() -> Self {
        NextHopConfig {
            roots: Roots::default(),
            port: 25,
            max_connection_age: 1140.0,
            max_messages_per_connection: 200,
            idle_timeout: 60.0,
            max_connections_per_tenant: 20,
        }
    }
}

/// The metrics endpoint: `/metrics` (Prometheus text) and `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address and port, e.g. `127.0.0.1:9465`.
    pub address: String,
}

/// What happens to the tenant's DKIM signature and Microsoft's ARC set when the signature
/// changed the body (reference §2.3: an inference from observed traffic, not a documented
/// behaviour; verify per tenant with a test message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DkimArc {
    /// Remove them so Exchange signs at egress (what one vendor's traffic shows).
    #[default]
    Strip,
    /// Leave them (they no longer verify).
    Keep,
}

/// One tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// A short name for logs and metrics.
    pub name: String,
    /// The Microsoft 365 tenant id (a GUID): mail is accepted for this tenant only when
    /// `X-MS-Exchange-CrossTenant-Id` (or `X-OriginatorOrg`) names it.
    pub tenant_id: String,
    /// The initial domain, `<name>.onmicrosoft.com`: its MX is the return endpoint.
    pub initial_domain: String,
    /// Sender domains attributed to this tenant (default: the signature configuration's
    /// `accepted_domains` and the initial domain).
    #[serde(default)]
    pub domains: Vec<String>,
    /// The service profile JSON (the setup's `--profile`): the certificate name and the loop
    /// header come from it.
    pub profile: PathBuf,
    /// The signature configuration (TOML or JSON).
    pub signatures: PathBuf,
    /// PEM chain of the client certificate presented on the return leg (CN and SAN = the
    /// profile's `certificate_name`).
    pub client_certificate: PathBuf,
    /// PEM private key of the client certificate.
    pub client_key: PathBuf,
    /// The return endpoint `host` or `host:port` (default: the MX of `initial_domain`).
    #[serde(default)]
    pub return_endpoint: Option<String>,
    /// STARTTLS on the return leg. Only a loopback endpoint may turn it off (tests, benchmarks).
    #[serde(default = "yes")]
    pub return_tls: bool,
    /// DKIM/ARC handling when the body changed.
    #[serde(default)]
    pub dkim_arc: DkimArc,
    /// Most connections to this tenant's endpoint (default: `next_hop.max_connections_per_tenant`).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// App-only credentials for a Graph directory (`directory.source = "graph"`).
    #[serde(default)]
    pub graph: Option<GraphCredentials>,
}

/// App-only sign-in for a tenant's Graph directory: a certificate (preferred) or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphCredentials {
    /// The app's client id.
    pub client_id: String,
    /// PEM certificate of the app (with `private_key`).
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// PEM private key of the app's certificate.
    #[serde(default)]
    pub private_key: Option<PathBuf>,
    /// A file holding a client secret (instead of a certificate).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// `global`, `usgovgcchigh`, `usgovdod` or `china` (default global).
    #[serde(default)]
    pub cloud: Option<String>,
    /// Another login host (tests on loopback).
    #[serde(default)]
    pub login_url: Option<String>,
    /// Allow `http://` login (loopback tests only).
    #[serde(default)]
    pub allow_http: bool,
}

fn yes() -> bool {
    true
}

/// Seconds as a [`Duration`] (validated positive and finite first).
pub(crate) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

impl RelayConfig {
    /// Parses TOML; relative paths resolve against `base_dir` (the current folder if `None`).
    pub fn from_toml_str(s: &str, base_dir: Option<&Path>) -> Result<Self> {
        let mut config: RelayConfig =
            toml::from_str(s).map_err(|e| Error::Config(format!("relay configuration: {e}")))?;
        config.base_dir = base_dir.map(Path::to_path_buf);
        config.validate()?;
        Ok(config)
    }

    /// Reads and validates a TOML file; relative paths resolve against its folder.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let mut config = Self::from_toml_str(&text, path.parent()).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            other => other,
        })?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// A path of the file, resolved against the configuration's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        match &self.base_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }

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
    use super::*;

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
