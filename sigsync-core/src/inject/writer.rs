//! Writes the output: the loop header, then the message with a sorted list of edits applied.
//! Bytes between edits are copied as ranges; changed bodies are encoded straight into the
//! output buffer.

use std::borrow::Cow;

use super::codec::Encoder;
use super::outcome::InjectError;
use super::structure::Cte;

/// A changed body: the (transfer-decoded) bytes with insertions, re-encoded with `cte`.
pub(crate) struct BodyEdit<'a> {
    /// The body's bytes in the target charset, before insertion.
    pub content: Cow<'a, [u8]>,
    /// (offset into `content`, bytes to insert there), sorted by offset.
    pub inserts: Vec<(usize, Vec<u8>)>,
    /// The transfer encoding to write.
    pub cte: Cte,
    /// Whether the original encoded body ended with a line break.
    pub ends_with_eol: bool,
}

/// What replaces a range of the message.
pub(crate) enum Content<'a> {
    /// Literal bytes (headers, delimiters, image parts).
    Bytes(Vec<u8>),
    /// A re-encoded body.
    Body(BodyEdit<'a>),
}

/// Replace `msg[start..end]` (empty for an insertion) with `content`.
pub(crate) struct Edit<'a> {
    pub start: usize,
    pub end: usize,
    pub content: Content<'a>,
}

/// Writes `line` (the loop header, with the message's eol) and then `msg` with `edits`.
pub(crate) fn write(
    msg: &[u8],
    line: &[u8],
    mut edits: Vec<Edit<'_>>,
    eol: &'static [u8],
    out: &mut Vec<u8>,
) -> Result<(), InjectError> {
    edits.sort_by_key(|e| (e.start, e.end));
    out.clear();
    // An upper bound of the output, so that the buffer is allocated once.
    let mut cap = msg.len() + line.len();
    for e in &edits {
        cap = (cap + estimate(&e.content)).saturating_sub(e.end.saturating_sub(e.start));
    }
    out.reserve_exact(cap);
    out.extend_from_slice(line);
    let mut pos = 0;
    for e in edits {
        if e.start < pos || e.end < e.start || e.end > msg.len() {
            return Err(InjectError::Internal("overlapping edits".into()));
        }
        out.extend_from_slice(&msg[pos..e.start]);
        match e.content {
            Content::Bytes(b) => out.extend_from_slice(&b),
            Content::Body(body) => {
                let mut enc = Encoder::new(&body.cte, eol);
                let mut at = 0;
                for (off, bytes) in &body.inserts {
                    let off = (*off).clamp(at, body.content.len());
                    enc.write(&body.content[at..off], out);
                    enc.write(bytes, out);
                    at = off;
                }
                enc.write(&body.content[at..], out);
                enc.finish(body.ends_with_eol, out);
            }
        }
        pos = e.end;
    }
    out.extend_from_slice(&msg[pos..]);
    Ok(())
}

/// At least as many bytes as `content` writes.
fn estimate(content: &Content<'_>) -> usize {
    match content {
        Content::Bytes(b) => b.len(),
        Content::Body(b) => {
            let n = b.content.len() + b.inserts.iter().map(|i| i.1.len()).sum::<usize>();
            match b.cte {
                // Every byte as =XX, a soft break (=CRLF) per 25 of them, a final break.
                Cte::QuotedPrintable => n * 3 + (n / 25 + 2) * 3,
                // 4 characters per 3 bytes, a line break per 76 characters.
                Cte::Base64 => n.div_ceil(3) * 4 + (n / 57 + 2) * 2,
                _ => n,
            }
        }
    }
}

/// Writes the message unchanged after the loop header (skips and failures).
pub(crate) fn pass_through(msg: &[u8], line: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(msg.len() + line.len());
    out.extend_from_slice(line);
    out.extend_from_slice(msg);
}
