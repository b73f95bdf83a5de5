//! Load on loopback with TLS on both legs: hundreds of concurrent sessions, thousands of
//! messages, a graceful stop in the middle, then a new relay for the senders' retries (as
//! Exchange retries a 4xx). Nothing acknowledged is lost or doubled, everything is delivered
//! in the end, and the memory held for messages stays within the budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sigsync_core::relay::{Relay, RelayConfig};

use crate::support::sender::Sender;
use crate::support::*;

const SESSIONS: usize = 300;
const PER_SESSION: usize = 10;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// How long a sender waits for the relay before it gives up on the session and retries
/// later, as Exchange does (its own timeouts are minutes; the relay answers in milliseconds).
const SENDER_PATIENCE: Duration = Duration::from_secs(15);

/// Senders that gave up waiting (reported; what they sent is retried and checked like the rest).
static GAVE_UP: AtomicUsize = AtomicUsize::new(0);

/// When the test started and when the first relay's stop began, for the report of a sender
/// that gave up.
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
static STOPPING: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Says where a sender gave up, against the stop: what hung shows in the test's output.
fn gave_up(what: &str) {
    GAVE_UP.fetch_add(1, Ordering::Relaxed);
    let since = |t: &std::sync::OnceLock<Instant>| {
        t.get().map_or("-".to_owned(), |t| {
            format!("{:.3}s", t.elapsed().as_secs_f64())
        })
    };
    eprintln!(
        "load: a sender gave up after {SENDER_PATIENCE:?}: {what}; test started {} ago, stop began {} ago",
        since(&STARTED),
        since(&STOPPING)
    );
}

