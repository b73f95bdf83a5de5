//! Charsets (encoding_rs): which one a part declares, decoding, encoding inserted text, and
//! the mapping of a position in decoded text back to a byte offset in the original bytes, so
//! that the original text is never re-encoded and never split inside a character.

use std::borrow::Cow;

use encoding_rs::Encoding;

use super::header::{self, ContentType};
use super::outcome::InjectError;

/// Which characters a part's declared charset can hold (encoding_rs maps `us-ascii` and
/// `iso-8859-1` to windows-1252, which is wider than what the label promises).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repertoire {
    Ascii,
    Latin1,
    Full,
}

/// A body's charset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Charset {
    /// The encoding_rs encoding used to decode and encode.
    pub enc: &'static Encoding,
    repertoire: Repertoire,
    /// Whether the part declared a charset.
    pub declared: bool,
}

/// The charset of a text part (US-ASCII when undeclared).
pub(crate) fn charset_of(ct: &ContentType) -> Result<Charset, InjectError> {
    let Some(label) = ct.param("charset") else {
        return Ok(Charset {
            enc: encoding_rs::WINDOWS_1252,
            repertoire: Repertoire::Ascii,
            declared: false,
        });
    };
    let l = header::lower(header::trim(&label));
    let repertoire = match l.as_str() {
        "us-ascii" | "ascii" | "ansi_x3.4-1968" | "iso646-us" | "us" | "iso-ir-6" => {
            Repertoire::Ascii
        }
        "iso-8859-1" | "iso_8859-1" | "latin1" | "l1" | "iso8859-1" | "iso-ir-100" => {
            Repertoire::Latin1
        }
        _ => Repertoire::Full,
    };
    let enc = Encoding::for_label(l.as_bytes())
        .ok_or_else(|| InjectError::Charset(format!("unknown charset {l:?}")))?;
    if enc == encoding_rs::REPLACEMENT || enc.output_encoding() != enc {
        return Err(InjectError::Charset(format!("unsupported charset {l:?}")));
    }
    Ok(Charset {
        enc,
        repertoire,
        declared: true,
    })
}

impl Charset {
    /// UTF-8 for a part that declares no charset but whose bytes are valid UTF-8.
    pub fn utf8_undeclared() -> Charset {
        Charset {
            enc: encoding_rs::UTF_8,
            repertoire: Repertoire::Full,
            declared: false,
        }
    }

    /// Whether the declared charset holds ASCII only (US-ASCII or undeclared).
    pub fn is_ascii_only(&self) -> bool {
        self.repertoire == Repertoire::Ascii
    }

    /// Decodes the bytes; the flag says whether the bytes were valid (lossless).
    pub fn decode<'a>(&self, raw: &'a [u8]) -> (Cow<'a, str>, bool) {
        let (s, had_errors) = self.enc.decode_without_bom_handling(raw);
        let lossless = !had_errors
            && match self.repertoire {
                Repertoire::Ascii => raw.is_ascii() || !self.declared,
                _ => true,
            };
        (s, lossless)
    }

    /// Encodes inserted text. HTML gets numeric character references for what the charset
    /// cannot hold; plain text returns `None` then (the part must switch to UTF-8).
    pub fn encode(&self, text: &str, html: bool) -> Option<Vec<u8>> {
        let limit = match self.repertoire {
            Repertoire::Ascii => Some(0x7f),
            Repertoire::Latin1 => Some(0xff),
            Repertoire::Full => None,
        };
        if let Some(limit) = limit {
            let mut out = Vec::with_capacity(text.len());
            for ch in text.chars() {
                let c = ch as u32;
                if c <= limit {
                    out.push(c as u8);
                } else if html {
                    out.extend_from_slice(format!("&#{c};").as_bytes());
                } else {
                    return None;
                }
            }
            return Some(out);
        }
        let (bytes, _, unmappable) = self.enc.encode(text);
        if unmappable && !html {
            return None;
        }
        Some(bytes.into_owned())
    }

    /// Whether every byte of this charset decodes on its own and no ASCII byte occurs inside
    /// a character (UTF-8 and the single-byte charsets): then an ASCII byte in the raw bytes
    /// is the same character in the text, and splitting there is always clean.
    fn ascii_is_exact(&self) -> bool {
        self.enc == encoding_rs::UTF_8 || self.enc.is_single_byte()
    }

    /// Maps byte position `p` of the decoded text `s` to the offset in `raw` where the same
    /// point lies, or `None` when there is no such point (then the caller fails open).
    ///
    /// UTF-8 and single-byte charsets count the ASCII byte next to the point (the start of a
    /// line, a tag). Multi-byte charsets (Shift_JIS, Big5, GBK, GB18030, EUC-JP, EUC-KR) may
    /// carry ASCII-range bytes inside a character, so the count is only a guess there: it
    /// must decode to exactly `s[..p]`, else the point is found by decoding incrementally.
    /// Stateful charsets (ISO-2022-JP) re-encode the prefix and check it. Callers check the
    /// whole splice with [`Charset::splice_is_clean`] as well.
    pub fn raw_offset(&self, s: &str, raw: &[u8], p: usize) -> Option<usize> {
        let sb = s.as_bytes();
        if p >= sb.len() {
            return Some(raw.len());
        }
        if p == 0 {
            return Some(0);
        }
        if !self.enc.is_ascii_compatible() {
            let (prefix, _, unmappable) = self.enc.encode(s.get(..p)?);
            return (!unmappable && raw.starts_with(&prefix)).then_some(prefix.len());
        }
        let guess = anchor_offset(sb, raw, p);
        if self.ascii_is_exact() {
            return guess;
        }
        let prefix = s.get(..p)?;
        if let Some(k) = guess {
            if self.enc.decode_without_bom_handling(&raw[..k]).0 == prefix {
                return Some(k);
            }
        }
        self.incremental_offset(raw, prefix)
    }

    /// The first offset in `raw` where decoding has produced exactly `prefix`, found by
    /// decoding a byte at a time from the last safe point.
    fn incremental_offset(&self, raw: &[u8], prefix: &str) -> Option<usize> {
        let mut dec = self.enc.new_decoder_without_bom_handling();
        let mut out = String::with_capacity(prefix.len() + 16);
        for k in 0..raw.len() {
            if out.len() >= prefix.len() {
                return (out == prefix).then_some(k);
            }
            out.reserve(16);
            let (_, read, _) = dec.decode_to_string(&raw[k..k + 1], &mut out, false);
            if read != 1 {
                return None;
            }
        }
        (out == prefix).then_some(raw.len())
    }

    /// Whether inserting `inserts` ((offset, encoded bytes), sorted) into `raw` changes how
    /// nothing but the insertions read: each piece decodes on its own to what it decoded to
    /// in place, and the spliced bytes decode to the pieces in order. Always true for UTF-8
    /// and single-byte charsets; checked by decoding for the others.
    pub fn splice_is_clean(&self, s: &str, raw: &[u8], inserts: &[(usize, Vec<u8>)]) -> bool {
        if self.ascii_is_exact() {
            return true;
        }
        let decode = |b: &[u8]| self.enc.decode_without_bom_handling(b).0.into_owned();
        let mut pieces = String::with_capacity(s.len());
        let mut expected = String::with_capacity(s.len() + 256);
        let mut spliced = Vec::with_capacity(raw.len() + 256);
        let mut at = 0;
        for (k, ins) in inserts {
            let Some(piece) = raw.get(at..*k) else {
                return false;
            };
            let text = decode(piece);
            pieces.push_str(&text);
            expected.push_str(&text);
            expected.push_str(&decode(ins));
            spliced.extend_from_slice(piece);
            spliced.extend_from_slice(ins);
            at = *k;
        }
        let tail = decode(&raw[at..]);
        pieces.push_str(&tail);
        expected.push_str(&tail);
        spliced.extend_from_slice(&raw[at..]);
        pieces == s && decode(&spliced) == expected
    }
}

