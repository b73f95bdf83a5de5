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

fuzz_target!(|data: &[u8]| {
    let (injector, sig) = setup();
    let header = b"X-Sigsync-Processed: true";
    let mut out = Vec::new();
    let outcome = injector.inject_with(data, sig, &mut out);
    match &outcome {
        Outcome::Skipped(SkipReason::LoopHeader) => assert_eq!(out, data),
        Outcome::Skipped(_) | Outcome::Failed(_) => {
            assert!(out.starts_with(header));
            let nl = out.iter().position(|&c| c == b'\n').unwrap();
            assert_eq!(&out[nl + 1..], data);
        }
        Outcome::Injected(_) => {
            assert!(out.starts_with(header));
            let nl = out.iter().position(|&c| c == b'\n').unwrap();
            let again = out[nl + 1..].to_vec();
            let mut out2 = Vec::new();
            let o2 = injector.inject_with(&again, sig, &mut out2);
            assert_eq!(o2, Outcome::Skipped(SkipReason::AlreadySigned), "not idempotent");
            assert_eq!(out2, out);
        }
    }
});
