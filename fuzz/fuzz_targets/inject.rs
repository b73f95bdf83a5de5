//! Fuzzes the MIME injector: it must never panic, must always stamp the loop header, must pass
//! skipped and failed messages through byte for byte, and injecting its own output again (loop
//! header removed) must change nothing.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sigsync_core::inject::{InjectConfig, Injector, Outcome, SkipReason};
use sigsync_core::signature::{InlineImage, RenderedSignature};

fn setup() -> &'static (Injector, RenderedSignature) {
    static S: OnceLock<(Injector, RenderedSignature)> = OnceLock::new();
    S.get_or_init(|| {
        let injector = Injector::new(InjectConfig::default()).unwrap();
        let sig = RenderedSignature {
            html: "<div data-sigsync=\"server\"><img src=\"cid:logo@x\"> Zoë € 山田</div>".into(),
            text: "-- \nZoë € 山田\nContoso".into(),
            disclaimer_html: Some("<p>Confidential.</p>".into()),
            disclaimer_text: Some("Confidential.".into()),
            images: vec![InlineImage {
                content_id: "logo@x".into(),
                content_type: "image/png".into(),
                filename: Some("logo.png".into()),
                data: Arc::from(&b"\x89PNG fake"[..]),
            }],
        };
        (injector, sig)
    })
}

/// The output without the loop header line we stamped (first, or after an mbox `From ` line
/// or leading continuation lines), which must be there.
fn strip_stamp(out: &[u8]) -> Vec<u8> {
    let line = b"X-Sigsync-Processed: true";
    let at = (0..out.len())
        .find(|&i| (i == 0 || out[i - 1] == b'\n') && out[i..].starts_with(line))
        .expect("no loop header");
    let end = out[at..].iter().position(|&c| c == b'\n').map_or(out.len(), |n| at + n + 1);
    let mut start = at;
    if end == out.len() && !out.ends_with(b"\n") {
        start -= if out[..at].ends_with(b"\r\n") { 2 } else { 1 };
    }
    [&out[..start], &out[end..]].concat()
}

/// `msg` without loop header fields of another value in its header (they are replaced).
fn without_foreign(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut in_header = true;
    for line in msg.split_inclusive(|&c| c == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            in_header = false;
        }
        // Any other value, `trueDate: ...` on one line included (a prefix is not the value).
        let name = b"x-sigsync-processed:";
        let foreign = line.len() >= name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()..].trim_ascii() != b"true";
        if !(in_header && foreign) {
            out.extend_from_slice(line);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (injector, sig) = setup();
    let mut out = Vec::new();
    let outcome = injector.inject_with(data, sig, &mut out);
    match &outcome {
        Outcome::Skipped(SkipReason::LoopHeader) => {}
        Outcome::Skipped(_) | Outcome::Failed(_) => {
            if without_foreign(data) == data {
                assert_eq!(strip_stamp(&out), data, "not passed through");
            } else {
                strip_stamp(&out);
            }
        }
        Outcome::Injected(_) => {
            let again = strip_stamp(&out);
            let mut out2 = Vec::new();
            let o2 = injector.inject_with(&again, sig, &mut out2);
            assert_eq!(o2, Outcome::Skipped(SkipReason::AlreadySigned), "not idempotent");
            assert_eq!(out2, out);
        }
    }
});
