//! Helpers shared by the injector's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use sigsync_core::inject::{Choice, InjectConfig, Injector, Outcome, SkipReason};
use sigsync_core::signature::{InlineImage, RenderedSignature};

/// The loop header line the default configuration stamps.
pub const LOOP: &[u8] = b"X-Sigsync-Processed: true";

/// A text that marks our plain-text signature in assertions.
pub const TEXT_MARK: &str = "Zoë Ångström | Contoso €";

pub fn injector() -> Injector {
    Injector::new(InjectConfig::default()).unwrap()
}

/// A signature with characters that Latin-1, ASCII and ISO-2022-JP cannot all hold.
pub fn signature() -> RenderedSignature {
    RenderedSignature {
        html: "<div data-sigsync=\"server\" style=\"font-family:Arial\"><p>Zoë Ångström<br>Contoso € — <a href=\"https://contoso.com\">contoso.com</a></p></div>".into(),
        text: format!("-- \n{TEXT_MARK}\nhttps://contoso.com"),
        ..Default::default()
    }
}

pub fn signature_with_disclaimer() -> RenderedSignature {
    RenderedSignature {
        disclaimer_html: Some(
            "<p data-sigsync-disclaimer>Confidential: for the named recipient only.</p>".into(),
        ),
        disclaimer_text: Some("Confidential: for the named recipient only.".into()),
        ..signature()
    }
}

pub fn signature_with_image() -> RenderedSignature {
    RenderedSignature {
        html:
            "<div data-sigsync=\"server\"><img src=\"cid:logo@sigsync\" alt=\"Contoso\"> Anna</div>"
                .into(),
        images: vec![InlineImage {
            content_id: "logo@sigsync".into(),
            content_type: "image/png".into(),
            filename: Some("logo.png".into()),
            data: Arc::from(&b"\x89PNG\r\n\x1a\nfake image bytes for the test"[..]),
        }],
        ..signature()
    }
}

/// The output without the loop header line we stamped (usually the first line; after an
/// mbox `From ` line or leading continuation lines it comes later), asserting it is there.
pub fn strip_loop_header(out: &[u8]) -> Vec<u8> {
    let at = (0..out.len())
        .find(|&i| (i == 0 || out[i - 1] == b'\n') && out[i..].starts_with(LOOP))
        .expect("the output has no loop header line");
    let end = memchr::memchr(b'\n', &out[at..]).map_or(out.len(), |n| at + n + 1);
    let mut start = at;
    if end == out.len() && !out.ends_with(b"\n") {
        // Stamped at the end of a message without a final eol: its own eol goes too.
        start -= if out[..at].ends_with(b"\r\n") { 2 } else { 1 };
    }
    [&out[..start], &out[end..]].concat()
}

