//! The header readers that `header::block` replaced (two passes: where a block ends, then
//! its fields), kept only as the oracle of the differential tests below: `block` must find
//! the same end, body start and fields on edge cases, on generated lines, and at every line
//! start of the committed fixtures and of the generated benchmark corpus.

use memchr::memchr;

use super::header::{eol_len_at, Field};

/// Whether the line at `pos` can belong to a header block, as mail clients read one: a
/// continuation (starts with a space or tab) or a field (`name:`, the name printable ASCII
/// without a colon, white space allowed before the colon as in RFC 5322's obsolete syntax).
fn is_header_line(region: &[u8], pos: usize) -> bool {
    let line = region.get(pos..).unwrap_or_default();
    match line.first() {
        Some(b' ' | b'\t') => return true,
        None => return false,
        _ => {}
    }
    let name_len = line
        .iter()
        .position(|&c| !(33..=126).contains(&c) || c == b':')
        .unwrap_or(line.len());
    if name_len == 0 {
        return false;
    }
    let rest = &line[name_len..];
    let ws = rest
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(rest.len());
    rest.get(ws) == Some(&b':')
}

/// Where a header block that starts at `start` ends: returns (end of the last field, start of
/// the body). The blank line between them belongs to neither. The block also ends, as mail
/// clients read it, at the first line that is neither a field nor a continuation (a body
/// line straight after the last field): then both are the start of that line. Without
/// either, the whole range is header.
pub(crate) fn header_end(msg: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut pos = start;
    let region = msg.get(..end).unwrap_or(msg);
    while pos < end {
        if let Some(n) = eol_len_at(region, pos) {
            return (pos, pos + n);
        }
        if !is_header_line(region, pos) {
            return (pos, pos);
        }
        match memchr(b'\n', region.get(pos..).unwrap_or_default()) {
            None => return (end, end),
            Some(i) => pos += i + 1,
        }
    }
    (end, end)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::header::{block, top_start, Block};

    /// `block` against the two-pass readers it replaced: the same end, body start and fields.
    fn same_as_reference(m: &[u8], start: usize, end: usize) {
        let (he, bs) = header_end(m, start, end);
        let want = Block {
            end: he,
            body_start: bs,
            fields: fields(m, start, he).collect(),
        };
        assert_eq!(
            block(m, start, end),
            want,
            "{:?} from {start} to {end}",
            String::from_utf8_lossy(m)
        );
    }

    #[test]
    fn one_pass_block_matches_the_two_pass_readers_on_the_edge_cases() {
        let cases: &[&[u8]] = &[
            b"",
            b"\r\n",
            b"\n\nbody",
            b"A: 1",
            b"A: 1\r",
            b"A: 1\r\n",
            b"A: 1\r\n\r",
            b" lead: x\r\n\tmore\r\nA: 1\r\n\r\nb",
            b" lead without colon\r\nA: 1\r\n\r\nb",
            b"A : 1\r\nB\t: 2\n\nb",
            b"A: 1\r\n folded\r\nB : 2\r\n<html>body\r\n\r\nmore",
            b"A: 1\nFrom someone\n\nbody",
            b"A:\r\nB:\r\n \r\n\r\n",
            b"X-\x80: a\r\n\r\n",
            b"A: 1\r\n\t\r\n\r\nbody",
        ];
        for m in cases {
            for start in 0..=m.len() {
                for end in start..=m.len() {
                    same_as_reference(m, start, end);
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn one_pass_block_matches_the_two_pass_readers_on_any_lines(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "A", "b-c", ":", " ", "\t", "\r\n", "\n", "\r", "From ", "x y", "\u{e9}", ";",
                ]),
                0..40,
            ),
            cut in 0usize..200,
        ) {
            let m = pieces.concat().into_bytes();
            let start = cut.min(m.len());
            same_as_reference(&m, 0, m.len());
            same_as_reference(&m, start, m.len());
            same_as_reference(&m, 0, m.len() - start / 2);
        }
    }

    /// Every header block of the committed mail fixtures and of the generated benchmark
    /// corpus (when `target/corpus` was generated): at every line start of each message.
    #[test]
    fn one_pass_block_matches_the_two_pass_readers_on_the_fixtures_and_the_corpus() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("tests/fixtures")];
        dirs.push(root.join("../target/corpus/typical"));
        let mut files = Vec::new();
        while let Some(d) = dirs.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "eml") {
                    files.push(p);
                }
            }
        }
        assert!(files.len() >= 100, "fixtures missing: {}", files.len());
        for p in &files {
            let m = std::fs::read(p).unwrap();
            same_as_reference(&m, top_start(&m), m.len());
            for start in memchr::memchr_iter(b'\n', &m).take(3000) {
                same_as_reference(&m, start + 1, m.len());
            }
        }
    }
}
