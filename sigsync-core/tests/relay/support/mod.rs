//! The relay's test bench: the committed test PKI, a tenant's files (profile, signature
//! configuration), the relay's configuration, next hops and a sending client, all on loopback.
#![allow(dead_code)]

pub mod mta;
pub mod next_hop;
pub mod sender;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sigsync_core::relay::{Relay, RelayConfig, StaticResolver};

use next_hop::{NextHop, Script};
use sender::{Sender, Transcript};

pub const CONTOSO_ID: &str = "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01";
pub const FABRIKAM_ID: &str = "4f1e2d3c-5b6a-4978-8a9b-0c1d2e3f4a5b";
/// Each tenant's loop header value comes from its profile (random per tenant in production).
pub const CONTOSO_LOOP: &str = "c7f3a9e1b2d4";
pub const FABRIKAM_LOOP: &str = "f5e6d7c8b9a0";

pub fn pki(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/relay/pki")
        .join(name)
}

/// A folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "sigsync-relay-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The service profile the setup engine wrote for a tenant.
pub fn profile_json(certificate_name: &str, loop_value: &str) -> String {
    format!(
        r#"{{"smart_hosts": ["relay.test"], "tls_domain": "", "certificate_name": "{certificate_name}",
            "loop_header": {{"name": "X-Sigsync-Processed", "value": "{loop_value}"}}}}"#
    )
}

/// A signature configuration with an in-memory directory (no loop header: it comes from the
/// profile).
pub fn signature_toml(domain: &str, company: &str) -> String {
    format!(
        r#"
accepted_domains = ["{domain}"]

[fallback]
companyName = "{company}"

[signatures.standard]
html = "<p><b>{{{{ displayName }}}}</b><br>{{{{ jobTitle }}}}<br>{{{{ companyName }}}}</p>"
text = "{{{{ displayName }}}}\n{{{{ jobTitle }}}}\n{{{{ companyName }}}}"

[[rules]]
name = "everyone"
signature = "standard"

[directory]
source = "memory"
[directory.users."adele@{domain}"]
displayName = "Adele Vance"
jobTitle = "Retail Manager"
"#
    )
}

/// The relay configuration for the two test tenants; `contoso_endpoint` unset means the MX
/// of contoso.onmicrosoft.com (the static resolver knows it).
pub fn relay_toml(fabrikam_endpoint: SocketAddr) -> String {
    let p = |n: &str| pki(n).display().to_string();
    format!(
        r#"
[listener]
address = "127.0.0.1:0"
hostname = "relay.test"
certificate = "{relay_pem}"
private_key = "{relay_key}"
allow_list = "allow.txt"

[limits]
max_message_size = 1048576
bytes_in_flight = 67108864

[timeouts]
command = 10
data_block = 10
connect = 5
greeting = 10
mail_rcpt = 10
data_init = 10
data_block_send = 10
data_termination = 10
processing = 10
injection = 5
directory = 2
tenant_slot = 5
shutdown_grace = 10

[next_hop]
roots = {{ file = "{root}" }}
max_connections_per_tenant = 8

[metrics]
address = "127.0.0.1:0"

[[tenants]]
name = "contoso"
tenant_id = "{CONTOSO_ID}"
initial_domain = "contoso.onmicrosoft.com"
profile = "contoso/profile.json"
signatures = "contoso/signature.toml"
client_certificate = "{contoso_pem}"
client_key = "{contoso_key}"

[[tenants]]
name = "fabrikam"
tenant_id = "{FABRIKAM_ID}"
initial_domain = "fabrikam.onmicrosoft.com"
profile = "fabrikam/profile.json"
signatures = "fabrikam/signature.toml"
client_certificate = "{fabrikam_pem}"
client_key = "{fabrikam_key}"
return_endpoint = "fabrikam.mail.protection.test:{fport}"
"#,
        relay_pem = p("relay.pem"),
        relay_key = p("relay.key"),
        root = p("root.pem"),
        contoso_pem = p("contoso.pem"),
        contoso_key = p("contoso.key"),
        fabrikam_pem = p("fabrikam.pem"),
        fabrikam_key = p("fabrikam.key"),
        fport = fabrikam_endpoint.port(),
    )
}

/// Two tenants, each with its own next hop, and a relay in front.
pub struct Env {
    pub dir: TempDir,
    pub contoso: NextHop,
    pub fabrikam: NextHop,
    pub config_path: PathBuf,
    pub resolver: Arc<StaticResolver>,
    pub relay: Option<Relay>,
}

impl Env {
    /// Writes the files and starts both next hops; `edit` may change the configuration before
    /// the relay starts.
    pub async fn start(edit: impl FnOnce(&mut RelayConfig)) -> Env {
        Self::start_with(Script::default(), edit).await
    }

    pub async fn start_with(script: Script, edit: impl FnOnce(&mut RelayConfig)) -> Env {
        let dir = TempDir::new("env");
        let contoso = NextHop::start(Script {
            certificate_name: Some("contoso.relay.test".into()),
            ..script.clone()
        })
        .await;
        let fabrikam = NextHop::start(Script {
            certificate_name: Some("fabrikam.relay.test".into()),
            ..script
        })
        .await;
        dir.write(
            "allow.txt",
            "# Exchange Online (here: loopback)\n127.0.0.0/8\n",
        );
        write_tenant(&dir, "contoso", CONTOSO_LOOP, "contoso.com", "Contoso Ltd");
        write_tenant(
            &dir,
            "fabrikam",
            FABRIKAM_LOOP,
            "fabrikam.com",
            "Fabrikam Inc",
        );
        let text = relay_toml(fabrikam.addr);
        let mut config = RelayConfig::from_toml_str(&text, Some(&dir.0)).unwrap();
        config.next_hop.port = contoso.addr.port();
        edit(&mut config);
        let config_path = dir.write("relay.toml", &toml::to_string(&config).unwrap());
        let resolver = Arc::new(
            StaticResolver::new()
                .with_mx("contoso.onmicrosoft.com", ["contoso.mail.protection.test"])
                .with_host(
                    "contoso.mail.protection.test",
                    ["127.0.0.1".parse().unwrap()],
                )
                .with_host(
                    "fabrikam.mail.protection.test",
                    ["127.0.0.1".parse().unwrap()],
                ),
        );
        Env {
            dir,
            contoso,
            fabrikam,
            config_path,
            resolver,
            relay: None,
        }
    }

