//! The relay's one configuration file (TOML), read once, validated with errors that name the
//! field (`tenants[2].client_certificate`), and read again on reload.
//!
//! Times are in seconds (fractions allowed); sizes in bytes. `examples/relay.toml` is a
//! commented sample of every key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

mod validate;
mod value;

pub(crate) use validate::parse_endpoint;

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
    /// Connections the kernel may hold completed for the relay before it accepts them
    /// (`listen(2)`'s backlog; the kernel caps it at `net.core.somaxconn`). Default 1024, as
    /// Postfix: at the 128 of `std` and tokio, a burst of new sessions (Exchange opens many at
    /// once after a pause) overflows the queue, and a connection whose handshake the kernel
    /// then dropped waits for a greeting that never comes if the relay stops meanwhile.
    #[serde(default = "backlog")]
    pub backlog: u32,
}

fn backlog() -> u32 {
    1024
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
    /// Threads that sign messages, off the network threads (default: the number of CPUs).
    pub injection_threads: Option<usize>,
    /// Messages up to this size are signed on the network thread that received them, without
    /// the deadline of `timeouts.injection`; the rest on the injection threads. Default 0:
    /// every message goes to the injection threads, so a message that takes long to sign never
    /// holds up other sessions' replies. Signing small messages inline saves the hand-off
    /// (a few microseconds) at that risk.
    pub inline_injection_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1000,
            max_message_size: 157_286_400,
            bytes_in_flight: 2 << 30,
            injection_threads: None,
            inline_injection_bytes: 0,
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

/// Seconds as a [`Duration`] (validated positive, finite and below 10^7 first), to the
/// nanosecond. (Not `Duration::from_secs_f64`: its exact rounding costs ~200 instructions, and
/// this runs several times per message.)
pub(crate) fn secs(s: f64) -> Duration {
    Duration::from_nanos((s * 1e9).round() as u64)
}

impl RelayConfig {
    /// Parses TOML; relative paths resolve against `base_dir` (the current folder if `None`).
    /// A missing, unknown or mistyped key is an [`Error::Validation`] naming it.
    pub fn from_toml_str(s: &str, base_dir: Option<&Path>) -> Result<Self> {
        let mut config: RelayConfig = value::named(toml::Deserializer::new(s))?;
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
}
