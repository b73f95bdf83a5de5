//! The signature configuration file (TOML or JSON): one format for Rust, C, Python and the
//! examples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{
    GraphDirectory, ImageSource, InMemoryDirectory, Rule, SignatureEngine, SignatureEngineBuilder,
    SignatureImage, TemplatePair, UserAttributes,
};
use crate::auth::TokenProvider;
use crate::{Error, LoopHeader, Result};

/// Signatures, disclaimers, images, policy, accepted domains, the loop header and where
/// directory data comes from, as one file.
///
/// TOML (or the same structure in JSON). Every key but `signatures` and `rules` is optional.
///
/// ```
/// use sigsync_core::signature::{Choice, MessageContext, MessageKind, SignatureConfig};
///
/// let config = SignatureConfig::from_toml_str(r##"
/// ## Recipients in these domains are internal.
/// accepted_domains = ["contoso.com"]
/// ## Custom placeholders, besides the Graph user fields.
/// custom_attributes = ["pronouns"]
/// ## Keep template lines whose placeholders are all empty (default false: they vanish).
/// keep_empty_lines = false
///
/// ## No [loop_header] here: the service profile is its one source (see `with_loop_header`).
///
/// ## Values for fields the directory leaves empty, and for senders it does not know.
/// [fallback]
/// companyName = "Contoso Ltd"
///
/// ## Images: `path` (a file, relative to this file) or `base64` embed the image as an inline
/// ## cid: part; `url` leaves it hosted. Templates use {{ images.<name> }}.
/// [images.logo]
/// url = "https://cdn.contoso.com/logo.png"
///
/// ## Signatures: `html` and `text` templates (or `html_file` and `text_file`).
/// [signatures.standard]
/// html = """
/// <p><b>{{ displayName }}</b>{% if pronouns %} ({{ pronouns }}){% endif %}
/// {{ jobTitle }}
/// Mobile: <a href="tel:{{ mobilePhone }}">{{ mobilePhone }}</a>
/// <img src="{{ images.logo }}" alt="{{ companyName }}"></p>
/// """
/// text = """
/// {{ displayName }}
/// {{ jobTitle }}
/// Mobile: {{ mobilePhone }}
/// """
///
/// [signatures.reply]
/// html = "<b>{{ displayName }}</b> | {{ companyName }}"
/// text = "{{ displayName }} | {{ companyName }}"
///
/// ## Disclaimers go at the very bottom, independent of the signature.
/// [disclaimers.legal]
/// html = "<small>This e-mail is confidential.</small>"
/// text = "This e-mail is confidential."
///
/// ## Rules, in priority order: the first enabled rule that matches wins.
/// [[rules]]
/// name = "Internal mail: nothing"
/// recipients = "internal"          # "any" | "internal" | "external" | { domains = [...] }
///
/// [[rules]]
/// name = "Replies"
/// kind = "reply"                   # "any" | "new" | "reply"
/// signature = "reply"
///
/// [[rules]]
/// name = "Sales"
/// enabled = true
/// senders = { groups = ["sales@contoso.com"], attributes = { department = ["Sales"] } }
/// signature = "standard"
/// disclaimer = "legal"
///
/// [[rules]]
/// name = "Everyone else"
/// signature = "standard"
///
/// ## Where directory data comes from: "none", "memory" (users and groups right here) or
/// ## "graph" (base_url, allow_http, cache_ttl_secs, retry_budget_secs, custom_attributes).
/// [directory]
/// source = "memory"
/// [directory.users."adele@contoso.com"]
/// displayName = "Adele Vance"
/// jobTitle = "Retail Manager"
/// custom = { pronouns = "she/her" }
/// "##)?;
///
/// let engine = config.engine(None)?;
/// let ctx = MessageContext::new("adele@contoso.com", ["ben@fabrikam.com"], MessageKind::New);
/// let Choice::Sign(signature) = engine.choose_sync(&ctx)? else { panic!() };
/// assert!(signature.html.contains("<b>Adele Vance</b> (she/her)"));
/// assert!(!signature.html.contains("Mobile:"), "no mobile phone, no line");
/// # Ok::<(), sigsync_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignatureConfig {
    /// The tenant's accepted domains: what "internal" means.
    pub accepted_domains: Vec<String>,
    /// Custom attribute names templates may use.
    pub custom_attributes: Vec<String>,
    /// Keep template lines whose placeholders are all empty.
    pub keep_empty_lines: bool,
    /// How many renderings the engine remembers (default 1024; 0 renders every message).
    pub render_cache: Option<usize>,
    /// The loop-prevention header. Leave it out: the service profile is the one source, joined
    /// with [`SignatureConfig::with_loop_header`]. When given, it must equal the profile's.
    /// Without either, the engine stamps [`LoopHeader::default`], a fixed value fit only for
    /// tests and injection outside a setup.
    pub loop_header: Option<LoopHeader>,
    /// Values for fields the directory has no value for.
    pub fallback: UserAttributes,
    /// Images by name.
    pub images: BTreeMap<String, ImageConfig>,
    /// Signatures by name.
    pub signatures: BTreeMap<String, TemplateConfig>,
    /// Disclaimers by name.
    pub disclaimers: BTreeMap<String, TemplateConfig>,
    /// Rules in priority order.
    pub rules: Vec<Rule>,
    /// Where directory data comes from (none when absent).
    pub directory: Option<DirectoryConfig>,
    /// The folder relative paths are resolved against (the file's folder when loaded from a
    /// file).
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
}

