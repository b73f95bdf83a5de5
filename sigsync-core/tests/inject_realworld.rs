//! Real-world mail: the test messages of other mail libraries (Dovecot's via Stalwart's
//! mail-parser, Stalwart's RFC samples, Apache James mime4j; see
//! `tests/fixtures/realworld/README.md` for sources and licences) and odd messages of our own,
//! one per class of defect found in real-world mail. Every output goes through an integrity
//! check by Python's `email` (`tests/py/check_integrity.py`): one loop header, header fields
//! read as before, no new parse defects, parts that are not bodies unchanged, the signature
//! shown in every kind of body exactly once with the original lines intact, no new line over
//! 998 octets.

mod inject_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use inject_support::*;
use sigsync_core::inject::{InjectError, Outcome};
use sigsync_core::signature::RenderedSignature;

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realworld");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "eml") {
                files.push(f);
            }
        }
    }
    files.sort();
    files
}

fn sig() -> RenderedSignature {
    RenderedSignature {
        disclaimer_html: signature_with_disclaimer().disclaimer_html,
        disclaimer_text: signature_with_disclaimer().disclaimer_text,
        ..signature_with_image()
    }
}

fn integrity(items: &[(PathBuf, PathBuf, &'static str)]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/check_integrity.py");
    let list: Vec<serde_json::Value> = items
        .iter()
        .map(|(orig, out, outcome)| {
            serde_json::json!({"orig": orig, "out": out, "outcome": outcome,
                "html_marker": "data-sigsync=\"server\"", "text_marker": TEXT_MARK})
        })
        .collect();
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&list).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the integrity check failed to run");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn real_world_mail_passes_an_independent_integrity_check() {
    let files = corpus();
    assert!(
        files.len() >= 100,
        "the corpus has {} messages",
        files.len()
    );
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("realworld");
    std::fs::create_dir_all(&out_dir).unwrap();
    let sig = sig();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for f in &files {
        let input = std::fs::read(f).unwrap();
        let (outcome, out) = inject_checked(&input, &sig);
        let name = format!(
            "{}-{}",
            f.parent().unwrap().file_name().unwrap().to_string_lossy(),
            f.file_name().unwrap().to_string_lossy()
        );
        let label = match &outcome {
            Outcome::Injected(_) => "injected".to_string(),
            Outcome::Skipped(r) => format!("skipped: {}", r.label()),
            Outcome::Failed(e) => format!("failed: {e}"),
        };
        eprintln!("{name}: {label}");
        *counts.entry(outcome.label().to_string()).or_default() += 1;
        if let Outcome::Failed(InjectError::Internal(e)) = &outcome {
            problems.push(format!("{name}: internal error {e}"));
        }
        // Our own odd messages are each signable: one per class of defect.
        if name.starts_with("own-") && !outcome.is_injected() {
            problems.push(format!("{name}: {label}, expected injected"));
        }
        if outcome.is_injected() {
            assert_idempotent(&out, &sig);
        }
        let p = out_dir.join(&name);
        std::fs::write(&p, &out).unwrap();
        items.push((f.clone(), p, outcome.label()));
    }
    eprintln!("outcomes: {counts:?}");
    assert!(
        counts.get("injected").copied().unwrap_or(0) * 2 > files.len(),
        "most real-world messages are signable: {counts:?}"
    );
    problems.extend(integrity(&items));
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
