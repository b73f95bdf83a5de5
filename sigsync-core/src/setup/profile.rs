//! The signature service's side of the setup: where mail goes, how the service's relay
//! authenticates when it sends mail back, the loop header, and what the created objects are
//! called.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::loop_header::check_value;
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
/// The loop header's value is random per tenant: the builder (and
/// [`ServiceProfile::create_from_json`]) generate it when the profile is first made, and the
/// profile keeps it from then on. Persist the profile ([`ServiceProfile::save`]): a re-run
/// with another value would not converge. The readers of an existing profile
/// ([`ServiceProfile::from_json`], [`ServiceProfile::load`], serde) refuse a profile without
/// a value, naming `loop_header.value`, instead of making one up.
///
/// The value can be rotated in two phases, each applied with a configure run: see
/// [`ServiceProfile::begin_loop_header_rotation`].
///
/// ```
/// use sigsync_core::setup::ServiceProfile;
///
/// let profile = ServiceProfile::builder()
///     .smart_hosts(["smtp.signatures.example.com"])
///     .certificate_name("tenant1.smtp.signatures.example.com")
///     .build()?;
/// assert_eq!(profile.tls_domain, "smtp.signatures.example.com");
/// assert_eq!(profile.loop_header.value.len(), 32); // random, kept in the profile
/// let again = ServiceProfile::from_json(&profile.to_json())?;
/// assert_eq!(again, profile);
/// # Ok::<(), sigsync_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProfileFile")]
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
    pub relay_ip_ranges: Vec<String>,
    /// The loop-prevention header the service stamps on processed mail (random value).
    pub loop_header: LoopHeader,
    /// Values the routing rule accepts as processed besides `loop_header.value`: the other
    /// value while a rotation is under way, empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_loop_header_values: Vec<String>,
    /// The names of the created objects.
    pub names: ObjectNames,
    /// The marker written into each object's comment: how sigsync recognises what it owns.
    pub comment_marker: String,
    /// `CloudServicesMailEnabled` on both connectors (keeps Exchange's internal headers
    /// across the round trip; default true, as the add-on service recipe sets it).
    pub cloud_services_mail_enabled: bool,
}

/// A profile file as written: everything but the smart hosts and the certificate name may be
/// left out; unknown keys are ignored (other tools may keep more per tenant in the file).
#[derive(Deserialize)]
struct ProfileFile {
    #[serde(default)]
    smart_hosts: Vec<String>,
    #[serde(default)]
    tls_domain: Option<String>,
    #[serde(default)]
    certificate_name: String,
    #[serde(default)]
    relay_ip_ranges: Vec<String>,
    #[serde(default)]
    loop_header: Option<LoopHeaderFile>,
    #[serde(default)]
    extra_loop_header_values: Vec<String>,
    #[serde(default)]
    names: ObjectNames,
    #[serde(default)]
    comment_marker: Option<String>,
    #[serde(default)]
    cloud_services_mail_enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoopHeaderFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

impl ProfileFile {
    /// The profile: `generate` says whether a missing loop-header value is made up (a new
    /// profile) or an error (an existing one).
    fn into_profile(self, generate: bool) -> Result<ServiceProfile> {
        let (name, value) = match self.loop_header {
            Some(h) => (h.name, h.value),
            None => (None, None),
        };
        let value = match value {
            Some(v) => v,
            None if generate => LoopHeader::random_value(),
            None => {
                return Err(Error::validation(
                    "loop_header.value",
                    "missing: a service profile keeps its tenant's random loop-header value; \
                     create the profile with the setup (it generates the value and saves it), \
                     or copy the value the tenant's routing rule excepts",
                ))
            }
        };
        let name = name.unwrap_or_else(|| LoopHeader::DEFAULT_NAME.to_owned());
        let mut b = ServiceProfile::builder()
            .smart_hosts(self.smart_hosts)
            .certificate_name(self.certificate_name)
            .relay_ip_ranges(self.relay_ip_ranges)
            .loop_header(LoopHeader { name, value })
            .extra_loop_header_values(self.extra_loop_header_values)
            .names(self.names);
        if let Some(d) = self.tls_domain.filter(|d| !d.is_empty()) {
            b = b.tls_domain(d);
        }
        if let Some(m) = self.comment_marker {
            b = b.comment_marker(m);
        }
        if let Some(c) = self.cloud_services_mail_enabled {
            b = b.cloud_services_mail_enabled(c);
        }
        b.build()
    }
}

impl TryFrom<ProfileFile> for ServiceProfile {
    type Error = Error;
    fn try_from(file: ProfileFile) -> Result<Self> {
        file.into_profile(false)
    }
}

fn default_marker() -> String {
    "Managed by sigsync; do not edit.".into()
}

fn parse(json: &str) -> Result<ProfileFile> {
    serde_json::from_str(json).map_err(|e| Error::Config(format!("service profile: {e}")))
}

impl ServiceProfile {
    /// Starts a builder.
    pub fn builder() -> ServiceProfileBuilder {
        ServiceProfileBuilder::default()
    }

