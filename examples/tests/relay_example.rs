//! Runs the `relay` example binary as the README shows it: `--check` on the sample
//! configuration, and a relay that greets, reloads on SIGHUP and stops on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod support;
use support::*;

fn pki(name: &str) -> String {
    root()
        .join("../sigsync-core/tests/relay/pki")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn relay_example_checks_the_sample_configuration() {
    let out = Command::new(example("relay"))
        .arg("--config")
        .arg(root().join("relay.toml"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("relay.toml: ok (1 tenants)\n"));
}

fn write_config(dir: &Path, client_key: &str) -> PathBuf {
    let config = format!(
        r#"
[listener]
address = "127.0.0.1:0"
hostname = "relay.test"
certificate = "{cert}"
private_key = "{key}"
allow_list = "{allow}"

[next_hop]
roots = {{ file = "{root_ca}" }}

[[tenants]]
name = "contoso"
tenant_id = "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01"
initial_domain = "contoso.onmicrosoft.com"
profile = "{profile}"
signatures = "{signatures}"
client_certificate = "{client}"
client_key = "{client_key}"
return_endpoint = "127.0.0.1:9"
"#,
        cert = pki("relay.pem"),
        key = pki("relay.key"),
        allow = root().join("relay/exchange-online-ranges.txt").display(),
        root_ca = pki("root.pem"),
        profile = root().join("relay/contoso-profile.json").display(),
        signatures = root().join("signature.toml").display(),
        client = pki("contoso.pem"),
        client_key = client_key,
    );
    let path = dir.join("relay.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn relay_example_greets_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = scratch("relay-example");
    let config = write_config(&dir, &pki("contoso.key"));
    let mut child = Command::new(example("relay"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .trim()
        .to_owned();
    let mut smtp = TcpStream::connect(&addr).unwrap();
    let mut greeting = [0u8; 64];
    let n = smtp.read(&mut greeting).unwrap();
    assert!(greeting[..n].starts_with(b"220 relay.test ESMTP"));

    kill(child.id(), "-HUP");
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), format!("reloaded {}", config.display()));
    // A broken configuration: reload fails, the relay keeps running on the old one.
    write_config(&dir, &pki("fabrikam.key"));
    kill(child.id(), "-HUP");
    smtp.write_all(b"NOOP\r\n").unwrap();
    let n = smtp.read(&mut greeting).unwrap();
    assert!(
        greeting[..n].starts_with(b"250"),
        "the session survived the reloads"
    );

    kill(child.id(), "-TERM");
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(line.starts_with("stopped ("), "{line}");
    assert!(
        stderr.contains("reload failed") && stderr.contains("tenants[0].client_key"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