/// The offset in `raw` of the point `p` of the text `sb`, by counting the ASCII byte next to
/// it (exact where ASCII bytes never occur inside a character).
fn anchor_offset(sb: &[u8], raw: &[u8], p: usize) -> Option<usize> {
    let (anchor, after) = match (sb.get(p - 1), sb.get(p)) {
        (Some(&b), _) if b.is_ascii() => (b, true),
        (_, Some(&b)) if b.is_ascii() => (b, false),
        _ => return None,
    };
    let upto = if after { p } else { p + 1 };
    let n = memchr::memchr_iter(anchor, sb.get(..upto)?).count();
    let pos = memchr::memchr_iter(anchor, raw).nth(n.checked_sub(1)?)?;
    Some(if after { pos + 1 } else { pos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_encodes_what_it_can_and_escapes_html() {
        let ct = |cs: &str| ContentType {
            main: "text".into(),
            sub: "plain".into(),
            params: vec![header::Param {
                name: "charset".into(),
                value: cs.as_bytes().to_vec(),
                ..Default::default()
            }],
        };
        let latin1 = charset_of(&ct("ISO-8859-1")).unwrap();
        assert_eq!(latin1.encode("Grüße", false).unwrap(), b"Gr\xfc\xdfe");
        assert_eq!(latin1.encode("€", false), None);
        assert_eq!(latin1.encode("€", true).unwrap(), b"&#8364;");
        let ascii = charset_of(&ct("us-ascii")).unwrap();
        assert_eq!(ascii.encode("ü", false), None);
        let jp = charset_of(&ct("iso-2022-jp")).unwrap();
        assert!(jp.encode("山田", false).is_some());
        assert_eq!(jp.encode("ü", false), None);
        assert!(charset_of(&ct("x-unknown-42")).is_err());
    }

    #[test]
    fn raw_offset_maps_through_multibyte_and_stateful_charsets() {
        let ct = |cs: &str| ContentType {
            main: "text".into(),
            sub: "plain".into(),
            params: vec![header::Param {
                name: "charset".into(),
                value: cs.as_bytes().to_vec(),
                ..Default::default()
            }],
        };
        let cs = charset_of(&ct("windows-1252")).unwrap();
        let raw = b"caf\xe9\nGr\xfc\xdf\n<x>";
        let (s, ok) = cs.decode(raw);
        assert!(ok);
        let p = s.find("Gr").unwrap();
        assert_eq!(cs.raw_offset(&s, raw, p), Some(5));
        let p = s.find('<').unwrap();
        assert_eq!(cs.raw_offset(&s, raw, p), Some(10));
        let jp = charset_of(&ct("iso-2022-jp")).unwrap();
        let raw = jp.encode("山田\nです\n", false).unwrap();
        let (s, _) = jp.decode(&raw);
        let p = s.find("です").unwrap();
        let k = jp.raw_offset(&s, &raw, p).unwrap();
        assert_eq!(jp.decode(&raw[k..]).0, "です\n");
    }
}