    /// Reads an existing profile from JSON (the `--profile` file of the setup example) and
    /// validates it. `tls_domain` may be left out (the first smart host); a missing
    /// `loop_header.value` is an error (see the type's docs).
    pub fn from_json(json: &str) -> Result<Self> {
        parse(json)?.into_profile(false)
    }

    /// A new profile from JSON: as [`ServiceProfile::from_json`], but a missing loop-header
    /// value is generated. Keep the result ([`ServiceProfile::save`]): every call makes
    /// another value.
    pub fn create_from_json(json: &str) -> Result<Self> {
        parse(json)?.into_profile(true)
    }

    /// Reads an existing profile from a JSON file ([`ServiceProfile::from_json`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_json(&read(path.as_ref())?)
    }

    /// Reads a profile file; when it has no loop-header value yet, generates one and writes
    /// the completed profile back to the file. Returns the profile and whether the file was
    /// written.
    pub fn load_or_init(path: impl AsRef<Path>) -> Result<(Self, bool)> {
        let path = path.as_ref();
        let file = parse(&read(path)?)?;
        let complete = file.loop_header.as_ref().is_some_and(|h| h.value.is_some());
        let profile = file
            .into_profile(true)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        if !complete {
            profile.save(path)?;
        }
        Ok((profile, !complete))
    }

    /// Writes the profile as JSON, replacing `path` in one step (a temporary file renamed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, self.to_json() + "\n")
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))
    }

    /// The profile as JSON, every field written out.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// Every loop-header value the routing rule accepts as processed: the stamped one first.
    pub fn accepted_loop_header_values(&self) -> Vec<&str> {
        std::iter::once(self.loop_header.value.as_str())
            .chain(self.extra_loop_header_values.iter().map(String::as_str))
            .collect()
    }

    /// Rotation, phase 1: adds a new random value that the routing rule accepts besides the
    /// current one, and returns it. Save the profile and run configure: the rule then excepts
    /// both values while the service still stamps the old one.
    pub fn begin_loop_header_rotation(&mut self) -> String {
        let value = LoopHeader::random_value();
        self.extra_loop_header_values.push(value.clone());
        value
    }

    /// Rotation, phase 2: the service stamps `value` (one of the extra values) from now on;
    /// the old value stays accepted. Save the profile and reload it in the service (a
    /// configure run now only updates the auto-reply rule's stamp).
    pub fn switch_loop_header(&mut self, value: &str) -> Result<()> {
        let Some(i) = self
            .extra_loop_header_values
            .iter()
            .position(|v| v == value)
        else {
            return Err(Error::validation(
                "extra_loop_header_values",
                format!("{value:?} is not an extra value: begin the rotation first"),
            ));
        };
        let old = std::mem::replace(
            &mut self.loop_header.value,
            self.extra_loop_header_values.remove(i),
        );
        self.extra_loop_header_values.push(old);
        Ok(())
    }

    /// Rotation, phase 3: once the service stamps only the new value (and mail stamped with
    /// the old one has drained), drops the extra values. Save and run configure.
    pub fn finish_loop_header_rotation(&mut self) {
        self.extra_loop_header_values.clear();
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
        for (i, v) in self.extra_loop_header_values.iter().enumerate() {
            check_value("extra_loop_header_values", v)?;
            if self.accepted_loop_header_values()[..=i].contains(&v.as_str()) {
                return Err(Error::validation(
                    "extra_loop_header_values",
                    format!("{v:?} is listed twice (or is loop_header.value)"),
                ));
            }
        }
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

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read profile {}: {e}", path.display())))
}

/// Builds a [`ServiceProfile`].
#[derive(Debug, Clone, Default)]
pub struct ServiceProfileBuilder {
    smart_hosts: Vec<String>,
    tls_domain: Option<String>,
    certificate_name: String,
    relay_ip_ranges: Vec<String>,
    loop_header: Option<LoopHeader>,
    extra_loop_header_values: Vec<String>,
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

