//! Header blocks as byte ranges: where a block ends, its fields (with folding kept), the
//! parameters of `Content-Type`, and the addresses of `From`/`To`/`Cc`.
//!
//! Nothing here copies or refolds a header: callers get ranges into the message and edit only
//! the bytes they must.

use memchr::memchr;

/// One header field: the whole field (name to the end of its last continuation line, eol
/// included) and where its value starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    /// First byte of the field name.
    pub start: usize,
    /// One past the eol of the last continuation line.
    pub end: usize,
    /// One past the colon.
    pub value_start: usize,
    /// End of the value, before the final eol.
    pub value_end: usize,
}

impl Field {
    /// The name, as written.
    pub fn name<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        let colon = self.value_start.saturating_sub(1);
        trim(msg.get(self.start..colon).unwrap_or_default())
    }

    /// The raw value (folding included), trimmed.
    pub fn value<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        trim(
            msg.get(self.value_start..self.value_end)
                .unwrap_or_default(),
        )
    }
}

/// Where the top-level header block starts: after a leading mbox `From ` envelope line (as
/// mailbox files and some filters hand messages over), which is not a header field.
pub(crate) fn top_start(msg: &[u8]) -> usize {
    if msg.starts_with(b"From ") {
        memchr(b'\n', msg).map_or(msg.len(), |i| i + 1)
    } else {
        0
    }
}

/// The message's top-level header block (after an mbox `From ` line, if any).
pub(crate) fn top(msg: &[u8]) -> Block {
    block(msg, top_start(msg), msg.len())
}

/// A header block read in one pass: where it ends, where the body starts, and its fields.
/// Every reader of a block (the loop header, the MIME structure, the skips, the policy's
/// facts, the edits) shares this one index instead of scanning the lines again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Block {
    /// End of the last field (the blank line, if any, follows).
    pub end: usize,
    /// First byte of the body.
    pub body_start: usize,
    /// The fields in order, folding kept; lines without a colon are not fields.
    pub fields: Vec<Field>,
}

/// Where the colon of a field line is, if `line` (not a continuation) can belong to a
/// header block as mail clients read one: `name:`, the name printable ASCII without a colon,
/// white space allowed before the colon as in RFC 5322's obsolete syntax.
fn field_colon(line: &[u8]) -> Option<usize> {
    let name_len = line
        .iter()
        .position(|&c| !(33..=126).contains(&c) || c == b':')
        .unwrap_or(line.len());
    if name_len == 0 {
        return None;
    }
    let rest = &line[name_len..];
    let ws = rest
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(rest.len());
    (rest.get(ws) == Some(&b':')).then_some(name_len + ws)
}

/// Reads the header block that starts at `start` (and ends by `end` at the latest) in one
/// pass. The block ends at the blank line (which belongs neither to it nor to the body), or,
/// as mail clients read it, at the first line that is neither a field nor a continuation (a
/// body line straight after the last field: then `end` and `body_start` are both the start
/// of that line); without either, the whole range is header. A continuation line belongs
/// to the field before it; leading continuation lines form a field of their own when they
/// hold a colon.
pub(crate) fn block(msg: &[u8], start: usize, end: usize) -> Block {
    let region = msg.get(..end).unwrap_or(msg);
    let mut fields = Vec::with_capacity(if start == 0 { 24 } else { 4 });
    // The open field: its first byte and, for a field line, where its colon is.
    let mut open: Option<(usize, Option<usize>)> = None;
    let mut pos = start;
    let (he, body_start) = loop {
        if pos >= end {
            break (end, end);
        }
        if let Some(n) = eol_len_at(region, pos) {
            break (pos, pos + n);
        }
        let line = region.get(pos..).unwrap_or_default();
        let colon = match line.first() {
            None => break (pos, pos),
            Some(b' ' | b'\t') => None,
            Some(_) => match field_colon(line) {
                Some(c) => Some(pos + c),
                None => break (pos, pos),
            },
        };
        if colon.is_some() || open.is_none() {
            if let Some((s, c)) = open.take() {
                push_field(region, s, c, pos, &mut fields);
            }
            open = Some((pos, colon));
        }
        match memchr(b'\n', line) {
            None => break (end, end),
            Some(i) => pos += i + 1,
        }
    };
    if let Some((s, c)) = open {
        push_field(region, s, c, he, &mut fields);
    }
    Block {
        end: he,
        body_start,
        fields,
    }
}

