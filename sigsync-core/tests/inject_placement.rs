//! Where the signature goes: under the newest reply, above the quoted history, per client;
//! before `</body>` or at the end otherwise; disclaimers at the very bottom.

mod inject_support;

use inject_support::*;
use sigsync_core::inject::Outcome;

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

fn html_msg(html: &str) -> Vec<u8> {
    crlf(&format!(
        "From: a@contoso.com\nTo: b@example.org\nSubject: Re: x\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{html}\n"
    ))
}

fn html_msg_without_final_eol(html: &str) -> Vec<u8> {
    let mut m = html_msg(html);
    m.truncate(m.len() - 2);
    m
}

/// `html` as the HTML alternative of a multipart/alternative, directly before the delimiter.
fn html_in_alternative(html: &str) -> Vec<u8> {
    crlf(&format!(
        "From: a@contoso.com\nTo: b@example.org\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\nHi\n--b1\nContent-Type: text/html; charset=utf-8\n\n{html}\n--b1--\n"
    ))
}

fn text_msg(text: &str) -> Vec<u8> {
    crlf(&format!(
        "From: a@contoso.com\nTo: b@example.org\nSubject: Re: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{text}"
    ))
}

/// The output as text, and the position of the signature in it.
fn signed(msg: &[u8]) -> (String, usize) {
    let (outcome, out) = inject_checked(msg, &signature());
    assert!(matches!(outcome, Outcome::Injected(_)), "{outcome:?}");
    assert_idempotent(&out, &signature());
    let s = String::from_utf8(out).unwrap();
    let pos = s
        .find("data-sigsync=\"server\"")
        .or_else(|| s.find(TEXT_MARK))
        .unwrap();
    (s, pos)
}

fn assert_above(s: &str, sig: usize, marker: &str) {
    let m = s.find(marker).unwrap_or_else(|| panic!("{marker} missing"));
    assert!(sig < m, "signature is not above {marker}:\n{s}");
}

#[test]
fn outlook_web_reply_gets_signature_above_appendonsend_below_own_signature() {
    let msg = std::fs::read("tests/fixtures/mail/owa_reply.eml").unwrap();
    let (outcome, out) = inject_checked(&msg, &signature());
    assert!(
        matches!(outcome, Outcome::Injected(ref i) if i.above_quote && i.html_parts == 1 && i.text_parts == 1)
    );
    let parsed = mail_parser::MessageParser::default().parse(&out).unwrap();
    let html = parsed.body_html(0).unwrap();
    let sig = html.find("data-sigsync").unwrap();
    assert!(html.find("id=\"Signature\"").unwrap() < sig);
    assert!(sig < html.find("appendonsend").unwrap());
    let text = parsed.body_text(0).unwrap();
    assert!(text.find(TEXT_MARK).unwrap() < text.find("______").unwrap());
    assert!(text.find("Numbers attached.").unwrap() < text.find(TEXT_MARK).unwrap());
    assert_untouched_outside_bodies(&msg, &strip_loop_header(&out));
    assert_idempotent(&out, &signature());
}

#[test]
fn outlook_desktop_word_reply_goes_above_border_top_block() {
    let (s, sig) = signed(&html_msg(
        "<html><body><div class=WordSection1><p class=MsoNormal>Hi<o:p></o:p></p><div>\n<div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b>From:</b> X</p></div></div><p>old</p></div></body></html>",
    ));
    assert_above(&s, sig, "border-top:solid");
    assert!(s.find("<p class=MsoNormal>Hi").unwrap() < sig);
}

#[test]
fn gmail_reply_goes_above_gmail_quote_container() {
    let (s, sig) = signed(&html_msg(
        "<div dir=\"ltr\">Thanks</div><br><div class=\"gmail_quote gmail_quote_container\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon wrote:<br></div><blockquote class=\"gmail_quote\">old</blockquote></div>",
    ));
    assert_above(&s, sig, "gmail_quote gmail_quote_container");
    assert!(s.find("Thanks").unwrap() < sig);
}

#[test]
fn apple_mail_reply_goes_above_the_cite_wrapper() {
    let msg = std::fs::read("tests/fixtures/mail/apple_reply_ascii.eml").unwrap();
    let (outcome, out) = inject_checked(&msg, &signature());
    assert!(outcome.is_injected());
    let s = String::from_utf8_lossy(&out).into_owned();
    let sig = s.find("data-sigsync").unwrap();
    assert!(s.find("Sent from my iPhone</div>").unwrap() < sig);
    assert_above(&s, sig, "<div><br><blockquote type=\"cite\">");
    assert_idempotent(&out, &signature());
}

