//! The MIME injection engine: puts a rendered signature into a message at the right place,
//! stamps the loop header, and never loses or corrupts mail.
//!
//! ```
//! use sigsync_core::inject::{Injector, InjectConfig, Outcome};
//! use sigsync_core::signature::RenderedSignature;
//!
//! let injector = Injector::new(InjectConfig::default())?;
//! let sig = RenderedSignature {
//!     html: r#"<div data-sigsync="server">Anna Schmidt</div>"#.into(),
//!     text: "Anna Schmidt".into(),
//!     ..Default::default()
//! };
//! let msg = b"From: a@contoso.com\r\nTo: b@example.org\r\nSubject: Hi\r\n\
//!             Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n";
//! let mut out = Vec::new();
//! let outcome = injector.inject_with(msg, &sig, &mut out);
//! assert!(matches!(outcome, Outcome::Injected(_)));
//! assert!(out.starts_with(b"X-Sigsync-Processed: true\r\n"));
//! assert!(out.ends_with(b"Hello\r\n\r\nAnna Schmidt\r\n"));
//! # Ok::<(), sigsync_core::Error>(())
//! ```
//!
//! How it works: a zero-copy scanner finds the part tree as byte ranges; skips are decided on
//! headers and structure; only the text/html and text/plain bodies a reader sees are decoded
//! (transfer encoding, then charset); placement finds the start of the quoted history per
//! client; the output is the loop header followed by the message with a few sorted edits, the
//! changed bodies re-encoded and everything else copied as byte ranges (`prepare` returns it
//! unwritten, with its exact length, for callers that allocate the output themselves). Any failure (or a bug, caught) passes the original bytes through with the
//! loop header and the reason.

mod body;
mod charset;
mod classify;
mod codec;
mod edit;
mod engine;
pub(crate) mod header;
#[cfg(test)]
mod header_reference;
mod html;
mod images;
mod outcome;
mod service;
mod structure;
mod text;
mod writer;

pub use engine::{InjectConfig, Injector};
pub use outcome::{
    AddressSource, Choice, Envelope, InjectError, Injected, MessageInfo, MessageKind, Outcome,
    SkipReason,
};
pub use service::SignatureInjector;
pub use writer::Output;
