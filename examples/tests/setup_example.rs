//! Runs the `setup` example binary across several invocations that share a simulated tenant
//! through `--sim-state`, reading its `--json` output.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The example binary cargo built next to this test (target/<profile>/examples/setup).
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = dir
        .join("examples")
        .join(format!("setup{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "build the example first: {}", path.display());
    path
}

fn run(state: &PathBuf, args: &[&str]) -> (Value, i32) {
    let out = Command::new(example())
        .arg("--json")
        .arg("--sim-state")
        .arg(state)
        .args(args)
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let code = out.status.code().unwrap_or(-1);
    let json = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (json, code)
}

fn ops(v: &Value) -> Vec<String> {
    v["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["op"].as_str().unwrap(),
                s["kind"].as_str().unwrap(),
                s["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn setup_example_configures_reruns_pauses_resumes_regroups_and_removes() {
    let dir = std::env::temp_dir().join(format!("sigsync-setup-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("tenant.json");

    let (v, code) = run(&state, &["--dry-run"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (
            v["action"].as_str(),
            v["status"].as_str(),
            v["writes"].as_u64()
        ),
        (Some("dry-run"), Some("absent"), Some(0))
    );
    assert_eq!(ops(&v).len(), 4);

    let (v, code) = run(&state, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["action"], "configure");
    assert_eq!(v["status"], "configured");
    assert_eq!(v["writes"], 4);
    assert_eq!(
        ops(&v),
        [
            "create inbound_connector Sigsync Inbound Connector",
            "create outbound_connector Sigsync Outbound Connector",
            "create transport_rule Sigsync Auto-Reply Bypass",
            "create transport_rule Sigsync Routing Rule",
        ]
    );

    let (v, code) = run(&state, &[]);
    assert_eq!(
        (code, v["writes"].as_u64(), ops(&v).len()),
        (0, Some(0), 0),
        "re-run is harmless: {v}"
    );

    let (v, _) = run(&state, &["--pause"]);
    assert_eq!(
        (v["status"].as_str(), v["writes"].as_u64()),
        (Some("paused"), Some(2))
    );
    let (v, _) = run(&state, &["--status"]);
    assert_eq!(
        (v["action"].as_str(), v["status"].as_str()),
        (Some("status"), Some("paused"))
    );
    assert!(ops(&v).is_empty(), "a paused setup needs no repair: {v}");
    let (v, _) = run(&state, &["--resume"]);
    assert_eq!(v["status"], "configured");

    let (v, code) = run(
        &state,
        &["--groups", "sales@contoso.com,Marketing", "--external-only"],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(ops(&v), ["update transport_rule Sigsync Routing Rule"]);
    assert_eq!(v["writes"], 1);

    let (v, _) = run(&state, &["--remove"]);
    assert_eq!(
        (v["status"].as_str(), v["writes"].as_u64()),
        (Some("absent"), Some(4))
    );
    let kinds: Vec<String> = ops(&v);
    assert!(
        kinds[0].contains("transport_rule") && kinds[3].contains("inbound_connector"),
        "{kinds:?}"
    );

    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn setup_example_fails_with_one_line_on_stderr() {
    let dir =
        std::env::temp_dir().join(format!("sigsync-setup-example-err-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(example())
        .args(["--groups", "nobody@contoso.com", "--sim-state"])
        .arg(dir.join("t.json"))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("setup: ") && last.contains("nobody@contoso.com"),
        "{stderr}"
    );

    // Plain http is refused for anything but loopback, and without --allow-http at all.
    for args in [
        vec![
            "--tenant",
            "contoso.com",
            "--client-id",
            "x",
            "--login-url",
            "http://login.example.com",
        ],
        vec![
            "--tenant",
            "contoso.com",
            "--client-id",
            "x",
            "--login-url",
            "http://login.example.com",
            "--allow-http",
        ],
    ] {
        let out = Command::new(example()).args(&args).output().unwrap();
        assert_ne!(out.status.code(), Some(0));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("http"), "{stderr}");
    }
    let out = Command::new(example()).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(dir).ok();
}