/// Adds the field `[start, end)` whose colon is at `colon` (searched for when not known: a
/// run of leading continuation lines, which is a field only when it holds one).
fn push_field(msg: &[u8], start: usize, colon: Option<usize>, end: usize, out: &mut Vec<Field>) {
    let Some(colon) =
        colon.or_else(|| memchr(b':', msg.get(start..end).unwrap_or_default()).map(|i| start + i))
    else {
        return;
    };
    let mut value_end = end;
    if msg.get(value_end.wrapping_sub(1)) == Some(&b'\n') {
        value_end -= 1;
        if msg.get(value_end.wrapping_sub(1)) == Some(&b'\r') {
            value_end -= 1;
        }
    }
    out.push(Field {
        start,
        end,
        value_start: (colon + 1).min(value_end),
        value_end,
    });
}

/// The length of an eol (`\n` or `\r\n`) at `pos`, if there is one.
pub(super) fn eol_len_at(msg: &[u8], pos: usize) -> Option<usize> {
    match (msg.get(pos), msg.get(pos + 1)) {
        (Some(b'\n'), _) => Some(1),
        (Some(b'\r'), Some(b'\n')) => Some(2),
        _ => None,
    }
}

/// Trims ASCII whitespace (folding included) from both ends.
pub(crate) fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    b.get(s..e).unwrap_or_default()
}

/// One parameter of a structured header field as written (an RFC 2231 section or
/// extended value is one parameter: `title*0*`, `title*1`, `charset*`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Param {
    /// The lower-cased name as written, e.g. `charset` or `name*0*`.
    pub name: String,
    /// The value without quotes (quoted pairs undone).
    pub value: Vec<u8>,
    /// Byte range of the value as written (quotes included).
    pub range: (usize, usize),
    /// Where the parameter's segment starts: the `;` before it.
    pub segment_start: usize,
}

impl Param {
    /// Whether this parameter is `base` or one of its RFC 2231 forms (`base*`, `base*N`,
    /// `base*N*`); returns the section number and whether the value is extended
    /// (percent-encoded) when so. `base*` is section `None`.
    fn form_of(&self, base: &str) -> Option<(Option<u32>, bool)> {
        let rest = self.name.strip_prefix(base)?;
        if rest.is_empty() {
            return Some((None, false));
        }
        let rest = rest.strip_prefix('*')?;
        if rest.is_empty() {
            return Some((None, true));
        }
        let (digits, extended) = match rest.strip_suffix('*') {
            Some(d) => (d, true),
            None => (rest, false),
        };
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) || digits.len() > 4 {
            return None;
        }
        Some((digits.parse().ok(), extended))
    }
}

/// A parsed `Content-Type` (or `Content-Disposition`): lower-cased type and subtype, and the
/// parameters as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContentType {
    /// e.g. `text`.
    pub main: String,
    /// e.g. `html`.
    pub sub: String,
    /// The parameters in order, as written.
    pub params: Vec<Param>,
}

impl ContentType {
    /// `type/subtype`-equality, lower-case arguments.
    #[cfg(test)]
    pub fn is(&self, main: &str, sub: &str) -> bool {
        self.main == main && self.sub == sub
    }

    /// The value of parameter `name` (lower case) as readers see it, RFC 2231 included: an
    /// extended value (`name*=utf-8''a%20b`) wins over a plain one, then continuations
    /// (`name*0*=`, `name*1=`, ...) joined in order, then the plain `name=`. Percent-escapes
    /// are decoded; the bytes are in the charset the value declares.
    pub fn param(&self, name: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        use std::borrow::Cow;
        let mut plain = None;
        let mut sections: Vec<(u32, bool, &[u8])> = Vec::new();
        for p in &self.params {
            match p.form_of(name) {
                Some((None, true)) => return Some(Cow::Owned(ext_value(&p.value, true))),
                Some((None, false)) => {
                    plain.get_or_insert(&p.value);
                }
                Some((Some(n), ext)) => sections.push((n, ext, &p.value)),
                None => {}
            }
        }
        if !sections.is_empty() {
            sections.sort_by_key(|s| s.0);
            let mut out = Vec::new();
            for (want, (n, ext, v)) in sections.iter().enumerate() {
                if *n as usize != want {
                    break; // a gap ends the value, as RFC 2231 says
                }
                if *ext {
                    out.extend_from_slice(&ext_value(v, want == 0));
                } else {
                    out.extend_from_slice(v);
                }
            }
            if !out.is_empty() || plain.is_none() {
                return Some(Cow::Owned(out));
            }
        }
        plain.map(|v| Cow::Borrowed(v.as_slice()))
    }

    /// Every parameter that carries (part of) `name`: `name`, `name*`, `name*N`, `name*N*`.
    pub fn family<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Param> + 'a {
        self.params
            .iter()
            .filter(move |p| p.form_of(name).is_some())
    }
}

