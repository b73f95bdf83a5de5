//! The signature engine: policy + directory + compiled templates, one call per message.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::directory::{Directory, InMemoryDirectory};
use super::images::SignatureImage;
use super::policy::RecipientScope;
use super::policy::{
    bare_address, normalize_address, MessageContext, NoSignatureReason, PreMatch, Rule,
};
use super::template::{escape_html, Flavor, Templates};
use super::{
    Origin, RenderedSignature, UserAttributes, HTML_MARKER_ATTR, MARKER_DISCLAIMER,
    STANDARD_ATTRIBUTES,
};
use crate::{Error, LoopHeader, Result};

/// The outcome of the policy for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Add this signature (and/or disclaimer).
    Sign(RenderedSignature),
    /// Add nothing, for this reason.
    NoSignature(NoSignatureReason),
}

impl Choice {
    /// The rendered signature, if any.
    pub fn signature(&self) -> Option<&RenderedSignature> {
        match self {
            Choice::Sign(s) => Some(s),
            Choice::NoSignature(_) => None,
        }
    }
}

/// What the engine knows about a sender when the caller supplies it (no directory lookup).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderData {
    /// The sender's attributes; `None` when unknown (the fallback is used).
    pub attributes: Option<UserAttributes>,
    /// Groups (ids or mail addresses) the sender is a member of, transitively.
    pub groups: Vec<String>,
}

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
struct Compiled {
    html: String,
    text: String,
}

#[derive(Clone)]
enum Source {
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
            .map(|d| d.into().to_ascii_lowercase())
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
        })
    }
}

/// Chooses and renders the signature for each message (server-side) or for a compose window
/// (client-side). Cheap to share behind an `Arc`; templates are compiled once, at build.
pub struct SignatureEngine {
    templates: Templates,
    signatures: HashMap<String, Compiled>,
    disclaimers: HashMap<String, Compiled>,
    images: Vec<SignatureImage>,
    rules: Vec<Rule>,
    accepted_domains: Vec<String>,
    fallback: UserAttributes,
    loop_header: LoopHeader,
    directory: Source,
}

impl std::fmt::Debug for SignatureEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureEngine")
            .field("signatures", &self.signatures.keys().collect::<Vec<_>>())
            .field("disclaimers", &self.disclaimers.keys().collect::<Vec<_>>())
            .field(
                "rules",
                &self.rules.iter().map(|r| &r.name).collect::<Vec<_>>(),
            )
            .field("accepted_domains", &self.accepted_domains)
            .finish_non_exhaustive()
    }
}

impl SignatureEngine {
    /// A builder with no signatures, rules or directory.
    pub fn builder() -> SignatureEngineBuilder {
        SignatureEngineBuilder::default()
    }

    /// The loop-prevention header the injector stamps.
    pub fn loop_header(&self) -> &LoopHeader {
        &self.loop_header
    }

    /// The tenant's accepted domains (what "internal" means).
    pub fn accepted_domains(&self) -> &[String] {
        &self.accepted_domains
    }

    /// The rules, in priority order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Chooses and renders the server-side signature for a message, looking the sender up in
    /// the directory. Directory failures never stop mail: the sender is then treated as unknown
    /// (fallback attributes, no group membership) and the failure is logged.
    pub async fn choose(&self, ctx: &MessageContext) -> Result<Choice> {
        self.choose_async(ctx, Origin::Server).await
    }

    /// Like [`SignatureEngine::choose`], rendered for the compose-time add-in (client marker).
    pub async fn choose_client_side(&self, ctx: &MessageContext) -> Result<Choice> {
        self.choose_async(ctx, Origin::Client).await
    }

    /// The synchronous hot path: looks the sender up in the in-memory directory (or uses only
    /// the fallback when there is none). Fails with a configuration error when the engine uses
    /// an asynchronous directory such as Graph: call [`SignatureEngine::choose`] then.
    pub fn choose_sync(&self, ctx: &MessageContext) -> Result<Choice> {
        let sender = match &self.directory {
            Source::Other(_) => {
                return Err(Error::Config(
                    "this engine uses an asynchronous directory: call choose()".into(),
                ))
            }
            Source::None => SenderData::default(),
            Source::Memory(dir) => SenderData {
                attributes: dir.get_user(&ctx.sender).cloned(),
                groups: Vec::new(),
            },
        };
        self.decide(ctx, sender.attributes.as_ref(), Origin::Server, |g| {
            self.memory_member(&ctx.sender, g, &sender.groups)
        })
    }

    /// Chooses and renders with sender data the caller supplies (no directory lookup).
    pub fn choose_with(
        &self,
        ctx: &MessageContext,
        sender: &SenderData,
        origin: Origin,
    ) -> Result<Choice> {
        self.decide(ctx, sender.attributes.as_ref(), origin, |g| {
            self.memory_member(&ctx.sender, g, &sender.groups)
        })
    }

    /// Client-side mode: renders the signature for `user` composing a message described by
    /// `ctx` (new or reply, recipients so far), as HTML and text carrying the client marker,
    /// so the server-side injector does not sign the message again. Group rules use the
    /// in-memory directory, if any.
    pub fn render_client_side(
        &self,
        user: &UserAttributes,
        ctx: &MessageContext,
    ) -> Result<Choice> {
        let mut ctx = ctx.clone();
        if ctx.sender.is_empty() {
            ctx.sender = user.mail.clone().unwrap_or_default();
        }
        self.decide(&ctx, Some(user), Origin::Client, |g| {
            self.memory_member(&ctx.sender, g, &[])
        })
    }

