//! Encodings and structure: the signature in the part's own charset and transfer encoding
//! (UTF-8 with the header updated where it cannot be), line limits, headers left as they
//! were, inline images turning alternative into related, and hostile input.

mod inject_support;

use std::time::{Duration, Instant};

use inject_support::*;
use mail_parser::MimeHeaders;
use sigsync_core::inject::{InjectError, Outcome};

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

fn text_part(charset: &str, cte: &str, body: &[u8]) -> Vec<u8> {
    let mut m = crlf(&format!(
        "From: a@contoso.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: {cte}\n\n"
    ));
    m.extend_from_slice(body);
    m
}

fn injected(msg: &[u8]) -> Vec<u8> {
    let (o, out) = inject_checked(msg, &signature());
    assert!(o.is_injected(), "{o:?}");
    assert_idempotent(&out, &signature());
    out
}

fn parsed_text(out: &[u8]) -> String {
    let m = mail_parser::MessageParser::default().parse(out).unwrap();
    m.body_text(0).unwrap().into_owned()
}

#[test]
fn latin1_and_windows_1252_parts_get_the_signature_in_their_own_charset() {
    // ISO-8859-1 cannot hold the euro sign: the part becomes UTF-8, header updated.
    let msg = std::fs::read("tests/fixtures/mail/thunderbird_latin1_lf.eml").unwrap();
    let out = injected(&msg);
    let s = String::from_utf8(out.clone()).expect("whole output is UTF-8 now");
    assert!(s.contains("Content-Type: text/plain; charset=utf-8; format=flowed\n"));
    assert!(s.contains("Grüße aus München."));
    assert!(
        s.starts_with("X-Sigsync-Processed: true\n"),
        "LF message gets an LF header"
    );
    assert!(parsed_text(&out).contains(TEXT_MARK));
    // windows-1252 holds every character of it: encoded in place, charset kept.
    let msg = text_part("windows-1252", "8bit", b"Gr\xfc\xdfe\r\n");
    let out = injected(&msg);
    assert!(memchr::memmem::find(&out, b"Zo\xeb \xc5ngstr\xf6m | Contoso \x80").is_some());
    assert!(
        memchr::memmem::find(&out, "Zoë".as_bytes()).is_none(),
        "raw UTF-8 in a 1252 part"
    );
    assert!(parsed_text(&out).contains(TEXT_MARK));
}

#[test]
fn iso_2022_jp_text_switches_to_utf8_and_html_uses_character_references() {
    let jp = encoding_rs::ISO_2022_JP
        .encode("お世話になっております。\r\n")
        .0
        .into_owned();
    let out = injected(&text_part("iso-2022-jp", "7bit", &jp));
    let s = String::from_utf8_lossy(&out);
    assert!(s.contains("charset=utf-8"));
    assert!(
        s.contains("Content-Transfer-Encoding: quoted-printable"),
        "7bit cannot carry UTF-8"
    );
    let text = parsed_text(&out);
    assert!(text.contains("お世話になっております。") && text.contains(TEXT_MARK));
    let mut html = crlf("Subject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n");
    html.extend_from_slice(
        &encoding_rs::ISO_2022_JP
            .encode("<html><body><p>山田です</p></body></html>\r\n")
            .0,
    );
    let out = injected(&html);
    assert!(out.is_ascii(), "a 7bit ISO-2022-JP part stays 7-bit");
    let s = String::from_utf8_lossy(&out);
    assert!(s.contains("charset=ISO-2022-JP") && s.contains("Zo&#235;"));
    let body = &out[memchr::memmem::find(&out, b"\r\n\r\n").unwrap() + 4..];
    let (h, _, bad) = encoding_rs::ISO_2022_JP.decode(body);
    assert!(!bad);
    assert!(h.find("山田です").unwrap() < h.find("data-sigsync").unwrap());
}

#[test]
fn us_ascii_7bit_text_becomes_utf8_quoted_printable_with_headers_fixed_in_place() {
    let msg = std::fs::read("tests/fixtures/mail/apple_reply_ascii.eml").unwrap();
    let out = injected(&msg);
    let s = String::from_utf8_lossy(&out);
    assert!(s.contains("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"));
    assert!(s.contains(
        "Content-Type: text/html; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n"
    ));
    let m = mail_parser::MessageParser::default().parse(&out).unwrap();
    let t = m.body_text(0).unwrap();
    assert!(t.find("Sent from my iPhone").unwrap() < t.find(TEXT_MARK).unwrap());
    assert!(t.find(TEXT_MARK).unwrap() < t.find("> On 3 Mar").unwrap());
}

