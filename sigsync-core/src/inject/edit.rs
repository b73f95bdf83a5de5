//! Planning the edits of one changed body: where the encoded signature goes in the original
//! bytes, which headers of the part must change (charset, transfer encoding), and how the body
//! is written (spliced between the original quoted-printable lines, or re-encoded).

use std::borrow::Cow;

use super::body::Body;
use super::codec;
use super::engine::{normalize_eol, Inserts};
use super::header;
use super::outcome::InjectError;
use super::structure::{Cte, Structure};
use super::writer::{BodyEdit, Content, Edit};

/// Encodes HTML for a part: the part's charset (references for what it cannot hold), and
/// ASCII only (references for the rest) in 7-bit parts and in parts that declare no charset,
/// which readers may take for anything.
fn encode_html(b: &Body<'_>, cte: &Cte, s: &str) -> Vec<u8> {
    let ascii_only = matches!(cte, Cte::SevenBit) || !b.charset.declared;
    let mut bytes = b.charset.encode(s, true).unwrap_or_default();
    if ascii_only && !bytes.is_ascii() {
        let mut esc = String::with_capacity(s.len() + 16);
        for ch in s.chars() {
            if ch.is_ascii() {
                esc.push(ch);
            } else {
                esc.push_str(&format!("&#{};", ch as u32));
            }
        }
        bytes = b.charset.encode(&esc, true).unwrap_or_default();
    }
    bytes
}

/// The longest line SMTP carries (RFC 5321), without its eol.
const MAX_LINE: usize = 998;

/// Breaks HTML lines that would pass 900 octets after a `>` or a space (harmless in HTML),
/// counting from `col`, the column where the text lands.
fn wrap_long_lines(b: &[u8], eol: &[u8], col: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + 16);
    let mut run = col;
    for &c in b {
        out.push(c);
        run = if c == b'\n' { 0 } else { run + 1 };
        if run > 900 && (c == b'>' || c == b' ') {
            out.extend_from_slice(eol);
            run = 0;
        }
    }
    out
}

/// Whether splicing `inserts` (sorted) into `raw` makes a line longer than 998 octets that
/// was not already that long in the input (the lines the insertions land in, and their own).
fn makes_long_lines(raw: &[u8], inserts: &[(usize, Vec<u8>)]) -> bool {
    let line_len = |l: &[u8]| l.strip_suffix(b"\r").unwrap_or(l).len();
    let mut i = 0;
    while i < inserts.len() {
        let k = inserts[i].0.min(raw.len());
        let ls = memchr::memrchr(b'\n', &raw[..k]).map_or(0, |n| n + 1);
        let le = memchr::memchr(b'\n', &raw[k..]).map_or(raw.len(), |n| k + n);
        let allowed = MAX_LINE.max(line_len(&raw[ls..le]));
        // Every insertion on this original line, spliced into it.
        let mut line = Vec::new();
        let mut at = ls;
        while i < inserts.len() && inserts[i].0.min(raw.len()) <= le {
            let k = inserts[i].0.min(raw.len()).max(at);
            line.extend_from_slice(&raw[at..k]);
            line.extend_from_slice(&inserts[i].1);
            at = k;
            i += 1;
        }
        line.extend_from_slice(&raw[at..le]);
        if line.split(|&c| c == b'\n').any(|l| line_len(l) > allowed) {
            return true;
        }
    }
    false
}

fn map_point(b: &Body<'_>, at: usize) -> Result<usize, InjectError> {
    b.charset
        .raw_offset(b.text(), b.raw(), at)
        .ok_or_else(|| InjectError::Charset("cannot map the insertion point".into()))
}

fn check_splice(b: &Body<'_>, inserts: &[(usize, Vec<u8>)]) -> Result<(), InjectError> {
    if b.charset.splice_is_clean(b.text(), b.raw(), inserts) {
        Ok(())
    } else {
        Err(InjectError::Charset(
            "the insertion would change how the text around it reads in its charset".into(),
        ))
    }
}

