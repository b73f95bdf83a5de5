//! The signature engine: policy + directory + compiled templates, one call per message.

use std::collections::HashMap;
use std::sync::Arc;

use super::builder::{Compiled, SignatureEngineBuilder, Source};
use super::directory::Directory;
use super::images::SignatureImage;
use super::policy::{
    bare_address, normalize_address, MessageContext, NoSignatureReason, PreMatch, Rule,
};
use super::template::{escape_html, Templates};
use super::{Origin, RenderedSignature, UserAttributes, HTML_MARKER_ATTR, MARKER_DISCLAIMER};
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

/// Chooses and renders the signature for each message (server-side) or for a compose window
/// (client-side). Cheap to share behind an `Arc`; templates are compiled once, at build.
pub struct SignatureEngine {
    pub(super) templates: Templates,
    pub(super) signatures: HashMap<String, Compiled>,
    pub(super) disclaimers: HashMap<String, Compiled>,
    pub(super) images: Vec<SignatureImage>,
    pub(super) rules: Vec<Rule>,
    pub(super) accepted_domains: Vec<String>,
    pub(super) fallback: UserAttributes,
    pub(super) loop_header: LoopHeader,
    pub(super) directory: Source,
    pub(super) render_cache: super::cache::RenderCache,
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

    /// The synchronous hot path: looks the sender up in the in-memory directory (or uses only
    /// the fallback when there is none). Fails with a configuration error when the engine uses
    /// an asynchronous directory such as Graph: call [`SignatureEngine::choose`] then.
    pub fn choose_sync(&self, ctx: &MessageContext) -> Result<Choice> {
        match &self.directory {
            Source::Other(_) => Err(Error::Config(
                "this engine uses an asynchronous directory: call choose()".into(),
            )),
            Source::None => self.choose_for(ctx, None, Origin::Server),
            Source::Memory(dir) => self.choose_for(ctx, dir.get_user(&ctx.sender), Origin::Server),
        }
    }

    /// Chooses and renders with sender data the caller supplies (no directory lookup: group
    /// rules match only the groups in `sender` and in its attributes' `groups`).
    pub fn choose_with(
        &self,
        ctx: &MessageContext,
        sender: &SenderData,
        origin: Origin,
    ) -> Result<Choice> {
        let listed = sender
            .attributes
            .as_ref()
            .and_then(|a| a.groups.as_deref())
            .unwrap_or_default();
        self.decide(ctx, sender.attributes.as_ref(), origin, |g| {
            let g = normalize_address(g);
            Ok(sender
                .groups
                .iter()
                .chain(listed)
                .any(|k| normalize_address(k) == g))
        })
    }