#[test]
fn quoted_printable_output_lines_stay_within_76_characters() {
    let long = "x".repeat(200);
    let msg = text_part(
        "utf-8",
        "quoted-printable",
        format!("{long}=\r\n{long}\r\n").as_bytes(),
    );
    let sig = sigsync_core::signature::RenderedSignature {
        text: format!("{}\n{TEXT_MARK}", "é".repeat(120)),
        html: String::new(),
        ..Default::default()
    };
    let (o, out) = inject_checked(&msg, &sig);
    assert!(o.is_injected());
    let body = &out[memchr::memmem::find(&out, b"\r\n\r\n").unwrap() + 4..];
    for line in body.split(|&c| c == b'\n') {
        let l = line.strip_suffix(b"\r").unwrap_or(line);
        // The original lines were already over 76: only ours are checked.
        if !l.starts_with(b"xxxx") {
            assert!(l.len() <= 76, "{:?}", String::from_utf8_lossy(l));
        }
    }
}

#[test]
fn folded_headers_and_untouched_parts_stay_byte_identical() {
    let msg = crlf("Received: from a\n\tby b; Mon, 4 Mar 2024\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n =?utf-8?q?_aus_M=C3=BCnchen?=\nTo: \"O'Brien, Patrick\" <p@x.com>,\n\tq@y.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed;\n\tboundary=\"m\"\n\n--m\nContent-Type: text/plain; charset=utf-8\n\nHi\n--m\nContent-Type: text/plain; name=\"notes.txt\"\nContent-Disposition: attachment; filename=\"notes.txt\"\n\nnot a body\n--m\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: text/plain\n\ninner body stays\n--m--\n");
    let out = injected(&msg);
    let rest = strip_loop_header(&out);
    let head_end = memchr::memmem::find(&msg, b"\r\n\r\n").unwrap();
    assert_eq!(
        &rest[..head_end],
        &msg[..head_end],
        "top-level headers changed"
    );
    assert_untouched_outside_bodies(&msg, &rest);
    let m = mail_parser::MessageParser::default().parse(&out).unwrap();
    let signed = (0..m.parts.len())
        .filter(|&i| m.body_text(i).is_some_and(|t| t.contains(TEXT_MARK)))
        .count();
    assert_eq!(signed, 1, "attachments and forwarded mail are not signed");
    let notes = m.attachment(0).unwrap();
    assert_eq!(notes.contents(), b"not a body");
}

#[test]
fn inline_image_turns_alternative_into_related_like_mail_clients_do() {
    let sig = signature_with_image();
    let msg = crlf("Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"a\"\n\n--a\nContent-Type: text/plain\n\nHi\n--a\nContent-Type: text/html\n\n<html><body>Hi</body></html>\n--a--\n");
    let (o, out) = inject_checked(&msg, &sig);
    assert!(matches!(o, Outcome::Injected(ref i) if i.images == 1));
    let m = mail_parser::MessageParser::default().parse(&out).unwrap();
    assert_eq!(
        m.parts[0].content_type().unwrap().subtype(),
        Some("related")
    );
    let img = m
        .parts
        .iter()
        .find(|p| p.content_id() == Some("logo@sigsync"))
        .expect("image part");
    assert_eq!(img.contents(), &sig.images[0].data[..]);
    assert!(m.body_html(0).unwrap().contains("cid:logo@sigsync"));
    assert_idempotent(&out, &sig);
    // HTML already in a related part: the image joins it.
    let related = crlf("Subject: x\nContent-Type: multipart/related; boundary=\"r\"\n\n--r\nContent-Type: text/html\n\n<p>Hi<img src=cid:a></p>\n--r\nContent-Type: image/png\nContent-ID: <a>\n\nAAAA\n--r--\n");
    let (_, out) = inject_checked(&related, &sig);
    let m = mail_parser::MessageParser::default().parse(&out).unwrap();
    assert_eq!(m.parts.len(), 4, "related + html + old image + new image");
    // A lone HTML part is wrapped.
    let lone = crlf("Subject: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n<p>Hi</p>\n");
    let (_, out) = inject_checked(&lone, &sig);
    let m = mail_parser::MessageParser::default().parse(&out).unwrap();
    assert_eq!(
        m.parts[0].content_type().unwrap().subtype(),
        Some("related")
    );
    assert!(m.body_html(0).unwrap().contains("<p>Hi</p>"));
    assert_idempotent(&out, &sig);
}