    /// Starts the relay from the written file.
    pub async fn relay(mut self) -> Env {
        let config = RelayConfig::load(&self.config_path).unwrap();
        let relay = Relay::builder(config)
            .resolver(self.resolver.clone())
            .start()
            .await
            .unwrap();
        self.relay = Some(relay);
        self
    }

    pub fn addr(&self) -> SocketAddr {
        self.relay.as_ref().unwrap().local_addr()
    }

    /// One message over a fresh TLS session.
    pub async fn send(&self, from: &str, rcpts: &[&str], msg: &[u8]) -> Transcript {
        let mut s = Sender::open(self.addr()).await.unwrap();
        let rcpts: Vec<String> = rcpts.iter().map(|r| format!("RCPT TO:<{r}>")).collect();
        let t = s
            .transaction(&format!("MAIL FROM:<{from}>"), &rcpts, msg)
            .await
            .unwrap();
        let _ = s.cmd("QUIT").await;
        t
    }
}

/// A message that takes the injector long to sign (a debug build here: seconds): a 6 MB
/// quoted-printable HTML body to decode, place the signature in and encode again.
pub fn slow_message(id: &str) -> Vec<u8> {
    let head = String::from_utf8(message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        id,
    ))
    .unwrap();
    let mut big = head.replace(
        "Content-Type: text/plain; charset=utf-8\r\n",
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
    );
    big.truncate(big.find("\r\n\r\n").unwrap() + 4);
    big.push_str("<html><body>\r\n");
    while big.len() < 6_000_000 {
        big.push_str(
            "<p>The quarter closed well in every region =E2=80=94 the numbers show it.</p>\r\n",
        );
    }
    big.push_str("</body></html>\r\n");
    big.into_bytes()
}

/// A message as Exchange Online hands it to the connector: its cross-tenant headers, the
/// tenant's DKIM signature and Microsoft's ARC set already on it.
pub fn message(tenant_id: &str, from: &str, to: &str, id: &str) -> Vec<u8> {
    let domain = from.rsplit('@').next().unwrap();
    format!(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain};\r\n s=selector1; h=From:Date:Subject:Message-ID; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n b=dGVzdA==\r\n\
ARC-Seal: i=1; a=rsa-sha256; s=arcselector10001; d=microsoft.com; cv=none;\r\n b=c2VhbA==\r\n\
ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=microsoft.com;\r\n s=arcselector10001; h=From:Date:Subject; bh=x; b=c2ln\r\n\
ARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=none; dmarc=none;\r\n dkim=none; arc=none\r\n\
X-MS-Exchange-CrossTenant-Id: {tenant_id}\r\n\
X-MS-Exchange-CrossTenant-AuthAs: Internal\r\n\
X-MS-Exchange-CrossTenant-AuthSource: GV1PR07MB1234.eurprd07.prod.outlook.com\r\n\
X-MS-Exchange-Transport-CrossTenantHeadersStamped: GV1PR07MB5678\r\n\
X-MS-Exchange-CrossPremises-AuthAs: Internal\r\n\
X-MS-Exchange-CrossPremises-AuthMechanism: 04\r\n\
X-OriginatorOrg: {domain}\r\n\
From: Adele Vance <{from}>\r\n\
To: <{to}>\r\n\
Subject: Quarterly numbers\r\n\
Message-ID: <{id}@{domain}>\r\n\
Date: Fri, 4 Dec 2026 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello Bob,\r\n\
.the numbers are attached.\r\n\
\r\n"
    )
    .into_bytes()
}

/// [`message`] grown with 998-character lines to at least `size` bytes.
pub fn large_message(tenant_id: &str, id: &str, size: usize) -> Vec<u8> {
    let mut msg = message(tenant_id, "adele@contoso.com", "bob@example.org", id);
    let line = "x".repeat(998) + "\r\n";
    while msg.len() < size {
        msg.extend_from_slice(line.as_bytes());
    }
    msg
}

/// Writes a tenant's profile and signature configuration under `dir/<name>/`.
pub fn write_tenant(dir: &TempDir, name: &str, loop_value: &str, domain: &str, company: &str) {
    dir.write(
        &format!("{name}/profile.json"),
        &profile_json(&format!("{name}.relay.test"), loop_value),
    );
    dir.write(
        &format!("{name}/signature.toml"),
        &signature_toml(domain, company),
    );
}

/// The invariant of every fault test: each message the sender was told was taken (2xx after
/// the data) is one the next hop took.
pub fn assert_nothing_acknowledged_that_was_not_delivered(
    sent: &[(String, Transcript)],
    hops: &[&NextHop],
) {
    let delivered: Vec<String> = hops
        .iter()
        .flat_map(|h| h.delivered())
        .map(|d| d.text())
        .collect();
    for (id, t) in sent {
        if t.acknowledged() {
            assert!(
                delivered
                    .iter()
                    .any(|d| d.contains(&format!("Message-ID: <{id}@"))),
                "message {id} was acknowledged ({:?}) but not delivered",
                t.end
            );
        }
    }
}
