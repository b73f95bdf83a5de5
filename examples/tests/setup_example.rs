//! Runs the `setup` example binary across several invocations that share a simulated tenant
//! through `--sim-state`, reading its `--json` output.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::*;

use serde_json::Value;

fn run(state: &PathBuf, args: &[&str]) -> (Value, i32) {
    let out = Command::new(example("setup"))
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
    let dir = scratch("setup-example");
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
    let dir = scratch("setup-example-err");
    let out = Command::new(example("setup"))
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
        let out = Command::new(example("setup")).args(&args).output().unwrap();
        assert_ne!(out.status.code(), Some(0));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("http"), "{stderr}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let code = |args: &[&str]| {
        let out = Command::new(example("setup")).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    for args in [
        &["--bogus"][..],
        &["--cloud", "mars"],
        &["--groups"],
        &["--pause", "--resume"],
        &["--login-url", "not a url"],
        &[
            "--tenant",
            "contoso.com",
            "--client-id",
            "x",
            "--login-url",
            "http://login.example.com",
        ],
        &["--tenant", "contoso.com", "--profile", "p.json"],
        &["--tenant", "contoso.com", "--client-id", "x"],
    ] {
        let (status, stderr) = code(args);
        assert_eq!(status, Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("setup: "), "{args:?}: {stderr}");
    }
    let (_, stderr) = code(&["--cloud", "mars"]);
    assert!(stderr.contains("--cloud 'mars'"), "{stderr}");
    // A failure: the tenant refuses (an unknown group is a preflight error).
    let dir = scratch("setup-exit1");
    let (status, stderr) = code(&[
        "--groups",
        "nobody@contoso.com",
        "--sim-state",
        dir.join("t.json").to_str().unwrap(),
    ]);
    assert_eq!(status, Some(1), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

/// The README's profile file in `dir`: no tls_domain and no loop-header value yet.
fn readme_profile(dir: &Path) -> PathBuf {
    let profile = dir.join("service.json");
    std::fs::write(
        &profile,
        r#"{"smart_hosts": ["smtp.signatures.example.com"],
            "certificate_name": "tenant1.smtp.signatures.example.com"}"#,
    )
    .unwrap();
    profile
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn profile_file_gets_its_loop_header_value_once_and_tls_domain_defaults_to_the_first_host() {
    let dir = scratch("setup-profile");
    let state = dir.join("t.json");
    let profile = readme_profile(&dir);
    let p = profile.to_str().unwrap();
    let (v, code) = run(&state, &["--profile", p]);
    assert_eq!((code, v["status"].as_str()), (0, Some("configured")), "{v}");
    let saved: Value = read_json(&profile);
    let value = saved["loop_header"]["value"].as_str().unwrap().to_owned();
    assert_eq!(value.len(), 32);
    assert_eq!(saved["tls_domain"], "smtp.signatures.example.com");
    // Kept: the re-run uses the same value and writes nothing.
    let (v, code) = run(&state, &["--profile", p]);
    assert_eq!((code, v["writes"].as_u64()), (0, Some(0)), "{v}");
    let again: Value = read_json(&profile);
    assert_eq!(again["loop_header"]["value"], value.as_str());
    // The rule excepts exactly that value.
    let tenant: Value = read_json(&state);
    let rule = tenant["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["params"]["Name"] == "Sigsync Routing Rule")
        .unwrap();
    assert_eq!(
        rule["params"]["ExceptIfHeaderMatchesPatterns"],
        serde_json::json!([format!("^{value}$")])
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn reconfigure_of_hosts_tls_domain_and_certificate_name_turns_the_rule_off_while_mail_moves() {
    let dir = scratch("setup-move");
    let state = dir.join("t.json");
    let profile = readme_profile(&dir);
    let p = profile.to_str().unwrap();
    assert_eq!(run(&state, &["--profile", p]).1, 0);
    let mut moved: Value = read_json(&profile);
    moved["smart_hosts"] = serde_json::json!(["smtp2.signatures.example.com"]);
    moved["tls_domain"] = serde_json::json!("smtp2.signatures.example.com");
    moved["certificate_name"] = serde_json::json!("relay.contoso.com");
    std::fs::write(&profile, moved.to_string()).unwrap();
    let (v, code) = run(&state, &["--profile", p]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        ops(&v),
        [
            "disable transport_rule Sigsync Routing Rule",
            "update inbound_connector Sigsync Inbound Connector",
            "update outbound_connector Sigsync Outbound Connector",
            "enable transport_rule Sigsync Routing Rule",
        ]
    );
    assert_eq!(v["status"], "configured");
    std::fs::remove_dir_all(dir).ok();
}

/// The tenant file `--sim-state` keeps: no enabled rule routes mail that cannot come back.
fn assert_state_mail_safe(state: &PathBuf) {
    use sigsync_core::exchange::sim::SimTenant;
    let t = SimTenant::load_from(state).unwrap();
    let snap = t.snapshot();
    let inbound = snap.inbound.iter().any(|c| c.definition.enabled());
    for rule in snap.rules.iter().filter(|r| r.definition.enabled()) {
        if let Some(target) = rule.definition.route_message_outbound_connector() {
            let ok = snap.outbound.iter().any(|c| {
                c.name().eq_ignore_ascii_case(target)
                    && c.definition.enabled()
                    && c.definition.is_transport_rule_scoped()
            });
            assert!(ok && inbound, "enabled rule '{}' strands mail", rule.name());
        }
    }
}

#[test]
fn under_simulated_faults_setup_converges_or_stops_mail_safe_with_an_honest_report() {
    let dir = scratch("setup-faults");
    let state = dir.join("t.json");
    let faults = dir.join("faults.json");
    // Redirects, lag on every write kind, throttling: the whole lifecycle converges.
    std::fs::write(
        &faults,
        r#"{"redirects": 2, "replication_lag_reads": 1, "change_lag_reads": 1,
            "removal_lag_reads": 1, "throttle_retry_after_ms": 10,
            "faults": [{"trigger": {"every_nth": 4}, "kind": "throttled"}]}"#,
    )
    .unwrap();
    let f = faults.to_str().unwrap();
    for (args, status) in [
        (&[][..], "configured"),
        (&[][..], "configured"),
        (&["--pause"], "paused"),
        (&["--resume"], "configured"),
        (&["--remove"], "absent"),
    ] {
        let mut all = vec!["--sim-faults", f];
        all.extend_from_slice(args);
        let (v, code) = run(&state, &all);
        assert_eq!(
            (code, v["status"].as_str()),
            (0, Some(status)),
            "{args:?}: {v}"
        );
        assert!(v["error"].is_null());
        assert_state_mail_safe(&state);
    }
    // Writes that fail, one of them after it took effect: the run stops, says so, and leaves
    // mail flowing; a plain re-run converges.
    std::fs::write(
        &faults,
        r#"{"replication_lag_reads": 1, "throttle_retry_after_ms": 10,
            "faults": [{"trigger": {"cmdlet": "New-TransportRule"}, "kind": "transient",
                        "times": 1, "after_commit": true},
                       {"trigger": {"cmdlet": "New-TransportRule"}, "kind": "rejected"}]}"#,
    )
    .unwrap();
    let (v, code) = run(&state, &["--sim-faults", f]);
    assert_eq!(code, 1, "{v}");
    assert!(v["error"].as_str().is_some(), "{v}");
    assert_ne!(v["status"], "configured", "{v}");
    assert!(
        !v["repair"].as_array().unwrap().is_empty(),
        "a repair plan: {v}"
    );
    assert_state_mail_safe(&state);
    let (v, code) = run(&state, &[]);
    assert_eq!((code, v["status"].as_str()), (0, Some("configured")), "{v}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn configure_reads_the_tenant_once_so_the_plan_shown_is_the_plan_applied() {
    let dir = scratch("setup-once");
    let state = dir.join("t.json");
    let faults = dir.join("faults.json");
    // Four reads (connectors, rules, accepted domains) make the plan; a second read would
    // be calls 5 to 8. Fail call 5: it must be the first write of the plan shown.
    std::fs::write(
        &faults,
        r#"{"faults": [{"trigger": {"call": 5}, "kind": "rejected", "times": 1}]}"#,
    )
    .unwrap();
    let (v, code) = run(&state, &["--sim-faults", faults.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    let error = v["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("New-"), "{v}");
    assert_eq!(ops(&v).len(), 3, "the first phase ran: {v}");
    std::fs::remove_dir_all(dir).ok();
}
