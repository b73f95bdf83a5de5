//! Signature images: embedded as an inline `cid:` part, or left at a hosted URL.

use std::sync::Arc;

use super::InlineImage;
use crate::{Error, Result};

/// Where a signature image comes from; the caller chooses per image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// The image travels inside the message as an inline part; templates refer to it as
    /// `cid:...` (what `{{ images.<name> }}` renders to).
    Inline {
        /// The image bytes.
        data: Arc<[u8]>,
        /// The MIME type; sniffed from the bytes (PNG, JPEG, GIF) when `None`.
        content_type: Option<String>,
        /// The file name offered to clients.
        filename: Option<String>,
    },
    /// The image stays on a web server; `{{ images.<name> }}` renders to this URL.
    Hosted {
        /// An `https://` (or `http://`) URL.
        url: String,
    },
}

/// A named signature image, used in templates as `{{ images.<name> }}` (typically in
/// `<img src="{{ images.logo }}">`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureImage {
    name: String,
    source: ImageSource,
    /// What the placeholder renders to: `cid:<content id>` or the hosted URL.
    reference: String,
    inline: Option<InlineImage>,
}

impl SignatureImage {
    /// An image embedded from bytes (an inline `cid:` part).
    pub fn inline(name: impl Into<String>, data: impl Into<Arc<[u8]>>) -> Result<Self> {
        Self::new(
            name,
            ImageSource::Inline {
                data: data.into(),
                content_type: None,
                filename: None,
            },
        )
    }

    /// An image left at a hosted URL.
    pub fn hosted(name: impl Into<String>, url: impl Into<String>) -> Result<Self> {
        Self::new(name, ImageSource::Hosted { url: url.into() })
    }

    /// An image from any [`ImageSource`]; validates the name, the URL or the bytes.
    pub fn new(name: impl Into<String>, source: ImageSource) -> Result<Self> {
        let name = name.into();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::validation(
                "image.name",
                format!("{name:?}: use letters, digits, `_` and `-`"),
            ));
        }
        let (reference, inline) = match &source {
            ImageSource::Hosted { url } => {
                let parsed = url::Url::parse(url).map_err(|e| {
                    Error::validation(format!("images.{name}.url"), format!("{url:?}: {e}"))
                })?;
                if !matches!(parsed.scheme(), "https" | "http") {
                    return Err(Error::validation(
                        format!("images.{name}.url"),
                        "must be an https:// URL",
                    ));
                }
                (parsed.to_string(), None)
            }
            ImageSource::Inline {
                data,
                content_type,
                filename,
            } => {
                if data.is_empty() {
                    return Err(Error::validation(
                        format!("images.{name}"),
                        "the image is empty",
                    ));
                }
                let content_type = match content_type {
                    Some(ct) if ct.starts_with("image/") => ct.clone(),
                    Some(ct) => {
                        return Err(Error::validation(
                            format!("images.{name}.content_type"),
                            format!("{ct:?} is not an image type"),
                        ))
                    }
                    None => sniff(data).ok_or_else(|| {
                        Error::validation(
                            format!("images.{name}.content_type"),
                            "unknown image format: give the content type",
                        )
                    })?,
                };
                let content_id = format!("{name}.{:016x}@sigsync", fnv1a(data));
                let image = InlineImage {
                    content_id: content_id.clone(),
                    content_type,
                    filename: filename.clone(),
                    data: data.clone(),
                };
                (format!("cid:{content_id}"), Some(image))
            }
        };
        Ok(SignatureImage {
            name,
            source,
            reference,
            inline,
        })
    }

    /// Sets the file name offered to clients (inline images only).
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        if let Some(img) = &mut self.inline {
            img.filename = Some(filename.into());
        }
        self
    }

    /// The name templates use (`images.<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the image comes from.
    pub fn source(&self) -> &ImageSource {
        &self.source
    }

    /// What `{{ images.<name> }}` renders to: `cid:<content id>` or the hosted URL.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The inline part, for embedded images.
    pub fn inline_part(&self) -> Option<&InlineImage> {
        self.inline.as_ref()
    }
}

/// A stable content id for the same bytes (FNV-1a, 64 bit).
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn sniff(data: &[u8]) -> Option<String> {
    let ct = if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        "image/gif"
    } else if data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        "image/webp"
    } else {
        return None;
    };
    Some(ct.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_image_gets_a_stable_cid_and_sniffed_type() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        let a = SignatureImage::inline("logo", png.clone()).unwrap();
        let b = SignatureImage::inline("logo", png).unwrap();
        assert_eq!(a.reference(), b.reference());
        assert!(a.reference().starts_with("cid:logo."));
        assert_eq!(a.inline_part().unwrap().content_type, "image/png");
    }

    #[test]
    fn hosted_image_must_be_a_web_url() {
        assert!(SignatureImage::hosted("logo", "https://cdn.contoso.com/l.png").is_ok());
        assert!(SignatureImage::hosted("logo", "javascript:alert(1)").is_err());
        assert!(SignatureImage::hosted("bad name", "https://x").is_err());
    }
}
