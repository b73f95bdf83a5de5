//! Injects signatures into MIME messages with the sigsync engine.
//!
//! ```text
//! cargo run --example inject -- --config examples/signature.json --user examples/user.json msg.eml > out.eml
//! cargo run --example inject -- --config examples/signature.json --dir in/ out/ --report report.jsonl
//! ```
//!
//! Options: `--config FILE` (signature and policy, JSON), `--user FILE` (the sender's
//! attributes as JSON; optional when the config names a `directory`), `--sender ADDR` and
//! `--recipient ADDR` (repeatable) as the SMTP envelope, then one message (`FILE`, or stdin
//! when absent, written to stdout) or `--dir IN OUT`; `--report FILE` writes one JSON line per
//! message: `{"file", "outcome", "reason", "micros"}`.
//!
//! The configuration here is a minimal one of this example's own (templates with
//! `{{attribute}}` placeholders, a user directory, and two policy switches): the signatures
//! engine of the `sig` branch replaces it once both branches are merged.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
use sigsync_core::inject::{
    Choice, Envelope, InjectConfig, Injector, MessageInfo, MessageKind, Outcome,
};
use sigsync_core::signature::RenderedSignature;
use sigsync_core::LoopHeader;

type Attrs = HashMap<String, String>;

struct Config {
    loop_header: LoopHeader,
    internal_domains: Vec<String>,
    sign_replies: bool,
    external_only: bool,
    directory: HashMap<String, Attrs>,
    template: Value,
}

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("inject: {msg}");
    std::process::exit(2)
}

fn read_json(path: &Path) -> Value {
    let data = std::fs::read(path).unwrap_or_else(|e| die(format!("{}: {e}", path.display())));
    serde_json::from_slice(&data).unwrap_or_else(|e| die(format!("{}: {e}", path.display())))
}

/// Directory attributes as flat strings: arrays joined with ", ", nested objects as
/// `parent.child` (the shape of `examples/user.json`).
fn attrs(v: &Value) -> Attrs {
    fn flatten(prefix: &str, v: &Value, out: &mut Attrs) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            Value::Array(a) => {
                let items: Vec<String> = a
                    .iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                    .collect();
                out.insert(prefix.to_owned(), items.join(", "));
            }
            Value::String(s) => {
                out.insert(prefix.to_owned(), s.clone());
            }
            Value::Null => {}
            other => {
                out.insert(prefix.to_owned(), other.to_string());
            }
        }
    }
    let mut out = Attrs::new();
    flatten("", v, &mut out);
    out
}

fn load_config(path: &Path) -> Config {
    let v = read_json(path);
    let loop_header = match v.get("loop_header") {
        Some(h) => LoopHeader::new(
            h["name"].as_str().unwrap_or(LoopHeader::DEFAULT_NAME),
            h["value"].as_str().unwrap_or(LoopHeader::DEFAULT_VALUE),
        )
        .unwrap_or_else(|e| die(e)),
        None => LoopHeader::default(),
    };
    let directory = match v.get("directory").and_then(Value::as_str) {
        Some(rel) => {
            let p = path.parent().unwrap_or(Path::new(".")).join(rel);
            let d = read_json(&p);
            d.as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.to_lowercase(), attrs(v)))
                        .collect()
                })
                .unwrap_or_default()
        }
        None => HashMap::new(),
    };
    Config {
        loop_header,
        internal_domains: v["internal_domains"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_lowercase))
                    .collect()
            })
            .unwrap_or_default(),
        sign_replies: v["sign_replies"].as_bool().unwrap_or(true),
        external_only: v["external_only"].as_bool().unwrap_or(false),
        directory,
        template: v
            .get("signature")
            .cloned()
            .unwrap_or_else(|| die("config has no signature")),
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn fill(template: &str, user: &Attrs, html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let key = rest[i + 2..i + j].trim();
        let value = user.get(key).map(String::as_str).unwrap_or_default();
        out.push_str(&if html {
            escape_html(value)
        } else {
            value.to_owned()
        });
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

fn render(cfg: &Config, user: &Attrs) -> RenderedSignature {
    let t = &cfg.template;
    let s = |k: &str| t.get(k).and_then(Value::as_str);
    RenderedSignature {
        html: s("html").map(|x| fill(x, user, true)).unwrap_or_default(),
        text: s("text").map(|x| fill(x, user, false)).unwrap_or_default(),
        disclaimer_html: s("disclaimer_html").map(|x| fill(x, user, true)),
        disclaimer_text: s("disclaimer_text").map(|x| fill(x, user, false)),
        images: Vec::new(),
    }
}

fn is_internal(cfg: &Config, addr: &str) -> bool {
    let domain = addr.rsplit('@').next().unwrap_or_default().to_lowercase();
    cfg.internal_domains.contains(&domain)
}

fn choose(cfg: &Config, user: Option<&Attrs>, info: &MessageInfo) -> Choice {
    if !cfg.sign_replies && info.kind != MessageKind::New {
        return Choice::NoSignature("replies and forwards are not signed".into());
    }
    if cfg.external_only && info.recipients.iter().all(|r| is_internal(cfg, r)) {
        return Choice::NoSignature("internal mail".into());
    }
    let found;
    let user = match user {
        Some(u) => u,
        None => {
            let sender = info.sender.as_deref().unwrap_or_default().to_lowercase();
            match cfg.directory.get(&sender) {
                Some(u) => {
                    found = u;
                    found
                }
                None => return Choice::NoSignature(format!("sender {sender:?} not in directory")),
            }
        }
    };
    Choice::Sign(render(cfg, user))
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

fn main() {
    let args = parse_args();
    let cfg = load_config(&args.config);
    let user = args.user.as_deref().map(|p| attrs(&read_json(p)));
    if user.is_none() && cfg.directory.is_empty() {
        die("--user FILE is required when the config names no directory");
    }
    let injector = Injector::new(InjectConfig {
        loop_header: cfg.loop_header.clone(),
        ..Default::default()
    })
    .unwrap_or_else(|e| die(e));
    let mut report = args
        .report
        .as_ref()
        .map(|p| std::fs::File::create(p).unwrap_or_else(|e| die(format!("{}: {e}", p.display()))));
    let mut out = Vec::new();
    let mut one = |name: &str, msg: &[u8], out: &mut Vec<u8>| -> Outcome {
        let start = Instant::now();
        let outcome = injector.inject(
            msg,
            args.envelope.as_ref(),
            |info| choose(&cfg, user.as_ref(), info),
            out,
        );
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
            std::fs::create_dir_all(output).unwrap_or_else(|e| die(e));
            let mut entries: Vec<_> = std::fs::read_dir(input)
                .unwrap_or_else(|e| die(format!("{}: {e}", input.display())))
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            let mut counts: HashMap<&'static str, usize> = HashMap::new();
            for path in entries {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let msg = std::fs::read(&path).unwrap_or_else(|e| die(e));
                let o = one(&name, &msg, &mut out);
                *counts.entry(o.label()).or_default() += 1;
                std::fs::write(output.join(&name), &out).unwrap_or_else(|e| die(e));
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
