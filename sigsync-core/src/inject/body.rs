//! A decoded body: a text/html or text/plain part's transfer-decoded bytes, its text in
//! its charset (validated once), and where its signature goes.

use std::borrow::Cow;

use super::charset::{self, Charset};
use super::codec;
use super::html::{self, HtmlPlacement};
use super::outcome::InjectError;
use super::structure::Structure;
use super::text::{self, TextPlacement};

/// One decoded body.
pub(crate) struct Body<'m> {
    pub idx: usize,
    pub charset: Charset,
    content: BodyContent<'m>,
    pub lossless: bool,
    pub html: Option<HtmlPlacement>,
    pub plain: Option<TextPlacement>,
}

/// A body's transfer-decoded bytes and its text, validated once: the placement, marker and
/// disclaimer checks all read the text, and re-validating it on each read cost more than
/// the scan itself.
enum BodyContent<'m> {
    /// The bytes are valid UTF-8 and decode to themselves: they are the text.
    Same(Cow<'m, str>),
    /// The text decoded from the bytes (another charset, or bytes invalid in it).
    Decoded { raw: Cow<'m, [u8]>, text: String },
}

impl<'m> Body<'m> {
    /// The body as text.
    pub(crate) fn text(&self) -> &str {
        match &self.content {
            BodyContent::Same(s) => s,
            BodyContent::Decoded { text, .. } => text,
        }
    }

    /// The transfer-decoded bytes, in the body's charset.
    pub(crate) fn raw(&self) -> &[u8] {
        match &self.content {
            BodyContent::Same(s) => s.as_bytes(),
            BodyContent::Decoded { raw, .. } => raw,
        }
    }

    /// The transfer-decoded bytes, owned or borrowed from the message.
    pub(crate) fn into_raw(self) -> Cow<'m, [u8]> {
        match self.content {
            BodyContent::Same(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
            BodyContent::Same(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
            BodyContent::Decoded { raw, .. } => raw,
        }
    }

    pub(crate) fn boundary(&self) -> Option<usize> {
        match (&self.html, &self.plain) {
            (Some(h), _) => h.boundary,
            (_, Some(t)) => t.boundary,
            _ => None,
        }
    }
}

/// Decodes the bodies `idxs` (HTML or plain text) of the message.
pub(crate) fn decode_all<'m>(
    msg: &'m [u8],
    st: &Structure,
    idxs: &[usize],
    is_html: bool,
) -> Result<Vec<Body<'m>>, InjectError> {
    let mut out = Vec::with_capacity(idxs.len());
    for &idx in idxs {
        let p = &st.parts[idx];
        let body = msg.get(p.body_start..p.end).unwrap_or_default();
        let raw = codec::transfer_decode(body, &p.cte)?;
        let mut charset = charset::charset_of(&p.ct)?;
        // Undeclared, or declared US-ASCII but carrying 8-bit bytes that are valid UTF-8 (a
        // common mislabel): treat as UTF-8 and declare it if we add non-ASCII text.
        if (!charset.declared || charset.is_ascii_only())
            && !raw.is_ascii()
            && std::str::from_utf8(&raw).is_ok()
        {
            charset = Charset::utf8_undeclared();
        }
        let (content, lossless) = decode_body(&charset, raw);
        let text = match &content {
            BodyContent::Same(s) => &**s,
            BodyContent::Decoded { text, .. } => text.as_str(),
        };
        let (html, plain) = if is_html {
            (Some(html::scan(text)), None)
        } else {
            (None, Some(text::scan(text)))
        };
        out.push(Body {
            idx,
            charset,
            content,
            lossless,
            html,
            plain,
        });
    }
    Ok(out)
}

/// Decodes `raw` from `charset`, keeping the bytes as the text when they already are (valid
/// UTF-8 that decodes to itself), so that the text is validated exactly once.
fn decode_body<'m>(charset: &Charset, raw: Cow<'m, [u8]>) -> (BodyContent<'m>, bool) {
    match raw {
        Cow::Borrowed(bytes) => match charset.decode(bytes) {
            (Cow::Borrowed(s), lossless) => (BodyContent::Same(Cow::Borrowed(s)), lossless),
            (Cow::Owned(text), lossless) => (
                BodyContent::Decoded {
                    raw: Cow::Borrowed(bytes),
                    text,
                },
                lossless,
            ),
        },
        Cow::Owned(bytes) => {
            let (text, lossless) = match charset.decode(&bytes) {
                // The bytes are the text; take them without a copy (validated once more,
                // as the decoder's view borrows them).
                (Cow::Borrowed(_), lossless) => (None, lossless),
                (Cow::Owned(text), lossless) => (Some(text), lossless),
            };
            match text {
                Some(text) => (
                    BodyContent::Decoded {
                        raw: Cow::Owned(bytes),
                        text,
                    },
                    lossless,
                ),
                None => match String::from_utf8(bytes) {
                    Ok(s) => (BodyContent::Same(Cow::Owned(s)), lossless),
                    Err(e) => {
                        let bytes = e.into_bytes();
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        (
                            BodyContent::Decoded {
                                raw: Cow::Owned(bytes),
                                text,
                            },
                            false,
                        )
                    }
                },
            }
        }
    }
}