/// An image in the configuration: exactly one of `path`, `base64` or `url`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageConfig {
    /// A file to embed (relative to the configuration file).
    pub path: Option<PathBuf>,
    /// Bytes to embed, base64-encoded.
    pub base64: Option<String>,
    /// A hosted image URL (not embedded).
    pub url: Option<String>,
    /// The MIME type of an embedded image (sniffed when absent).
    pub content_type: Option<String>,
    /// The file name offered to clients.
    pub filename: Option<String>,
}

/// A signature or disclaimer: each of HTML and text inline or from a file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateConfig {
    /// The HTML template.
    pub html: Option<String>,
    /// A file holding the HTML template.
    pub html_file: Option<PathBuf>,
    /// The plain-text template.
    pub text: Option<String>,
    /// A file holding the plain-text template.
    pub text_file: Option<PathBuf>,
}

/// Where directory data comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum DirectoryConfig {
    /// No directory: senders get the fallback attributes.
    None,
    /// Users and groups listed in the file.
    Memory(InMemoryDirectory),
    /// Microsoft Graph.
    Graph(GraphConfig),
}

/// Graph directory settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphConfig {
    /// The Graph base URL (default `https://graph.microsoft.com/v1.0`).
    pub base_url: Option<String>,
    /// Allow `http://` (loopback tests only).
    pub allow_http: bool,
    /// Cache lifetime in seconds (default 900).
    pub cache_ttl_secs: Option<u64>,
    /// Most seconds one lookup waits for throttling (default 10).
    pub retry_budget_secs: Option<u64>,
    /// Custom attribute name to Graph property path.
    pub custom_attributes: BTreeMap<String, String>,
}

