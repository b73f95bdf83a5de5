//! Stop, reload, connection reuse and limits, the allow-list, and the checks at start.

use std::time::Duration;

use sigsync_core::relay::{Relay, RelayConfig};
use sigsync_core::Error;

use crate::support::sender::Sender;
use crate::support::*;

fn rcpt() -> Vec<String> {
    vec!["RCPT TO:<bob@example.org>".into()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_finishes_transactions_in_flight_and_answers_421_to_new_ones() {
    let mut env = Env::start(|_| {}).await.relay().await;
    let addr = env.addr();
    let msg = message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        "inflight",
    );
    let mut busy = Sender::open(addr).await.unwrap();
    busy.start_data().await.unwrap();
    let half = msg.len() / 2;
    busy.send_raw(&msg[..half]).await.unwrap();
    let mut idle = Sender::open(addr).await.unwrap();

    let relay = env.relay.take().unwrap();
    let stopping = tokio::spawn(relay.stop(Some(Duration::from_secs(10))));
    // Idle sessions are told at once; new connections are not accepted.
    let r = idle.reply().await.unwrap();
    assert_eq!(r.code, 421, "{r}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
    // The transaction in flight finishes, and gets the next hop's 250.
    let mut rest = crate::support::sender::stuff(&msg);
    rest.drain(..half);
    busy.send_raw(&rest).await.unwrap();
    let end = busy.reply().await.unwrap();
    assert_eq!(end.code, 250, "{end}");
    let r = busy.cmd("MAIL FROM:<adele@contoso.com>").await.unwrap();
    assert_eq!(r.code, 421, "a new transaction after shutdown began: {r}");
    let report = stopping.await.unwrap();
    assert!(report.drained && report.cut == 0, "{report:?}");
    assert_eq!(env.contoso.delivered().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_closes_a_stalled_transaction_after_the_grace_period_without_acknowledging() {
    let mut env = Env::start(|_| {}).await.relay().await;
    let msg = message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        "stalled",
    );
    let mut s = Sender::open(env.addr()).await.unwrap();
    s.start_data().await.unwrap();
    s.send_raw(&msg[..100]).await.unwrap();
    let report = env
        .relay
        .take()
        .unwrap()
        .stop(Some(Duration::from_millis(300)))
        .await;
    assert!(!report.drained && report.cut == 1, "{report:?}");
    assert!(s.reply().await.is_err(), "closed, no reply");
    assert!(env.contoso.delivered().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_certificates_and_tenants_without_dropping_sessions() {
    let env = Env::start(|c| {
        c.tenants[0].client_certificate = pki("contoso-expired.pem");
        c.tenants[0].client_key = pki("contoso-expired.key");
    })
    .await
    .relay()
    .await;
    let relay = env.relay.as_ref().unwrap();
    let mut s = Sender::open(env.addr()).await.unwrap();
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &rcpt(),
            &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "r0"),
        )
        .await
        .unwrap();
    assert_eq!(t.mail.code, 454, "expired certificate: {t:?}");

    // The operator renews the certificate, drops fabrikam and swaps the listener certificate.
    let mut config = RelayConfig::load(&env.config_path).unwrap();
    config.tenants[0].client_certificate = pki("contoso.pem");
    config.tenants[0].client_key = pki("contoso.key");
    config.tenants.truncate(1);
    config.listener.certificate = pki("nexthop.pem");
    config.listener.private_key = pki("nexthop.key");
    std::fs::write(&env.config_path, toml::to_string(&config).unwrap()).unwrap();
    relay.reload().await.unwrap();

    // The open session goes on, with the new client certificate.
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &rcpt(),
            &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "r1"),
        )
        .await
        .unwrap();
    assert!(t.acknowledged(), "{t:?}");
    let r = s.cmd("MAIL FROM:<adele@fabrikam.com>").await.unwrap();
    assert_eq!(r.code, 451, "fabrikam is gone: {r}");
    // New sessions get the new listener certificate (not valid for relay.test).
    assert!(Sender::open(env.addr()).await.is_err());

    // A broken configuration changes nothing.
    config.tenants[0].profile = "missing/profile.json".into();
    std::fs::write(&env.config_path, toml::to_string(&config).unwrap()).unwrap();
    let e = relay.reload().await.unwrap_err();
    assert!(e.to_string().contains("tenants[0].profile"), "{e}");
    let _ = s.cmd("RSET").await.unwrap();
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &rcpt(),
            &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "r2"),
        )
        .await
        .unwrap();
    assert!(t.acknowledged(), "{t:?}");
    assert_eq!(env.contoso.delivered().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn next_hop_connections_are_reused_and_capped_per_tenant() {
    let env = Env::start(|c| {
        c.next_hop.max_connections_per_tenant = 2;
        c.next_hop.max_messages_per_connection = 5;
    })
    .await
    .relay()
    .await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let addr = env.addr();
        tasks.push(tokio::spawn(async move {
            let mut s = Sender::open(addr).await.unwrap();
            let mut out = Vec::new();
            for j in 0..3 {
                let id = format!("p{i}-{j}");
                let t = s
                    .transaction(
                        "MAIL FROM:<adele@contoso.com>",
                        &rcpt(),
                        &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", &id),
                    )
                    .await
                    .unwrap();
                out.push((id, t));
            }
            out
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await.unwrap());
    }
    assert!(sent.iter().all(|(_, t)| t.acknowledged()), "{sent:?}");
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    assert_eq!(env.contoso.delivered().len(), 24);
    let (max_open, connections) = env.contoso.log(|l| (l.max_open, l.connections));
    assert!(max_open <= 2, "at most 2 at once: {max_open}");
    assert!(
        (5..=12).contains(&connections),
        "24 messages, 5 per connection: {connections}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_its_age_is_not_reused() {
    let env = Env::start(|c| c.next_hop.max_connection_age = 0.3)
        .await
        .relay()
        .await;
    for id in ["a1", "a2"] {
        let t = env
            .send(
                "adele@contoso.com",
                &["bob@example.org"],
                &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", id),
            )
            .await;
        assert!(t.acknowledged());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(env.contoso.log(|l| l.connections), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_refuses_other_sources_and_the_connection_limit_answers_421() {
    let env = Env::start(|c| c.limits.max_connections = 1).await;
    env.dir
        .write("allow.txt", "40.92.0.0/15\n2a01:111:f400::/48\n");
    let env = env.relay().await;
    let (_, greeting) = Sender::connect(env.addr()).await.unwrap();
    assert_eq!(greeting.code, 554, "{greeting}");

    let env2 = Env::start(|c| c.limits.max_connections = 1)
        .await
        .relay()
        .await;
    let _first = Sender::open(env2.addr()).await.unwrap();
    let (_, greeting) = Sender::connect(env2.addr()).await.unwrap();
    assert_eq!(greeting.code, 421, "{greeting}");
}

async fn start_error(edit: impl FnOnce(&mut RelayConfig, &TempDir)) -> String {
    let env = Env::start(|_| {}).await;
    let mut config = RelayConfig::load(&env.config_path).unwrap();
    edit(&mut config, &env.dir);
    match Relay::builder(config)
        .resolver(env.resolver.clone())
        .start()
        .await
    {
        Err(Error::Validation { field, reason }) => format!("{field}: {reason}"),
        Err(e) => panic!("not a validation error: {e}"),
        Ok(_) => panic!("started"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_bad_files_naming_the_field() {
    let e =
        start_error(|c, _| c.tenants[1].client_certificate = pki("contoso-wrongname.pem")).await;
    assert!(
        e.starts_with("tenants[1].client_certificate: ") && e.contains("fabrikam.relay.test"),
        "{e}"
    );
    let e = start_error(|c, _| c.tenants[0].client_key = pki("fabrikam.key")).await;
    assert!(e.starts_with("tenants[0].client_key"), "{e}");
    let e = start_error(|c, _| c.listener.certificate = pki("nope.pem")).await;
    assert!(e.starts_with("listener.certificate"), "{e}");
    // The loop header has one source, the profile.
    let e = start_error(|_, dir| {
        let sig = std::fs::read_to_string(dir.0.join("contoso/signature.toml")).unwrap();
        dir.write(
            "contoso/signature.toml",
            &format!("{sig}\n[loop_header]\nname = \"X-Sigsync-Processed\"\nvalue = \"true\"\n"),
        );
    })
    .await;
    assert!(
        e.starts_with("tenants[0].signatures: ") && e.contains("loop header mismatch"),
        "{e}"
    );
    // Repeating the profile's value is fine.
    let env = Env::start(|_| {}).await;
    let sig = std::fs::read_to_string(env.dir.0.join("contoso/signature.toml")).unwrap();
    env.dir.write(
        "contoso/signature.toml",
        &format!(
            "{sig}\n[loop_header]\nname = \"X-Sigsync-Processed\"\nvalue = \"{CONTOSO_LOOP}\"\n"
        ),
    );
    let _ = env.relay().await;
    let e = start_error(|c, _| c.tenants[1].domains = vec!["contoso.com".into()]).await;
    assert!(
        e.starts_with("tenants[1].domains: contoso.com also belongs to tenant \"contoso\""),
        "{e}"
    );
    let e = start_error(|c, _| c.tenants[0].return_tls = false).await;
    assert!(e.starts_with("tenants[0].return_tls"), "{e}");
    let e = start_error(|_, dir| {
        let sig = std::fs::read_to_string(dir.0.join("contoso/signature.toml")).unwrap();
        let sig = sig[..sig.find("[directory]").unwrap()].to_owned();
        dir.write(
            "contoso/signature.toml",
            &format!("{sig}[directory]\nsource = \"graph\"\n"),
        );
    })
    .await;
    assert!(e.starts_with("tenants[0].graph"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_and_metrics_endpoint_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = Env::start(|_| {}).await.relay().await;
    let t = env
        .send(
            "adele@contoso.com",
            &["bob@example.org"],
            &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "h"),
        )
        .await;
    assert!(t.acknowledged());
    let addr = env.relay.as_ref().unwrap().metrics_addr().unwrap();
    let get = |path: &'static str| async move {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        out
    };
    let health = get("/healthz").await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"),
        "{health}"
    );
    let m = get("/metrics").await;
    for needle in [
        "sigsync_relay_messages_total{tenant=\"contoso\",outcome=\"accepted\"} 1",
        "sigsync_relay_messages_total{tenant=\"contoso\",outcome=\"injected\"} 1",
        "sigsync_relay_transaction_seconds_count{tenant=\"contoso\"} 1",
        "sigsync_relay_injection_seconds_count{tenant=\"contoso\"} 1",
        "sigsync_relay_client_certificate_expiry_seconds{tenant=\"fabrikam\"}",
    ] {
        assert!(m.contains(needle), "{needle} in\n{m}");
    }
}

/// How a connection of a burst ended, from the sender's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Opened {
    Greeted,
    Refused421,
    /// The connection refused (the listener closed): the sender retries at once.
    NotConnected,
    /// Connected, then reset or closed without a reply (the listener closed as the
    /// connection came in): the sender retries at once.
    Reset,
    /// Connected, then nothing within the sender's patience: what must never happen.
    Silent,
}

/// Hundreds of connections at once (Exchange opens many after a pause): every sender is
/// greeted; and when the relay stops while they come in, every sender hears something — a
/// greeting, a 421 (connections already queued in the kernel are answered, not reset), or a
/// refusal or reset it can retry on. At `std`'s and tokio's backlog of 128 the kernel answered
/// part of such a burst with SYN cookies and dropped their handshakes as the accept queue
/// overflowed: 300 of 800 senders waited for a greeting that never came (and one load-test
/// run in about fifteen had senders give up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_connections_each_hears_a_greeting_421_or_reset_even_across_a_stop() {
    use std::collections::HashMap;
    use tokio::io::AsyncReadExt;

    const BURST: usize = 800;
    for stop_after in [None, Some(Duration::ZERO), Some(Duration::from_millis(5))] {
        let mut env = Env::start(|c| c.limits.max_connections = 2 * BURST)
            .await
            .relay()
            .await;
        let addr = env.addr();
        let senders: Vec<_> = (0..BURST)
            .map(|_| {
                tokio::spawn(async move {
                    let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else {
                        return Opened::NotConnected;
                    };
                    let mut first = [0u8; 4];
                    match tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut first))
                        .await
                    {
                        Err(_) => Opened::Silent,
                        Ok(Err(_)) => Opened::Reset,
                        Ok(Ok(_)) if &first[..3] == b"220" => Opened::Greeted,
                        Ok(Ok(_)) if &first[..3] == b"421" => Opened::Refused421,
                        Ok(Ok(_)) => panic!("unexpected {:?}", String::from_utf8_lossy(&first)),
                    }
                })
            })
            .collect();
        let relay = env.relay.take().unwrap();
        let report = match stop_after {
            Some(after) => {
                tokio::time::sleep(after).await;
                Some(relay.stop(Some(Duration::from_secs(5))).await)
            }
            None => {
                // Everyone greeted first, then the stop.
                let mut seen: HashMap<Opened, usize> = HashMap::new();
                for s in senders {
                    *seen.entry(s.await.unwrap()).or_default() += 1;
                }
                assert_eq!(seen.get(&Opened::Greeted), Some(&BURST), "{seen:?}");
                relay.stop(Some(Duration::from_secs(5))).await;
                continue;
            }
        };
        let mut seen: HashMap<Opened, usize> = HashMap::new();
        for s in senders {
            *seen.entry(s.await.unwrap()).or_default() += 1;
        }
        eprintln!("burst of {BURST}, stop after {stop_after:?}: {seen:?}, {report:?}");
        // A handshake the kernel is completing at the very moment the listening socket
        // closes can still be lost (seen once in a few thousand connections; the sender's
        // timeout ends it, and nothing was accepted). At 128 it was hundreds.
        let silent = seen.get(&Opened::Silent).copied().unwrap_or(0);
        assert!(silent <= BURST / 100, "{seen:?}");
        assert_eq!(seen.values().sum::<usize>(), BURST);
    }
}