    /// Renders one named signature (and optionally a disclaimer) for `user`, bypassing the
    /// policy: for previews and tests.
    pub fn render(
        &self,
        signature: Option<&str>,
        disclaimer: Option<&str>,
        user: &UserAttributes,
        origin: Origin,
    ) -> Result<RenderedSignature> {
        let sig = signature
            .map(|s| {
                self.signatures
                    .get(s)
                    .ok_or_else(|| Error::validation("signature", format!("no signature {s:?}")))
            })
            .transpose()?;
        let dis = disclaimer
            .map(|d| {
                self.disclaimers
                    .get(d)
                    .ok_or_else(|| Error::validation("disclaimer", format!("no disclaimer {d:?}")))
            })
            .transpose()?;
        let user = user.clone().or_fallback(&self.fallback);
        let ctx = self.templates.context(&user);
        let mut out = RenderedSignature::default();
        if let Some(c) = sig {
            let html = self.templates.render(&c.html, &ctx)?;
            if !html.is_empty() {
                out.html = format!(
                    "<div {HTML_MARKER_ATTR}=\"{}\">{}{html}</div>",
                    origin.marker(),
                    origin.text_marker()
                );
            }
            let text = self.templates.render(&c.text, &ctx)?;
            if !text.is_empty() {
                out.text = format!("{}{text}", origin.text_marker());
            }
        }
        if let Some(c) = dis {
            let html = self.templates.render(&c.html, &ctx)?;
            if !html.is_empty() {
                out.disclaimer_html = Some(format!(
                    "<div {HTML_MARKER_ATTR}=\"{MARKER_DISCLAIMER}\">{html}</div>"
                ));
            }
            let text = self.templates.render(&c.text, &ctx)?;
            out.disclaimer_text = (!text.is_empty()).then_some(text);
        }
        let all_html = format!(
            "{}{}",
            out.html,
            out.disclaimer_html.as_deref().unwrap_or("")
        );
        out.images = self
            .images
            .iter()
            .filter_map(|i| i.inline_part())
            .filter(|p| {
                all_html.contains(&format!("cid:{}", p.content_id))
                    || all_html.contains(&format!("cid:{}", escape_html(&p.content_id)))
            })
            .cloned()
            .collect();
        Ok(out)
    }

    fn memory_member(&self, sender: &str, group: &str, known: &[String]) -> bool {
        if known
            .iter()
            .any(|k| normalize_address(k) == normalize_address(group))
        {
            return true;
        }
        match &self.directory {
            Source::Memory(dir) => dir.member_of(sender, group),
            _ => false,
        }
    }

    async fn choose_async(&self, ctx: &MessageContext, origin: Origin) -> Result<Choice> {
        let dir: Arc<dyn Directory> = match &self.directory {
            Source::None => return self.choose_with(ctx, &SenderData::default(), origin),
            Source::Memory(d) => d.clone(),
            Source::Other(d) => d.clone(),
        };
        let attributes = match dir.user(&ctx.sender).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(sender = %ctx.sender, error = %e, "directory lookup failed; signing without directory data");
                None
            }
        };
        // Resolve group membership only for the rules that get that far, in order.
        let mut memberships: HashMap<String, bool> = HashMap::new();
        for rule in &self.rules {
            if let PreMatch::NeedsGroups(groups) =
                rule.pre_match(ctx, &self.accepted_domains, attributes.as_ref())
            {
                let mut any = false;
                for g in groups {
                    let key = normalize_address(g);
                    let member = match memberships.get(&key) {
                        Some(m) => *m,
                        None => {
                            let m = dir.is_member(&ctx.sender, g).await.unwrap_or_else(|e| {
                                tracing::warn!(sender = %ctx.sender, group = %g, error = %e, "membership lookup failed; treating as not a member");
                                false
                            });
                            memberships.insert(key, m);
                            m
                        }
                    };
                    if member {
                        any = true;
                        break;
                    }
                }
                if any {
                    break;
                }
            }
        }
        self.decide(ctx, attributes.as_ref(), origin, |g| {
            memberships
                .get(&normalize_address(g))
                .copied()
                .unwrap_or(false)
        })
    }

    fn decide(
        &self,
        ctx: &MessageContext,
        attributes: Option<&UserAttributes>,
        origin: Origin,
        mut is_member: impl FnMut(&str) -> bool,
    ) -> Result<Choice> {
        let matched = self.rules.iter().find(|rule| {
            match rule.pre_match(ctx, &self.accepted_domains, attributes) {
                PreMatch::No => false,
                PreMatch::Yes => true,
                PreMatch::NeedsGroups(groups) => groups.iter().any(|g| is_member(g)),
            }
        });
        let Some(rule) = matched else {
            return Ok(Choice::NoSignature(NoSignatureReason::NoRuleMatched));
        };
        if rule.signature.is_none() && rule.disclaimer.is_none() {
            return Ok(Choice::NoSignature(NoSignatureReason::RuleAddsNothing(
                rule.name.clone(),
            )));
        }
        tracing::debug!(rule = %rule.name, sender = %ctx.sender, "signature rule matched");
        let user = match attributes {
            Some(a) => a.clone(),
            None => UserAttributes::with_mail(bare_address(&ctx.sender)),
        };
        self.render(
            rule.signature.as_deref(),
            rule.disclaimer.as_deref(),
            &user,
            origin,
        )
        .map(Choice::Sign)
    }
}
