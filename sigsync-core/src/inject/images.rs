//! Inline signature images as `cid:` parts, placed the way mail clients place them: into the
//! multipart/related that already holds the HTML, else by turning the multipart/alternative
//! (or the lone HTML part) into the root of a new multipart/related.

use super::codec::Encoder;
use super::header;
use super::outcome::InjectError;
use super::structure::{Cte, Structure};
use super::writer::{Content, Edit};
use crate::signature::InlineImage;

/// Adds `images` next to the HTML part `host`; returns how many were added.
pub(crate) fn attach(
    msg: &[u8],
    st: &Structure,
    host: usize,
    images: &[InlineImage],
    edits: &mut Vec<Edit<'_>>,
) -> Result<usize, InjectError> {
    let eol = st.eol;
    let part = |i: usize| st.parts.get(i);
    let parent = part(host).and_then(|p| p.parent);
    let is = |i: Option<usize>, sub: &str| {
        i.and_then(part)
            .is_some_and(|p| p.ct.main == "multipart" && p.ct.sub == sub)
    };
    let grandparent = parent.and_then(part).and_then(|p| p.parent);
    // Append to an existing multipart/related.
    let related = if is(parent, "related") {
        parent
    } else if is(parent, "alternative") && is(grandparent, "related") {
        grandparent
    } else {
        None
    };
    if let Some(r) = related.and_then(part) {
        let boundary =
            r.ct.param("boundary")
                .ok_or_else(|| InjectError::Internal("related part without boundary".into()))?;
        let mut b = Vec::new();
        for img in images {
            b.extend_from_slice(eol);
            b.extend_from_slice(b"--");
            b.extend_from_slice(&boundary);
            b.extend_from_slice(eol);
            image_part(img, eol, &mut b);
        }
        let at = r.close_at.unwrap_or(r.end);
        edits.push(Edit {
            start: at,
            end: at,
            content: Content::Bytes(b),
        });
        return Ok(images.len());
    }
    // Wrap the alternative (Outlook's shape) or the HTML part itself in a new related.
    let (wrap, root_type) = if is(parent, "alternative") {
        (parent.unwrap_or(host), "multipart/alternative")
    } else {
        (host, "text/html")
    };
    let w = part(wrap).ok_or_else(|| InjectError::Internal("no part to wrap".into()))?;
    let boundary = new_boundary(msg);
    let ct_line = format!(
        "Content-Type: multipart/related;{eol}\tboundary=\"{boundary}\";{eol}\ttype=\"{root_type}\"{eol}",
        eol = String::from_utf8_lossy(eol)
    )
    .into_bytes();
    let mut open = Vec::new();
    let mut pending: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    if wrap == 0 {
        // The message itself: its content headers move into the root part, the new
        // Content-Type takes the place of the old one, every other header stays as it is.
        let mut moved = Vec::new();
        let mut first = true;
        for f in &w.fields {
            let name = header::lower(f.name(msg));
            if !matches!(
                name.as_str(),
                "content-type"
                    | "content-transfer-encoding"
                    | "content-disposition"
                    | "content-id"
                    | "content-description"
                    | "content-location"
            ) {
                continue;
            }
            // The field moves as already edited (a charset or transfer encoding changed for
            // the signature): those edits are applied here and leave the list.
            let mut field = Vec::new();
            let mut at = f.start;
            let mut i = 0;
            while i < edits.len() {
                let e = &edits[i];
                let inside = f.start <= e.start && e.end <= f.end && e.start < f.end;
                let Content::Bytes(_) = &e.content else {
                    i += 1;
                    continue;
                };
                if !inside {
                    i += 1;
                    continue;
                }
                let e = edits.remove(i);
                let Content::Bytes(b) = e.content else {
                    unreachable!()
                };
                pending.push((e.start, e.end, b));
            }
            pending.sort_by_key(|p| (p.0, p.1));
            for (s, e, b) in pending.drain(..) {
                field.extend_from_slice(msg.get(at..s).unwrap_or_default());
                field.extend_from_slice(&b);
                at = e;
            }
            field.extend_from_slice(msg.get(at..f.end).unwrap_or_default());
            moved.extend_from_slice(&field);
            if !moved.ends_with(b"\n") {
                moved.extend_from_slice(eol);
            }
            edits.push(Edit {
                start: f.start,
                end: f.end,
                content: Content::Bytes(if first { ct_line.clone() } else { Vec::new() }),
            });
            first = false;
        }
        if first {
            return Err(InjectError::Malformed("no Content-Type to move".into()));
        }
        // Content fields added to the message's header for the signature belong to the
        // root part now (a transfer encoding on the new multipart would be invalid).
        let mut i = 0;
        while i < edits.len() {
            let e = &edits[i];
            if e.start == w.header_end && e.end == w.header_end {
                if let Content::HeaderLine(_) = e.content {
                    if let Content::HeaderLine(line) = edits.remove(i).content {
                        moved.extend_from_slice(&line);
                    }
                    continue;
                }
            }
            i += 1;
        }
        open.extend_from_slice(b"--");
        open.extend_from_slice(boundary.as_bytes());
        open.extend_from_slice(eol);
        open.extend_from_slice(&moved);
        open.extend_from_slice(eol);
        // Before the body's own edit, which starts at the same point when the body is empty
        // (the blank line that ends the header stays before it).
        let at = edits
            .iter()
            .position(|e| e.start == w.body_start && matches!(e.content, Content::Body(_)))
            .unwrap_or(edits.len());
        edits.insert(
            at,
            Edit {
                start: w.body_start,
                end: w.body_start,
                content: Content::Bytes(open),
            },
        );
    } else {
        open.extend_from_slice(&ct_line);
        open.extend_from_slice(eol);
        open.extend_from_slice(b"--");
        open.extend_from_slice(boundary.as_bytes());
        open.extend_from_slice(eol);
        // Before every edit of the wrapped part (a header line added to an empty header
        // starts at the same point).
        let at = edits
            .iter()
            .position(|e| e.start == w.start)
            .unwrap_or(edits.len());
        edits.insert(
            at,
            Edit {
                start: w.start,
                end: w.start,
                content: Content::Bytes(open),
            },
        );
    }
    let mut close = Vec::new();
    for img in images {
        close.extend_from_slice(eol);
        close.extend_from_slice(b"--");
        close.extend_from_slice(boundary.as_bytes());
        close.extend_from_slice(eol);
        image_part(img, eol, &mut close);
    }
    close.extend_from_slice(eol);
    close.extend_from_slice(b"--");
    close.extend_from_slice(boundary.as_bytes());
    close.extend_from_slice(b"--");
    if wrap == 0 {
        close.extend_from_slice(eol);
    }
    edits.push(Edit {
        start: w.end,
        end: w.end,
        content: Content::Bytes(close),
    });
    Ok(images.len())
}