impl SignatureConfig {
    /// Parses TOML.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        toml::from_str(s).map_err(|e| Error::Config(format!("signature configuration: {e}")))
    }

    /// Parses JSON.
    pub fn from_json_str(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| Error::Config(format!("signature configuration: {e}")))
    }

    /// Reads a file: JSON when the name ends in `.json`, TOML otherwise. Relative paths in it
    /// resolve against its folder.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let mut config = if json {
            Self::from_json_str(&text)
        } else {
            Self::from_toml_str(&text)
        }
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        config.base_dir = path.parent().map(Path::to_path_buf);
        Ok(config)
    }

    /// This configuration with the service profile's loop header (`profile_header`, the one
    /// source of its value). When the file names a loop header too, it must be the same:
    /// otherwise the error names both, as the routing rule would except one value and the
    /// service stamp the other.
    pub fn with_loop_header(mut self, profile_header: &LoopHeader) -> Result<Self> {
        if let Some(own) = &self.loop_header {
            profile_header.ensure_same(
                "the service profile",
                own,
                "the signature configuration ([loop_header])",
            )?;
        }
        self.loop_header = Some(profile_header.clone());
        Ok(self)
    }

    /// A builder with everything from the file but the directory (add one, then build).
    pub fn builder(&self) -> Result<SignatureEngineBuilder> {
        let mut b = SignatureEngine::builder()
            .accepted_domains(self.accepted_domains.iter().cloned())
            .custom_attributes(self.custom_attributes.iter().cloned())
            .keep_empty_lines(self.keep_empty_lines)
            .render_cache(self.render_cache.unwrap_or(super::DEFAULT_RENDER_CACHE))
            .fallback(self.fallback.clone());
        if let Some(h) = &self.loop_header {
            b = b.loop_header(h.clone());
        }
        for (name, img) in &self.images {
            b = b.image(self.image(name, img)?);
        }
        for (name, t) in &self.signatures {
            b = b.signature(name.clone(), self.templates("signatures", name, t)?);
        }
        for (name, t) in &self.disclaimers {
            b = b.disclaimer(name.clone(), self.templates("disclaimers", name, t)?);
        }
        for rule in &self.rules {
            b = b.rule(rule.clone());
        }
        Ok(b)
    }

    /// Builds the engine with the configured directory; a Graph directory takes its tokens
    /// from `tokens` (an error when `None`).
    pub fn engine(&self, tokens: Option<Arc<dyn TokenProvider>>) -> Result<SignatureEngine> {
        let b = self.builder()?;
        let b = match &self.directory {
            None | Some(DirectoryConfig::None) => b,
            Some(DirectoryConfig::Memory(dir)) => b.memory_directory(dir.clone()),
            Some(DirectoryConfig::Graph(g)) => {
                let tokens = tokens.ok_or_else(|| {
                    Error::Config("directory.source = \"graph\" needs a token provider".into())
                })?;
                let mut gb = GraphDirectory::builder(tokens).allow_http(g.allow_http);
                if let Some(url) = &g.base_url {
                    gb = gb.base_url(url.clone());
                }
                if let Some(s) = g.cache_ttl_secs {
                    gb = gb.cache_ttl(Duration::from_secs(s));
                }
                if let Some(s) = g.retry_budget_secs {
                    gb = gb.retry_budget(Duration::from_secs(s));
                }
                for (name, prop) in &g.custom_attributes {
                    gb = gb.custom_attribute(name.clone(), prop.clone());
                }
                b.directory(Arc::new(gb.build()?))
            }
        };
        b.build()
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        match &self.base_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }

    fn read(&self, field: &str, p: &Path) -> Result<Vec<u8>> {
        let full = self.resolve(p);
        std::fs::read(&full)
            .map_err(|e| Error::validation(field, format!("cannot read {}: {e}", full.display())))
    }

    fn templates(&self, kind: &str, name: &str, t: &TemplateConfig) -> Result<TemplatePair> {
        let one = |inline: &Option<String>, file: &Option<PathBuf>, what: &str| {
            let field = format!("{kind}.{name}.{what}");
            match (inline, file) {
                (Some(s), None) => Ok(s.clone()),
                (None, Some(p)) => String::from_utf8(self.read(&field, p)?)
                    .map_err(|_| Error::validation(&field, "the file is not UTF-8")),
                (None, None) => Err(Error::validation(
                    field,
                    format!("give `{what}` or `{what}_file`"),
                )),
                (Some(_), Some(_)) => Err(Error::validation(
                    field,
                    format!("give either `{what}` or `{what}_file`, not both"),
                )),
            }
        };
        Ok(TemplatePair {
            html: one(&t.html, &t.html_file, "html")?,
            text: one(&t.text, &t.text_file, "text")?,
        })
    }

    fn image(&self, name: &str, img: &ImageConfig) -> Result<SignatureImage> {
        let field = format!("images.{name}");
        let data = match (&img.path, &img.base64, &img.url) {
            (Some(p), None, None) => self.read(&field, p)?,
            (None, Some(b), None) => base64::engine::general_purpose::STANDARD
                .decode(b.split_whitespace().collect::<String>())
                .map_err(|e| Error::validation(format!("{field}.base64"), e.to_string()))?,
            (None, None, Some(url)) => return SignatureImage::hosted(name, url.clone()),
            _ => {
                return Err(Error::validation(
                    field,
                    "give exactly one of `path`, `base64` or `url`",
                ))
            }
        };
        let filename = img.filename.clone().or_else(|| {
            img.path
                .as_ref()
                .and_then(|p| p.file_name())
                .map(|f| f.to_string_lossy().into_owned())
        });
        SignatureImage::new(
            name,
            ImageSource::Inline {
                data: data.into(),
                content_type: img.content_type.clone(),
                filename,
            },
        )
    }
}
