//! The relay's throughput and latency against a plain TCP pass-through, in the same run.
//!
//! `cargo bench -p sigsync-core --all-features --bench relay` (outside the test command; needs
//! the Debian tools of `tests/fetch-mta-tools.sh`, fetched on first use).
//!
//! 1. Postfix's `smtp-source` → `smtp-sink`: directly, through a plain TCP pass-through
//!    (tokio `copy_bidirectional`), and through the relay (plain text on loopback, every
//!    message signed). Messages/s from the wall time of each run; the paths take turns, each
//!    keeps its best run; the sink's own counter gives the messages it got.
//! 2. Latency (median, p99) of each transaction (MAIL to the final reply) with a Rust load
//!    client over the same three paths, in turns; each path's figure is its median round.
//! 3. TLS on both legs with the Rust load client: STARTTLS to a TLS next hop directly, and
//!    through the relay (STARTTLS in, the tenant's client certificate out).
//!
//! Environment: `RELAY_BENCH_MESSAGES` (per smtp-source run, default 6000),
//! `RELAY_BENCH_SESSIONS` (parallel sessions, default 20), `RELAY_BENCH_ROUNDS` (default 3),
//! `RELAY_BENCH_ONLY=relay` (only the relay's smtp-source runs, for a profiler),
//! `RELAY_BENCH_WORKERS` (tokio worker threads, default 2), `RELAY_BENCH_PRESIGNED` (the
//! message already carries the loop header: the relay's cost without signing),
//! `RELAY_BENCH_INLINE_BYTES` (`limits.inline_injection_bytes`: messages up to this size are
//! signed on the network thread; the default is the relay's).

#[path = "../tests/relay/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sigsync_core::relay::{Relay, RelayConfig, StaticResolver, TenantStats};
use tokio::net::{TcpListener, TcpStream};

use support::mta::Tools;
use support::next_hop::{NextHop, Script};
use support::sender::Sender;
use support::*;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A TCP pass-through: every connection copied byte for byte to `target`.
async fn passthrough(target: SocketAddr) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut down, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut up) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = (down.set_nodelay(true), up.set_nodelay(true));
                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
            });
        }
    });
    addr
}

/// smtp-sink with its `-c` counter read as it runs.
struct CountingSink {
    addr: SocketAddr,
    messages: Arc<Mutex<u64>>,
    child: std::process::Child,
}

impl CountingSink {
    fn start(tools: &Tools) -> CountingSink {
        let addr = support::mta::free_port();
        let mut c = std::process::Command::new(tools.root.join("usr/sbin/smtp-sink"));
        c.env("LD_LIBRARY_PATH", tools.root.join("usr/lib/postfix"));
        if std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"))
        {
            c.args(["-u", "nobody"]);
        }
        let mut child = c
            .args(["-c", &addr.to_string(), "256"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let messages = Arc::new(Mutex::new(0));
        let mut out = child.stdout.take().unwrap();
        let m = messages.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut tail = String::new();
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.push_str(&String::from_utf8_lossy(&buf[..n]));
                if let Some(v) = tail
                    .rsplit("mesg=")
                    .next()
                    .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|v| v.parse().ok())
                {
                    *m.lock().unwrap() = v;
                }
                if tail.len() > 8192 {
                    tail.drain(..tail.len() - 256);
                }
            }
        });
        while std::net::TcpStream::connect(addr).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        CountingSink {
            addr,
            messages,
            child,
        }
    }

    fn count(&self) -> u64 {
        *self.messages.lock().unwrap()
    }
}