#[test]
fn thunderbird_reply_goes_above_moz_cite_prefix() {
    let (s, sig) = signed(&html_msg(
        "<html><body><p>Fine.</p>\n<div class=\"moz-cite-prefix\">On 01.03.24 10:00, X wrote:<br></div>\n<blockquote type=\"cite\" cite=\"mid:1@x\">old</blockquote></body></html>",
    ));
    assert_above(&s, sig, "moz-cite-prefix");
}

#[test]
fn plain_text_markers_each_put_the_signature_above_the_history() {
    for (history, marker) in [
        (
            "-----Original Message-----\nFrom: X\nSent: Monday\n\nold\n",
            "-----Original",
        ),
        ("-----Ursprüngliche Nachricht-----\nVon: X\n", "-----Urspr"),
        (
            "On Mon, Mar 4, 2024 at 9:12 AM John <j@x.com> wrote:\n\n> old\n",
            "On Mon",
        ),
        (
            "On Mon, Mar 4, 2024 at 9:12 AM John Smith <john.smith@fabrikam.com>\nwrote:\n> old\n",
            "On Mon",
        ),
        (
            "From: John <j@x.com>\nSent: Monday\nTo: Anna\nSubject: RE: x\n\nold\n",
            "From: John",
        ),
        ("> old line\n> more\n", "> old line"),
        ("Le 4 mars 2024, Émilie a écrit :\n> vieux\n", "Le 4 mars"),
    ] {
        let (s, sig) = signed(&text_msg(&format!("New text.\n\n{history}")));
        assert_above(&s, sig, marker);
        assert!(s.find("New text.").unwrap() < sig, "{history}");
        assert!(
            s.contains("New text.\r\n\r\n-- \r\n"),
            "one blank line above: {s}"
        );
    }
}

#[test]
fn inline_replies_and_new_mail_get_the_signature_at_the_end() {
    let (s, sig) = signed(&text_msg("> q1\nanswer 1\n> q2\nanswer 2\n"));
    assert!(s.find("answer 2").unwrap() < sig);
    let (s, sig) = signed(&text_msg("Just a note."));
    assert!(s.find("Just a note.").unwrap() < sig);
    assert!(s.trim_end().ends_with("https://contoso.com"));
}

#[test]
fn html_without_marker_goes_before_the_last_real_body_close() {
    let (s, sig) = signed(&html_msg(
        "<html><body><p>Hi</p><!-- template </body> end --><div><html><body>fwd</body></html></div>\n</BODY >\n</HTML>",
    ));
    assert!(sig > s.find("fwd</body>").unwrap());
    assert!(sig < s.find("</BODY >").unwrap());
    let (s, sig) = signed(&html_msg("<div>fragment without body</div>\n\n"));
    assert!(sig > s.find("fragment").unwrap());
}

#[test]
fn body_close_split_by_a_soft_line_break_is_still_found() {
    let msg = crlf("Subject: x\nContent-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: quoted-printable\n\n<html><body><p>Hi</p></bo=\ndy></html>\n");
    let (outcome, out) = inject_checked(&msg, &signature());
    assert!(outcome.is_injected());
    let parsed = mail_parser::MessageParser::default().parse(&out).unwrap();
    let html = parsed.body_html(0).unwrap();
    let sig = html.find("data-sigsync").unwrap();
    assert!(html.find("<p>Hi</p>").unwrap() < sig && sig < html.find("</body>").unwrap());
    assert_idempotent(&out, &signature());
}

#[test]
fn own_signature_in_the_quoted_history_does_not_stop_a_new_signature() {
    let (s, _) = signed(&html_msg(
        "<p>New</p><div class=\"gmail_quote\"><div data-sigsync=\"server\">old sig</div></div>",
    ));
    assert_eq!(s.matches("data-sigsync=\"server\"").count(), 2);
    assert!(s.find("data-sigsync=\"server\" style").unwrap() < s.find("gmail_quote").unwrap());
}

