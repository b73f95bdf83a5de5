//! The tenant table: each tenant's profile, signature engine, client certificate and return
//! endpoint, built from the configuration (files read and checked, errors naming the field);
//! attribution of a transaction to a tenant by MAIL FROM domain or XOORG.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;

use super::config::{parse_endpoint, DkimArc, GraphCredentials, RelayConfig, TenantConfig};
use super::metrics::{Metrics, TenantMetrics};
use super::next_hop::{HopTarget, Pool};
use super::proto::command::PathCommand;
use super::resolver::Endpoint;
use super::tls::{self, CertInfo};
use crate::auth::{AppOnlyTokenProvider, AuthConfig, CertificateCredential, Cloud, TokenProvider};
use crate::inject::SignatureInjector;
use crate::setup::ServiceProfile;
use crate::signature::{DirectoryConfig, SignatureConfig};
use crate::{Error, Result};

/// One tenant, ready to relay.
pub(crate) struct Tenant {
    pub name: String,
    /// Lower-case GUID.
    pub id: String,
    /// Lower-case domains: attribution, `X-OriginatorOrg`, DKIM `d=`.
    pub domains: Vec<String>,
    pub certificate_name: String,
    pub injector: Arc<SignatureInjector>,
    pub client_tls: Option<Arc<rustls::ClientConfig>>,
    pub endpoint: Endpoint,
    pub dkim_arc: DkimArc,
    pub certificate: CertInfo,
    pub pool: Pool,
    metrics: OnceLock<TenantMetrics>,
}

impl Tenant {
    /// This tenant's metric handles.
    pub(crate) fn metrics(&self, all: &Metrics) -> &TenantMetrics {
        self.metrics.get_or_init(|| all.tenant(&self.name))
    }

    pub(crate) fn hop_target(&self) -> HopTarget<'_> {
        HopTarget {
            endpoint: &self.endpoint,
            ehlo: &self.certificate_name,
            tls: self.client_tls.clone(),
        }
    }
}

/// All tenants, and who owns which domain.
pub(crate) struct TenantTable {
    pub list: Vec<Arc<Tenant>>,
    by_domain: HashMap<String, Arc<Tenant>>,
}

impl TenantTable {
    /// Reads every tenant's files and checks them.
    pub(crate) fn build(config: &RelayConfig, roots: Arc<RootCertStore>) -> Result<Self> {
        let mut list = Vec::new();
        let mut by_domain: HashMap<String, Arc<Tenant>> = HashMap::new();
        for (i, tc) in config.tenants.iter().enumerate() {
            let at = format!("tenants[{i}]");
            let tenant = Arc::new(build_tenant(config, tc, &at, roots.clone())?);
            for d in &tenant.domains {
                if let Some(other) = by_domain.get(d) {
                    return Err(Error::validation(
                        format!("{at}.domains"),
                        format!("{d} also belongs to tenant {:?}", other.name),
                    ));
                }
                by_domain.insert(d.clone(), tenant.clone());
            }
            list.push(tenant);
        }
        Ok(TenantTable { list, by_domain })
    }

    /// The tenant of a transaction: by XOORG when given (and advertised), else by the MAIL
    /// FROM domain. The error says why none was found, for the log line.
    pub(crate) fn attribute(&self, mail: &PathCommand) -> std::result::Result<Arc<Tenant>, String> {
        if let Some(org) = &mail.xoorg {
            let org = org.trim_end_matches('.').to_ascii_lowercase();
            if let Some(t) = self.by_domain.get(&org) {
                return Ok(t.clone());
            }
        }
        // (A domain already lower-case, as most are, is looked up without a copy.)
        let known = mail
            .address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .filter(|d| {
                !d.is_empty() && !d.ends_with('.') && !d.bytes().any(|b| b.is_ascii_uppercase())
            })
            .and_then(|d| self.by_domain.get(d));
        if let Some(t) = known {
            return Ok(t.clone());
        }
        match mail.domain() {
            Some(d) => self
                .by_domain
                .get(&d)
                .cloned()
                .ok_or_else(|| format!("the sender domain {d} belongs to no tenant")),
            None => Err(match &mail.xoorg {
                Some(org) => format!("null sender, and XOORG {org} belongs to no tenant"),
                None => "null sender without XOORG".into(),
            }),
        }
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|t| t.name.as_str())
    }
}