fn bounded(msg: &[u8]) -> Outcome {
    let t = Instant::now();
    let (o, _) = inject_checked(msg, &signature());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    o
}

#[test]
fn hostile_input_is_bounded_and_passes_through() {
    let mut deep = Vec::new();
    for i in 0..10_000 {
        deep.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    assert!(matches!(
        bounded(&deep),
        Outcome::Failed(InjectError::TooComplex(_))
    ));
    let mut wide = crlf("Content-Type: multipart/mixed; boundary=w\n\n");
    for _ in 0..10_000 {
        wide.extend_from_slice(b"--w\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n");
    }
    assert!(matches!(
        bounded(&wide),
        Outcome::Failed(InjectError::TooComplex(_))
    ));
    let mut huge_header = b"X-Long: ".to_vec();
    huge_header.extend(std::iter::repeat_n(b'a', 1 << 20));
    huge_header.extend_from_slice(b"\r\nContent-Type: text/plain\r\n\r\nHi\r\n");
    assert!(bounded(&huge_header).is_injected());
    let nul = b"Subject: \0\xff\xfe\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nH\0i\xff\r\n";
    let o = bounded(nul);
    assert!(
        matches!(
            o,
            Outcome::Failed(InjectError::Charset(_)) | Outcome::Injected(_)
        ),
        "{o:?}"
    );
    for garbage in [
        &b""[..],
        b"\r\n\r\n",
        b"no headers at all",
        b"Content-Type: multipart/mixed\r\n\r\n--\r\n",
        b"Content-Type: text/html\r\n\r\n<!--",
        b"Content-Type: text/html\r\n\r\n<a b=\"",
        b"--\r\n--\r\n",
    ] {
        bounded(garbage);
    }
}

#[test]
fn us_ascii_label_on_utf8_bytes_is_relabelled_not_failed() {
    let msg = text_part("us-ascii", "8bit", "Grüße\r\n".as_bytes());
    let out = injected(&msg);
    let s = String::from_utf8(out.clone()).unwrap();
    assert!(s.contains("charset=utf-8"), "{s}");
    assert!(parsed_text(&out).contains("Grüße"));
}

/// Found by the fuzzer: a message that ends inside its header, whose last field is one the
/// injector edits at its very end (an empty `Content-Transfer-Encoding:` filled in, a
/// `; charset=utf-8` appended to `Content-Type`). The eol that completes that line went
/// before the edit, so the new value became a continuation of the next added field and
/// the body was quoted-printable under no declared encoding. Every such last field, with and
/// without other fields added after it, LF and CRLF: the output declares what it is, a
/// reader decodes the signature from it, and a second run changes nothing.
#[test]
fn a_last_field_edited_at_its_end_when_the_message_ends_inside_the_header() {
    let heads = [
        "From: a@contoso.com\nSubject: s\n",
        "From: a@contoso.com\nMIME-Version: 1.0\nContent-Type: text/plain\n",
        "From: a@contoso.com\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\n",
    ];
    let lasts = [
        "Content-Transfer-Encoding:",
        "Content-Transfer-Encoding: ",
        "Content-Transfer-Encoding: 7bit",
        "Content-Type: text/plain",
        "Content-Type: text/plain; format=flowed",
        "Content-Type: text/plain;\n\tformat=flowed",
    ];
    let mut checked = 0;
    for head in heads {
        // (Each field once: a repeated Content-Type is another question.)
        for last in lasts.iter().filter(|l| !head.contains(&l[..13])) {
            for eol in ["\n", "\r\n"] {
                let msg = format!("{head}{last}").replace('\n', eol).into_bytes();
                let (o, out) = inject_checked(&msg, &signature());
                assert!(o.is_injected(), "{o:?} {:?}", String::from_utf8_lossy(&msg));
                let parsed = mail_parser::MessageParser::default()
                    .parse(&out)
                    .expect("mail-parser reads the output");
                let cte = parsed
                    .header_raw("Content-Transfer-Encoding")
                    .map(str::trim)
                    .unwrap_or_default();
                assert_eq!(
                    cte,
                    "quoted-printable",
                    "{:?}",
                    String::from_utf8_lossy(&out)
                );
                let ct = parsed.content_type().expect("a content type");
                assert_eq!(
                    ct.attribute("charset"),
                    Some("utf-8"),
                    "{:?} -> {:?}",
                    String::from_utf8_lossy(&msg),
                    String::from_utf8_lossy(&out)
                );
                let body = parsed.body_text(0).expect("a text body");
                assert!(
                    body.contains(TEXT_MARK),
                    "{body:?} in {:?}",
                    String::from_utf8_lossy(&out)
                );
                assert_idempotent(&out, &signature());
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 24);
}

/// A part whose `Content-Type` or `Content-Transfer-Encoding` is given twice is read one way
/// by readers that take the first (Python's `email`) and another by those that take the last
/// (mail-parser), and an edit of one would leave the other (the same value twice becomes two
/// values): the message passes through, at the top and in a nested part, whichever field it
/// is and whatever the values.
#[test]
fn a_content_field_given_twice_passes_the_message_through() {
    let top = |a: &str, b: &str| {
        crlf(&format!(
            "From: a@contoso.com\nSubject: s\nMIME-Version: 1.0\n{a}\n{b}\n\nHello\n"
        ))
    };
    let nested = |a: &str, b: &str| {
        crlf(&format!(
            "From: a@contoso.com\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b\"\n\n--b\n{a}\n{b}\n\nHello\n--b\nContent-Type: text/html\n\n<p>Hello</p>\n--b--\n"
        ))
    };
    let pairs = [
        ("Content-Type: text/plain", "Content-Type: text/html"),
        (
            "Content-Type: text/plain; charset=utf-8",
            "Content-Type: text/plain; charset=koi8-r",
        ),
        (
            "Content-Type: text/plain; charset=utf-8",
            "content-type: TEXT/plain; charset=UTF-8",
        ),
        (
            "Content-Transfer-Encoding: 7bit",
            "Content-Transfer-Encoding: base64",
        ),
        (
            "Content-Transfer-Encoding: quoted-printable",
            "Content-Transfer-Encoding: 8bit",
        ),
        (
            "Content-Transfer-Encoding: 7bit",
            "CONTENT-TRANSFER-ENCODING: 7bit",
        ),
    ];
    for (a, b) in pairs {
        for msg in [top(a, b), nested(a, b)] {
            let (o, _) = inject_checked(&msg, &signature());
            assert!(
                matches!(&o, Outcome::Failed(InjectError::Malformed(m)) if m.contains("more than one")),
                "{o:?} {:?}",
                String::from_utf8_lossy(&msg)
            );
        }
    }
}

/// Found by the fuzzer: a charset given in more than one form (`charset=` and RFC 2231's
/// `charset*0*=`), the first quoted and followed by junk before the next `;`. The first form
/// was replaced by an unquoted `charset=utf-8`, so the junk joined the new value on the next
/// reading ("unknown charset utf-8\0\0…") and a second run failed. The replacement keeps the
/// quoting of what it replaces: with any junk after the quote, in any order of the forms, the
/// output reads as UTF-8 and a second run changes nothing.
#[test]
fn a_replaced_charset_keeps_its_quoting_so_junk_after_it_stays_junk() {
    let junk = ["", "\0\0\0", "x", " \0 ", "!"];
    let families = [
        "charset=\"iso-8859-1\"{j}; charset*0*=us-ascii''us-; charset*1*=ascii",
        "charset*0*=us-ascii''us-; charset*1*=ascii; charset=\"iso-8859-1\"{j}",
        "charset=\"iso-8859-1\"{j}; charset*=us-ascii''us-ascii",
        "charset=iso-8859-1; charset*=us-ascii''us-ascii",
    ];
    let mut injected = 0;
    for family in families {
        for j in junk {
            let ct = family.replace("{j}", j);
            let msg = crlf(&format!(
                "From: a@contoso.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/plain; {ct}\nContent-Transfer-Encoding: 8bit\n\nHello\n"
            ));
            let (o, out) = inject_checked(&msg, &signature());
            if o.is_injected() {
                injected += 1;
                assert_idempotent(&out, &signature());
                let text = String::from_utf8_lossy(&out);
                let quoted_first = family.starts_with("charset=\"");
                assert_eq!(text.contains("charset=\"utf-8\""), quoted_first, "{text:?}");
            }
        }
    }
    assert!(injected >= 15, "{injected}");
}