impl Drop for CountingSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn relay_config(dir: &TempDir, next_hop: SocketAddr, tls: bool) -> RelayConfig {
    dir.write("allow.txt", "127.0.0.0/8\n");
    write_tenant(dir, "contoso", CONTOSO_LOOP, "contoso.com", "Contoso Ltd");
    let p = |n: &str| pki(n).display().to_string();
    let text = format!(
        r#"
[listener]
address = "127.0.0.1:0"
hostname = "relay.test"
certificate = "{}"
private_key = "{}"
allow_list = "allow.txt"
allow_plaintext_on_loopback = true

[next_hop]
roots = {{ file = "{}" }}
max_connections_per_tenant = 64

[[tenants]]
name = "contoso"
tenant_id = "{CONTOSO_ID}"
initial_domain = "contoso.onmicrosoft.com"
profile = "contoso/profile.json"
signatures = "contoso/signature.toml"
client_certificate = "{}"
client_key = "{}"
return_endpoint = "{}"
return_tls = {tls}
"#,
        p("relay.pem"),
        p("relay.key"),
        p("root.pem"),
        p("contoso.pem"),
        p("contoso.key"),
        if tls {
            format!("contoso.mail.protection.test:{}", next_hop.port())
        } else {
            next_hop.to_string()
        },
    );
    let mut config = RelayConfig::from_toml_str(&text, Some(&dir.0)).unwrap();
    if let Ok(bytes) = std::env::var("RELAY_BENCH_INLINE_BYTES") {
        config.limits.inline_injection_bytes = bytes.parse().expect("a number of bytes");
    }
    config
}

async fn start_relay(config: RelayConfig) -> Relay {
    let resolver = Arc::new(StaticResolver::new().with_host(
        "contoso.mail.protection.test",
        ["127.0.0.1".parse().unwrap()],
    ));
    Relay::builder(config)
        .resolver(resolver)
        .start()
        .await
        .unwrap()
}

/// One smtp-source run: (seconds, exit ok).
async fn smtp_source(
    tools: &Tools,
    file: &std::path::Path,
    addr: SocketAddr,
    messages: usize,
    sessions: usize,
) -> (f64, bool) {
    let mut c = tools.source();
    c.args([
        "-d",
        "-s",
        &sessions.to_string(),
        "-m",
        &messages.to_string(),
    ])
    .args(["-f", "adele@contoso.com", "-t", "bob@example.org", "-F"])
    .arg(file)
    .arg(addr.to_string())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    if !out.status.success() {
        eprintln!("smtp-source: {}", String::from_utf8_lossy(&out.stderr));
    }
    (start.elapsed().as_secs_f64(), out.status.success())
}

