//! The loop header: a message is skipped only when it carries the configured value; any other
//! value (`no`, another tenant's, a forged one) is replaced, so that every message leaves
//! with exactly one header with the configured value, on every outcome. The stamp never
//! changes how the existing header lines are read (mbox `From ` lines, leading continuation
//! lines, a header that ends the message).

mod inject_support;

use std::io::Write;
use std::process::{Command, Stdio};

use inject_support::*;
use sigsync_core::inject::{InjectConfig, Injector, Outcome, SkipReason};
use sigsync_core::LoopHeader;

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

/// The values of every field named `name` in the top-level header block, as Python's
/// `email` reads it (an independent reader).
fn python_headers(msg: &[u8]) -> serde_json::Value {
    let script = r#"
import email, email.policy, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.compat32)
print(json.dumps({"unixfrom": m.get_unixfrom(), "items": [[k, str(v)] for k, v in m.items()],
                  "payload": m.get_payload() if not m.is_multipart() else None}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(msg).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tenant() -> Injector {
    Injector::new(InjectConfig {
        loop_header: LoopHeader::new("X-Sigsync-Processed", "t-7f3a9c2e").unwrap(),
        ..Default::default()
    })
    .unwrap()
}

/// The lines of the top-level header that carry `name`.
fn loop_lines(out: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n")
        .filter(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn only_the_exact_configured_value_skips_and_other_values_are_replaced_on_every_outcome() {
    let injector = tenant();
    let bodies = [
        // injected
        "Content-Type: text/plain\n\nHi\n",
        // skipped (signed)
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\n\n--b\nContent-Type: text/plain\n\nHi\n--b--\n",
        // failed (undecodable)
        "Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n",
    ];
    let foreign = [
        vec!["X-Sigsync-Processed: no"],
        vec!["X-Sigsync-Processed: true"],
        vec!["x-sigsync-processed:   T-7F3A9C2E"],
        vec!["X-Sigsync-Processed: t-7f3a9c2e-forged"],
        vec!["X-Sigsync-Processed:"],
        vec!["X-Sigsync-Processed: no", "X-Sigsync-Processed: other"],
    ];
    for body in bodies {
        for headers in &foreign {
            let msg = crlf(&format!(
                "{}\nFrom: a@contoso.com\nSubject: s\n{body}",
                headers.join("\n")
            ));
            let mut out = Vec::new();
            let o = injector.inject_with(&msg, &signature(), &mut out);
            assert!(
                !matches!(o, Outcome::Skipped(SkipReason::LoopHeader)),
                "{headers:?} skipped as processed"
            );
            assert_eq!(
                loop_lines(&out, "X-Sigsync-Processed"),
                vec!["X-Sigsync-Processed: t-7f3a9c2e"],
                "{headers:?} with {o:?}"
            );
            if !o.is_injected() {
                // Nothing else changed: the input without its loop headers is the output
                // without ours.
                let strip = |m: &[u8]| {
                    String::from_utf8_lossy(m)
                        .split("\r\n")
                        .filter(|l| !l.to_ascii_lowercase().starts_with("x-sigsync-processed:"))
                        .collect::<Vec<_>>()
                        .join("\r\n")
                };
                assert_eq!(strip(&out), strip(&msg));
            }
        }
    }
    // The exact value (surrounding white space aside) is processed mail: byte for byte.
    for exact in [
        "X-Sigsync-Processed: t-7f3a9c2e",
        "x-sigsync-processed:t-7f3a9c2e  ",
    ] {
        let msg = crlf(&format!(
            "From: a@contoso.com\n{exact}\nContent-Type: text/plain\n\nHi\n"
        ));
        let mut out = Vec::new();
        let o = injector.inject_with(&msg, &signature(), &mut out);
        assert_eq!(o, Outcome::Skipped(SkipReason::LoopHeader), "{exact}");
        assert_eq!(out, msg);
    }
    // The exact value beside another: processed, and only the exact one stays.
    let msg = crlf("X-Sigsync-Processed: no\nFrom: a@contoso.com\nX-Sigsync-Processed: t-7f3a9c2e\nContent-Type: text/plain\n\nHi\n");
    let mut out = Vec::new();
    let o = injector.inject_with(&msg, &signature(), &mut out);
    assert_eq!(o, Outcome::Skipped(SkipReason::LoopHeader));
    assert_eq!(
        loop_lines(&out, "X-Sigsync-Processed"),
        vec!["X-Sigsync-Processed: t-7f3a9c2e"]
    );
}

#[test]
fn the_stamp_never_changes_how_the_existing_header_lines_are_read() {
    let cases: Vec<Vec<u8>> = vec![
        // An mbox envelope line, as mailbox files and filters hand messages over.
        b"From adele@contoso.com Sat Jan  3 01:05:34 2026\nFrom: Adele <adele@contoso.com>\nTo: b@fabrikam.com\nSubject: mbox\nContent-Type: text/plain\n\nHi\n".to_vec(),
        crlf("From adele@contoso.com Sat Jan  3 01:05:34 2026\nFrom: Adele <adele@contoso.com>\nSubject: mbox\n\nHi\n"),
        // A first line that starts with white space (a malformed continuation).
        crlf(" From: Adele <adele@contoso.com>\nTo: b@fabrikam.com\nSubject: ws\nContent-Type: text/plain\n\nHi\n"),
        crlf("\tFrom: Adele <adele@contoso.com>\n  more\nSubject: ws\n\nHi\n"),
        b" Subject: only continuation lines\n\tand more\n\nHi\n".to_vec(),
        // Both.
        b"From x Sat Jan  3 01:05:34 2026\n From: Adele <adele@contoso.com>\nSubject: both\n\nHi\n".to_vec(),
        // A header that ends the message.
        b"From: Adele <adele@contoso.com>\nSubject: no body".to_vec(),
        b" Subject: no body".to_vec(),
    ];
    let injector = injector();
    for msg in cases {
        let mut out = Vec::new();
        let o = injector.inject_with(&msg, &signature(), &mut out);
        assert!(!o.is_failed(), "{o:?}");
        let before = python_headers(&msg);
        let after = python_headers(&out);
        assert_eq!(after["unixfrom"], before["unixfrom"], "{o:?}");
        let mut items: Vec<serde_json::Value> = after["items"].as_array().unwrap().clone();
        let ours = items
            .iter()
            .position(|kv| kv[0] == "X-Sigsync-Processed" && kv[1] == "true")
            .unwrap_or_else(|| panic!("the loop header is not read as its own field: {after}"));
        items.remove(ours);
        if o.is_injected() {
            // Content headers (and MIME-Version with them) may change: compare the others.
            let keep = |v: &Vec<serde_json::Value>| -> Vec<serde_json::Value> {
                v.iter()
                    .filter(|kv| {
                        let k = kv[0].as_str().unwrap().to_ascii_lowercase();
                        !k.starts_with("content-") && k != "mime-version"
                    })
                    .cloned()
                    .collect()
            };
            assert_eq!(keep(&items), keep(before["items"].as_array().unwrap()));
        } else {
            assert_eq!(&items, before["items"].as_array().unwrap());
            assert_eq!(after["payload"], before["payload"]);
        }
    }
}

#[test]
fn the_stamp_is_stable_when_the_output_is_injected_again() {
    // Found by the fuzzer: a removed foreign header with another line ending than the rest
    // chose the stamp's line ending, and injecting the output again chose another one.
    for msg in [
        &b"X-Sigsync-Processed: no\r/\nFrom: a@contoso.com\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\nHi\r\n"[..],
        b"X-Sigsync-Processed: no\nFrom: a@contoso.com\r\nSubject: s\r\n\r\nHi\r\n",
        b"X-Sigsync-Processed: no\r\nFrom: a@contoso.com\nSubject: s\n\nHi\n",
        b"From x Sat Jan  3 01:05:34 2026\r\nX-Sigsync-Processed: 1\nSubject: s\n\nHi\n",
        // Also found by the fuzzer: a leading continuation line with another line ending
        // than the body line that ends the header, where the signature's header lines go.
        b" From: Adele <adele@contoso\ncof>\r\nTo: bob@fabrikam.com\r\n\r\nHi\r\n",
        b"no header at all\r\nsecond line\n",
    ] {
        let (o, out) = inject_checked(msg, &signature());
        assert!(o.is_injected(), "{o:?}");
        assert_idempotent(&out, &signature());
    }
}

/// Found by the fuzzer: a foreign loop header that is the last field of a message ending
/// inside its header (no eol, no body). The stamp removes it, and the eol that completes a
/// last line before added header lines ended the header instead, so the content headers the
/// injector adds became body text and a second run signed again. Every shape of that class:
/// alone, after other fields, after an mbox line or a leading continuation line, folded,
/// LF and CRLF, `no` or another tenant's value; the header must read as before (Python's
/// `email`), with the added lines in it, and a second run must change nothing.
#[test]
fn a_removed_foreign_loop_header_that_ends_the_message_leaves_the_header_whole() {
    let tails = [
        "X-Sigsync-Processed: no",
        "x-sigsync-processed: t-other\n\tfolded",
    ];
    let heads = [
        "",
        "From: Adele <adele@contoso.com>\nSubject: s\n",
        "From adele@contoso.com Sat Jan  3 01:05:34 2026\nFrom: a@contoso.com\n",
        " leading: continuation\nTo: b@fabrikam.com\n",
        "X-Sigsync-Processed: no\nSubject: two foreign ones\n",
    ];
    let mut checked = 0;
    for head in heads {
        for tail in tails {
            for eol in ["\n", "\r\n"] {
                let msg = format!("{head}{tail}").replace('\n', eol).into_bytes();
                let mut out = Vec::new();
                let o = injector().inject_with(&msg, &signature(), &mut out);
                assert!(o.is_injected(), "{o:?} {:?}", String::from_utf8_lossy(&msg));
                let text = String::from_utf8_lossy(&out);
                // (A message with no line break at all gets CRLF.)
                let (header, body) = text
                    .split_once("\r\n\r\n")
                    .or_else(|| text.split_once("\n\n"))
                    .unwrap_or_else(|| panic!("no header and body: {msg:?} -> {text:?}"));
                assert!(
                    header.contains("Content-Type: text/plain") && !body.contains("Content-Type"),
                    "the added lines are not in the header: {text:?}"
                );
                let after = python_headers(&out);
                let names: Vec<String> = after["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|kv| kv[0].as_str().unwrap().to_ascii_lowercase())
                    .collect();
                assert_eq!(
                    names.iter().filter(|n| *n == "x-sigsync-processed").count(),
                    1,
                    "{names:?}"
                );
                assert!(names.contains(&"content-type".to_owned()), "{names:?}");
                assert_idempotent(&out, &signature());
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 20);
}
