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
    /// A header field line added to a part's header block (at its end).
    HeaderLine(Vec<u8>),
    /// A re-encoded body.
    Body(BodyEdit<'a>),
}

/// Replace `msg[start..end]` (empty for an insertion) with `content`.
pub(crate) struct Edit<'a> {
    pub start: usize,
    pub end: usize,
    pub content: Content<'a>,
}

/// The message to send on, prepared but not yet written: the message with its edits applied
/// (the loop header among them, changed bodies already encoded). Its exact length is known
/// before a byte is written, so a caller can allocate the output once, e.g. straight into a
/// Python `bytes` or a caller's buffer, instead of growing a `Vec` and copying it.
#[derive(Debug, Clone)]
pub struct Output<'a> {
    msg: &'a [u8],
    /// Replace `msg[start..end]` with the bytes; sorted, not overlapping, within `msg`.
    edits: Vec<(usize, usize, Cow<'a, [u8]>)>,
    len: usize,
}

/// Where and how the loop header goes on a message: the edits that leave exactly one header
/// with the configured value (an insertion of the line, removals of other values).
pub(crate) type Stamp<'a> = Vec<(usize, usize, Cow<'a, [u8]>)>;

impl<'a> Output<'a> {
    /// `msg` with only the loop header's edits (skips and failures).
    pub(crate) fn pass_through(msg: &'a [u8], stamp: Stamp<'a>) -> Self {
        let len = msg.len() + stamp.iter().map(|e| e.2.len()).sum::<usize>()
            - stamp.iter().map(|e| e.1 - e.0).sum::<usize>();
        Output {
            msg,
            edits: stamp,
            len,
        }
    }

    /// The exact length of the message to send on, in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the message to send on is empty (never: it carries the loop header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message to send on as byte slices in order (some may be empty): their
    /// concatenation, [`Output::len`] bytes long, is the message.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let msg = self.msg;
        let starts = std::iter::once(0).chain(self.edits.iter().map(|e| e.1));
        let tail = self.edits.last().map_or(0, |e| e.1);
        self.edits
            .iter()
            .zip(starts)
            .flat_map(move |((start, _, bytes), from)| [&msg[from..*start], &bytes[..]])
            .chain(std::iter::once(&msg[tail..]))
    }

    /// Also removes the byte ranges `drop` of the original message (sorted, not overlapping),
    /// e.g. header fields the caller takes out. Refused (`false`, nothing changed) when one
    /// touches a range this output already changes, or lies outside the message.
    #[cfg(feature = "relay")]
    pub(crate) fn remove(&mut self, drop: &[(usize, usize)]) -> bool {
        let clash = |&(start, end): &(usize, usize)| {
            end < start
                || end > self.msg.len()
                // Overlapping, or an insertion strictly inside.
                || self.edits.iter().any(|e| e.0 < end && start < e.1)
        };
        if drop.iter().any(clash) || drop.windows(2).any(|w| w[1].0 < w[0].1) {
            return false;
        }
        for &(start, end) in drop {
            self.len -= end - start;
            self.edits.push((start, end, Cow::Borrowed(&[][..])));
        }
        // Stable: an insertion at the start of a removed range stays before the removal.
        self.edits.sort_by_key(|e| (e.0, e.1));
        true
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

/// Prepares `msg` with the loop header's `stamp` and `edits`, encoding the changed bodies.
/// `boundaries` are the message's multipart boundaries: no changed body may hold a line that
/// reads as one of their delimiters (a re-encoded or inserted line starting `--boundary`).
pub(crate) fn prepare<'a>(
    msg: &'a [u8],
    stamp: Stamp<'a>,
    edits: Vec<Edit<'_>>,
    eol: &'static [u8],
    boundaries: &[&[u8]],
) -> Result<Output<'a>, InjectError> {
    let mut all: Vec<(usize, usize, Cow<'a, [u8]>)> = stamp;
    for e in edits {
        let bytes = match e.content {
            Content::Bytes(b) | Content::HeaderLine(b) => b,
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
                if let Some(b) = delimiter_in(&out, boundaries) {
                    return Err(InjectError::Malformed(format!(
                        "the changed body would hold a line that reads as the delimiter of \
                         boundary {:?}",
                        String::from_utf8_lossy(b)
                    )));
                }
                out
            }
        };
        all.push((e.start, e.end, Cow::Owned(bytes)));
    }
    // Stable: insertions at one point keep the order they were planned in (the loop header
    // first, then header lines, then the blank line or body).
    all.sort_by_key(|e| (e.0, e.1));
    let mut len = msg.len();
    let mut pos = 0;
    for (start, end, bytes) in &all {
        if *start < pos || end < start || *end > msg.len() {
            return Err(InjectError::Internal("overlapping edits".into()));
        }
        len = len - (end - start) + bytes.len();
        pos = *end;
    }
    Ok(Output {
        msg,
        edits: all,
        len,
    })
}

/// The first of `boundaries` whose delimiter (`--boundary` at the start of a line) occurs
/// in `body`.
fn delimiter_in<'b>(body: &[u8], boundaries: &[&'b [u8]]) -> Option<&'b [u8]> {
    if boundaries.is_empty() {
        return None;
    }
    let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', body).map(|i| i + 1));
    for s in starts {
        let line = &body[s..];
        if let Some(rest) = line.strip_prefix(b"--") {
            if let Some(b) = boundaries.iter().find(|b| rest.starts_with(b)) {
                return Some(b);
            }
        }
    }
    None
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
