//! Building a [`SignatureEngine`]: everything is validated and compiled here, at load time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::directory::{Directory, InMemoryDirectory};
use super::engine::SignatureEngine;
use super::images::SignatureImage;
use super::policy::{RecipientScope, Rule};
use super::template::{Flavor, Templates};
use super::{UserAttributes, STANDARD_ATTRIBUTES};
use crate::{Error, LoopHeader, Result};

/// An HTML and a plain-text template, as given (before compilation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplatePair {
    /// The HTML template (values are escaped).
    pub html: String,
    /// The plain-text template.
    pub text: String,
}

impl TemplatePair {
    /// A pair from HTML and text sources.
    pub fn new(html: impl Into<String>, text: impl Into<String>) -> Self {
        TemplatePair {
            html: html.into(),
            text: text.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Compiled {
    pub(super) html: String,
    pub(super) text: String,
}

#[derive(Clone)]
pub(super) enum Source {
    None,
    Memory(Arc<InMemoryDirectory>),
    Other(Arc<dyn Directory>),
}

/// Builds a [`SignatureEngine`]; [`SignatureEngineBuilder::build`] compiles and checks every
/// template and reference, so errors surface at load time.
#[derive(Default)]
pub struct SignatureEngineBuilder {
    signatures: BTreeMap<String, TemplatePair>,
    disclaimers: BTreeMap<String, TemplatePair>,
    images: Vec<SignatureImage>,
    rules: Vec<Rule>,
    accepted_domains: Vec<String>,
    custom: BTreeSet<String>,
    fallback: UserAttributes,
    loop_header: Option<LoopHeader>,
    keep_empty_lines: bool,
    directory: Option<Source>,
    render_cache: Option<usize>,
}

impl std::fmt::Debug for SignatureEngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureEngineBuilder")
            .field("signatures", &self.signatures.keys().collect::<Vec<_>>())
            .field("disclaimers", &self.disclaimers.keys().collect::<Vec<_>>())
            .field("rules", &self.rules.len())
            .field("accepted_domains", &self.accepted_domains)
            .finish_non_exhaustive()
    }
}

impl SignatureEngineBuilder {
    /// Adds a signature under `name` (HTML and plain-text templates).
    pub fn signature(mut self, name: impl Into<String>, templates: TemplatePair) -> Self {
        self.signatures.insert(name.into(), templates);
        self
    }

    /// Adds a disclaimer under `name`; it goes at the very bottom of the message.
    pub fn disclaimer(mut self, name: impl Into<String>, templates: TemplatePair) -> Self {
        self.disclaimers.insert(name.into(), templates);
        self
    }

    /// Adds an image, used in templates as `{{ images.<name> }}`.
    pub fn image(mut self, image: SignatureImage) -> Self {
        self.images.push(image);
        self
    }

    /// Appends a rule (rules are evaluated in the order added).
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The tenant's accepted domains: recipients in them are internal.
    pub fn accepted_domains<I: IntoIterator<Item = S>, S: Into<String>>(mut self, d: I) -> Self {
        self.accepted_domains = d
            .into_iter()
            .map(|d| d.into().trim().to_ascii_lowercase())
            .collect();
        self
    }

    /// Declares custom attributes templates may use by name.
    pub fn custom_attributes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Self {
        self.custom.extend(a.into_iter().map(Into::into));
        self
    }

    /// Values for fields the directory has no value for (or for unknown users).
    pub fn fallback(mut self, fallback: UserAttributes) -> Self {
        self.fallback = fallback;
        self
    }

    /// The loop-prevention header (the same as the setup engine's service profile).
    pub fn loop_header(mut self, header: LoopHeader) -> Self {
        self.loop_header = Some(header);
        self
    }

    /// How many renderings to remember (default 1024; 0 renders every message afresh). The
    /// cache keys on the whole input, so it never changes what a message gets.
    pub fn render_cache(mut self, capacity: usize) -> Self {
        self.render_cache = Some(capacity);
        self
    }

    /// Keeps template lines whose placeholders are all empty (off by default: they vanish).
    pub fn keep_empty_lines(mut self, keep: bool) -> Self {
        self.keep_empty_lines = keep;
        self
    }

