//! The injector over the generated corpus (`../shared/bench/gen_corpus.py`): every kind of
//! message it makes, checked for the outcome, the signature's place in each body (by Python's
//! `email`), byte identity outside the changed bodies (by the mail-parser crate) and
//! idempotency.

mod inject_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use inject_support::*;
use sigsync_core::inject::{Outcome, SkipReason};

fn corpus(count: usize) -> Option<PathBuf> {
    let gen = workspace_root().join("../shared/bench/gen_corpus.py");
    if !gen.exists() {
        eprintln!(
            "SKIPPED: {} is absent; the corpus tests need ../shared beside the repository",
            gen.display()
        );
        return None;
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("inject-corpus-{count}"));
    if !out.join("manifest.jsonl").exists() {
        let st = Command::new("python3")
            .arg(&gen)
            .args([
                "--out",
                out.to_str().unwrap(),
                "--count",
                &count.to_string(),
                "--large",
                "0",
            ])
            .status()
            .expect("python3 runs");
        assert!(st.success(), "gen_corpus.py failed");
    }
    Some(out)
}

fn expected_skip(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "calendar" => &["calendar"],
        "smime-signed" | "pgp-signed" => &["signed"],
        "smime-enc" | "pgp-enc" => &["encrypted"],
        "mdn" | "ndr" => &["report"],
        "tnef" => &["tnef_only", "injected"],
        _ => return None,
    })
}

#[test]
fn every_generated_kind_is_signed_in_place_or_skipped_for_its_reason() {
    let Some(dir) = corpus(600) else { return };
    let manifest = std::fs::read_to_string(dir.join("manifest.jsonl")).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let sig = signature_with_disclaimer();
    let mut per_kind: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut to_check = Vec::new();
    let mut problems = Vec::new();
    for line in manifest.lines() {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = m["file"].as_str().unwrap();
        let kind = m["kind"].as_str().unwrap().to_string();
        let input = std::fs::read(dir.join(file)).unwrap();
        let (outcome, out) = inject_checked(&input, &sig);
        let label = match &outcome {
            Outcome::Injected(_) => "injected".to_string(),
            Outcome::Skipped(r) => r.label().to_string(),
            Outcome::Failed(e) => format!("failed: {e}"),
        };
        *per_kind
            .entry(kind.clone())
            .or_default()
            .entry(label.clone())
            .or_default() += 1;
        let base = kind.split('-').next().unwrap_or_default();
        let allowed = expected_skip(&kind).or(expected_skip(base));
        match allowed {
            Some(ok) if !ok.contains(&label.as_str()) => {
                problems.push(format!("{file}: {label}, expected one of {ok:?}"))
            }
            None if label != "injected" => problems.push(format!("{file}: {label}")),
            _ => {}
        }
        if let Outcome::Injected(_) = outcome {
            assert_untouched_outside_bodies(&input, &strip_loop_header(&out));
            assert_idempotent(&out, &sig);
            let p = out_dir.join(file.replace('/', "_"));
            std::fs::write(&p, &out).unwrap();
            to_check.push((p, dir.join(file)));
        }
        let _ = SkipReason::Signed;
    }
    eprintln!("outcomes per kind: {per_kind:#?}");
    for kind in [
        "new",
        "reply",
        "forward",
        "related",
        "attach",
        "plain",
        "htmlonly",
        "calendar",
        "smime-signed",
        "smime-enc",
        "pgp-signed",
        "pgp-enc",
        "mdn",
        "ndr",
        "tnef",
        "deep",
        "fwd-attached",
        "apple-split",
    ] {
        assert!(
            per_kind.contains_key(kind),
            "the corpus has no {kind} message"
        );
    }
    assert!(per_kind.keys().any(|k| k.starts_with("htmledge-")));
    assert!(per_kind.keys().any(|k| k.starts_with("longline-")));
    problems.extend(python_check(&to_check));
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
