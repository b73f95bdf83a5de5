//! Runs the `inject` example binary as the README shows it: one message to stdout, and a
//! folder with a JSON-lines report.

use std::process::Command;

mod support;
use support::*;

const NEW: &str = "From: AdeleV@contoso.com\r\nTo: bob@fabrikam.com\r\nSubject: Hello\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hi Bob</p></body></html>\r\n";
const SIGNED: &str = "From: AdeleV@contoso.com\r\nTo: bob@fabrikam.com\r\nSubject: Signed\r\n\
Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIIB\r\n--b--\r\n";

#[test]
fn inject_example_signs_one_message_and_a_folder_with_a_report() {
    let dir = scratch("inject-example");
    let (input, output) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("new.eml"), NEW).unwrap();
    std::fs::write(input.join("signed.eml"), SIGNED).unwrap();

    let config = root().join("signature.toml");
    let user = root().join("user.json");
    let out = Command::new(example("inject"))
        .arg("--config")
        .arg(&config)
        .arg("--user")
        .arg(&user)
        .arg(input.join("new.eml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = String::from_utf8_lossy(&out.stdout);
    assert!(
        signed.starts_with("X-Sigsync-Processed: true\r\n"),
        "{signed}"
    );
    assert!(signed.contains("<b>Adele Vance</b>"), "{signed}");

    let report = dir.join("report.jsonl");
    let out = Command::new(example("inject"))
        .arg("--config")
        .arg(&config)
        .arg("--user")
        .arg(&user)
        .arg("--dir")
        .arg(&input)
        .arg(&output)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["file"].as_str(), lines[0]["outcome"].as_str()),
        (Some("new.eml"), Some("injected"))
    );
    assert_eq!(
        (lines[1]["file"].as_str(), lines[1]["outcome"].as_str()),
        (Some("signed.eml"), Some("skipped"))
    );
    assert!(lines[1]["micros"].is_u64());
    // The skipped message is the input with only the loop header added.
    let passed = std::fs::read_to_string(output.join("signed.eml")).unwrap();
    assert_eq!(passed, format!("X-Sigsync-Processed: true\r\n{SIGNED}"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn inject_example_recurses_into_sub_folders_mirroring_the_tree() {
    let dir = scratch("inject-tree");
    let (input, output) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(input.join("2026/03/adele")).unwrap();
    std::fs::write(input.join("top.eml"), NEW).unwrap();
    std::fs::write(input.join("2026/03/adele/deep.eml"), NEW).unwrap();
    std::fs::write(input.join("2026/signed.eml"), SIGNED).unwrap();
    let out = Command::new(example("inject"))
        .arg("--config")
        .arg(root().join("signature.toml"))
        .arg("--user")
        .arg(root().join("user.json"))
        .arg("--dir")
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (rel, signed) in [
        ("top.eml", true),
        ("2026/03/adele/deep.eml", true),
        ("2026/signed.eml", false),
    ] {
        let got =
            std::fs::read_to_string(output.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(got.starts_with("X-Sigsync-Processed: true\r\n"), "{rel}");
        assert_eq!(got.contains("<b>Adele Vance</b>"), signed, "{rel}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn inject_example_fails_clearly_when_the_folder_holds_no_message() {
    let dir = scratch("inject-empty");
    std::fs::create_dir_all(dir.join("in/empty-sub")).unwrap();
    let out = Command::new(example("inject"))
        .arg("--config")
        .arg(root().join("signature.toml"))
        .arg("--dir")
        .arg(dir.join("in"))
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds no message"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}
