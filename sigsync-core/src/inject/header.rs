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

/// Where a header block that starts at `start` ends: returns (end of the last field, start of
/// the body). The blank line between them belongs to neither. Without a blank line the whole
/// range is header.
pub(crate) fn header_end(msg: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut pos = start;
    let region = msg.get(..end).unwrap_or(msg);
    // A part that starts with a blank line has no headers.
    if let Some(n) = eol_len_at(region, pos) {
        return (pos, pos + n);
    }
    while pos < end {
        match memchr(b'\n', region.get(pos..).unwrap_or_default()) {
            None => return (end, end),
            Some(i) => {
                let line_end = pos + i + 1;
                if let Some(n) = eol_len_at(region, line_end) {
                    return (line_end, line_end + n);
                }
                pos = line_end;
            }
        }
    }
    (end, end)
}

/// The length of an eol (`\n` or `\r\n`) at `pos`, if there is one.
fn eol_len_at(msg: &[u8], pos: usize) -> Option<usize> {
    match (msg.get(pos), msg.get(pos + 1)) {
        (Some(b'\n'), _) => Some(1),
        (Some(b'\r'), Some(b'\n')) => Some(2),
        _ => None,
    }
}

/// Iterates over the fields of the header block `[start, end)`.
pub(crate) fn fields(msg: &[u8], start: usize, end: usize) -> Fields<'_> {
    Fields {
        msg: msg.get(..end).unwrap_or(msg),
        pos: start,
    }
}

/// Iterator over header fields; lines without a colon are skipped.
pub(crate) struct Fields<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl Iterator for Fields<'_> {
    type Item = Field;

    fn next(&mut self) -> Option<Field> {
        loop {
            let start = self.pos;
            let rest = self.msg.get(start..)?;
            if rest.is_empty() {
                return None;
            }
            // Find the end of this field: the first eol not followed by a space or tab.
            let mut end = start;
            loop {
                match memchr(b'\n', self.msg.get(end..).unwrap_or_default()) {
                    None => {
                        end = self.msg.len();
                        break;
                    }
                    Some(i) => {
                        end += i + 1;
                        match self.msg.get(end) {
                            Some(b' ') | Some(b'\t') => continue,
                            _ => break,
                        }
                    }
                }
            }
            self.pos = end;
            let line = self.msg.get(start..end).unwrap_or_default();
            let Some(colon) = memchr(b':', line) else {
                continue;
            };
            let mut value_end = end;
            if self.msg.get(value_end.wrapping_sub(1)) == Some(&b'\n') {
                value_end -= 1;
                if self.msg.get(value_end.wrapping_sub(1)) == Some(&b'\r') {
                    value_end -= 1;
                }
            }
            return Some(Field {
                start,
                end,
                value_start: (start + colon + 1).min(value_end),
                value_end,
            });
        }
    }
}

/// The first field named `name` (ASCII case-insensitive) in `[start, end)`.
pub(crate) fn find(msg: &[u8], start: usize, end: usize, name: &str) -> Option<Field> {
    fields(msg, start, end).find(|f| f.name(msg).eq_ignore_ascii_case(name.as_bytes()))
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

/// A parsed `Content-Type`: lower-cased type and subtype, parameters as ranges.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContentType {
    /// e.g. `text`.
    pub main: String,
    /// e.g. `html`.
    pub sub: String,
    /// (lower-cased name, value without quotes, byte range of the value as written incl. quotes)
    pub params: Vec<(String, Vec<u8>, (usize, usize))>,
}

impl ContentType {
    /// `type/subtype`-equality, lower-case arguments.
    #[cfg(test)]
    pub fn is(&self, main: &str, sub: &str) -> bool {
        self.main == main && self.sub == sub
    }

    /// The value of a parameter.
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|p| p.0 == name)
            .map(|p| p.1.as_slice())
    }

    /// The raw range of a parameter value (quotes included).
    pub fn param_range(&self, name: &str) -> Option<(usize, usize)> {
        self.params.iter().find(|p| p.0 == name).map(|p| p.2)
    }
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
        // skip ';' and whitespace
        while i < v.len() && (v[i] == b';' || v[i].is_ascii_whitespace()) {
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
            while i < v.len() && v[i] != b';' && !v[i].is_ascii_whitespace() {
                value.push(v[i]);
                i += 1;
            }
        }
        if !name.is_empty() && ct.params.len() < 32 {
            ct.params
                .push((name, value, (vs + value_start, vs + i.min(v.len()))));
        }
    }
    ct
}

/// Lower-cases ASCII into a String (non-UTF-8 bytes become U+FFFD).
pub(crate) fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

/// The addresses (addr-specs) in an address-list header value: `<a@b>` where given, else the
/// bare word with an `@`. Display names, quoted strings, comments and groups are skipped.
pub(crate) fn addresses(value: &[u8], out: &mut Vec<String>) {
    let mut depth_comment = 0usize;
    let mut in_quote = false;
    let mut item: Vec<u8> = Vec::new();
    let mut angle: Option<Vec<u8>> = None;
    let mut in_angle = false;
    let flush = |item: &mut Vec<u8>, angle: &mut Option<Vec<u8>>, out: &mut Vec<String>| {
        let addr = match angle.take() {
            Some(a) => a,
            None => item
                .split(|c| c.is_ascii_whitespace())
                .find(|w| w.contains(&b'@'))
                .map(|w| w.to_vec())
                .unwrap_or_default(),
        };
        let addr = trim(&addr);
        if addr.contains(&b'@') && out.len() < 1000 {
            out.push(String::from_utf8_lossy(addr).into_owned());
        }
        item.clear();
    };
    for &c in value {
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
                a.push(c);
            }
            continue;
        }
        match c {
            b'"' => in_quote = true,
            b'(' => depth_comment = 1,
            b'<' => {
                in_angle = true;
                angle = Some(Vec::new());
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
    fn fields_keep_folding_and_find_is_case_insensitive() {
        let m = b"Subject: a\r\n b\r\ncontent-type: text/plain;\r\n\tcharset=\"utf-8\"\r\n\r\n";
        let (he, _) = header_end(m, 0, m.len());
        let fs: Vec<_> = fields(m, 0, he).collect();
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[0].value(m), b"a\r\n b");
        let f = find(m, 0, he, "Content-Type").unwrap();
        let ct = parse_content_type(m, f.value_start, f.value_end);
        assert!(ct.is("text", "plain"));
        assert_eq!(ct.param("charset"), Some(&b"utf-8"[..]));
        let (s, e) = ct.param_range("charset").unwrap();
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
