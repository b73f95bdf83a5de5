//! Where a tenant's mail goes back to: the MX hosts of its initial domain (a customer domain's
//! MX often points at a third-party gateway, reference §3.1) or an explicit endpoint, and the
//! addresses of those hosts. Injectable: tests use [`StaticResolver`] and never public DNS.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;

/// Looks up MX hosts and host addresses.
#[async_trait]
pub trait Resolver: Send + Sync {
    /// The MX hosts of `domain`, most preferred first.
    async fn mx(&self, domain: &str) -> io::Result<Vec<String>>;

    /// The addresses of `host`.
    async fn addresses(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

/// A fixed table of MX hosts and addresses (tests, or a product that resolves elsewhere).
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    mx: HashMap<String, Vec<String>>,
    hosts: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// `domain`'s MX hosts, most preferred first.
    pub fn with_mx<I, S>(mut self, domain: &str, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.mx.insert(
            domain.to_ascii_lowercase(),
            hosts.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// `host`'s addresses.
    pub fn with_host<I: IntoIterator<Item = IpAddr>>(mut self, host: &str, addrs: I) -> Self {
        self.hosts
            .insert(host.to_ascii_lowercase(), addrs.into_iter().collect());
        self
    }
}

fn not_found(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no record for {what}"))
}

#[async_trait]
impl Resolver for StaticResolver {
    async fn mx(&self, domain: &str) -> io::Result<Vec<String>> {
        self.mx
            .get(&domain.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| not_found(domain))
    }

    async fn addresses(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        self.hosts
            .get(&host.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| not_found(host))
    }
}

/// DNS through the system's resolvers (`/etc/resolv.conf`), with hickory's cache. The relay's
/// default in production; never used by the tests.
pub struct DnsResolver {
    inner: hickory_resolver::TokioResolver,
}

impl DnsResolver {
    /// A resolver with the system configuration.
    pub fn from_system() -> io::Result<Self> {
        let inner = hickory_resolver::TokioResolver::builder_tokio()
            .map_err(|e| io::Error::other(format!("DNS configuration: {e}")))?
            .build()
            .map_err(|e| io::Error::other(format!("DNS resolver: {e}")))?;
        Ok(DnsResolver { inner })
    }
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsResolver")
    }
}

#[async_trait]
impl Resolver for DnsResolver {
    async fn mx(&self, domain: &str) -> io::Result<Vec<String>> {
        use hickory_resolver::proto::rr::RData;
        let name = format!("{}.", domain.trim_end_matches('.'));
        let lookup = self
            .inner
            .mx_lookup(name.as_str())
            .await
            .map_err(|e| io::Error::other(format!("MX {domain}: {e}")))?;
        let mut mx: Vec<(u16, String)> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((
                    mx.preference,
                    mx.exchange.to_utf8().trim_end_matches('.').to_owned(),
                )),
                _ => None,
            })
            .collect();
        mx.sort();
        Ok(mx.into_iter().map(|(_, h)| h).collect())
    }

    async fn addresses(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let name = format!("{}.", host.trim_end_matches('.'));
        let ips = self
            .inner
            .lookup_ip(name.as_str())
            .await
            .map_err(|e| io::Error::other(format!("address of {host}: {e}")))?;
        Ok(ips.iter().collect())
    }
}

/// Where one tenant's mail goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A fixed host and port.
    Host { host: String, port: u16 },
    /// The MX hosts of a domain, on `port`.
    Mx { domain: String, port: u16 },
}

/// One host to try, with its addresses (the host name is what its certificate must carry).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

impl Endpoint {
    /// The hosts to try, in order, with their addresses; hosts that do not resolve are left
    /// out (an error only when none does).
    pub(crate) async fn targets(&self, resolver: &dyn Resolver) -> io::Result<Vec<Target>> {
        let (hosts, port) = match self {
            Endpoint::Host { host, port } => (vec![host.clone()], *port),
            Endpoint::Mx { domain, port } => (resolver.mx(domain).await?, *port),
        };
        let mut out = Vec::new();
        let mut last_err = None;
        for host in hosts {
            match resolver.addresses(&host).await {
                Ok(ips) if !ips.is_empty() => out.push(Target {
                    addrs: ips
                        .into_iter()
                        .map(|ip| SocketAddr::new(ip, port))
                        .collect(),
                    host,
                }),
                Ok(_) => last_err = Some(not_found(&host)),
                Err(e) => last_err = Some(e),
            }
        }
        if out.is_empty() {
            return Err(last_err.unwrap_or_else(|| not_found("the endpoint")));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mx_endpoints_resolve_through_the_table_in_preference_order() {
        let r = StaticResolver::new()
            .with_mx(
                "contoso.onmicrosoft.com",
                ["a.mail.protection.test", "gone.test", "b.test"],
            )
            .with_host("a.mail.protection.test", ["127.0.0.1".parse().unwrap()])
            .with_host("b.test", ["::1".parse().unwrap()]);
        let ep = Endpoint::Mx {
            domain: "Contoso.onmicrosoft.com".into(),
            port: 2525,
        };
        let t = ep.targets(&r).await.unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].host, "a.mail.protection.test");
        assert_eq!(t[0].addrs, ["127.0.0.1:2525".parse().unwrap()]);
        assert_eq!(t[1].addrs, ["[::1]:2525".parse().unwrap()]);
        let none = Endpoint::Mx {
            domain: "fabrikam.onmicrosoft.com".into(),
            port: 25,
        };
        assert_eq!(
            none.targets(&r).await.unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let ip = Endpoint::Host {
            host: "127.0.0.1".into(),
            port: 25,
        };
        assert_eq!(ip.targets(&r).await.unwrap()[0].addrs.len(), 1);
    }
}
