//! A zero-copy MIME scanner: the tree of parts as byte ranges into the message.
//!
//! We use our own scanner rather than a MIME parser crate because the injector's contract is
//! about bytes: every part it does not change must come out byte-identical (same headers, same
//! boundaries, same folding), and untouched parts (attachments of many megabytes) must be
//! copied as ranges, never decoded. Parser crates decode eagerly and rebuild on output. This
//! scanner reads only header blocks and boundary lines (a `memmem` pass per multipart level),
//! bounded in depth and part count so hostile input stays cheap.

use memchr::memmem;

use super::header::{self, Block, ContentType, Field};
use super::outcome::InjectError;

/// A content transfer encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cte {
    /// `7bit`, or no header at all.
    SevenBit,
    /// `8bit`.
    EightBit,
    /// `binary`.
    Binary,
    /// `quoted-printable`.
    QuotedPrintable,
    /// `base64`.
    Base64,
    /// Anything else (`x-uuencode`, garbage): never decoded.
    Other(String),
}

impl Cte {
    fn parse(v: &[u8]) -> Cte {
        let v = header::trim(v);
        let is = |name: &str| v.eq_ignore_ascii_case(name.as_bytes());
        if v.is_empty() || is("7bit") {
            Cte::SevenBit
        } else if is("8bit") {
            Cte::EightBit
        } else if is("binary") {
            Cte::Binary
        } else if is("quoted-printable") {
            Cte::QuotedPrintable
        } else if is("base64") {
            Cte::Base64
        } else {
            Cte::Other(header::lower(v))
        }
    }
}

/// One MIME part as ranges into the message.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// First byte of the part's headers.
    pub start: usize,
    /// End of the last header field (the blank line follows).
    pub header_end: usize,
    /// First byte of the body.
    pub body_start: usize,
    /// One past the last byte of the part (before the eol that precedes the next delimiter).
    pub end: usize,
    /// The Content-Type (text/plain when absent, message/rfc822 in a digest).
    pub ct: ContentType,
    /// The transfer encoding.
    pub cte: Cte,
    /// `Content-Disposition: attachment`, or a file name on the part.
    pub attachment: bool,
    /// The header block's fields (read once, shared by every reader of this part).
    pub fields: Vec<Field>,
    /// The parent multipart, if any.
    pub parent: Option<usize>,
    /// Children of a multipart, in order.
    pub children: Vec<usize>,
    /// Where the eol before the close delimiter starts (multiparts that have one).
    pub close_at: Option<usize>,
    /// A field of the header has white space before its colon (RFC 5322's obsolete syntax):
    /// some readers (Python's `email`) end the header there, others read on.
    pub obs_colon: bool,
    /// A content field given twice (`Content-Type` or `Content-Transfer-Encoding`): some
    /// readers take the first, others the last, and an edit of one leaves the other.
    pub conflict: Option<&'static str>,
}

impl Part {
    /// Whether this is a multipart that was split into children.
    pub fn is_multipart(&self) -> bool {
        self.ct.main == "multipart"
    }
}

/// The scanned message.
#[derive(Debug)]
pub(crate) struct Structure {
    /// Parts in document order; index 0 is the message itself.
    pub parts: Vec<Part>,
    /// The line ending the message uses (`\r\n` or `\n`).
    pub eol: &'static [u8],
    /// Where the ranges that the loop header's stamp removes end: a removed field leaves the
    /// line before it complete, even when the field itself lacked its eol.
    pub stamp_removed_ends: Vec<usize>,
}

/// Limits that keep hostile input cheap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_depth: usize,
    pub max_parts: usize,
}

/// Scans `msg` into its part tree; `top` is the message's own header block, already read
/// (`header::block` from `header::top_start`).
pub(crate) fn scan(msg: &[u8], limits: Limits, top: Block) -> Result<Structure, InjectError> {
    let eol: &'static [u8] = match memchr::memchr(b'\n', msg) {
        Some(i) if i > 0 && msg.get(i - 1) == Some(&b'\r') => b"\r\n",
        Some(_) => b"\n",
        None => b"\r\n",
    };
    let mut parts = Vec::new();
    let start = header::top_start(msg);
    let at = Span {
        start,
        end: msg.len(),
        header: Some(top),
    };
    scan_part(msg, at, None, 0, false, limits, &mut parts)?;
    Ok(Structure {
        parts,
        eol,
        stamp_removed_ends: Vec::new(),
    })
}

