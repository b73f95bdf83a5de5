//! Signatures: what to add to a message, and for whom.
//!
//! * [`SignatureEngine`] holds the compiled templates, the [`policy`] and the
//!   [directory](Directory); the injector calls [`SignatureEngine::choose`] (or
//!   [`SignatureEngine::choose_sync`]) once per message and gets a [`Choice`].
//! * [`SignatureEngine::render_client_side`] renders the same signature for a compose-time
//!   add-in, with the client marker, so that the server does not sign the message twice.
//! * [`SignatureConfig`] is the one configuration file format (TOML or JSON) shared by Rust,
//!   C and Python callers; see its documentation for a full example.
//!
//! # Markers
//!
//! Every rendering carries an invisible marker that tells who inserted it:
//!
//! * HTML: the signature is wrapped in `<div data-sigsync="server">` or
//!   `<div data-sigsync="client">` ([`HTML_MARKER_ATTR`], [`MARKER_SERVER`],
//!   [`MARKER_CLIENT`]), and the wrapper's content starts with the text marker below, so that
//!   the mark survives a client that drops unknown attributes or derives the text part from
//!   the HTML; a disclaimer is wrapped in `<div data-sigsync="disclaimer">`
//!   ([`MARKER_DISCLAIMER`]).
//! * Plain text: the signature text starts with [`TEXT_MARKER_SERVER`] or
//!   [`TEXT_MARKER_CLIENT`], three zero-width characters that readers do not see.
//!
//! [`find_marker`] finds either form in a body. The text markers are non-ASCII: a text part
//! that receives a signature must be (re-)encoded as UTF-8.

use std::sync::Arc;

mod attributes;
mod builder;
mod cache;
mod client_side;
mod config;
mod directory;
mod engine;
mod graph;
mod html_guard;
mod images;
pub mod policy;
mod template;
mod template_source;

pub use attributes::{UserAttributes, DERIVED_PLACEHOLDERS, GRAPH_SELECT, STANDARD_ATTRIBUTES};
pub use builder::{SignatureEngineBuilder, TemplatePair};
pub use cache::DEFAULT_RENDER_CACHE;
pub use config::{DirectoryConfig, GraphConfig, ImageConfig, SignatureConfig, TemplateConfig};
pub use directory::{Directory, InMemoryDirectory};
pub use engine::{Choice, SenderData, SignatureEngine};
pub use graph::{GraphDirectory, GraphDirectoryBuilder, DEFAULT_GRAPH_URL};
pub use images::{ImageSource, SignatureImage};
pub use policy::{
    KindScope, MessageContext, MessageKind, NoSignatureReason, RecipientScope, Rule, SenderFilter,
};
pub use template::{safe_url, SAFE_URL_SCHEMES};

/// The attribute every signature block that sigsync renders carries in its HTML wrapper, so
/// that the injector recognises its own signature (no stacking in threads).
pub const HTML_MARKER_ATTR: &str = "data-sigsync";

/// Marker value for a signature inserted server-side.
pub const MARKER_SERVER: &str = "server";

/// Marker value for a signature rendered for the compose-time add-in (client-side mode);
/// the server-side injector skips mail that already carries it (combo mode).
pub const MARKER_CLIENT: &str = "client";

/// Marker value of the element that wraps a rendered HTML disclaimer.
pub const MARKER_DISCLAIMER: &str = "disclaimer";

/// The invisible prefix of a plain-text signature inserted server-side (the first characters
/// of [`RenderedSignature::text`]): U+2063 INVISIBLE
/// SEPARATOR, U+200B ZERO WIDTH SPACE, U+2063.
pub const TEXT_MARKER_SERVER: &str = "\u{2063}\u{200B}\u{2063}";

/// The invisible prefix of a plain-text signature rendered client-side: U+2063 INVISIBLE
/// SEPARATOR, U+200C ZERO WIDTH NON-JOINER, U+2063.
pub const TEXT_MARKER_CLIENT: &str = "\u{2063}\u{200C}\u{2063}";

/// Who inserted a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The server-side injector.
    Server,
    /// The compose-time add-in (client-side mode).
    Client,
}

impl Origin {
    /// The value of [`HTML_MARKER_ATTR`] for this origin.
    pub fn marker(self) -> &'static str {
        match self {
            Origin::Server => MARKER_SERVER,
            Origin::Client => MARKER_CLIENT,
        }
    }

    /// The plain-text marker for this origin.
    pub fn text_marker(self) -> &'static str {
        match self {
            Origin::Server => TEXT_MARKER_SERVER,
            Origin::Client => TEXT_MARKER_CLIENT,
        }
    }
}

/// Finds a sigsync signature marker in an HTML or plain-text body: the `data-sigsync`
/// attribute (any quoting or case) or a text marker. Client wins when both are present.
pub fn find_marker(body: &str) -> Option<Origin> {
    if body.contains(TEXT_MARKER_CLIENT) {
        return Some(Origin::Client);
    }
    let mut found = body.contains(TEXT_MARKER_SERVER).then_some(Origin::Server);
    let lower = body.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find(HTML_MARKER_ATTR) {
        let after = rest[i + HTML_MARKER_ATTR.len()..].trim_start();
        if let Some(v) = after.strip_prefix('=') {
            let v = v.trim_start().trim_start_matches(['"', '\'', ' ']);
            if v.starts_with(MARKER_CLIENT) {
                return Some(Origin::Client);
            }
            if v.starts_with(MARKER_SERVER) {
                found = Some(Origin::Server);
            }
        }
        rest = &rest[i + HTML_MARKER_ATTR.len()..];
    }
    found
}

/// An image that travels with the signature as an inline `cid:` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineImage {
    /// The Content-ID without angle brackets; the HTML refers to it as `cid:<content_id>`.
    pub content_id: String,
    /// The MIME type, e.g. `image/png`.
    pub content_type: String,
    /// The file name offered to clients, if any.
    pub filename: Option<String>,
    /// The image bytes.
    pub data: Arc<[u8]>,
}

/// A signature rendered for one sender and one message: what the injector inserts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenderedSignature {
    /// The HTML block (already escaped, wrapped in an element carrying [`HTML_MARKER_ATTR`]);
    /// empty when the rule adds only a disclaimer.
    pub html: String,
    /// The plain-text block, starting with the text marker ([`TEXT_MARKER_SERVER`] or
    /// [`TEXT_MARKER_CLIENT`]); empty when the rule adds only a disclaimer.
    pub text: String,
    /// The HTML disclaimer that goes at the very bottom, if any (wrapped in an element with
    /// `data-sigsync="disclaimer"`).
    pub disclaimer_html: Option<String>,
    /// The plain-text disclaimer that goes at the very bottom, if any.
    pub disclaimer_text: Option<String>,
    /// Images referenced from `html` as `cid:` URLs.
    pub images: Vec<InlineImage>,
}
