//! National clouds and tenants: which login host, Exchange host and Graph host to use.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::Resource;
use crate::{Error, Result};

/// The Microsoft cloud a tenant lives in (reference §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Cloud {
    /// The global (commercial) cloud, GCC included.
    #[default]
    Global,
    /// US Government GCC High.
    UsGovGccHigh,
    /// US Government DoD.
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// The Entra ID (login) authority host.
    pub fn login_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGovGccHigh | Cloud::UsGovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.partner.microsoftonline.cn",
        }
    }

    /// The Exchange Online host: the token resource and the InvokeCommand host.
    pub fn exchange_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://outlook.office365.com",
            Cloud::UsGovGccHigh => "https://outlook.office365.us",
            Cloud::UsGovDod => "https://outlook-dod.office365.us",
            Cloud::China => "https://outlook.office365.cn",
        }
    }

    /// The Microsoft Graph host.
    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGovGccHigh => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The `.default` scope of `resource` in this cloud, e.g.
    /// `https://outlook.office365.com/.default`.
    pub fn scope(self, resource: Resource) -> String {
        let host = match resource {
            Resource::Exchange => self.exchange_url(),
            Resource::Graph => self.graph_url(),
        };
        format!("{host}/.default")
    }
}

/// The tenant to sign in to: its id, one of its domains, or any work account (`organizations`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tenant {
    /// Any work or school account; the signed-in identity tells which tenant it was.
    Organizations,
    /// The tenant id (a GUID).
    Id(Uuid),
    /// A verified or initial domain of the tenant, e.g. `contoso.onmicrosoft.com`.
    Domain(String),
}

impl Tenant {
    /// Parses `organizations`, a GUID or a domain name.
    pub fn parse(value: &str) -> Result<Tenant> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("organizations") {
            return Ok(Tenant::Organizations);
        }
        if let Ok(id) = Uuid::parse_str(value) {
            return Ok(Tenant::Id(id));
        }
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if value.contains('.') && value.len() <= 253 && value.split('.').all(valid_label) {
            return Ok(Tenant::Domain(value.to_ascii_lowercase()));
        }
        Err(Error::validation(
            "tenant",
            format!("{value:?} is not a tenant id (GUID), a domain name or \"organizations\""),
        ))
    }

    /// Whether this names one tenant (an id or a domain), as app-only sign-in requires.
    pub fn is_specific(&self) -> bool {
        !matches!(self, Tenant::Organizations)
    }
}

impl FromStr for Tenant {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Tenant::parse(s)
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tenant::Organizations => f.write_str("organizations"),
            Tenant::Id(id) => write!(f, "{id}"),
            Tenant::Domain(d) => f.write_str(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_documented_hosts() {
        assert_eq!(
            Cloud::Global.scope(Resource::Exchange),
            "https://outlook.office365.com/.default"
        );
        assert_eq!(
            Cloud::Global.scope(Resource::Graph),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            Cloud::UsGovDod.login_url(),
            "https://login.microsoftonline.us"
        );
        assert_eq!(
            Cloud::UsGovDod.scope(Resource::Graph),
            "https://dod-graph.microsoft.us/.default"
        );
        assert_eq!(
            Cloud::UsGovGccHigh.scope(Resource::Exchange),
            "https://outlook.office365.us/.default"
        );
        assert_eq!(
            Cloud::China.login_url(),
            "https://login.partner.microsoftonline.cn"
        );
        assert_eq!(
            Cloud::China.scope(Resource::Graph),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
    }

    #[test]
    fn tenant_parses_guid_domain_and_organizations() {
        let id = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(Tenant::parse(id).unwrap(), Tenant::Id(id.parse().unwrap()));
        assert_eq!(
            Tenant::parse("Contoso.onmicrosoft.com").unwrap(),
            Tenant::Domain("contoso.onmicrosoft.com".into())
        );
        assert_eq!(
            Tenant::parse("organizations").unwrap(),
            Tenant::Organizations
        );
        assert!(!Tenant::Organizations.is_specific());
        assert_eq!(Tenant::parse(id).unwrap().to_string(), id);
    }

    #[test]
    fn tenant_rejects_values_that_would_break_the_url() {
        for bad in [
            "",
            "contoso",
            "a/b.com",
            "x.com/../y",
            "common?x=1.com",
            "-a.com",
        ] {
            let err = Tenant::parse(bad).unwrap_err();
            assert!(err.to_string().contains("tenant"), "{bad}: {err}");
        }
    }
}
