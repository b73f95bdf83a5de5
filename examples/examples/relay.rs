//! The SMTP relay the connectors point at (server-side mode end to end): Exchange Online hands
//! it each message, it adds the signature and hands the message back to the tenant, answering
//! Exchange only with the tenant's own answer.
//!
//! ```text
//! cargo run --example relay -- --config examples/relay.toml
//! cargo run --example relay -- --config examples/relay.toml --check
//! ```
//!
//! Options: `--config FILE` (the relay's TOML configuration, see `examples/relay.toml`),
//! `--check` (read and check every file the configuration names, then exit). While running,
//! SIGHUP reloads the configuration (certificates, tenants, allow-list) without dropping
//! sessions, and SIGTERM or Ctrl-C stops gracefully. Logs go to stderr (`RUST_LOG`, default
//! `info`).

use std::path::PathBuf;

use sigsync_core::relay::{Relay, RelayConfig};
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "usage: relay --config FILE [--check]

  --config FILE   the relay configuration (TOML), see examples/relay.toml
  --check         check every file the configuration names, then exit
  --help          this text

SIGHUP reloads the configuration; SIGTERM or Ctrl-C stops gracefully.";

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("relay: {msg}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config_path: Option<PathBuf> = None;
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => {
                config_path = Some(
                    args.next()
                        .unwrap_or_else(|| die("--config needs a file"))
                        .into(),
                )
            }
            "--check" => check = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => die(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let path = config_path.unwrap_or_else(|| die(format!("--config is required\n{USAGE}")));
    let config = RelayConfig::load(&path).unwrap_or_else(|e| die(e));
    if check {
        config.check().unwrap_or_else(|e| die(e));
        println!("{}: ok ({} tenants)", path.display(), config.tenants.len());
        return;
    }
    let relay = Relay::start(config).await.unwrap_or_else(|e| die(e));
    match relay.metrics_addr() {
        Some(m) => println!(
            "listening on {} (metrics on http://{m}/metrics)",
            relay.local_addr()
        ),
        None => println!("listening on {}", relay.local_addr()),
    }
    let mut hup = signal(SignalKind::hangup()).unwrap_or_else(|e| die(e));
    let mut term = signal(SignalKind::terminate()).unwrap_or_else(|e| die(e));
    loop {
        tokio::select! {
            _ = hup.recv() => match relay.reload().await {
                Ok(()) => println!("reloaded {}", path.display()),
                Err(e) => eprintln!("relay: reload failed, the previous configuration stays: {e}"),
            },
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let report = relay.stop(None).await;
    println!(
        "stopped ({})",
        if report.drained {
            "every transaction finished".to_owned()
        } else {
            format!("{} sessions closed after the grace period", report.cut)
        }
    );
}