#[test]
fn disclaimer_goes_to_the_very_bottom_once() {
    let sig = signature_with_disclaimer();
    let msg = text_msg("New.\n\n-----Original Message-----\nFrom: X\nSent: y\n\nold\n");
    let (outcome, out) = inject_checked(&msg, &sig);
    assert!(matches!(outcome, Outcome::Injected(ref i) if i.disclaimer));
    let s = String::from_utf8(out.clone()).unwrap();
    assert!(s.find("-----Original").unwrap() < s.find("Confidential").unwrap());
    assert!(s
        .trim_end()
        .ends_with("Confidential: for the named recipient only."));
    assert_idempotent(&out, &sig);
    // A reply whose history already ends with the same disclaimer does not stack it.
    let reply = text_msg(
        "Thanks.\n\nOn Mon, X wrote:\n> hello\n>\n> Confidential: for the named\n> recipient only.\n",
    );
    let (outcome, out) = inject_checked(&reply, &sig);
    assert!(matches!(outcome, Outcome::Injected(ref i) if !i.disclaimer));
    assert_eq!(
        String::from_utf8(out)
            .unwrap()
            .matches("Confidential")
            .count(),
        1
    );
}

#[test]
fn html_disclaimer_already_ending_the_thread_is_not_added_again() {
    let sig = signature_with_disclaimer();
    let msg = html_msg("<html><body><p>Hi</p><div class=\"gmail_quote\">old<p class=\"x_disc\">Confidential:&nbsp;for the named recipient only.</p></div></body></html>");
    let (outcome, out) = inject_checked(&msg, &sig);
    assert!(matches!(outcome, Outcome::Injected(ref i) if !i.disclaimer && i.html_parts == 1));
    assert_eq!(
        String::from_utf8(out)
            .unwrap()
            .matches("Confidential")
            .count(),
        1
    );
}

#[test]
fn html_ending_inside_an_unclosed_comment_fails_rather_than_hiding_the_signature() {
    // Found by the fuzzer: appended text would sit inside the comment, invisible.
    let (o, _) = inject_checked(&html_msg("<p>Hi</p><!-- never closed"), &signature());
    assert!(o.is_failed(), "{o:?}");
    let (o, _) = inject_checked(&html_msg("<p>Hi</p><style>p{}"), &signature());
    assert!(o.is_failed(), "{o:?}");
    // A closing </body> before it keeps the signature visible.
    let (o, _) = inject_checked(&html_msg("<body><p>Hi</p></body><!-- tail"), &signature());
    assert!(o.is_injected(), "{o:?}");
}

#[test]
fn html_ending_inside_any_unclosed_construct_fails_whatever_its_last_byte() {
    // Found by the fuzzer: an attribute whose quote never closes swallows every `>` after it
    // (`</body></html>` included); the text then ended in '>' and was read as closed, so the
    // signature went inside the attribute, hidden, and a second run signed again.
    let endings = [
        "<!-- never closed",
        "<!-- never closed </body></html>",
        "<style>p{}",
        "<script>var a = 1; </body></html>",
        "<div title=\"open",
        "<div title=\"open</p></body></html>",
        "<div title='open</p>\n\t</body>\n</html>",
        "<bodytipart/mixed;\n\tboundary=\"--b.2022-05-12.</p>\n\t</body>\n</html>",
        "<p class=x",
        "<!DOCTYPE html",
    ];
    // The part's text ends where the construct is open: at the end of a single part with no
    // final line break, and before the next delimiter of a multipart (whose line break belongs
    // to the delimiter), so a last byte of '>' is the part's last byte.
    let shapes: [fn(&str) -> Vec<u8>; 3] =
        [html_msg, html_msg_without_final_eol, html_in_alternative];
    for tail in endings {
        for shape in shapes {
            let msg = shape(&format!("<html><body><p>Hi</p>{tail}"));
            let (o, out) = inject_checked(&msg, &signature());
            assert!(o.is_failed(), "{tail:?}: {o:?}");
            assert!(
                !String::from_utf8_lossy(&out).contains("data-sigsync"),
                "{tail:?}: the signature went in"
            );
        }
    }
    // Closed constructs with the same text stay signable, once.
    for tail in [
        "<div title=\"closed\">x</div></body></html>",
        "<div title='a>b'>x</div></body></html>",
    ] {
        for shape in [html_msg, html_msg_without_final_eol, html_in_alternative] {
            let msg = shape(&format!("<html><body><p>Hi</p>{tail}"));
            let (o, out) = inject_checked(&msg, &signature());
            assert!(o.is_injected(), "{tail:?}: {o:?}");
            assert_idempotent(&out, &signature());
        }
    }
}
