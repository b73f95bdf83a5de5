//! The signature service's side of the setup: where mail goes, how the service's relay
//! authenticates when it sends mail back, and what the created objects are called.

use serde::{Deserialize, Serialize};

use crate::model::validate::{self, Star};
use crate::{Error, LoopHeader, Result};

/// The names of the objects sigsync creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectNames {
    /// The outbound connector to the service.
    pub outbound_connector: String,
    /// The inbound connector that takes processed mail back.
    pub inbound_connector: String,
    /// The rule that routes the chosen senders' mail to the service.
    pub routing_rule: String,
    /// The rule that stamps the loop header on automatic replies, so they bypass the service.
    pub auto_reply_rule: String,
}

impl Default for ObjectNames {
    fn default() -> Self {
        ObjectNames {
            outbound_connector: "Sigsync Outbound Connector".into(),
            inbound_connector: "Sigsync Inbound Connector".into(),
            routing_rule: "Sigsync Routing Rule".into(),
            auto_reply_rule: "Sigsync Auto-Reply Bypass".into(),
        }
    }
}

/// The signature service a tenant is connected to. The caller supplies every value; nothing
/// about any vendor is built in.
///
/// ```
/// use sigsync_core::setup::ServiceProfile;
///
/// let profile = ServiceProfile::builder()
///     .smart_hosts(["smtp.signatures.example.com"])
///     .certificate_name("tenant1.smtp.signatures.example.com")
///     .build()?;
/// assert_eq!(profile.tls_domain, "smtp.signatures.example.com");
/// # Ok::<(), sigsync_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProfile {
    /// The service's smart hosts (the outbound connector's `SmartHosts`).
    pub smart_hosts: Vec<String>,
    /// The name the smart host's certificate carries (`TlsDomain`, with `DomainValidation`);
    /// defaults to the first smart host.
    pub tls_domain: String,
    /// The certificate name the service's relay presents when it sends mail back
    /// (`TlsSenderCertificateName`): a tenant-specific domain that is an accepted domain of
    /// the tenant.
    pub certificate_name: String,
    /// The IP ranges of the service's relays, if known: excepted by the routing rule
    /// (`ExceptIfSenderIpRanges`) and skipped by Enhanced Filtering (`EFSkipIPs`). The inbound
    /// connector is authenticated by the certificate only.
    #[serde(default)]
    pub relay_ip_ranges: Vec<String>,
    /// The loop-prevention header the service stamps on processed mail.
    #[serde(default)]
    pub loop_header: LoopHeader,
    /// The names of the created objects.
    #[serde(default)]
    pub names: ObjectNames,
    /// The marker written into each object's comment: how sigsync recognises what it owns.
    #[serde(default = "default_marker")]
    pub comment_marker: String,
    /// `CloudServicesMailEnabled` on both connectors (keeps Exchange's internal headers
    /// across the round trip; default true, as the add-on service recipe sets it).
    #[serde(default = "default_true")]
    pub cloud_services_mail_enabled: bool,
}

fn default_marker() -> String {
    "Managed by sigsync; do not edit.".into()
}

fn default_true() -> bool {
    true
}

impl ServiceProfile {
    /// Starts a builder.
    pub fn builder() -> ServiceProfileBuilder {
        ServiceProfileBuilder::default()
    }

    /// Reads a profile from JSON (the `--profile` file of the setup example) and validates it.
    pub fn from_json(json: &str) -> Result<Self> {
        let mut profile: ServiceProfile = serde_json::from_str(json)
            .map_err(|e| Error::Config(format!("service profile: {e}")))?;
        if profile.tls_domain.is_empty() {
            profile.tls_domain = profile.smart_hosts.first().cloned().unwrap_or_default();
        }
        profile.validate()?;
        Ok(profile)
    }

    /// Checks every value, naming the field that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.smart_hosts.is_empty() {
            return Err(Error::validation(
                "smart_hosts",
                "at least one smart host is required",
            ));
        }
        for host in &self.smart_hosts {
            validate::smart_host("smart_hosts", host)?;
        }
        validate::domain("tls_domain", &self.tls_domain, Star::Refused)?;
        validate::domain("certificate_name", &self.certificate_name, Star::Refused)?;
        for range in &self.relay_ip_ranges {
            validate::ip_range("relay_ip_ranges", range)?;
        }
        self.loop_header.validate()?;
        for (field, name) in [
            ("names.outbound_connector", &self.names.outbound_connector),
            ("names.inbound_connector", &self.names.inbound_connector),
            ("names.routing_rule", &self.names.routing_rule),
            ("names.auto_reply_rule", &self.names.auto_reply_rule),
        ] {
            validate::name(field, name)?;
        }
        if self
            .names
            .routing_rule
            .eq_ignore_ascii_case(&self.names.auto_reply_rule)
        {
            return Err(Error::validation(
                "names.auto_reply_rule",
                "must differ from names.routing_rule",
            ));
        }
        if self.comment_marker.trim().is_empty() || self.comment_marker.len() > 200 {
            return Err(Error::validation(
                "comment_marker",
                "must be 1-200 characters of visible text",
            ));
        }
        Ok(())
    }
}

