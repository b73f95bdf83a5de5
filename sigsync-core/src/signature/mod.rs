//! Signatures: what to add to a message, and for whom.

use std::sync::Arc;

/// The attribute every signature block that sigsync renders carries in its HTML wrapper, so
/// that the injector recognises its own signature (no stacking in threads).
pub const HTML_MARKER_ATTR: &str = "data-sigsync";

/// Marker value for a signature inserted server-side.
pub const MARKER_SERVER: &str = "server";

/// Marker value for a signature rendered for the compose-time add-in (client-side mode);
/// the server-side injector skips mail that already carries it (combo mode).
pub const MARKER_CLIENT: &str = "client";

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
    /// The HTML block (already escaped, wrapped in an element carrying [`HTML_MARKER_ATTR`]).
    pub html: String,
    /// The plain-text block.
    pub text: String,
    /// The HTML disclaimer that goes at the very bottom, if any.
    pub disclaimer_html: Option<String>,
    /// The plain-text disclaimer that goes at the very bottom, if any.
    pub disclaimer_text: Option<String>,
    /// Images referenced from `html` as `cid:` URLs.
    pub images: Vec<InlineImage>,
}