/// Decodes an RFC 2231 extended value: `charset'language'` (on the first section only) is
/// dropped and `%XX` escapes decoded.
fn ext_value(v: &[u8], first: bool) -> Vec<u8> {
    let mut v = v;
    if first {
        let mut quotes = memchr::memchr_iter(b'\'', v);
        if let (Some(_), Some(second)) = (quotes.next(), quotes.next()) {
            v = &v[second + 1..];
        }
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' {
            let h = |c: u8| (c as char).to_digit(16);
            if let (Some(a), Some(b)) = (
                v.get(i + 1).copied().and_then(h),
                v.get(i + 2).copied().and_then(h),
            ) {
                out.push((a * 16 + b) as u8);
                i += 3;
                continue;
            }
        }
        out.push(v[i]);
        i += 1;
    }
    out
}

/// Parses a `Content-Type` value that lies at `[vs, ve)` in `msg`. Parameter ranges are
/// absolute. Comments are not supported (they are rare in Content-Type and harmless here).
pub(crate) fn parse_content_type(msg: &[u8], vs: usize, ve: usize) -> ContentType {
    let v = msg.get(vs..ve).unwrap_or_default();
    let mut ct = ContentType::default();
    let semi = memchr(b';', v).unwrap_or(v.len());
    let mt = trim(v.get(..semi).unwrap_or_default());
    if let Some(slash) = memchr(b'/', mt) {
        ct.main = lower(trim(mt.get(..slash).unwrap_or_default()));
        ct.sub = lower(trim(mt.get(slash + 1..).unwrap_or_default()));
    } else {
        ct.main = lower(mt);
    }
    let mut i = semi;
    while i < v.len() {
        // skip ';' and whitespace, remembering the last ';'
        let mut segment_start = i;
        while i < v.len() && (v[i] == b';' || v[i].is_ascii_whitespace()) {
            if v[i] == b';' {
                segment_start = i;
            }
            i += 1;
        }
        let name_start = i;
        while i < v.len() && v[i] != b'=' && v[i] != b';' {
            i += 1;
        }
        if i >= v.len() || v[i] == b';' {
            continue;
        }
        let name = lower(trim(v.get(name_start..i).unwrap_or_default()));
        i += 1; // '='
        while i < v.len() && (v[i] == b' ' || v[i] == b'\t' || v[i] == b'\r' || v[i] == b'\n') {
            i += 1;
        }
        let value_start = i;
        let mut value = Vec::new();
        if v.get(i) == Some(&b'"') {
            i += 1;
            while i < v.len() && v[i] != b'"' {
                if v[i] == b'\\' && i + 1 < v.len() {
                    i += 1;
                }
                if v[i] != b'\r' && v[i] != b'\n' {
                    value.push(v[i]);
                }
                i += 1;
            }
            i = (i + 1).min(v.len());
        } else {
            let len = v[i..]
                .iter()
                .position(|&c| c == b';' || c.is_ascii_whitespace())
                .unwrap_or(v.len() - i);
            value.extend_from_slice(&v[i..i + len]);
            i += len;
        }
        if !name.is_empty() && ct.params.len() < 64 {
            ct.params.push(Param {
                name,
                value,
                range: (vs + value_start, vs + i.min(v.len())),
                segment_start: vs + segment_start,
            });
        }
    }
    ct
}

/// Lower-cases ASCII into a String (non-UTF-8 bytes become U+FFFD).
pub(crate) fn lower(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_ascii_lowercase(),
        Err(_) => String::from_utf8_lossy(b).to_ascii_lowercase(),
    }
}

