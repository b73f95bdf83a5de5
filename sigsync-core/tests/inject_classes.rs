//! One test per class of defect found in real-world mail that the integrity check of
//! `inject_realworld` cannot see by itself: RFC 2231 parameters, line lengths, PGP armour
//! outside the new text, and the signing decisions that must not drop a disclaimer.

mod inject_support;

use inject_support::*;
use mail_parser::MimeHeaders;
use sigsync_core::inject::{Outcome, SkipReason};

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

const HEAD: &str = "From: a@contoso.com\nTo: b@fabrikam.com\nSubject: s\nMIME-Version: 1.0\n";

fn content_type(out: &[u8]) -> String {
    let s = String::from_utf8_lossy(out);
    let i = s.to_ascii_lowercase().find("content-type:").unwrap();
    let rest = &s[i..];
    let mut end = rest.find("\r\n").unwrap();
    while rest[end + 2..].starts_with([' ', '\t']) {
        end = end + 2 + rest[end + 2..].find("\r\n").unwrap();
    }
    rest[..end].to_string()
}

#[test]
fn rfc2231_charset_parameters_end_as_one_coherent_utf8_charset() {
    for params in [
        "charset*=us-ascii''us-ascii",
        "charset*=''us-ascii; format=flowed",
        "charset=\"iso-8859-1\";\n charset*0*=us-ascii''us-;\n charset*1*=ascii; format=flowed",
        "format=flowed; CHARSET*0=us-; Charset*1=ascii",
    ] {
        let msg = crlf(&format!(
            "{HEAD}Content-Type: text/plain; {params}\nContent-Transfer-Encoding: 7bit\n\nPlain text.\n"
        ));
        let (o, out) = inject_checked(&msg, &signature());
        assert!(o.is_injected(), "{params}: {o:?}");
        let ct = content_type(&strip_loop_header(&out)).to_ascii_lowercase();
        assert_eq!(ct.matches("charset").count(), 1, "{ct}");
        assert!(
            ct.contains("charset=utf-8") || ct.contains("charset=\"utf-8\""),
            "{ct}"
        );
        assert_eq!(
            params.contains("format"),
            ct.contains("format=flowed"),
            "{ct}"
        );
        let m = mail_parser::MessageParser::default().parse(&out).unwrap();
        assert!(m.body_text(0).unwrap().contains(TEXT_MARK), "{params}");
        assert_idempotent(&out, &signature());
    }
}

#[test]
fn rfc2231_continuations_are_read_for_boundaries_and_attachment_names() {
    let msg = crlf(&format!("{HEAD}Content-Type: multipart/mixed; boundary*0=\"=_p_\"; boundary*1=\"x\"\n\n--=_p_x\nContent-Type: text/plain; charset=utf-8\n\nSee the file.\n--=_p_x\nContent-Type: text/plain; name*0*=utf-8''R%C3%A9sum; name*1=\"e.txt\"\n\nan attachment\n--=_p_x--\n"));
    let (o, out) = inject_checked(&msg, &signature());
    assert!(o.is_injected(), "{o:?}");
    let s = String::from_utf8_lossy(&out);
    assert!(
        s.contains("an attachment\r\n--=_p_x--"),
        "the named part is no body: {s}"
    );
    let m = mail_parser::MessageParser::default().parse(&out).unwrap();
    assert!(m.body_text(0).unwrap().contains(TEXT_MARK));
    assert_eq!(m.attachment(0).unwrap().contents(), b"an attachment");
}

/// Every line of `out` that was not in `msg` is at most `max` octets.
fn new_lines_within(msg: &[u8], out: &[u8], max: usize) {
    let old: Vec<&[u8]> = msg.split(|&c| c == b'\n').collect();
    for l in out.split(|&c| c == b'\n') {
        let l2 = l.strip_suffix(b"\r").unwrap_or(l);
        if l2.len() > max && !old.contains(&l) {
            panic!(
                "a new line of {} octets: {:?}",
                l2.len(),
                String::from_utf8_lossy(&l2[..80])
            );
        }
    }
}