pub(crate) fn html_edit<'m>(
    msg: &'m [u8],
    st: &Structure,
    b: Body<'m>,
    ins: Vec<(usize, String)>,
    edits: &mut Vec<Edit<'m>>,
) -> Result<(), InjectError> {
    let p = &st.parts[b.idx];
    let idx = b.idx;
    let mut cte = p.cte.clone();
    let mut inserts = Vec::with_capacity(ins.len());
    for (at, s) in ins {
        inserts.push((map_point(&b, at)?, encode_html(&b, &cte, &s)));
    }
    inserts.sort_by_key(|i| i.0);
    check_splice(&b, &inserts)?;
    if matches!(cte, Cte::SevenBit | Cte::EightBit | Cte::Binary) {
        let raw = b.raw();
        for (k, bytes) in inserts.iter_mut() {
            let col = *k - memchr::memrchr(b'\n', &raw[..*k]).map_or(0, |n| n + 1);
            *bytes = wrap_long_lines(bytes, st.eol, col);
        }
        if makes_long_lines(raw, &inserts) {
            // No place to break the line: the part is re-encoded as quoted-printable.
            cte = Cte::QuotedPrintable;
            edits.extend(set_cte_qp(msg, st, idx));
        }
    }
    finish_header(msg, st, idx, edits);
    let ends_with_eol = msg
        .get(p.body_start..p.end)
        .is_some_and(|x| x.ends_with(b"\n"));
    edits.push(body_edit(
        msg,
        st,
        idx,
        (b.into_raw(), true),
        inserts,
        cte,
        ends_with_eol,
    ));
    Ok(())
}

/// The edit for a changed body. Quoted-printable bodies whose content is the original but for
/// the insertions get the encoded insertions spliced between their original encoded lines (a
/// minimal diff); everything else is re-encoded from the decoded content.
fn body_edit<'m>(
    msg: &'m [u8],
    st: &Structure,
    idx: usize,
    (content, original): (Cow<'m, [u8]>, bool),
    inserts: Vec<(usize, Vec<u8>)>,
    cte: Cte,
    ends_with_eol: bool,
) -> Edit<'m> {
    let p = &st.parts[idx];
    let encoded = msg.get(p.body_start..p.end).unwrap_or_default();
    if original && cte == Cte::QuotedPrintable && p.cte == Cte::QuotedPrintable {
        let spliced: Option<Vec<(usize, Vec<u8>)>> = inserts
            .iter()
            .map(|(k, bytes)| {
                let e = codec::qp_encoded_offset(encoded, *k)?;
                let mid = e > 0 && encoded.get(e - 1) != Some(&b'\n');
                Some((e, codec::qp_splice(bytes, st.eol, mid)))
            })
            .collect();
        if let Some(inserts) = spliced {
            return Edit {
                start: p.body_start,
                end: p.end,
                content: Content::Body(BodyEdit {
                    content: Cow::Borrowed(encoded),
                    inserts,
                    cte: Cte::SevenBit,
                    ends_with_eol,
                }),
            };
        }
    }
    Edit {
        start: p.body_start,
        end: p.end,
        content: Content::Body(BodyEdit {
            content,
            inserts,
            cte,
            ends_with_eol,
        }),
    }
}