/// Where a part lies, and its header block when it was read already.
struct Span {
    start: usize,
    end: usize,
    header: Option<Block>,
}

fn scan_part(
    msg: &[u8],
    at: Span,
    parent: Option<usize>,
    depth: usize,
    in_digest: bool,
    limits: Limits,
    parts: &mut Vec<Part>,
) -> Result<usize, InjectError> {
    if depth > limits.max_depth {
        return Err(InjectError::TooComplex(format!(
            "more than {} nested multiparts",
            limits.max_depth
        )));
    }
    if parts.len() >= limits.max_parts {
        return Err(InjectError::TooComplex(format!(
            "more than {} parts",
            limits.max_parts
        )));
    }
    let Span { start, end, header } = at;
    let Block {
        end: header_end,
        body_start,
        fields,
    } = header.unwrap_or_else(|| header::block(msg, start, end));
    let mut ct = None;
    let mut cte = None;
    let mut attachment = false;
    let mut obs_colon = false;
    let mut conflict = None;
    for f in &fields {
        let raw_name = msg
            .get(f.start..f.value_start.saturating_sub(1))
            .unwrap_or_default();
        obs_colon |= matches!(raw_name.last(), Some(b' ' | b'\t'));
        let name = f.name(msg);
        // Every name compared below starts with "content-".
        if name.len() < 12 || !name[..8].eq_ignore_ascii_case(b"content-") {
            continue;
        }
        if name.eq_ignore_ascii_case(b"content-type") {
            match ct {
                None => ct = Some(header::parse_content_type(msg, f.value_start, f.value_end)),
                Some(_) => conflict = Some("Content-Type"),
            }
        } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            match cte {
                None => cte = Some(Cte::parse(f.value(msg))),
                Some(_) => conflict = Some("Content-Transfer-Encoding"),
            }
        } else if name.eq_ignore_ascii_case(b"content-disposition") {
            let d = header::parse_content_type(msg, f.value_start, f.value_end);
            attachment |= d.main == "attachment" || d.family("filename").next().is_some();
        }
    }
    let mut ct = ct.unwrap_or_else(|| ContentType {
        main: if in_digest { "message" } else { "text" }.into(),
        sub: if in_digest { "rfc822" } else { "plain" }.into(),
        params: Vec::new(),
    });
    if ct.main.is_empty() || (ct.main != "multipart" && ct.sub.is_empty()) {
        ct.main = "application".into();
        ct.sub = "octet-stream".into();
    }
    attachment |= ct.family("name").next().is_some();
    let idx = parts.len();
    parts.push(Part {
        start,
        header_end,
        body_start,
        end,
        ct,
        cte: cte.unwrap_or(Cte::SevenBit),
        attachment,
        parent,
        fields,
        children: Vec::new(),
        close_at: None,
        obs_colon,
        conflict,
    });
    if parts[idx].ct.main != "multipart" {
        return Ok(idx);
    }
    let boundary = parts[idx].ct.param("boundary").map(|b| b.to_vec());
    if boundary
        .as_deref()
        .is_some_and(|b| b.ends_with(b" ") || b.ends_with(b"\t"))
    {
        // RFC 2046 forbids it; some readers strip the white space, others keep it, so they
        // split the message differently.
        return Err(InjectError::Malformed(
            "a multipart boundary ends with white space".into(),
        ));
    }
    // Never collect more child ranges than the part budget has room for.
    let room = limits.max_parts - parts.len();
    let split = match boundary.filter(|b| !b.is_empty() && b.len() <= 200) {
        Some(b) => split_multipart(msg, body_start, end, &b, room)?,
        None => None,
    };
    let Some((ranges, close_at)) = split else {
        return Err(InjectError::Malformed(
            "a multipart has no boundary, or its boundary never occurs".into(),
        ));
    };
    let digest = parts[idx].ct.sub == "digest";
    parts[idx].close_at = close_at;
    let mut children = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        let at = Span {
            start: s,
            end: e,
            header: None,
        };
        children.push(scan_part(
            msg,
            at,
            Some(idx),
            depth + 1,
            digest,
            limits,
            parts,
        )?);
    }
    parts[idx].children = children;
    Ok(idx)
}

/// Child ranges of a multipart, and where the eol before its close delimiter starts.
type Split = (Vec<(usize, usize)>, Option<usize>);