/// Builds a [`ServiceProfile`].
#[derive(Debug, Clone, Default)]
pub struct ServiceProfileBuilder {
    smart_hosts: Vec<String>,
    tls_domain: Option<String>,
    certificate_name: String,
    relay_ip_ranges: Vec<String>,
    loop_header: LoopHeader,
    names: ObjectNames,
    comment_marker: Option<String>,
    cloud_services_mail_enabled: Option<bool>,
}

impl ServiceProfileBuilder {
    /// The service's smart hosts.
    pub fn smart_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.smart_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// The smart host certificate's name (defaults to the first smart host).
    pub fn tls_domain(mut self, domain: impl Into<String>) -> Self {
        self.tls_domain = Some(domain.into());
        self
    }

    /// The certificate name the service's relay presents.
    pub fn certificate_name(mut self, name: impl Into<String>) -> Self {
        self.certificate_name = name.into();
        self
    }

    /// The IP ranges of the service's relays.
    pub fn relay_ip_ranges<I, S>(mut self, ranges: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.relay_ip_ranges = ranges.into_iter().map(Into::into).collect();
        self
    }

    /// The loop-prevention header.
    pub fn loop_header(mut self, header: LoopHeader) -> Self {
        self.loop_header = header;
        self
    }

    /// The names of the created objects.
    pub fn names(mut self, names: ObjectNames) -> Self {
        self.names = names;
        self
    }

    /// The ownership marker written into comments.
    pub fn comment_marker(mut self, marker: impl Into<String>) -> Self {
        self.comment_marker = Some(marker.into());
        self
    }

    /// `CloudServicesMailEnabled` on both connectors.
    pub fn cloud_services_mail_enabled(mut self, enabled: bool) -> Self {
        self.cloud_services_mail_enabled = Some(enabled);
        self
    }

    /// Validates and returns the profile.
    pub fn build(self) -> Result<ServiceProfile> {
        let tls_domain = self
            .tls_domain
            .or_else(|| self.smart_hosts.first().cloned())
            .unwrap_or_default();
        let profile = ServiceProfile {
            smart_hosts: self.smart_hosts,
            tls_domain,
            certificate_name: self.certificate_name,
            relay_ip_ranges: self.relay_ip_ranges,
            loop_header: self.loop_header,
            names: self.names,
            comment_marker: self.comment_marker.unwrap_or_else(default_marker),
            cloud_services_mail_enabled: self.cloud_services_mail_enabled.unwrap_or(true),
        };
        profile.validate()?;
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ServiceProfileBuilder {
        ServiceProfile::builder()
            .smart_hosts(["smtp.signatures.example.com"])
            .certificate_name("tenant1.smtp.signatures.example.com")
    }

    #[test]
    fn profile_validation_names_the_field() {
        let field = |b: ServiceProfileBuilder| match b.build().unwrap_err() {
            Error::Validation { field, .. } => field,
            e => panic!("{e:?}"),
        };
        assert_eq!(
            field(base().smart_hosts(Vec::<String>::new())),
            "smart_hosts"
        );
        assert_eq!(field(base().certificate_name("*")), "certificate_name");
        assert_eq!(field(base().relay_ip_ranges(["x"])), "relay_ip_ranges");
        let names = ObjectNames {
            routing_rule: "r".repeat(65),
            ..ObjectNames::default()
        };
        assert_eq!(field(base().names(names)), "names.routing_rule");
    }

    #[test]
    fn profile_loads_from_json_with_defaults() {
        let p = ServiceProfile::from_json(
            r#"{"smart_hosts": ["smtp.signatures.example.com"], "tls_domain": "",
                "certificate_name": "tenant1.smtp.signatures.example.com"}"#,
        )
        .unwrap();
        assert_eq!(p, base().build().unwrap());
        assert!(ServiceProfile::from_json("{}").is_err());
    }
}