    /// The loop-prevention header (default: [`LoopHeader::generate`], a new random value).
    pub fn loop_header(mut self, header: LoopHeader) -> Self {
        self.loop_header = Some(header);
        self
    }

    /// Values the routing rule accepts besides the loop header's (a rotation under way).
    pub fn extra_loop_header_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_loop_header_values = values.into_iter().map(Into::into).collect();
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
            loop_header: self.loop_header.unwrap_or_else(LoopHeader::generate),
            extra_loop_header_values: self.extra_loop_header_values,
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
            .loop_header(LoopHeader::new("X-Sigsync-Processed", "v1").unwrap())
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
        assert_eq!(
            field(base().extra_loop_header_values(["v1"])),
            "extra_loop_header_values"
        );
        assert_eq!(
            field(base().extra_loop_header_values(["a b"])),
            "extra_loop_header_values"
        );
    }

    #[test]
    fn one_reader_defaults_tls_domain_to_the_first_smart_host() {
        for json in [
            r#"{"smart_hosts": ["smtp.signatures.example.com"], "tls_domain": "",
                "certificate_name": "tenant1.smtp.signatures.example.com",
                "loop_header": {"value": "v1"}}"#,
            r#"{"smart_hosts": ["smtp.signatures.example.com"],
                "certificate_name": "tenant1.smtp.signatures.example.com",
                "loop_header": {"name": "X-Sigsync-Processed", "value": "v1"}}"#,
        ] {
            let p = ServiceProfile::from_json(json).unwrap();
            assert_eq!(p, base().build().unwrap());
            let via_serde: ServiceProfile = serde_json::from_str(json).unwrap();
            assert_eq!(via_serde, p);
        }
        assert!(ServiceProfile::from_json("{}").is_err());
    }

    #[test]
    fn existing_profile_without_a_loop_header_value_is_refused_and_a_new_one_gets_a_random_value() {
        let json = r#"{"smart_hosts": ["smtp.signatures.example.com"],
                       "certificate_name": "tenant1.smtp.signatures.example.com"}"#;
        let e = ServiceProfile::from_json(json).unwrap_err();
        assert!(e.to_string().contains("loop_header.value"), "{e}");
        let e = serde_json::from_str::<ServiceProfile>(json).unwrap_err();
        assert!(e.to_string().contains("loop_header.value"), "{e}");
        let a = ServiceProfile::create_from_json(json).unwrap();
        let b = ServiceProfile::create_from_json(json).unwrap();
        assert_ne!(a.loop_header.value, b.loop_header.value);
        assert_eq!(ServiceProfile::from_json(&a.to_json()).unwrap(), a);
        let built = ServiceProfile::builder()
            .smart_hosts(["smtp.signatures.example.com"])
            .certificate_name("tenant1.smtp.signatures.example.com")
            .build()
            .unwrap();
        assert_ne!(built.loop_header.value, LoopHeader::DEFAULT_VALUE);
    }

    #[test]
    fn load_or_init_writes_the_generated_value_once() {
        let dir = std::env::temp_dir().join(format!("sigsync-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("profile.json");
        std::fs::write(
            &path,
            r#"{"smart_hosts": ["smtp.signatures.example.com"],
                "certificate_name": "tenant1.smtp.signatures.example.com"}"#,
        )
        .unwrap();
        let (first, written) = ServiceProfile::load_or_init(&path).unwrap();
        assert!(written);
        let (second, written) = ServiceProfile::load_or_init(&path).unwrap();
        assert!(!written);
        assert_eq!(first, second);
        assert_eq!(ServiceProfile::load(&path).unwrap(), first);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn rotation_accepts_both_values_then_switches_then_drops_the_old() {
        let mut p = base().build().unwrap();
        let new = p.begin_loop_header_rotation();
        assert_eq!(p.accepted_loop_header_values(), ["v1", new.as_str()]);
        assert_eq!(p.loop_header.value, "v1");
        p.switch_loop_header(&new).unwrap();
        assert_eq!(p.loop_header.value, new);
        assert_eq!(p.accepted_loop_header_values(), [new.as_str(), "v1"]);
        p.finish_loop_header_rotation();
        assert_eq!(p.accepted_loop_header_values(), [new.as_str()]);
        assert!(p.switch_loop_header("v1").is_err());
    }
}