/// A boundary that does not occur in the message (deterministic, so output is reproducible).
fn new_boundary(msg: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in msg.iter().take(4096) {
        h = (h ^ c as u64).wrapping_mul(0x100_0000_01b3);
    }
    h ^= msg.len() as u64;
    loop {
        let b = format!("=_sigsync_{h:016x}");
        if memchr::memmem::find(msg, b.as_bytes()).is_none() {
            return b;
        }
        h = h.wrapping_mul(0x100_0000_01b3).wrapping_add(1);
    }
}

fn clean(s: &str, allow: impl Fn(char) -> bool) -> String {
    s.chars().map(|c| if allow(c) { c } else { '_' }).collect()
}

/// Writes one image part (headers, blank line, base64 without a final line break).
fn image_part(img: &InlineImage, eol: &'static [u8], out: &mut Vec<u8>) {
    let ct = if !img.content_type.is_empty()
        && img
            .content_type
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/.+-".contains(c))
    {
        img.content_type.as_str()
    } else {
        "application/octet-stream"
    };
    let cid = clean(img.content_id.trim_matches(['<', '>']), |c| {
        c.is_ascii_graphic() && c != '<' && c != '>'
    });
    let name = img.filename.as_deref().map(|f| {
        clean(f, |c| {
            c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' '
        })
    });
    let e = String::from_utf8_lossy(eol);
    let mut h = match &name {
        Some(n) => format!("Content-Type: {ct}; name=\"{n}\"{e}"),
        None => format!("Content-Type: {ct}{e}"),
    };
    h.push_str(&format!("Content-Transfer-Encoding: base64{e}"));
    match &name {
        Some(n) => h.push_str(&format!("Content-Disposition: inline; filename=\"{n}\"{e}")),
        None => h.push_str(&format!("Content-Disposition: inline{e}")),
    }
    h.push_str(&format!("Content-ID: <{cid}>{e}{e}"));
    out.extend_from_slice(h.as_bytes());
    let mut enc = Encoder::new(&Cte::Base64, eol);
    enc.write(&img.data, out);
    enc.finish(false, out);
}