#[test]
fn no_line_grows_past_998_octets_and_quoted_printable_lines_stay_within_76() {
    let sig = signature_with_disclaimer();
    for (cte, line) in [
        // The signature lands at the end of a 950-octet line: broken after a tag.
        (
            "8bit",
            format!("<table><tr><td>{}</td></tr></table>", "x".repeat(930)),
        ),
        ("7bit", format!("<p>{}", "y".repeat(990))),
        // No place to break (a long attribute): the part becomes quoted-printable.
        ("8bit", format!("<p title=\"{}\">z", "t".repeat(990))),
        ("binary", "w".repeat(997)),
    ] {
        let msg = crlf(&format!(
            "{HEAD}Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: {cte}\n\n{line}\n"
        ));
        let (o, out) = inject_checked(&msg, &sig);
        assert!(o.is_injected(), "{o:?}");
        new_lines_within(&msg, &out, 998);
        let s = String::from_utf8_lossy(&out);
        if s.contains("quoted-printable") {
            let body = &s[s.find("\r\n\r\n").unwrap() + 4..];
            assert!(body.lines().all(|l| l.len() <= 76), "{body}");
        }
        let m = mail_parser::MessageParser::default().parse(&out).unwrap();
        assert!(m
            .body_html(0)
            .unwrap()
            .contains(&line[..line.len().min(200)]));
        assert_idempotent(&out, &sig);
    }
    // An input line already over 998 may stay so; the signature does not make a new one.
    let long = "v".repeat(1200);
    let msg = crlf(&format!(
        "{HEAD}Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n<p>{long}</p>\n<p>end</p>\n"
    ));
    let (o, out) = inject_checked(&msg, &sig);
    assert!(o.is_injected(), "{o:?}");
    new_lines_within(&msg, &out, 998);
    // Plain text: the same rule.
    let msg = crlf(&format!(
        "{HEAD}Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{}\n",
        "u".repeat(990)
    ));
    let (o, out) = inject_checked(&msg, &sig);
    assert!(o.is_injected(), "{o:?}");
    new_lines_within(&msg, &out, 998);
}

#[test]
fn pgp_armour_only_in_the_new_text_makes_a_message_signed() {
    let sig = signature_with_disclaimer();
    for (what, body) in [
        (
            "reply quoting a clear-signed message",
            "Content-Type: text/plain; charset=utf-8\n\nThanks.\n\nOn Mon, 2 Mar 2026, Bob wrote:\n> -----BEGIN PGP SIGNED MESSAGE-----\n> Hash: SHA256\n>\n> hi\n> -----BEGIN PGP SIGNATURE-----\n",
        ),
        (
            "forward below an Outlook separator",
            "Content-Type: text/plain; charset=utf-8\n\nFYI\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: Adele\nSubject: x\n\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhi\n-----BEGIN PGP SIGNATURE-----\n",
        ),
        (
            "armour in an HTML comment",
            "Content-Type: text/html; charset=utf-8\n\n<html><body><!-- -----BEGIN PGP MESSAGE----- --><p>Hi</p></body></html>\n",
        ),
        (
            "armour in quoted HTML",
            "Content-Type: text/html; charset=utf-8\n\n<html><body><p>Thanks</p><blockquote type=\"cite\"><pre>-----BEGIN PGP SIGNED MESSAGE-----</pre></blockquote></body></html>\n",
        ),
        (
            "armour mentioned inside a line",
            "Content-Type: text/plain; charset=utf-8\n\nPaste your key after -----BEGIN PGP PUBLIC KEY BLOCK----- please.\n",
        ),
    ] {
        let msg = crlf(&format!("{HEAD}{body}"));
        let (o, out) = inject_checked(&msg, &sig);
        match o {
            Outcome::Injected(i) => assert!(i.disclaimer, "{what}: no disclaimer"),
            other => panic!("{what}: {other:?}"),
        }
        assert!(String::from_utf8_lossy(&out).contains("Confidential"), "{what}");
    }
    for (body, want) in [
        (
            "Content-Type: text/plain\n\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhi\n",
            SkipReason::Signed,
        ),
        (
            "Content-Type: text/html\n\n<pre>-----BEGIN PGP MESSAGE-----\nhQEMA\n</pre>\n",
            SkipReason::Encrypted,
        ),
    ] {
        let (o, _) = inject_checked(&crlf(&format!("{HEAD}{body}")), &sig);
        assert_eq!(o, Outcome::Skipped(want));
    }
}

#[test]
fn a_header_without_blank_line_is_wrapped_for_an_inline_image_as_mail_clients_read_it() {
    let sig = signature_with_image();
    for body in [
        "Content-Type: text/html; charset=utf-8\n<html><body><p>Body right after the header.</p></body></html>\n",
        "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n<p>Body right after the header.</p>\n",
        // Found by the fuzzer: a header that runs to the end, so the body is empty.
        "Content-Type: text/html; charset=utf-8\nX-Late: field\n",
    ] {
        let msg = crlf(&format!("{HEAD}{body}"));
        let (o, out) = inject_checked(&msg, &sig);
        assert!(matches!(o, Outcome::Injected(ref i) if i.images == 1), "{o:?}");
        let m = mail_parser::MessageParser::default().parse(&out).unwrap();
        assert_eq!(m.parts[0].content_type().unwrap().subtype(), Some("related"));
        let html = m.body_html(0).unwrap();
        assert!(html.contains("cid:logo@sigsync"), "{html}");
        assert_eq!(
            html.contains("Body right after the header."),
            body.contains("Body right after the header.")
        );
        assert!(m.parts.iter().any(|p| p.content_id() == Some("logo@sigsync")));
        assert_idempotent(&out, &sig);
    }
}