/// Sends `ids` over one session; returns (id, acknowledged) for each id it got to. A session
/// the relay refuses (421 while it stops) or that goes silent ends, its ids unacknowledged.
async fn session(
    addr: std::net::SocketAddr,
    ids: Vec<String>,
    acked: Arc<AtomicUsize>,
) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let step = std::sync::Mutex::new("");
    let Ok(Ok(mut s)) = tokio::time::timeout(SENDER_PATIENCE, Sender::try_open_traced(addr, &step))
        .await
        .inspect_err(|_| gave_up(&format!("opening the session: {}", step.lock().unwrap())))
    else {
        return ids.into_iter().map(|id| (id, false)).collect();
    };
    let mut ids = ids.into_iter();
    for id in ids.by_ref() {
        let (from, tenant) = if id.ends_with('f') {
            ("adele@fabrikam.com", FABRIKAM_ID)
        } else {
            ("adele@contoso.com", CONTOSO_ID)
        };
        let msg = message(tenant, from, "bob@example.org", &id);
        let sent = tokio::time::timeout(
            SENDER_PATIENCE,
            s.transaction(
                &format!("MAIL FROM:<{from}>"),
                &[
                    "RCPT TO:<bob@example.org>".into(),
                    "RCPT TO:<carol@example.org>".into(),
                ],
                &msg,
            ),
        )
        .await
        .unwrap_or_else(|_| {
            gave_up(&format!("message {id}: {}", s.trail()));
            Err(std::io::Error::from(std::io::ErrorKind::TimedOut))
        });
        match sent {
            Ok(t) => {
                let ok = t.acknowledged();
                if ok {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                out.push((id, ok));
                if t.mail.code == 421 {
                    break;
                }
            }
            Err(_) => {
                out.push((id, false));
                break;
            }
        }
    }
    out.extend(ids.map(|id| (id, false)));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_sessions_thousands_of_messages_a_stop_in_the_middle_and_nothing_lost() {
    let started = *STARTED.get_or_init(Instant::now);
    let mut env = Env::start(|c| {
        c.limits.max_connections = 1000;
        c.limits.bytes_in_flight = 8 << 20;
        c.limits.max_message_size = 1 << 20;
        c.next_hop.max_connections_per_tenant = 16;
        c.timeouts.shutdown_grace = 30.0;
        c.timeouts.tenant_slot = 30.0;
        c.metrics = None;
    })
    .await
    .relay()
    .await;
    let budget = 8i64 << 20;
    let rss_before = rss_kib();
    let addr = env.addr();
    let acked = Arc::new(AtomicUsize::new(0));
    let peak_bytes = Arc::new(AtomicI64::new(0));
    let peak_rss = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::new();
    for s in 0..SESSIONS {
        let ids: Vec<String> = (0..PER_SESSION)
            .map(|m| format!("L{s}-{m}{}", if s % 3 == 0 { "f" } else { "c" }))
            .collect();
        tasks.push(tokio::spawn(session(addr, ids, acked.clone())));
    }
    // Sample memory while the load runs; stop the relay half way.
    let relay = env.relay.take().unwrap();
    let stats_relay = Arc::new(relay);
    let sampler = {
        let (r, peak_bytes, peak_rss, done) = (
            stats_relay.clone(),
            peak_bytes.clone(),
            peak_rss.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak_bytes.fetch_max(r.stats().bytes_in_flight, Ordering::Relaxed);
                peak_rss.fetch_max(rss_kib() as i64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    while acked.load(Ordering::Relaxed) < SESSIONS * PER_SESSION / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let relay = Arc::try_unwrap(stats_relay)
        .ok()
        .expect("the sampler is done");
    let before_stop = relay.stats();
    STOPPING.get_or_init(Instant::now);
    let report = relay.stop(None).await;
    assert!(
        report.drained,
        "every transaction in flight finished within the grace period: {report:?}"
    );

    let mut results: Vec<(String, bool)> = Vec::new();
    for t in tasks {
        results.extend(t.await.unwrap());
    }
    let first_round_acked: Vec<&String> = results
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(id, _)| id)
        .collect();
    assert!(first_round_acked.len() >= SESSIONS * PER_SESSION / 2);
    assert!(
        first_round_acked.len() < SESSIONS * PER_SESSION,
        "the stop cut the load"
    );
    assert!(
        peak_bytes.load(Ordering::Relaxed) <= budget,
        "bytes in flight within the budget"
    );
    let rss_growth_mib = (peak_rss.load(Ordering::Relaxed) - rss_before as i64) / 1024;
    assert!(
        rss_growth_mib < 400,
        "memory bounded: grew {rss_growth_mib} MiB"
    );
    assert_eq!(before_stop.tenants["unattributed"].deferred, 0);

    // Exchange retries what was not acknowledged: a new relay on the same configuration.
    let config = RelayConfig::load(&env.config_path).unwrap();
    let relay = Relay::builder(config)
        .resolver(env.resolver.clone())
        .start()
        .await
        .unwrap();
    let retry: Vec<String> = results
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(id, _)| id.clone())
        .collect();
    let mut tasks = Vec::new();
    for chunk in retry.chunks(PER_SESSION) {
        tasks.push(tokio::spawn(session(
            relay.local_addr(),
            chunk.to_vec(),
            acked.clone(),
        )));
    }
    for t in tasks {
        for (id, ok) in t.await.unwrap() {
            assert!(ok, "retry of {id} was not acknowledged");
        }
    }
    let report = relay.stop(None).await;
    assert!(report.drained);

    // Every message delivered exactly once, to its own tenant's next hop.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (hop, suffix) in [(&env.contoso, 'c'), (&env.fabrikam, 'f')] {
        for d in hop.delivered() {
            let text = d.text();
            let id = text
                .split("Message-ID: <")
                .nth(1)
                .unwrap()
                .split('@')
                .next()
                .unwrap()
                .to_owned();
            assert!(id.ends_with(suffix), "{id} went to the wrong tenant");
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(
        seen.len(),
        SESSIONS * PER_SESSION,
        "every message delivered"
    );
    assert!(seen.values().all(|&n| n == 1), "none twice");
    let max_open = env
        .contoso
        .log(|l| l.max_open)
        .max(env.fabrikam.log(|l| l.max_open));
    assert!(max_open <= 16, "per-tenant cap: {max_open}");
    let elapsed = started.elapsed();
    eprintln!(
        "load: {} messages, {} sessions, {} acknowledged before the stop ({} deferred, {} waits given up), {:.1}s, peak bytes in flight {} KiB, RSS +{rss_growth_mib} MiB",
        SESSIONS * PER_SESSION,
        SESSIONS,
        first_round_acked.len(),
        before_stop.tenants.values().map(|t| t.deferred).sum::<u64>(),
        GAVE_UP.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        peak_bytes.load(Ordering::Relaxed) / 1024
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}
