//! Every charset encoding_rs supports, text and HTML, every transfer encoding: the signature
//! lands between whole characters and outside tags (multi-byte charsets carry ASCII-range
//! bytes inside characters: Shift_JIS `バ` is 0x83 0x6F, an `o`; GB18030 uses digits), the
//! original text reads exactly as before around it, and the outcome is `Injected`.
//!
//! UTF-16 (LE and BE) and `replacement` cannot be written back (encoding_rs has no encoder
//! for them; `replacement` stands for charsets whose text cannot be read at all, such as
//! ISO-2022-KR): such parts fail, and the message passes through unchanged but for the loop
//! header.

mod inject_support;

use base64::Engine as _;
use encoding_rs::Encoding;
use inject_support::*;
use proptest::prelude::*;
use sigsync_core::inject::{InjectError, Outcome};

/// Every encoding of encoding_rs (the WHATWG Encoding Standard).
const ALL: &[&Encoding] = &[
    encoding_rs::UTF_8,
    encoding_rs::IBM866,
    encoding_rs::ISO_8859_2,
    encoding_rs::ISO_8859_3,
    encoding_rs::ISO_8859_4,
    encoding_rs::ISO_8859_5,
    encoding_rs::ISO_8859_6,
    encoding_rs::ISO_8859_7,
    encoding_rs::ISO_8859_8,
    encoding_rs::ISO_8859_8_I,
    encoding_rs::ISO_8859_10,
    encoding_rs::ISO_8859_13,
    encoding_rs::ISO_8859_14,
    encoding_rs::ISO_8859_15,
    encoding_rs::ISO_8859_16,
    encoding_rs::KOI8_R,
    encoding_rs::KOI8_U,
    encoding_rs::MACINTOSH,
    encoding_rs::WINDOWS_874,
    encoding_rs::WINDOWS_1250,
    encoding_rs::WINDOWS_1251,
    encoding_rs::WINDOWS_1252,
    encoding_rs::WINDOWS_1253,
    encoding_rs::WINDOWS_1254,
    encoding_rs::WINDOWS_1255,
    encoding_rs::WINDOWS_1256,
    encoding_rs::WINDOWS_1257,
    encoding_rs::WINDOWS_1258,
    encoding_rs::X_MAC_CYRILLIC,
    encoding_rs::GBK,
    encoding_rs::GB18030,
    encoding_rs::BIG5,
    encoding_rs::EUC_JP,
    encoding_rs::ISO_2022_JP,
    encoding_rs::SHIFT_JIS,
    encoding_rs::EUC_KR,
    encoding_rs::X_USER_DEFINED,
    encoding_rs::UTF_16BE,
    encoding_rs::UTF_16LE,
    encoding_rs::REPLACEMENT,
];

/// Characters from many scripts, chosen so that multi-byte charsets put ASCII-range bytes
/// inside them (Shift_JIS バソ表, Big5 許功, GBK/GB18030 and EUC-KR trail bytes, GB18030's
/// four-byte forms with digits).
const CHARS: &str = "バソ表ボ十申能予兔噂許功蓋餐中文丂丄𠀀한국어갂Привет ЁёΕλληνικάעבריתالعربيةéüßÆøĀŁőŤ€ÿ日本語ｱ～①ф";

/// ASCII pieces that anchor insertion points: tags whose names hold bytes that occur inside
/// multi-byte characters, line starts, a reply boundary.
const HTML_PIECES: &[&str] = &[
    "<font color=\"red\">",
    "</font>",
    "<b>",
    "</b>",
    "<br>",
    "<p>",
    "</p>",
    " ",
    "\r\n",
    "o",
    "\\",
    "09",
    "@",
];
const TEXT_PIECES: &[&str] = &[" ", "\r\n", "o", "\\", "09", "@", "a", "~", "[x]"];

/// The characters of [`CHARS`] that `enc` can hold (all of them for UTF-8), those whose
/// bytes include ASCII-range bytes first (the ones that fool a byte count), and how many
/// of those there are.
fn repertoire(enc: &'static Encoding) -> (Vec<String>, usize) {
    let mut chars: Vec<(bool, String)> = CHARS
        .chars()
        .filter_map(|c| {
            let s = c.to_string();
            let (bytes, _, unmappable) = enc.encode(&s);
            let ok = !unmappable
                && enc.output_encoding() == enc
                && enc.decode_without_bom_handling(&bytes).0 == s;
            let plain = !bytes.iter().any(|b| b.is_ascii());
            ok.then_some((plain, c.to_string()))
        })
        .collect();
    chars.sort_by_key(|c| c.0);
    let tricky = chars.iter().filter(|c| !c.0).count();
    (chars.into_iter().map(|c| c.1).collect(), tricky)
}

