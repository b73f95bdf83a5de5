//! Prepares the output: the loop header, then the message with a sorted list of edits applied.
//! Changed bodies are encoded first, so the output's exact length is known before it is
//! written; bytes between edits are copied as ranges.

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

/// The message to send on, prepared but not yet written: the loop header line, then the
/// message with its edits applied (changed bodies already encoded). Its exact length is known
/// before a byte is written, so a caller can allocate the output once, e.g. straight into a
/// Python `bytes` or a caller's buffer, instead of growing a `Vec` and copying it.
#[derive(Debug, Clone)]
pub struct Output<'a> {
    line: &'a [u8],
    msg: &'a [u8],
    /// Replace `msg[start..end]` with the bytes; sorted, not overlapping, within `msg`.
    edits: Vec<(usize, usize, Vec<u8>)>,
    len: usize,
}

impl<'a> Output<'a> {
    /// `line` (the loop header, or nothing) and then `msg` unchanged (skips and failures).
    pub(crate) fn pass_through(msg: &'a [u8], line: &'a [u8]) -> Self {
        Output {
            line,
            msg,
            edits: Vec::new(),
            len: line.len() + msg.len(),
        }
    }

    /// The exact length of the message to send on, in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the message to send on is empty (only when the input was, and had no room
    /// for a loop header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message to send on as byte slices in order (some may be empty): their
    /// concatenation, [`Output::len`] bytes long, is the message.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let msg = self.msg;
        let starts = std::iter::once(0).chain(self.edits.iter().map(|e| e.1));
        let tail = self.edits.last().map_or(0, |e| e.1);
        std::iter::once(self.line)
            .chain(
                self.edits
                    .iter()
                    .zip(starts)
                    .flat_map(move |((start, _, bytes), from)| [&msg[from..*start], &bytes[..]]),
            )
            .chain(std::iter::once(&msg[tail..]))
    }

    /// Writes the message into `out`, which is cleared first and grows once at most.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve_exact(self.len);
        for chunk in self.chunks() {
            out.extend_from_slice(chunk);
        }
    }
}

/// Prepares `line` (the loop header, with the message's eol) and then `msg` with `edits`,
/// encoding the changed bodies.
pub(crate) fn prepare<'a>(
    msg: &'a [u8],
    line: &'a [u8],
    mut edits: Vec<Edit<'_>>,
    eol: &'static [u8],
) -> Result<Output<'a>, InjectError> {
    edits.sort_by_key(|e| (e.start, e.end));
    let mut len = line.len() + msg.len();
    let mut pos = 0;
    let mut written = Vec::with_capacity(edits.len());
    for e in edits {
        if e.start < pos || e.end < e.start || e.end > msg.len() {
            return Err(InjectError::Internal("overlapping edits".into()));
        }
        let bytes = match e.content {
            Content::Bytes(b) => b,
            Content::Body(body) => {
                let mut out = Vec::with_capacity(estimate(&body));
                let mut enc = Encoder::new(&body.cte, eol);
                let mut at = 0;
                for (off, bytes) in &body.inserts {
                    let off = (*off).clamp(at, body.content.len());
                    enc.write(&body.content[at..off], &mut out);
                    enc.write(bytes, &mut out);
                    at = off;
                }
                enc.write(&body.content[at..], &mut out);
                enc.finish(body.ends_with_eol, &mut out);
                out
            }
        };
        len = len - (e.end - e.start) + bytes.len();
        written.push((e.start, e.end, bytes));
        pos = e.end;
    }
    Ok(Output {
        line,
        msg,
        edits: written,
        len,
    })
}

/// At least as many bytes as `body` encodes to.
fn estimate(body: &BodyEdit<'_>) -> usize {
    let n = body.content.len() + body.inserts.iter().map(|i| i.1.len()).sum::<usize>();
    match body.cte {
        // Every byte as =XX, a soft break (=CRLF) per 25 of them, a final break.
        Cte::QuotedPrintable => n * 3 + (n / 25 + 2) * 3,
        // 4 characters per 3 bytes, a line break per 76 characters.
        Cte::Base64 => n.div_ceil(3) * 4 + (n / 57 + 2) * 2,
        _ => n,
    }
}
