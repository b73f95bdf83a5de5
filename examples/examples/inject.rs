//! Injects signatures into MIME messages with the sigsync engine.
//!
//! ```text
//! cargo run --example inject -- --config examples/signature.toml --user examples/user.json msg.eml > out.eml
//! cargo run --example inject -- --config examples/signature.toml --user examples/user.json --dir in/ out/ --report report.jsonl
//! ```
//!
//! Options: `--config FILE` (signatures, disclaimers and policy: the signature configuration
//! file, TOML or JSON), `--user FILE` (the sender's attributes as JSON; optional when the
//! configuration names a directory), `--sender ADDR` and `--recipient ADDR` (repeatable) as the
//! SMTP envelope, then one message (`FILE`, or stdin when absent, written to stdout) or
//! `--dir IN OUT` (every file under IN, sub-folders included, written to the same place under
//! OUT; no file at all is an error); `--report FILE` writes one JSON line per message:
//! `{"file", "outcome", "reason", "micros"}`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use sigsync_core::inject::{Envelope, Outcome, SignatureInjector};
use sigsync_core::signature::{SignatureConfig, UserAttributes};

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("inject: {msg}");
    std::process::exit(1)
}

struct Args {
    config: PathBuf,
    user: Option<PathBuf>,
    envelope: Option<Envelope>,
    dir: Option<(PathBuf, PathBuf)>,
    file: Option<PathBuf>,
    report: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        config: PathBuf::new(),
        user: None,
        envelope: None,
        dir: None,
        file: None,
        report: None,
    };
    let mut env = Envelope::default();
    let mut has_env = false;
    let need = |it: &mut dyn Iterator<Item = String>, what: &str| {
        it.next()
            .unwrap_or_else(|| die(format!("{what} needs a value")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" => a.config = need(&mut it, "--config").into(),
            "--user" => a.user = Some(need(&mut it, "--user").into()),
            "--sender" => {
                env.mail_from = Some(need(&mut it, "--sender"));
                has_env = true;
            }
            "--recipient" => {
                env.rcpt_to.push(need(&mut it, "--recipient"));
                has_env = true;
            }
            "--dir" => {
                let i = need(&mut it, "--dir");
                let o = need(&mut it, "--dir");
                a.dir = Some((i.into(), o.into()));
            }
            "--report" => a.report = Some(need(&mut it, "--report").into()),
            "-h" | "--help" => {
                println!("usage: inject --config FILE [--user FILE] [--sender ADDR] [--recipient ADDR]... [FILE | --dir IN OUT] [--report FILE]");
                std::process::exit(0)
            }
            f if !f.starts_with("--") && a.file.is_none() => a.file = Some(f.into()),
            other => die(format!("unknown argument {other:?}")),
        }
    }
    if a.config.as_os_str().is_empty() {
        die("--config FILE is required");
    }
    a.envelope = has_env.then_some(env);
    a
}

/// Every file under `dir`, sub-folders included (symbolic links to folders are not followed).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| die(format!("{}: {e}", dir.display())));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| die(format!("{}: {e}", dir.display())));
        let path = entry.path();
        let kind = entry
            .file_type()
            .unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
        if kind.is_dir() {
            collect(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn main() {
    let args = parse_args();
    let config = SignatureConfig::load(&args.config).unwrap_or_else(|e| die(e));
    let user: Option<UserAttributes> = args.user.as_ref().map(|p| {
        let bytes = std::fs::read(p).unwrap_or_else(|e| die(format!("{}: {e}", p.display())));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| die(format!("{}: {e}", p.display())))
    });
    let service = SignatureInjector::from_config(&config, None).unwrap_or_else(|e| die(e));
    let mut report = args
        .report
        .as_ref()
        .map(|p| std::fs::File::create(p).unwrap_or_else(|e| die(format!("{}: {e}", p.display()))));
    let mut out = Vec::new();
    let mut one = |name: &str, msg: &[u8], out: &mut Vec<u8>| -> Outcome {
        let start = Instant::now();
        let outcome = service.inject(msg, args.envelope.as_ref(), user.as_ref(), out);
        let micros = start.elapsed().as_micros() as u64;
        if let Some(r) = report.as_mut() {
            let line = json!({"file": name, "outcome": outcome.label(),
                              "reason": outcome.reason(), "micros": micros});
            writeln!(r, "{line}").unwrap_or_else(|e| die(e));
        }
        if let Outcome::Failed(e) = &outcome {
            eprintln!("inject: {name}: failed, passed through: {e}");
        }
        outcome
    };
    match (&args.dir, &args.file) {
        (Some((input, output)), _) => {
            // Every file under IN, sub-folders included; OUT mirrors the tree.
            let mut entries = Vec::new();
            collect(input, &mut entries);
            if entries.is_empty() {
                die(format!(
                    "{} holds no message (no file in it or its sub-folders)",
                    input.display()
                ));
            }
            entries.sort();
            let mut counts: HashMap<&'static str, usize> = HashMap::new();
            for path in entries {
                let rel = path.strip_prefix(input).unwrap_or(&path);
                let name = rel.to_string_lossy().into_owned();
                let msg = std::fs::read(&path)
                    .unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
                let o = one(&name, &msg, &mut out);
                *counts.entry(o.label()).or_default() += 1;
                let dest = output.join(rel);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)
                        .unwrap_or_else(|e| die(format!("{}: {e}", parent.display())));
                }
                std::fs::write(&dest, &out)
                    .unwrap_or_else(|e| die(format!("{}: {e}", dest.display())));
            }
            eprintln!("inject: {counts:?}");
        }
        (None, file) => {
            let mut msg = Vec::new();
            let name = match file {
                Some(f) => {
                    msg = std::fs::read(f).unwrap_or_else(|e| die(format!("{}: {e}", f.display())));
                    f.display().to_string()
                }
                None => {
                    std::io::stdin()
                        .read_to_end(&mut msg)
                        .unwrap_or_else(|e| die(e));
                    "-".to_owned()
                }
            };
            let o = one(&name, &msg, &mut out);
            std::io::stdout().write_all(&out).unwrap_or_else(|e| die(e));
            eprintln!(
                "inject: {}{}",
                o.label(),
                o.reason().map(|r| format!(": {r}")).unwrap_or_default()
            );
        }
    }
}