#[test]
fn limits_are_capped_and_part_ranges_never_collected_past_the_budget() {
    use sigsync_core::inject::{InjectConfig, InjectError, Injector};
    for (depth, parts, field) in [
        (usize::MAX, 1000, "max_depth"),
        (InjectConfig::MAX_DEPTH + 1, 1000, "max_depth"),
        (32, 0, "max_parts"),
        (32, usize::MAX, "max_parts"),
    ] {
        let e = Injector::new(InjectConfig {
            max_depth: depth,
            max_parts: parts,
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains(field), "{e}");
    }
    // The deepest allowed nesting on a small thread stack: no overflow, a clean failure.
    let injector = Injector::new(InjectConfig {
        max_depth: InjectConfig::MAX_DEPTH,
        max_parts: InjectConfig::MAX_PARTS,
        ..Default::default()
    })
    .unwrap();
    let mut deep = Vec::new();
    for i in 0..5000 {
        deep.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    let o = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || injector.inject_with(&deep, &signature(), &mut Vec::new()))
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert!(
        matches!(o, Outcome::Failed(InjectError::TooComplex(_))),
        "{o:?}"
    );
    // A million delimiters: refused once the budget is spent, in little time and memory.
    let mut wide = crlf("Content-Type: multipart/mixed; boundary=w\n\n");
    wide.extend(b"--w\r\n\r\nx\r\n".repeat(1_000_000));
    let t = std::time::Instant::now();
    let (o, _) = inject_checked(&wide, &signature());
    assert!(
        matches!(o, Outcome::Failed(InjectError::TooComplex(_))),
        "{o:?}"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn an_empty_last_part_after_a_delimiter_without_eol_gets_its_own_lines() {
    // Found by the fuzzer: the message ends with a delimiter line without eol, which opens an
    // empty part; the signature written there must not join the delimiter line.
    for end in ["--a----", "--a----\r\n"] {
        let mut msg = crlf("Content-Type: multipart/mixed; boundary=\"a----\"\n\n--a----\nContent-Type: text/plain\n\nbody\n");
        msg.extend_from_slice(end.as_bytes());
        let (o, out) = inject_checked(&msg, &signature());
        assert!(o.is_injected(), "{o:?}");
        assert_idempotent(&out, &signature());
        // The delimiter line stays a line of its own.
        let s = String::from_utf8_lossy(&out);
        assert_eq!(
            s.matches("--a----").count(),
            s.matches("--a----\r\n").count(),
            "{s}"
        );
    }
}

#[test]
fn no_changed_body_holds_a_line_that_reads_as_a_multipart_delimiter() {
    // Found by the fuzzer: `--b` in the middle of a line of an 8-bit body that becomes
    // quoted-printable; a soft break put it at the start of a line, where it closed the part.
    let mut msg = crlf(
        "Content-Type: multipart/mixed; boundary=\":foo\"\n\n--:foo\nContent-Type: text/plain\n\n",
    );
    msg.extend_from_slice(&[0xff; 75]);
    msg.extend_from_slice(b"--:foo and more\r\n--:foo--\r\n");
    let (o, out) = inject_checked(&msg, &signature());
    assert!(o.is_injected(), "{o:?}");
    assert_idempotent(&out, &signature());
    let m = mail_parser::MessageParser::default().parse(&out).unwrap();
    assert!(m.body_text(0).unwrap().contains("--:foo and more"));
    // QP lines never start with '-', '.' or 'F', after a hard or a soft break.
    let body = String::from_utf8_lossy(&out);
    let qp = &body[body.find("quoted-printable").unwrap()..];
    for l in qp.lines().skip(2).take_while(|l| !l.starts_with("--:foo")) {
        assert!(!l.starts_with(['-', '.', 'F']), "{l:?}");
    }
    // A signature line that is a delimiter of the message cannot be made safe: the message
    // passes through.
    let sig = sigsync_core::signature::RenderedSignature {
        text: format!("{TEXT_MARK}\n--b1\nmore"),
        ..Default::default()
    };
    let msg = crlf("Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nHi\n--b1--\n");
    let (o, _) = inject_checked(&msg, &sig);
    assert!(matches!(o, Outcome::Failed(_)), "{o:?}");
}