/// Transaction latencies (seconds) of `clients` sessions sending `each` messages in turn, and
/// how many got a 2xx.
async fn load(
    addr: SocketAddr,
    clients: usize,
    each: usize,
    tls: Option<&'static str>,
) -> (Vec<f64>, usize, f64) {
    let msg = Arc::new(message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        "bench",
    ));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let msg = msg.clone();
        tasks.push(tokio::spawn(async move {
            let (mut s, _) = Sender::connect(addr).await.unwrap();
            s.cmd("EHLO load.test").await.unwrap();
            if let Some(name) = tls {
                s = s.starttls_as(name).await.unwrap();
                s.cmd("EHLO load.test").await.unwrap();
            }
            let mut lat = Vec::with_capacity(each);
            let mut ok = 0;
            for _ in 0..each {
                let t0 = Instant::now();
                let t = s
                    .transaction(
                        "MAIL FROM:<adele@contoso.com>",
                        &["RCPT TO:<bob@example.org>".into()],
                        &msg,
                    )
                    .await
                    .unwrap();
                lat.push(t0.elapsed().as_secs_f64());
                ok += usize::from(t.acknowledged());
            }
            (lat, ok)
        }));
    }
    let mut all = Vec::new();
    let mut ok = 0;
    for t in tasks {
        let (l, n) = t.await.unwrap();
        all.extend(l);
        ok += n;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    (all, ok, secs)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn delta(a: &TenantStats, b: &TenantStats) -> String {
    format!(
        "accepted {}, injected {}, skipped {}, failed {}, deferred {}, rejected {}",
        b.accepted - a.accepted,
        b.injected - a.injected,
        b.skipped - a.skipped,
        b.failed - a.failed,
        b.deferred - a.deferred,
        b.rejected - a.rejected
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let Some(tools) = Tools::get("the relay benchmark") else {
        return;
    };
    let messages = env_or("RELAY_BENCH_MESSAGES", 6000);
    let sessions = env_or("RELAY_BENCH_SESSIONS", 20);
    let rounds = env_or("RELAY_BENCH_ROUNDS", 3);
    let dir = TempDir::new("bench");
    let sink = CountingSink::start(&tools);
    let pass = passthrough(sink.addr).await;
    let relay = start_relay(relay_config(&dir, sink.addr, false)).await;
    let mut text = String::from_utf8(message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        "bench",
    ))
    .unwrap()
    .replace("\r\n", "\n");
    if std::env::var_os("RELAY_BENCH_PRESIGNED").is_some() {
        // Already processed: the injector stops at the loop header (the relay without signing).
        text = format!("X-Sigsync-Processed: {CONTOSO_LOOP}\n{text}");
    }
    let file = dir.write("message.eml", &text);
    println!("relay benchmark: {messages} messages per run, {sessions} sessions, {rounds} rounds in turns, message {} bytes", std::fs::metadata(&file).unwrap().len());

    // 1. smtp-source → smtp-sink.
    let paths = [
        ("direct", sink.addr),
        ("pass-through", pass),
        ("relay", relay.local_addr()),
    ];
    let mut best = [f64::MAX; 3];
    let mut every: [Vec<String>; 3] = Default::default();
    let mut counts = [0u64; 3];
    let mut failed = [0usize; 3];
    let before = relay.stats().tenants["contoso"];
    let only = std::env::var("RELAY_BENCH_ONLY").ok();
    for _ in 0..rounds {
        for (i, (name, addr)) in paths.iter().enumerate() {
            if only.as_deref().is_some_and(|o| o != *name) {
                continue;
            }
            let c0 = sink.count();
            let (secs, ok) = smtp_source(&tools, &file, *addr, messages, sessions).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            counts[i] += sink.count() - c0;
            failed[i] += usize::from(!ok);
            best[i] = best[i].min(secs);
            every[i].push(format!("{:.0}", messages as f64 / secs));
        }
    }
    let after = relay.stats().tenants["contoso"];
    if only.is_some() {
        for (i, (name, _)) in paths.iter().enumerate() {
            if only.as_deref() == Some(*name) {
                let d = delta(&before, &after);
                println!("{name} {:.0} msg/s (relay: {d})", messages as f64 / best[i]);
            }
        }
        return;
    }
    println!("\nsmtp-source -> smtp-sink (best of {rounds}, every round in brackets):");
    let rate = |i: usize| messages as f64 / best[i];
    for (i, (name, _)) in paths.iter().enumerate() {
        println!(
            "  {name:<13} {:>8.0} msg/s [{}]  ({:.1}% of pass-through)  sink got {} of {}, failed runs {}",
            rate(i),
            every[i].join(", "),
            100.0 * rate(i) / rate(1),
            counts[i],
            messages * rounds,
            failed[i]
        );
    }
    println!("  relay outcomes: {}", delta(&before, &after));

    // 2. Latency over the same paths with the Rust client (plain text): at a light load
    //    (4 sessions, where latency is the path's own) and at the full load (where it is
    //    mostly queueing for the CPU). The paths take turns for `rounds` rounds; each path's
    //    figure is its median round (a stall in one round moves neither side's ratio).
    let mut p99 = [[0.0; 3]; 2];
    for (level, clients) in [4, sessions].into_iter().enumerate() {
        let each = (messages / clients).clamp(1, 2000);
        println!(
            "\nRust load client, plain text, {clients} sessions x {each} messages, {rounds} rounds in turns (latency = MAIL to final reply; the median round of each path, every round's p99 in brackets):"
        );
        // Per path: (msg/s, median, p99) of each round, and the 2xx and relay outcomes.
        let mut runs: [Vec<(f64, f64, f64)>; 3] = Default::default();
        let mut acked = [0usize; 3];
        let before = relay.stats().tenants["contoso"];
        for _ in 0..rounds {
            for (i, (_, addr)) in paths.iter().enumerate() {
                let (lat, ok, secs) = load(*addr, clients, each, None).await;
                runs[i].push((lat.len() as f64 / secs, pct(&lat, 0.5), pct(&lat, 0.99)));
                acked[i] += ok;
            }
        }
        let outcomes = delta(&before, &relay.stats().tenants["contoso"]);
        for (i, (name, _)) in paths.iter().enumerate() {
            let mid = |f: fn(&(f64, f64, f64)) -> f64| {
                let mut v: Vec<f64> = runs[i].iter().map(f).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            p99[level][i] = mid(|r| r.2);
            let every: Vec<String> = runs[i]
                .iter()
                .map(|r| format!("{:.2}", r.2 * 1e3))
                .collect();
            println!(
                "  {name:<13} {:>8.0} msg/s  median {:>6.2} ms  p99 {:>6.2} ms [{}]  2xx {} of {}{}",
                mid(|r| r.0),
                mid(|r| r.1) * 1e3,
                p99[level][i] * 1e3,
                every.join(", "),
                acked[i],
                rounds * clients * each,
                if *name == "relay" {
                    format!("; relay: {outcomes}")
                } else {
                    String::new()
                }
            );
        }
        println!(
            "  p99 / pass-through p99: direct {:.2}x, relay {:.2}x",
            p99[level][0] / p99[level][1],
            p99[level][2] / p99[level][1]
        );
    }
    let clients = sessions;
    let each = (messages / clients).clamp(1, 2000);
    relay.stop(Some(Duration::from_secs(5))).await;

    // 3. TLS on both legs.
    let hop = NextHop::start(Script {
        require_client_certificate: false,
        ..Script::default()
    })
    .await;
    let tls_relay = start_relay(relay_config(&dir, hop.addr, true)).await;
    println!("\nRust load client, TLS on both legs, {clients} sessions x {each} messages:");
    let mut tls_rates = [0.0; 2];
    for (i, (name, addr, cert_name)) in [
        ("direct TLS", hop.addr, "localhost"),
        ("relay TLS", tls_relay.local_addr(), "relay.test"),
    ]
    .into_iter()
    .enumerate()
    {
        let (lat, ok, secs) = load(addr, clients, each, Some(cert_name)).await;
        tls_rates[i] = lat.len() as f64 / secs;
        println!(
            "  {name:<13} {:>8.0} msg/s  median {:>6.2} ms  p99 {:>6.2} ms  2xx {ok} of {}",
            tls_rates[i],
            pct(&lat, 0.5) * 1e3,
            pct(&lat, 0.99) * 1e3,
            lat.len()
        );
    }
    println!(
        "  relay TLS / direct TLS: {:.1}%  (next hop recorded {} messages)",
        100.0 * tls_rates[1] / tls_rates[0],
        hop.delivered().len()
    );
    tls_relay.stop(Some(Duration::from_secs(5))).await;

    let ok_rate = rate(2) / rate(1) >= 0.8;
    let light = p99[0][2] / p99[0][1];
    let full = p99[1][2] / p99[1][1];
    println!(
        "\ntargets: relay >= 80% of the pass-through's msg/s: {} ({:.1}%); relay p99 <= 1.5x the pass-through's: {} at 4 sessions ({light:.2}x), {} at {sessions} ({full:.2}x)",
        if ok_rate { "met" } else { "NOT met" },
        100.0 * rate(2) / rate(1),
        if light <= 1.5 { "met" } else { "NOT met" },
        if full <= 1.5 { "met" } else { "NOT met" },
    );
}