    /// Looks the sender up ahead of the message (e.g. at SMTP `MAIL FROM`, while the data is
    /// still arriving): the directory's attributes and the groups, among those the enabled
    /// rules name, that the sender is a member of. Feed the result to
    /// [`SignatureEngine::choose_with`] (or `SignatureInjector::prepare_with_sender`); it
    /// decides as [`SignatureEngine::choose`] would. Directory failures never stop mail: they
    /// are logged and the sender is treated as unknown.
    pub async fn sender_data(&self, sender: &str) -> SenderData {
        let dir: Arc<dyn Directory> = match &self.directory {
            Source::None => return SenderData::default(),
            Source::Memory(d) => d.clone(),
            Source::Other(d) => d.clone(),
        };
        let attributes = dir.user(sender).await.unwrap_or_else(|e| {
            tracing::warn!(sender, error = %e, "directory lookup failed; signing without directory data");
            None
        });
        let mut groups: Vec<String> = Vec::new();
        for g in self
            .rules
            .iter()
            .filter(|r| r.enabled)
            .flat_map(|r| &r.senders.groups)
        {
            if groups
                .iter()
                .any(|k| normalize_address(k) == normalize_address(g))
            {
                continue;
            }
            match dir.is_member(sender, g).await {
                Ok(true) => groups.push(g.clone()),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(sender, group = %g, error = %e, "membership lookup failed; treating as not a member")
                }
            }
        }
        SenderData { attributes, groups }
    }

    /// Chooses and renders for a sender whose attributes the caller supplies (`user`), or
    /// that the in-memory directory holds, without waiting: group membership comes from
    /// `user.groups` when given, else from the in-memory directory. Used by the injector's
    /// `user` override and by client-side rendering, so both pick the rule the asynchronous
    /// path would. A group rule that only an asynchronous directory could decide is an error,
    /// never a silent non-match.
    pub fn choose_for(
        &self,
        ctx: &MessageContext,
        user: Option<&UserAttributes>,
        origin: Origin,
    ) -> Result<Choice> {
        self.decide(ctx, user, origin, |g| {
            self.member_sync(&ctx.sender, user, g)
        })
    }

    /// Whether `sender` is in `group`, as far as it can be told without waiting.
    fn member_sync(
        &self,
        sender: &str,
        user: Option<&UserAttributes>,
        group: &str,
    ) -> Result<bool> {
        if let Some(groups) = user.and_then(|u| u.groups.as_ref()) {
            let g = normalize_address(group);
            return Ok(groups.iter().any(|k| normalize_address(k) == g));
        }
        match &self.directory {
            Source::None => Ok(false),
            Source::Memory(dir) => Ok(dir.member_of(sender, group)),
            Source::Other(_) => Err(Error::Config(format!(
                "a rule is scoped to group {group:?}, and only the asynchronous directory knows \
                 whether the sender is a member: give the user's `groups`, or call choose()"
            ))),
        }
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
        let sig = self.compiled(&self.signatures, signature, "signature")?;
        let dis = self.compiled(&self.disclaimers, disclaimer, "disclaimer")?;
        self.render_cached(sig, dis, user, origin)
    }

    /// The compiled template set `name` of `set`; a validation error names a missing one.
    fn compiled<'a, 'n>(
        &self,
        set: &'a HashMap<String, Compiled>,
        name: Option<&'n str>,
        what: &str,
    ) -> Result<Option<(&'n str, &'a Compiled)>> {
        name.map(|n| {
            set.get(n)
                .map(|c| (n, c))
                .ok_or_else(|| Error::validation(what, format!("no {what} {n:?}")))
        })
        .transpose()
    }

    /// Renders for `user` after the fallback fills its gaps, through the render cache. The
    /// cache is keyed on the attributes as given: the fallback is this engine's own, so the
    /// same attributes always fill to the same, and a hit copies nothing but the rendering.
    fn render_cached(
        &self,
        sig: Option<(&str, &Compiled)>,
        dis: Option<(&str, &Compiled)>,
        user: &UserAttributes,
        origin: Origin,
    ) -> Result<RenderedSignature> {
        self.render_cache
            .get_or_render(sig.map(|s| s.0), dis.map(|d| d.0), origin, user, || {
                let filled = Arc::new(user.clone().or_fallback(&self.fallback));
                self.render_uncached(sig.map(|s| s.1), dis.map(|d| d.1), &filled, origin)
            })
    }

    fn render_uncached(
        &self,
        sig: Option<&Compiled>,
        dis: Option<&Compiled>,
        user: &Arc<UserAttributes>,
        origin: Origin,
    ) -> Result<RenderedSignature> {
        let ctx = self.templates.context(user.clone());
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

    pub(super) async fn choose_async(
        &self,
        ctx: &MessageContext,
        origin: Origin,
    ) -> Result<Choice> {
        let dir: Arc<dyn Directory> = match &self.directory {
            Source::None => return self.decide(ctx, None, origin, |_| Ok(false)),
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
        if attributes.as_ref().is_some_and(|a| a.groups.is_some()) {
            // The directory listed the user's groups itself: decide on those.
            return self.choose_for(ctx, attributes.as_ref(), origin);
        }
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
            Ok(memberships
                .get(&normalize_address(g))
                .copied()
                .unwrap_or(false))
        })
    }

    pub(super) fn decide(
        &self,
        ctx: &MessageContext,
        attributes: Option<&UserAttributes>,
        origin: Origin,
        mut is_member: impl FnMut(&str) -> Result<bool>,
    ) -> Result<Choice> {
        let mut matched = None;
        for rule in &self.rules {
            let hit = match rule.pre_match(ctx, &self.accepted_domains, attributes) {
                PreMatch::No => false,
                PreMatch::Yes => true,
                PreMatch::NeedsGroups(groups) => {
                    let mut any = false;
                    for g in groups {
                        if is_member(g)? {
                            any = true;
                            break;
                        }
                    }
                    any
                }
            };
            if hit {
                matched = Some(rule);
                break;
            }
        }
        let Some(rule) = matched else {
            return Ok(Choice::NoSignature(NoSignatureReason::NoRuleMatched));
        };
        if rule.signature.is_none() && rule.disclaimer.is_none() {
            return Ok(Choice::NoSignature(NoSignatureReason::RuleAddsNothing(
                rule.name.clone(),
            )));
        }
        tracing::debug!(rule = %rule.name, sender = %ctx.sender, "signature rule matched");
        let unknown;
        let user = match attributes {
            Some(a) => a,
            None => {
                unknown = UserAttributes::with_mail(bare_address(&ctx.sender));
                &unknown
            }
        };
        let sig = self.compiled(&self.signatures, rule.signature.as_deref(), "signature")?;
        let dis = self.compiled(&self.disclaimers, rule.disclaimer.as_deref(), "disclaimer")?;
        self.render_cached(sig, dis, user, origin).map(Choice::Sign)
    }
}