/// The addresses (addr-specs) in an address-list header value: `<a@b>` where given, else the
/// bare word with an `@`. Display names, quoted strings, comments and groups are skipped.
pub(crate) fn addresses(value: &[u8], out: &mut Vec<String>) {
    let mut depth_comment = 0usize;
    let mut in_quote = false;
    let mut item: Vec<u8> = Vec::new();
    // The text between `<` and `>` (or the end), as a range of `value`.
    let mut angle: Option<(usize, usize)> = None;
    let mut in_angle = false;
    let flush = |item: &mut Vec<u8>, angle: &mut Option<(usize, usize)>, out: &mut Vec<String>| {
        let addr = match angle.take() {
            Some((s, e)) => value.get(s..e).unwrap_or_default(),
            None => item
                .split(|c| c.is_ascii_whitespace())
                .find(|w| w.contains(&b'@'))
                .unwrap_or_default(),
        };
        let addr = trim(addr);
        if addr.contains(&b'@') && out.len() < 1000 {
            out.push(String::from_utf8_lossy(addr).into_owned());
        }
        item.clear();
    };
    for (i, &c) in value.iter().enumerate() {
        if in_quote {
            if c == b'"' {
                in_quote = false;
            }
            continue;
        }
        if depth_comment > 0 {
            match c {
                b'(' => depth_comment += 1,
                b')' => depth_comment -= 1,
                _ => {}
            }
            continue;
        }
        if in_angle {
            if c == b'>' {
                in_angle = false;
            } else if let Some(a) = angle.as_mut() {
                a.1 = i + 1;
            }
            continue;
        }
        match c {
            b'"' => in_quote = true,
            b'(' => depth_comment = 1,
            b'<' => {
                in_angle = true;
                angle = Some((i + 1, i + 1));
            }
            b',' | b';' => flush(&mut item, &mut angle, out),
            b':' => item.clear(), // group name
            _ => item.push(c),
        }
    }
    flush(&mut item, &mut angle, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::header_reference::{fields, header_end};

    #[test]
    fn header_end_handles_crlf_lf_and_missing_blank_line() {
        let m = b"A: 1\r\nB: 2\r\n\r\nbody";
        assert_eq!(header_end(m, 0, m.len()), (12, 14));
        let m = b"A: 1\nB: 2\n\nbody";
        assert_eq!(header_end(m, 0, m.len()), (10, 11));
        let m = b"A: 1\nB: 2";
        assert_eq!(header_end(m, 0, m.len()), (9, 9));
        let m = b"\r\nbody";
        assert_eq!(header_end(m, 0, m.len()), (0, 2));
    }

    #[test]
    fn header_block_ends_at_the_first_line_that_is_not_a_field_as_mail_clients_read_it() {
        let m = b"A: 1\r\n folded\r\nB : 2\r\n<html>body\r\n\r\nmore";
        assert_eq!(header_end(m, 0, m.len()), (22, 22));
        let m = b"A: 1\nFrom someone\n\nbody";
        assert_eq!(header_end(m, 0, m.len()), (5, 5));
        let m = b"From a@b Sat Jan  3 01:05:34 1996\nA: 1\n\nbody";
        let s = top_start(m);
        assert_eq!(&m[s..s + 4], b"A: 1");
        assert_eq!(top_start(b"From: a@b\n\nx"), 0);
    }

    #[test]
    fn rfc2231_values_and_continuations_are_read_as_readers_do() {
        let v = b"text/plain; charset=utf-8; charset*=us-ascii'en'us-ascii; name*0*=utf-8''a%20b; name*1=\"c d\"; boundary*0=x; boundary*1=y";
        let ct = parse_content_type(v, 0, v.len());
        assert_eq!(ct.param("charset").as_deref(), Some(&b"us-ascii"[..]));
        assert_eq!(ct.param("name").as_deref(), Some(&b"a bc d"[..]));
        assert_eq!(ct.param("boundary").as_deref(), Some(&b"xy"[..]));
        assert_eq!(ct.family("charset").count(), 2);
        assert_eq!(ct.family("name").count(), 2);
        assert!(ct.param("filename").is_none());
    }

    #[test]
    fn fields_keep_folding_and_find_is_case_insensitive() {
        let m = b"Subject: a\r\n b\r\ncontent-type: text/plain;\r\n\tcharset=\"utf-8\"\r\n\r\n";
        let (he, _) = header_end(m, 0, m.len());
        let fs: Vec<_> = fields(m, 0, he).collect();
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[0].value(m), b"a\r\n b");
        let f = block(m, 0, m.len())
            .fields
            .into_iter()
            .find(|f| f.name(m).eq_ignore_ascii_case(b"content-type"))
            .unwrap();
        let ct = parse_content_type(m, f.value_start, f.value_end);
        assert!(ct.is("text", "plain"));
        assert_eq!(ct.param("charset").as_deref(), Some(&b"utf-8"[..]));
        let (s, e) = ct.family("charset").next().unwrap().range;
        assert_eq!(&m[s..e], b"\"utf-8\"");
    }

    #[test]
    fn addresses_skip_names_quotes_comments_and_groups() {
        let mut out = Vec::new();
        addresses(
            b"\"O'Brien, Patrick\" <p@x.com>, bob@y.org (Bob), undisclosed:;, =?utf-8?q?Z?= <z@z.z>",
            &mut out,
        );
        assert_eq!(out, vec!["p@x.com", "bob@y.org", "z@z.z"]);
    }
}