    /// Uses a directory (e.g. [`GraphDirectory`](super::GraphDirectory)) for lookups.
    pub fn directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.directory = Some(Source::Other(directory));
        self
    }

    /// Uses an in-memory directory; the synchronous calls can then look users up.
    pub fn memory_directory(mut self, directory: InMemoryDirectory) -> Self {
        self.directory = Some(Source::Memory(Arc::new(directory)));
        self
    }

    /// Validates the configuration and compiles every template.
    pub fn build(self) -> Result<SignatureEngine> {
        let standard: BTreeSet<&str> = STANDARD_ATTRIBUTES
            .iter()
            .chain(super::attributes::DERIVED_PLACEHOLDERS)
            .copied()
            .collect();
        for c in &self.custom {
            let ident = c.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic())
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if !ident || standard.contains(c.as_str()) {
                return Err(Error::validation(
                    "custom_attributes",
                    format!("{c:?} must be an identifier that is not a standard attribute"),
                ));
            }
        }
        for d in &self.accepted_domains {
            let d = d.trim();
            if d.is_empty() || d.contains(['@', ' ', '/']) {
                return Err(Error::validation(
                    "accepted_domains",
                    format!("{d:?} is not a domain name"),
                ));
            }
        }
        let loop_header = self.loop_header.unwrap_or_default();
        loop_header.validate()?;
        let mut image_refs = BTreeMap::new();
        for img in &self.images {
            let (name, r) = (img.name().to_owned(), img.reference().to_owned());
            if image_refs.insert(name, r).is_some() {
                return Err(Error::Config(format!(
                    "image {:?} defined twice",
                    img.name()
                )));
            }
        }
        let mut templates = Templates::new(&self.custom, &image_refs);
        let collapse = !self.keep_empty_lines;
        let mut compile = |kind: &str, name: &str, t: &TemplatePair| -> Result<Compiled> {
            let base = format!("{kind}/{name}");
            Ok(Compiled {
                html: templates.add(&base, &t.html, Flavor::Html, collapse)?,
                text: templates.add(&base, &t.text, Flavor::Text, collapse)?,
            })
        };
        let mut signatures = HashMap::new();
        for (name, t) in &self.signatures {
            signatures.insert(name.clone(), compile("signature", name, t)?);
        }
        let mut disclaimers = HashMap::new();
        for (name, t) in &self.disclaimers {
            disclaimers.insert(name.clone(), compile("disclaimer", name, t)?);
        }
        let mut rule_names = BTreeSet::new();
        for rule in &self.rules {
            let field = |f: &str| format!("rules[{}].{f}", rule.name);
            if !rule_names.insert(rule.name.clone()) {
                return Err(Error::validation(
                    field("name"),
                    "rule names must be unique",
                ));
            }
            if let Some(s) = rule
                .signature
                .as_ref()
                .filter(|s| !signatures.contains_key(*s))
            {
                return Err(Error::validation(
                    field("signature"),
                    format!("no signature {s:?}"),
                ));
            }
            if let Some(d) = rule
                .disclaimer
                .as_ref()
                .filter(|d| !disclaimers.contains_key(*d))
            {
                return Err(Error::validation(
                    field("disclaimer"),
                    format!("no disclaimer {d:?}"),
                ));
            }
            for attr in rule.senders.attributes.keys() {
                if !standard.contains(attr.as_str()) && !self.custom.contains(attr) {
                    return Err(Error::validation(
                        field("senders.attributes"),
                        format!("unknown attribute {attr:?}"),
                    ));
                }
            }
            let needs_domains = matches!(
                rule.recipients,
                RecipientScope::Internal | RecipientScope::External
            );
            if needs_domains && self.accepted_domains.is_empty() {
                return Err(Error::validation(
                    "accepted_domains",
                    format!("rule {:?} needs the tenant's accepted domains", rule.name),
                ));
            }
        }
        Ok(SignatureEngine {
            templates,
            signatures,
            disclaimers,
            images: self.images,
            rules: self.rules,
            accepted_domains: self.accepted_domains,
            fallback: self.fallback,
            loop_header,
            directory: self.directory.unwrap_or(Source::None),
            render_cache: super::cache::RenderCache::new(
                self.render_cache
                    .unwrap_or(super::cache::DEFAULT_RENDER_CACHE),
            ),
        })
    }
}