pub(crate) fn text_edit<'m>(
    msg: &'m [u8],
    st: &Structure,
    b: Body<'m>,
    ins: Vec<(usize, &str, bool)>,
    edits: &mut Vec<Edit<'m>>,
) -> Result<(), InjectError> {
    let p = &st.parts[b.idx];
    let idx = b.idx;
    let eol = if b.text().contains("\r\n") || (!b.text().contains('\n') && st.eol == b"\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    // Build the inserted blocks: a blank line before (unless there is one), the block, and a
    // blank line before the history it sits above.
    let mut blocks = Vec::with_capacity(ins.len());
    for (at, s, above) in ins {
        let before = b.text().get(..at).unwrap_or_default();
        let mut block = String::new();
        if !before.is_empty() && !before.ends_with('\n') {
            block.push_str(eol);
        }
        // A blank line between the text above and the block, unless there is one already.
        let content_end = before.trim_end_matches(['\r', '\n']).len();
        let trailing = before.get(content_end..).unwrap_or_default();
        let blank_above = trailing.matches('\n').count() >= 2;
        if !before.trim().is_empty() && !blank_above {
            block.push_str(eol);
        }
        block.push_str(&normalize_eol(s.trim_end_matches(['\r', '\n']), eol));
        block.push_str(eol);
        if above {
            block.push_str(eol);
        }
        blocks.push((at, block));
    }
    let encoded: Option<Vec<Vec<u8>>> = blocks
        .iter()
        .map(|(_, s)| b.charset.encode(s, false))
        .collect();
    let mut header_edits = Vec::new();
    let (content, inserts, original): (Cow<'m, [u8]>, Inserts, bool) = match encoded {
        Some(enc) => {
            let mut inserts = Vec::with_capacity(enc.len());
            for ((at, _), bytes) in blocks.iter().zip(enc) {
                inserts.push((map_point(&b, *at)?, bytes));
            }
            check_splice(&b, &inserts)?;
            if !b.charset.declared && inserts.iter().any(|i| !i.1.is_ascii()) {
                header_edits.extend(set_charset_utf8(msg, st, b.idx));
            }
            (b.into_raw(), inserts, true)
        }
        None => {
            // The signature does not fit the charset: the part becomes UTF-8.
            if !b.lossless {
                return Err(InjectError::Charset(
                    "the body's bytes are invalid in its charset; cannot convert to UTF-8".into(),
                ));
            }
            header_edits.extend(set_charset_utf8(msg, st, idx));
            let inserts = blocks
                .into_iter()
                .map(|(at, s)| (at, s.into_bytes()))
                .collect();
            (Cow::Owned(b.text().as_bytes().to_vec()), inserts, false)
        }
    };
    let mut cte = p.cte.clone();
    let unencoded = matches!(cte, Cte::SevenBit | Cte::EightBit | Cte::Binary);
    let eight = matches!(cte, Cte::SevenBit)
        && (inserts.iter().any(|i| !i.1.is_ascii()) || !content.is_ascii());
    let long = unencoded && makes_long_lines(&content, &inserts);
    if eight || long {
        cte = Cte::QuotedPrintable;
        header_edits.extend(set_cte_qp(msg, st, idx));
    }
    let ends_with_eol = msg
        .get(p.body_start..p.end)
        .is_some_and(|x| x.ends_with(b"\n"));
    edits.extend(header_edits);
    finish_header(msg, st, idx, edits);
    edits.push(body_edit(
        msg,
        st,
        idx,
        (content, original),
        inserts,
        cte,
        ends_with_eol,
    ));
    Ok(())
}

/// Edits that declare `charset=utf-8` on a part, touching only the bytes that must change.
/// The part ends with one coherent charset: RFC 2231 forms (`charset*=''us-ascii`,
/// `charset*0*=`) that readers would prefer over a plain `charset=` are replaced or removed.
fn set_charset_utf8<'m>(msg: &[u8], st: &Structure, idx: usize) -> Vec<Edit<'m>> {
    let p = &st.parts[idx];
    let eol = st.eol;
    if let Some(f) = find(msg, &p.fields, "content-type") {
        let ct = header::parse_content_type(msg, f.value_start, f.value_end);
        let family: Vec<&header::Param> = ct.family("charset").collect();
        return match family.as_slice() {
            [] => vec![Edit {
                start: f.value_end,
                end: f.value_end,
                content: Content::Bytes(b"; charset=utf-8".to_vec()),
            }],
            [only] if only.name == "charset" => {
                let (s, e) = only.range;
                let quoted = msg.get(s) == Some(&b'"');
                let v: &[u8] = if quoted { b"\"utf-8\"" } else { b"utf-8" };
                vec![Edit {
                    start: s,
                    end: e,
                    content: Content::Bytes(v.to_vec()),
                }]
            }
            [first, rest @ ..] => {
                // Quoted as the value it replaces was: whatever follows a closing quote (junk
                // a reader skips) must not join an unquoted value on the next reading.
                let quoted = msg.get(first.range.0) == Some(&b'"');
                let v: &[u8] = if quoted {
                    b"; charset=\"utf-8\""
                } else {
                    b"; charset=utf-8"
                };
                let mut edits = vec![Edit {
                    start: first.segment_start,
                    end: first.range.1,
                    content: Content::Bytes(v.to_vec()),
                }];
                // The other forms go with their whole segment, up to the next `;`: junk after
                // a value would otherwise join whatever comes before it.
                let segment_end = |r: &header::Param| {
                    ct.params
                        .iter()
                        .map(|q| q.segment_start)
                        .filter(|&s| s >= r.range.1)
                        .min()
                        .unwrap_or(f.value_end)
                        .max(r.range.1)
                };
                edits.extend(rest.iter().map(|r| Edit {
                    start: r.segment_start,
                    end: segment_end(r),
                    content: Content::Bytes(Vec::new()),
                }));
                edits
            }
        };
    }
    let mut line = Vec::new();
    if idx == 0 && find(msg, &p.fields, "mime-version").is_none() {
        line.extend_from_slice(b"MIME-Version: 1.0");
        line.extend_from_slice(eol);
    }
    line.extend_from_slice(b"Content-Type: text/plain; charset=utf-8");
    line.extend_from_slice(eol);
    vec![Edit {
        start: p.header_end,
        end: p.header_end,
        content: Content::HeaderLine(line),
    }]
}

/// Ends a changed part's header block properly: the eol of a last field that lacks one
/// (before any field line added there), and the blank line when the block ended without one
/// (a body line straight after the last field, which mail clients read as the body; or no
/// body at all): a changed body, whose first line may now look like a field, is then read
/// the same by everyone. Called after the part's header edits are planned.
fn finish_header<'m>(msg: &[u8], st: &Structure, idx: usize, edits: &mut Vec<Edit<'m>>) {
    let p = &st.parts[idx];
    if p.header_end != p.body_start {
        return;
    }
    let at = p.body_start;
    let eol = || Edit {
        start: at,
        end: at,
        content: Content::Bytes(st.eol.to_vec()),
    };
    // The line before may lack its eol: a last field, or the delimiter line of a part that
    // starts at the very end of the message. Not when the stamp removes that field (a
    // foreign loop header): the line before it in the output is complete, and another eol
    // would end the header there, making the lines added after it body text.
    if at > 0 && msg.get(at - 1) != Some(&b'\n') && !st.stamp_removed_ends.contains(&at) {
        // Edits of that last field's value at its very end (an empty `Content-Transfer-
        // Encoding:` filled in, a `; charset=` appended) belong on its line: before the eol
        // that completes it, and before the field lines added after it.
        let mut values = Vec::new();
        let mut i = 0;
        while i < edits.len() {
            let e = &edits[i];
            if e.start == at && e.end == at && matches!(e.content, Content::Bytes(_)) {
                values.push(edits.remove(i));
            } else {
                i += 1;
            }
        }
        let first_line = edits
            .iter()
            .position(|e| {
                e.start == at && e.end == at && matches!(e.content, Content::HeaderLine(_))
            })
            .unwrap_or(edits.len());
        values.push(eol());
        edits.splice(first_line..first_line, values);
    }
    edits.push(eol());
}

/// Edits that declare quoted-printable on a part.
fn set_cte_qp<'m>(msg: &[u8], st: &Structure, idx: usize) -> Vec<Edit<'m>> {
    let p = &st.parts[idx];
    if let Some(f) = find(msg, &p.fields, "content-transfer-encoding") {
        return vec![Edit {
            start: f.value_start,
            end: f.value_end,
            content: Content::Bytes(b" quoted-printable".to_vec()),
        }];
    }
    let mut line = b"Content-Transfer-Encoding: quoted-printable".to_vec();
    line.extend_from_slice(st.eol);
    vec![Edit {
        start: p.header_end,
        end: p.header_end,
        content: Content::HeaderLine(line),
    }]
}

/// The first of `fields` named `name` (ASCII case-insensitive).
fn find(msg: &[u8], fields: &[header::Field], name: &str) -> Option<header::Field> {
    fields
        .iter()
        .find(|f| f.name(msg).eq_ignore_ascii_case(name.as_bytes()))
        .copied()
}