fn build_tenant(
    config: &RelayConfig,
    tc: &TenantConfig,
    at: &str,
    roots: Arc<RootCertStore>,
) -> Result<Tenant> {
    let field = |name: &str| format!("{at}.{name}");
    let wrap = |name: &str| {
        let f = field(name);
        move |e: Error| Error::validation(f.clone(), e.to_string())
    };

    let profile_path = config.resolve(&tc.profile);
    let profile_json = std::fs::read_to_string(&profile_path).map_err(|e| {
        Error::validation(
            field("profile"),
            format!("cannot read {}: {e}", profile_path.display()),
        )
    })?;
    let profile = ServiceProfile::from_json(&profile_json).map_err(wrap("profile"))?;

    let sig_path = config.resolve(&tc.signatures);
    // The loop header has one source, the profile: a signature configuration may repeat it
    // but not set another one (the error names both).
    let signatures = SignatureConfig::load(&sig_path)
        .and_then(|s| s.with_loop_header(&profile.loop_header))
        .map_err(wrap("signatures"))?;
    let tokens = match (&signatures.directory, &tc.graph) {
        (Some(DirectoryConfig::Graph(_)), Some(g)) => Some(graph_tokens(config, tc, g, at)?),
        (Some(DirectoryConfig::Graph(_)), None) => {
            return Err(Error::validation(
                field("graph"),
                "the signature configuration reads Graph: give the app's credentials",
            ))
        }
        _ => None,
    };
    let injector =
        SignatureInjector::from_config(&signatures, tokens).map_err(wrap("signatures"))?;

    let mut domains: Vec<String> = if tc.domains.is_empty() {
        signatures.accepted_domains.clone()
    } else {
        tc.domains.clone()
    };
    domains.push(tc.initial_domain.clone());
    let mut domains: Vec<String> = domains
        .into_iter()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    domains.sort();
    domains.dedup();

    let chain = tls::load_certs(
        &config.resolve(&tc.client_certificate),
        &field("client_certificate"),
    )?;
    let key = tls::load_key(&config.resolve(&tc.client_key), &field("client_key"))?;
    let certificate = CertInfo::read(&chain[0], &field("client_certificate"))?;
    certificate.check_name(&profile.certificate_name, &field("client_certificate"))?;
    if certificate.seconds_left() <= 0 {
        tracing::warn!(tenant = %tc.name, "the client certificate has expired: the tenant's mail is deferred until it is replaced");
    }
    let client_tls = if tc.return_tls {
        Some(tls::client_config(chain, key, roots, &field("client_key"))?)
    } else {
        None
    };

    let endpoint = match &tc.return_endpoint {
        Some(ep) => {
            let (host, port) = parse_endpoint(ep, config.next_hop.port).expect("validated");
            Endpoint::Host { host, port }
        }
        None => Endpoint::Mx {
            domain: tc.initial_domain.clone(),
            port: config.next_hop.port,
        },
    };
    if !tc.return_tls {
        let loopback = matches!(&endpoint, Endpoint::Host { host, .. }
            if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()));
        if !loopback {
            return Err(Error::validation(
                field("return_tls"),
                "only a loopback return_endpoint may go without TLS",
            ));
        }
    }
    Ok(Tenant {
        name: tc.name.clone(),
        id: tc.tenant_id.to_ascii_lowercase(),
        domains,
        certificate_name: profile.certificate_name.clone(),
        injector: Arc::new(injector),
        client_tls,
        endpoint,
        dkim_arc: tc.dkim_arc,
        certificate,
        pool: Pool::new(
            tc.max_connections
                .unwrap_or(config.next_hop.max_connections_per_tenant),
        ),
        metrics: OnceLock::new(),
    })
}

fn graph_tokens(
    config: &RelayConfig,
    tc: &TenantConfig,
    g: &GraphCredentials,
    at: &str,
) -> Result<Arc<dyn TokenProvider>> {
    let field = |name: &str| format!("{at}.graph.{name}");
    let mut b =
        AuthConfig::builder(g.client_id.clone(), tc.tenant_id.clone()).allow_http(g.allow_http);
    if let Some(cloud) = &g.cloud {
        b = b.cloud(match cloud.to_ascii_lowercase().as_str() {
            "global" => Cloud::Global,
            "usgovgcchigh" => Cloud::UsGovGccHigh,
            "usgovdod" => Cloud::UsGovDod,
            "china" => Cloud::China,
            _ => {
                return Err(Error::validation(
                    field("cloud"),
                    "must be global, usgovgcchigh, usgovdod or china",
                ))
            }
        });
    }
    if let Some(url) = &g.login_url {
        b = b.login_url(url.clone());
    }
    let auth = b
        .build()
        .map_err(|e| Error::validation(field("client_id"), e.to_string()))?;
    let read = |name: &str, p: &std::path::Path| {
        let p = config.resolve(p);
        std::fs::read_to_string(&p).map_err(|e| {
            Error::validation(field(name), format!("cannot read {}: {e}", p.display()))
        })
    };
    let provider = match (&g.certificate, &g.private_key, &g.secret_file) {
        (Some(c), Some(k), _) => {
            let cert = CertificateCredential::from_pem(
                read("certificate", c)?,
                &read("private_key", k)?.into(),
            )
            .map_err(|e| Error::validation(field("certificate"), e.to_string()))?;
            AppOnlyTokenProvider::with_certificate(auth, cert)?
        }
        (_, _, Some(s)) => {
            AppOnlyTokenProvider::with_secret(auth, read("secret_file", s)?.trim().to_owned())?
        }
        _ => unreachable!("validated: a certificate and key, or a secret file"),
    };
    Ok(Arc::new(provider))
}
