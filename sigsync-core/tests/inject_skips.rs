//! Skips (each with its reason), failures (told apart from skips), the loop header on every
//! outcome, and what the policy sees (envelope or headers, new or reply or forward).

mod inject_support;

use std::cell::RefCell;

use inject_support::*;
use sigsync_core::inject::{
    AddressSource, Choice, Envelope, InjectConfig, InjectError, Injector, MessageInfo, MessageKind,
    Outcome, SkipReason,
};
use sigsync_core::LoopHeader;

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

const HEAD: &str = "From: Anna <anna@contoso.com>\nTo: \"Smith, John\" <john@fabrikam.com>\nCc: c@contoso.com\nSubject: Hello\nMIME-Version: 1.0\n";

fn skipped(msg: &[u8]) -> SkipReason {
    match inject_checked(msg, &signature()).0 {
        Outcome::Skipped(r) => r,
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn failed(msg: &[u8]) -> InjectError {
    match inject_checked(msg, &signature()).0 {
        Outcome::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn loop_header_present_means_already_processed_and_nothing_changes() {
    let msg = crlf(&format!(
        "X-Sigsync-Processed: true\n{HEAD}Content-Type: text/plain\n\nHi\n"
    ));
    assert_eq!(skipped(&msg), SkipReason::LoopHeader);
    assert!(skipped(&msg).is_already_processed());
}

#[test]
fn custom_loop_header_is_the_one_stamped_and_recognised() {
    let injector = Injector::new(InjectConfig {
        loop_header: LoopHeader::new("X-Acme-Signed", "1").unwrap(),
        ..Default::default()
    })
    .unwrap();
    let msg = crlf(&format!("{HEAD}Content-Type: text/plain\n\nHi\n"));
    let mut out = Vec::new();
    assert!(injector
        .inject_with(&msg, &signature(), &mut out)
        .is_injected());
    assert!(out.starts_with(b"X-Acme-Signed: 1\r\n"));
    let mut out2 = Vec::new();
    let o = injector.inject_with(&out, &signature(), &mut out2);
    assert_eq!(o, Outcome::Skipped(SkipReason::LoopHeader));
    assert_eq!(out2, out);
}

#[test]
fn signed_and_encrypted_mail_is_never_touched() {
    let nested = std::fs::read("tests/fixtures/mail/signed_inside_mixed.eml").unwrap();
    assert_eq!(skipped(&nested), SkipReason::Signed);
    let p7m = crlf(&format!("{HEAD}Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\nContent-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHA6CAMIACAQA=\n"));
    assert_eq!(skipped(&p7m), SkipReason::Encrypted);
    let p7s = crlf(&format!(
        "{HEAD}Content-Type: application/pkcs7-mime; smime-type=signed-data\n\nMIAG\n"
    ));
    assert_eq!(skipped(&p7s), SkipReason::Signed);
    let pgp = crlf(&format!("{HEAD}Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\n\n--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--b\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n--b--\n"));
    assert_eq!(skipped(&pgp), SkipReason::Encrypted);
    let inline = crlf(&format!("{HEAD}Content-Type: text/plain\n\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhi\n-----BEGIN PGP SIGNATURE-----\n"));
    assert_eq!(skipped(&inline), SkipReason::Signed);
    let armoured = crlf(&format!("{HEAD}Content-Type: text/plain\n\n-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n"));
    assert_eq!(skipped(&armoured), SkipReason::Encrypted);
}

#[test]
fn calendar_anywhere_reports_and_auto_replies_are_skipped() {
    let invite = crlf(&format!("{HEAD}Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain\n\nMeeting\n--a\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n--a--\n--m--\n"));
    assert_eq!(skipped(&invite), SkipReason::Calendar);
    let ndr = crlf(&format!("{HEAD}Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n--r\nContent-Type: text/plain\n\nDelivery has failed\n--r\nContent-Type: message/delivery-status\n\nAction: failed\n--r--\n"));
    assert_eq!(skipped(&ndr), SkipReason::Report);
    let mdn = crlf(&format!("{HEAD}Content-Type: multipart/report; report-type=disposition-notification; boundary=r\n\n--r\nContent-Type: text/plain\n\nRead\n--r\nContent-Type: message/disposition-notification\n\nDisposition: displayed\n--r--\n"));
    assert_eq!(skipped(&mdn), SkipReason::Report);
    for h in [
        "Auto-Submitted: auto-replied",
        "Precedence: auto_reply",
        "X-Autoreply: yes",
    ] {
        let oof = crlf(&format!(
            "{h}\n{HEAD}Content-Type: text/plain\n\nI am out of office.\n"
        ));
        assert_eq!(skipped(&oof), SkipReason::AutoReply, "{h}");
    }
    // X-Auto-Response-Suppress asks others not to auto-reply (Outlook sets it on ordinary
    // mail, meeting responses and more); it does not make this message an auto-reply.
    for h in [
        "Auto-Submitted: no",
        "X-Auto-Response-Suppress: All",
        "X-Auto-Response-Suppress: OOF, AutoReply",
    ] {
        let not_auto = crlf(&format!("{h}\n{HEAD}Content-Type: text/plain\n\nHi\n"));
        assert!(
            inject_checked(&not_auto, &signature()).0.is_injected(),
            "{h}"
        );
    }
}

#[test]
fn tnef_only_and_bodiless_messages_are_skipped_but_text_beside_tnef_is_signed() {
    let tnef = crlf(&format!("{HEAD}Content-Type: application/ms-tnef; name=\"winmail.dat\"\nContent-Transfer-Encoding: base64\n\neJ8+IgAA\n"));
    assert_eq!(skipped(&tnef), SkipReason::TnefOnly);
    let pdf = crlf(&format!(
        "{HEAD}Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n"
    ));
    assert_eq!(skipped(&pdf), SkipReason::NoTextBody);
    let mixed = crlf(&format!("{HEAD}Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\nHi\n--m\nContent-Type: application/ms-tnef; name=winmail.dat\nContent-Disposition: attachment; filename=winmail.dat\n\nxx\n--m--\n"));
    assert!(inject_checked(&mixed, &signature()).0.is_injected());
}

#[test]
fn combo_mode_client_signature_skips_and_own_signature_is_not_stacked() {
    let client = crlf(&format!(
        "{HEAD}Content-Type: text/html\n\n<p>Hi</p><div data-sigsync=\"client\">Anna</div>\n"
    ));
    assert_eq!(skipped(&client), SkipReason::ClientSignature);
    let own = crlf(&format!(
        "{HEAD}Content-Type: text/html\n\n<p>Hi</p><div data-sigsync=server>Anna</div>\n"
    ));
    assert_eq!(skipped(&own), SkipReason::AlreadySigned);
    let own_text = crlf(&format!("{HEAD}Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nHi\n\n-- \n{TEXT_MARK}\nhttps://contoso.com\n"));
    assert_eq!(skipped(&own_text), SkipReason::AlreadySigned);
    // The invisible text markers of the signatures engine: the add-in's (combo mode) and ours.
    let text = |marker: &str| {
        crlf(&format!("{HEAD}Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nHi\n\n{marker}Anna\n"))
    };
    assert_eq!(
        skipped(&text("\u{2063}\u{200C}\u{2063}")),
        SkipReason::ClientSignature
    );
    assert_eq!(
        skipped(&text("\u{2063}\u{200B}\u{2063}")),
        SkipReason::AlreadySigned
    );
}

#[test]
fn policy_without_signature_is_a_skip_with_its_reason() {
    let msg = crlf(&format!("{HEAD}Content-Type: text/plain\n\nHi\n"));
    let mut out = Vec::new();
    let o = injector().inject(
        &msg,
        None,
        |_| Choice::NoSignature("internal mail".into()),
        &mut out,
    );
    assert_eq!(
        o,
        Outcome::Skipped(SkipReason::Policy("internal mail".into()))
    );
    assert_eq!(o.label(), "skipped");
    assert_eq!(o.reason().unwrap(), "policy: internal mail");
    assert_eq!(strip_loop_header(&out), msg);
}

#[test]
fn failures_pass_the_original_through_and_are_told_apart_from_skips() {
    let bad_b64 = crlf(&format!(
        "{HEAD}Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nSGVsbG8*!!\n"
    ));
    assert!(matches!(failed(&bad_b64), InjectError::Encoding(_)));
    let charset = crlf(&format!(
        "{HEAD}Content-Type: text/plain; charset=x-klingon\n\nHi\n"
    ));
    assert!(matches!(failed(&charset), InjectError::Charset(_)));
    let no_boundary = crlf(&format!(
        "{HEAD}Content-Type: multipart/mixed; boundary=nowhere\n\n--elsewhere\n\nHi\n"
    ));
    assert!(matches!(failed(&no_boundary), InjectError::Malformed(_)));
    let uu = crlf(&format!(
        "{HEAD}Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644\n"
    ));
    let o = inject_checked(&uu, &signature()).0;
    assert!(o.is_failed() && o.label() == "failed");
    let e: sigsync_core::Error = failed(&uu).into();
    assert_eq!(e.kind(), sigsync_core::ErrorKind::Validation);
}

#[test]
fn policy_sees_envelope_recipients_including_bcc_when_given() {
    let msg = crlf(&format!("{HEAD}Content-Type: text/plain\n\nHi\n"));
    let seen: RefCell<Option<MessageInfo>> = RefCell::new(None);
    let env = Envelope {
        mail_from: Some("anna@contoso.com".into()),
        rcpt_to: vec!["john@fabrikam.com".into(), "bcc@hidden.example".into()],
    };
    let mut out = Vec::new();
    injector().inject(
        &msg,
        Some(&env),
        |i| {
            *seen.borrow_mut() = Some(i.clone());
            Choice::Sign(signature())
        },
        &mut out,
    );
    let info = seen.take().unwrap();
    assert_eq!(info.source, AddressSource::Envelope);
    assert_eq!(info.recipients, env.rcpt_to);
    injector().inject(
        &msg,
        None,
        |i| {
            *seen.borrow_mut() = Some(i.clone());
            Choice::Sign(signature())
        },
        &mut out,
    );
    let info = seen.take().unwrap();
    assert_eq!(info.source, AddressSource::Headers);
    assert_eq!(info.sender.as_deref(), Some("anna@contoso.com"));
    assert_eq!(info.recipients, vec!["john@fabrikam.com", "c@contoso.com"]);
    assert_eq!(info.kind, MessageKind::New);
}

#[test]
fn policy_sees_replies_and_forwards() {
    let kind = |head: &str, body: &str| {
        let msg = crlf(&format!("{head}Content-Type: text/plain\n\n{body}"));
        let mut k = None;
        injector().inject(
            &msg,
            None,
            |i| {
                k = Some(i.kind);
                Choice::NoSignature("test".into())
            },
            &mut Vec::new(),
        );
        k.unwrap()
    };
    assert_eq!(kind("Subject: RE: x\n", "Hi\n"), MessageKind::Reply);
    assert_eq!(
        kind("Subject: x\nIn-Reply-To: <a@b>\n", "Hi\n"),
        MessageKind::Reply
    );
    assert_eq!(
        kind("Subject: x\n", "Hi\n\n-----Original Message-----\nold\n"),
        MessageKind::Reply
    );
    assert_eq!(
        kind("Subject: Fwd: x\nReferences: <a@b>\n", "Hi\n"),
        MessageKind::Forward
    );
    assert_eq!(kind("Subject: WG: x\n", "Hi\n"), MessageKind::Forward);
    assert_eq!(kind("Subject: x\n", "Hi\n"), MessageKind::New);
}

#[test]
fn injector_is_shareable_between_threads() {
    fn assert_sync<T: Send + Sync>() {}
    assert_sync::<Injector>();
    let inj = std::sync::Arc::new(injector());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let inj = inj.clone();
            std::thread::spawn(move || {
                let msg = crlf(&format!(
                    "Subject: {i}\nContent-Type: text/plain\n\nHi {i}\n"
                ));
                let mut out = Vec::new();
                inj.inject_with(&msg, &signature(), &mut out).is_injected()
            })
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}

#[test]
fn a_header_that_runs_to_the_end_gets_its_blank_line_before_the_signature() {
    // Found by the fuzzer: text written there would be read as headers, and signed again.
    // Readers see an empty body: the signature goes after a blank line that ends the header.
    for msg in [
        &b"Subject: x\r\nContent-Type: text/plain"[..],
        b"Subject: x\r\nContent-Type: text/plain\r\n",
        b"Subject: x\nContent-Type: text/plain; charset=utf-8",
        b"no headers, no blank line",
    ] {
        let (o, out) = inject_checked(msg, &signature());
        assert!(o.is_injected(), "{o:?}");
        let rest = strip_loop_header(&out);
        let head_end = memchr::memmem::find(&rest, b"\n\r\n")
            .or_else(|| memchr::memmem::find(&rest, b"\n\n"))
            .expect("a blank line ends the header");
        assert!(
            !rest[..head_end]
                .windows(TEXT_MARK.len())
                .any(|w| w == TEXT_MARK.as_bytes()),
            "the signature is in the header: {:?}",
            String::from_utf8_lossy(&rest)
        );
        assert_idempotent(&out, &signature());
    }
}

#[test]
fn prepared_output_has_its_exact_length_and_the_bytes_inject_writes_on_every_outcome() {
    let messages = [
        // Injected, with a header edit (charset and transfer encoding) and a body edit.
        crlf(&format!("{HEAD}Content-Type: text/plain; charset=us-ascii\n\nHi\n")),
        // Skipped: signed.
        crlf(&format!(
            "{HEAD}Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\n\n--b\nContent-Type: text/plain\n\nHi\n--b--\n"
        )),
        // Skipped on the loop header: no second header line.
        crlf(&format!(
            "X-Sigsync-Processed: true\n{HEAD}Content-Type: text/plain\n\nHi\n"
        )),
        // Empty.
        Vec::new(),
    ];
    let inj = injector();
    for msg in &messages {
        let mut out = Vec::new();
        let outcome = inj.inject_with(msg, &signature(), &mut out);
        let (prepared, output) = inj.prepare(msg, None, |_| Choice::Sign(signature()));
        assert_eq!(prepared, outcome);
        assert_eq!(output.len(), out.len(), "for {outcome:?}");
        assert_eq!(output.is_empty(), out.is_empty());
        assert_eq!(output.chunks().collect::<Vec<_>>().concat(), out);
        let mut again = b"old contents".to_vec();
        output.write_to(&mut again);
        assert_eq!(again, out, "write_to clears the buffer first");
    }
}