/// The message without any loop header field of another value (the injector replaces them).
pub fn without_foreign_loop_headers(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut in_header = true;
    for line in msg.split_inclusive(|&c| c == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            in_header = false;
        }
        let lower = line.to_ascii_lowercase();
        if in_header && lower.starts_with(b"x-sigsync-processed:") && !line.starts_with(LOOP) {
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

/// Injects and checks the invariants every outcome must keep: loop header first, and for
/// skips and failures the input bytes unchanged after it.
pub fn inject_checked(msg: &[u8], sig: &RenderedSignature) -> (Outcome, Vec<u8>) {
    let mut out = Vec::new();
    let injector = injector();
    let outcome = injector.inject_with(msg, sig, &mut out);
    assert_prepared_matches(&injector, msg, sig, &outcome, &out);
    match &outcome {
        Outcome::Skipped(SkipReason::LoopHeader) => assert_eq!(out, msg),
        Outcome::Skipped(_) | Outcome::Failed(_) => {
            assert_eq!(
                strip_loop_header(&out),
                without_foreign_loop_headers(msg),
                "skipped/failed output differs from input"
            )
        }
        Outcome::Injected(_) => {
            strip_loop_header(&out);
        }
    }
    (outcome, out)
}

/// `prepare` gives the same outcome and bytes as `inject`, and its length is exact.
pub fn assert_prepared_matches(
    injector: &Injector,
    msg: &[u8],
    sig: &RenderedSignature,
    outcome: &Outcome,
    out: &[u8],
) {
    let (prepared, output) = injector.prepare(msg, None, |_| Choice::Sign(sig.clone()));
    assert_eq!(
        &prepared, outcome,
        "prepare and inject disagree on the outcome"
    );
    assert_eq!(output.len(), out.len(), "the prepared length is not exact");
    assert_eq!(output.chunks().collect::<Vec<_>>().concat(), out);
}

/// Injecting the output again (loop header removed) changes nothing.
pub fn assert_idempotent(out: &[u8], sig: &RenderedSignature) {
    let again = strip_loop_header(out);
    let mut out2 = Vec::new();
    let o2 = injector().inject_with(&again, sig, &mut out2);
    assert_eq!(
        o2,
        Outcome::Skipped(SkipReason::AlreadySigned),
        "second injection was not recognised as already signed"
    );
    assert_eq!(out2, out, "second injection changed the message");
}

/// Every byte outside the text bodies (as the mail-parser crate sees them) is in the output,
/// in order: untouched parts and headers are byte-identical.
pub fn assert_untouched_outside_bodies(input: &[u8], out: &[u8]) {
    let msg = mail_parser::MessageParser::default()
        .parse(input)
        .expect("mail-parser parses the input");
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (i, p) in msg.parts.iter().enumerate() {
        use mail_parser::MimeHeaders;
        let attachment = p.content_disposition().is_some_and(|d| d.is_attachment())
            || p.attachment_name().is_some();
        let is_body = matches!(
            p.body,
            mail_parser::PartType::Text(_) | mail_parser::PartType::Html(_)
        ) && !attachment;
        if is_body && i > 0 {
            ranges.push((p.offset_header as usize, p.offset_end as usize));
        }
    }
    if msg.parts.len() == 1 {
        // A single part: its body and its content headers may change, every other header
        // line stays, in order.
        let head = &input[..msg.parts[0].offset_body as usize];
        let mut at = 0;
        for line in head.split_inclusive(|&c| c == b'\n') {
            let l = String::from_utf8_lossy(line).to_ascii_lowercase();
            if l.starts_with("content-") || l.starts_with(' ') || l.starts_with('\t') {
                continue;
            }
            match memchr::memmem::find(&out[at..], line) {
                Some(i) => at += i + line.len(),
                None => panic!("header line {l:?} is not in the output"),
            }
        }
        return;
    }
    ranges.sort();
    let mut segments = Vec::new();
    let mut pos = 0;
    for (s, e) in ranges {
        if s > pos {
            segments.push(&input[pos..s]);
        }
        pos = pos.max(e);
    }
    segments.push(&input[pos.min(input.len())..]);
    let mut at = 0;
    for seg in segments {
        if seg.is_empty() {
            continue;
        }
        match memchr::memmem::find(&out[at..], seg) {
            Some(i) => at += i + seg.len(),
            None => panic!(
                "an untouched segment of {} bytes is not in the output: {:?}",
                seg.len(),
                String::from_utf8_lossy(&seg[..seg.len().min(200)])
            ),
        }
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Parses the files with Python's `email` package (a parser other than ours) and checks the
/// signature's presence and placement in each body; returns the problems found.
/// Each entry is (output file, original file): a body kind must carry the signature when the
/// original has a body of that kind.
pub fn python_check(files: &[(PathBuf, PathBuf)]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/check_mail.py");
    let list: Vec<serde_json::Value> = files
        .iter()
        .map(|(p, orig)| {
            serde_json::json!({"path": p, "orig": orig,
                "html_marker": "data-sigsync=\"server\"", "text_marker": TEXT_MARK})
        })
        .collect();
    let input = serde_json::to_vec(&list).unwrap();
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python check failed to run");
    serde_json::from_slice(&out.stdout).expect("python prints a JSON list")
}