/// Splits a multipart body at its delimiter lines. Returns the child ranges and where the eol
/// before the close delimiter starts. `None` when no delimiter occurs; an error when there
/// are more than `room` children (they are never all collected).
fn split_multipart(
    msg: &[u8],
    body_start: usize,
    end: usize,
    boundary: &[u8],
    room: usize,
) -> Result<Option<Split>, InjectError> {
    let too_many = || InjectError::TooComplex(format!("more than {room} more parts"));
    let mut needle = Vec::with_capacity(boundary.len() + 2);
    needle.extend_from_slice(b"--");
    needle.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&needle);
    let Some(region) = msg.get(..end) else {
        return Ok(None);
    };
    let mut pos = body_start;
    let mut ranges = Vec::new();
    let mut open: Option<usize> = None; // start of the current child
    while pos < end {
        let Some(found) = region.get(pos..).and_then(|r| finder.find(r)) else {
            break;
        };
        let i = pos + found;
        pos = i + 1;
        if i != body_start && region.get(i.wrapping_sub(1)) != Some(&b'\n') {
            continue;
        }
        let mut j = i + needle.len();
        let close = region.get(j..j + 2) == Some(b"--");
        if close {
            j += 2;
        }
        while matches!(region.get(j), Some(b' ') | Some(b'\t')) {
            j += 1;
        }
        let line_end = match (region.get(j), region.get(j + 1)) {
            (None, _) => j,
            (Some(b'\n'), _) => j + 1,
            (Some(b'\r'), Some(b'\n')) => j + 2,
            _ => continue, // a longer boundary that starts with ours
        };
        // The eol before the delimiter belongs to the delimiter.
        let mut pre = i;
        if i > body_start {
            pre -= 1;
            if pre > body_start && region.get(pre - 1) == Some(&b'\r') {
                pre -= 1;
            }
        }
        if let Some(s) = open.take() {
            if ranges.len() >= room {
                return Err(too_many());
            }
            ranges.push((s, pre.max(s)));
        }
        if close {
            return Ok(Some((ranges, Some(pre))));
        }
        open = Some(line_end);
        pos = line_end;
    }
    if let Some(s) = open {
        if ranges.len() >= room {
            return Err(too_many());
        }
        ranges.push((s, end));
    }
    if ranges.is_empty() {
        return Ok(None);
    }
    Ok(Some((ranges, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans with the top header block read as the injector reads it.
    fn scan(m: &[u8], limits: Limits) -> Result<Structure, InjectError> {
        super::scan(m, limits, header::block(m, header::top_start(m), m.len()))
    }

    const LIMITS: Limits = Limits {
        max_depth: 16,
        max_parts: 100,
    };

    #[test]
    fn scanner_splits_nested_multiparts_into_exact_ranges() {
        let m = b"Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\npre\r\n--a\r\nContent-Type: text/plain\r\n\r\nhello\r\n--a\r\nContent-Type: multipart/alternative; boundary=ab\r\n\r\n--ab\r\n\r\nx\r\n--ab--\r\n--a--\r\nepi";
        let s = scan(m, LIMITS).unwrap();
        assert_eq!(s.eol, b"\r\n");
        assert_eq!(s.parts.len(), 4);
        let p1 = &s.parts[1];
        assert_eq!(
            &m[p1.start..p1.end],
            b"Content-Type: text/plain\r\n\r\nhello"
        );
        assert_eq!(&m[p1.body_start..p1.end], b"hello");
        let p3 = &s.parts[3];
        assert_eq!(&m[p3.body_start..p3.end], b"x");
        assert!(s.parts[0].close_at.is_some());
    }

    #[test]
    fn scanner_rejects_missing_boundary_and_ignores_longer_lookalikes() {
        let m = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno delimiters here";
        assert!(scan(m, LIMITS).is_err());
        let m = b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zzz\r\n--zz\r\n\r\nbody\r\n--zz--";
        let s = scan(m, LIMITS).unwrap();
        assert_eq!(s.parts.len(), 2);
        assert_eq!(&m[s.parts[1].body_start..s.parts[1].end], b"body");
    }

    #[test]
    fn scanner_bounds_depth() {
        let mut m = Vec::new();
        for i in 0..40 {
            m.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        let r = scan(&m, LIMITS);
        assert!(matches!(r, Err(InjectError::TooComplex(_))), "{r:?}");
    }
}