fn label(enc: &'static Encoding) -> &'static str {
    enc.name()
}

/// The body text in `enc`'s bytes (UTF-16 written by hand: encoding_rs has no encoder).
fn encode(enc: &'static Encoding, text: &str) -> Vec<u8> {
    if enc == encoding_rs::UTF_16LE {
        return text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    }
    if enc == encoding_rs::UTF_16BE {
        return text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    }
    if enc == encoding_rs::REPLACEMENT {
        return text.as_bytes().to_vec();
    }
    let (bytes, _, unmappable) = enc.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn qp(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            out.extend_from_slice(b"\r\n");
            len = 0;
            i += 2;
            continue;
        }
        let tok: Vec<u8> = match b {
            33..=60 | 62..=126 => vec![b],
            _ => format!("={b:02X}").into_bytes(),
        };
        if len + tok.len() > 75 {
            out.extend_from_slice(b"=\r\n");
            len = 0;
        }
        len += tok.len();
        out.extend_from_slice(&tok);
        i += 1;
    }
    out
}

fn qp_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if b[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(h, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn message(enc: &'static Encoding, html: bool, cte: &str, text: &str) -> Vec<u8> {
    let raw = encode(enc, text);
    let (body, cte) = match cte {
        "base64" => {
            let s = base64::engine::general_purpose::STANDARD.encode(&raw);
            let lines: Vec<&[u8]> = s.as_bytes().chunks(76).collect();
            (lines.join(&b"\r\n"[..]), "base64")
        }
        "quoted-printable" => (qp(&raw), "quoted-printable"),
        _ if raw.is_ascii() => (raw, "7bit"),
        _ => (raw, "8bit"),
    };
    let sub = if html { "html" } else { "plain" };
    let mut m = format!(
        "From: a@contoso.com\r\nTo: b@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/{sub}; charset=\"{}\"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n",
        label(enc)
    )
    .into_bytes();
    m.extend_from_slice(&body);
    m
}

/// The body of a single-part output as text, decoded by its own (possibly rewritten)
/// headers: an independent reading of what the injector wrote.
fn read_back(out: &[u8]) -> String {
    let rest = strip_loop_header(out);
    let split = memchr::memmem::find(&rest, b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&rest[..split]).to_ascii_lowercase();
    let body = &rest[split + 4..];
    let cs = head.split("charset=").nth(1).unwrap();
    let cs = cs.trim_start_matches('"');
    let cs: String = cs
        .chars()
        .take_while(|c| !matches!(c, '"' | ';' | '\r' | '\n'))
        .collect();
    let cte = head
        .split("content-transfer-encoding:")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let raw = match cte.as_str() {
        "base64" => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .unwrap()
        }
        "quoted-printable" => qp_decode(body),
        _ => body.to_vec(),
    };
    let enc = Encoding::for_label(cs.as_bytes()).unwrap();
    let (text, _, bad) = enc.decode(&raw);
    assert!(!bad, "the output body is not valid {cs}");
    text.into_owned()
}

/// Checks one message: `Injected`, the signature at a tag boundary (HTML) or a line start
/// (text), and the original text exactly around it.
fn check(enc: &'static Encoding, html: bool, cte: &str, text: &str) -> Result<(), TestCaseError> {
    let msg = message(enc, html, cte, text);
    let (o, out) = inject_checked(&msg, &signature());
    let writable = !matches!(enc.name(), "UTF-16LE" | "UTF-16BE" | "replacement");
    if !writable {
        prop_assert!(
            matches!(o, Outcome::Failed(InjectError::Charset(_))),
            "{}: {o:?}",
            enc.name()
        );
        return Ok(());
    }
    prop_assert!(o.is_injected(), "{} {cte} html={html}: {o:?}", enc.name());
    let got = read_back(&out);
    if html {
        let s = got.find("<div data-sigsync=\"server\"").unwrap();
        let e = s + got[s..].find("</p></div>").unwrap() + "</p></div>".len();
        let before = &got[..s];
        prop_assert!(
            before.rfind('<') <= before.rfind('>'),
            "{}: the signature is inside a tag: {:?}",
            enc.name(),
            &got[..e]
        );
        prop_assert_eq!(format!("{}{}", before, &got[e..]), text);
    } else {
        let s = got.find(TEXT_MARK).unwrap();
        let s = got[..s].rfind("-- ").unwrap();
        let e = s + got[s..].find("https://contoso.com").unwrap() + "https://contoso.com".len();
        let (before, after) = (&got[..s], &got[e..]);
        let kept_before = before.trim_end_matches(['\r', '\n']);
        let kept_after = after.trim_start_matches(['\r', '\n']);
        prop_assert!(text.starts_with(kept_before), "{}: {got:?}", enc.name());
        prop_assert!(text.ends_with(kept_after), "{}: {got:?}", enc.name());
        let middle = &text[kept_before.len()..text.len() - kept_after.len()];
        prop_assert!(
            middle.trim_matches(['\r', '\n']).is_empty(),
            "{}: {got:?}",
            enc.name()
        );
    }
    Ok(())
}

fn body(html: bool) -> impl Strategy<Value = (usize, Vec<(bool, usize)>, bool)> {
    let pieces = if html {
        HTML_PIECES.len()
    } else {
        TEXT_PIECES.len()
    };
    (
        0..ALL.len(),
        prop::collection::vec((any::<bool>(), 0..pieces.max(40)), 1..40),
        any::<bool>(),
    )
}

fn text_of(enc: &'static Encoding, html: bool, picks: &[(bool, usize)], wrap: bool) -> String {
    let (chars, tricky) = repertoire(
        if matches!(enc.name(), "UTF-16LE" | "UTF-16BE" | "replacement") {
            encoding_rs::UTF_8
        } else {
            enc
        },
    );
    let pieces = if html { HTML_PIECES } else { TEXT_PIECES };
    let mut t = String::new();
    let mut trail = None;
    for &(char_pick, n) in picks {
        if char_pick && !chars.is_empty() {
            // Mostly the characters that carry ASCII-range bytes, where there are any.
            let from = if tricky > 0 && n % 4 != 0 {
                tricky
            } else {
                chars.len()
            };
            let c = &chars[n % from];
            t.push_str(c);
            // Remember an ASCII-range byte inside it: ending on that character is what
            // fools a byte count.
            if let Some(&b) = enc.encode(c).0.iter().find(|b| b.is_ascii_graphic()) {
                if b != b'<' && b != b'&' && b != b'>' {
                    trail = Some(b as char);
                }
            }
        } else {
            t.push_str(pieces[n % pieces.len()]);
        }
    }
    if html && wrap {
        format!("<html><body>{t}</body></html>")
    } else {
        // A fragment, or text: the signature goes after the last character before the
        // trailing line break, an ASCII byte that also occurs inside a character.
        if let Some(c) = trail {
            t.push(c);
        }
        t + "\r\n"
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 700, ..ProptestConfig::default() })]

    #[test]
    fn every_charset_html_gets_the_signature_between_tags_and_characters(
        (e, picks, wrap) in body(true),
        cte in prop::sample::select(vec!["8bit", "base64", "quoted-printable"]),
    ) {
        let enc = ALL[e];
        check(enc, true, cte, &text_of(enc, true, &picks, wrap))?;
    }

    #[test]
    fn every_charset_text_gets_the_signature_at_a_line_start_with_the_text_intact(
        (e, picks, wrap) in body(false),
        cte in prop::sample::select(vec!["8bit", "base64", "quoted-printable"]),
    ) {
        let enc = ALL[e];
        check(enc, false, cte, &text_of(enc, false, &picks, wrap))?;
    }
}

#[test]
fn the_reported_shift_jis_case_and_its_kin_in_every_charset_and_transfer_encoding() {
    // `バババ<font color="red">Jo` came out as `バババ<fo<div data-sigsync…>…</div>nt color=…`.
    for &enc in ALL {
        let (chars, _) = repertoire(enc);
        let wide: String = chars.iter().take(6).map(String::as_str).collect();
        for cte in ["8bit", "base64", "quoted-printable"] {
            check(enc, true, cte, &format!("{wide}<font color=\"red\">Jo\r\n")).unwrap();
            let html = format!("<html><body>{wide}<font color=\"red\">Jo{wide}</font>\r\n<p>o{wide}o</p></body></html>");
            check(enc, true, cte, &html).unwrap();
            let text =
                format!("{wide}o\r\n{wide}09\r\n\r\n-----Original Message-----\r\n{wide}\r\n");
            check(enc, false, cte, &text).unwrap();
        }
    }
}
