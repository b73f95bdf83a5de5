//! Faults on either leg. Every test ends with the invariant: nothing was acknowledged that the
//! next hop did not take.

use std::time::Duration;

use crate::support::next_hop::Script;
use crate::support::sender::{Sender, Transcript};
use crate::support::*;

fn rcpts(list: &[&str]) -> Vec<String> {
    list.iter().map(|r| format!("RCPT TO:<{r}>")).collect()
}

async fn one(env: &Env, id: &str) -> (String, Transcript) {
    let t = env
        .send(
            "adele@contoso.com",
            &["bob@example.org"],
            &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", id),
        )
        .await;
    (id.to_owned(), t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_hop_down_defers_at_mail() {
    let env = Env::start(|_| {}).await.relay().await;
    env.contoso.shut_down();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = vec![one(&env, "down").await];
    let t = &sent[0].1;
    assert_eq!(t.mail.code, 451, "{t:?}");
    assert!(t.mail.text.starts_with("4.4.1"), "{t:?}");
    assert!(
        t.rcpts.iter().all(|r| r.code == 503),
        "pipelined RCPTs after a failed MAIL: {t:?}"
    );
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    assert_eq!(
        env.relay.as_ref().unwrap().stats().tenants["contoso"].deferred,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipient_replies_are_the_next_hops_own_mixed_4xx_5xx_and_452_too_many() {
    let env = Env::start(|_| {}).await.relay().await;
    env.contoso.script(|s| {
        s.rcpt_replies.insert(
            "busy@example.org".into(),
            "450 4.2.1 Mailbox busy, try later".into(),
        );
        s.rcpt_replies.insert(
            "nobody@example.org".into(),
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found".into(),
        );
        s.rcpt_replies.insert(
            "many@example.org".into(),
            "452 4.5.3 Too many recipients".into(),
        );
    });
    let msg = message(CONTOSO_ID, "adele@contoso.com", "ok@example.org", "mixed");
    let mut s = Sender::open(env.addr()).await.unwrap();
    let list = rcpts(&[
        "ok@example.org",
        "busy@example.org",
        "nobody@example.org",
        "many@example.org",
        "ok2@example.org",
    ]);
    let t = s
        .transaction("MAIL FROM:<adele@contoso.com>", &list, &msg)
        .await
        .unwrap();
    let got: Vec<String> = t.rcpts.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        got,
        [
            "250 2.1.5 Recipient OK",
            "450 4.2.1 Mailbox busy, try later",
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            "452 4.5.3 Too many recipients",
            "250 2.1.5 Recipient OK",
        ]
    );
    assert!(t.acknowledged());
    let d = env.contoso.delivered();
    assert_eq!(d[0].rcpts, rcpts(&["ok@example.org", "ok2@example.org"]));
    // All recipients refused: DATA is refused, nothing is sent.
    let t2 = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &rcpts(&["busy@example.org", "nobody@example.org"]),
            &msg,
        )
        .await
        .unwrap();
    assert_eq!(t2.data.as_ref().unwrap().code, 554, "{t2:?}");
    assert!(t2.end.is_none());
    let sent = vec![("mixed".to_owned(), t), ("mixed".to_owned(), t2)];
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    assert_eq!(env.contoso.delivered().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_or_5xx_after_the_data_is_passed_on_as_it_came() {
    let env = Env::start(|_| {}).await.relay().await;
    let mut sent = Vec::new();
    for (id, reply) in [
        (
            "t4",
            "451 4.3.0 Temporary server error. Please try again later",
        ),
        ("t5", "554 5.6.0 Message content rejected"),
    ] {
        env.contoso.script(|s| s.final_reply = Some(reply.into()));
        let t = one(&env, id).await;
        assert_eq!(t.1.end.as_ref().unwrap().to_string(), reply);
        sent.push(t);
    }
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    let stats = env.relay.as_ref().unwrap().stats();
    assert_eq!(
        (
            stats.tenants["contoso"].deferred,
            stats.tenants["contoso"].rejected
        ),
        (1, 1)
    );
}

async fn metrics_text(env: &Env) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = env.relay.as_ref().unwrap().metrics_addr().unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_that_point_at_our_configuration_become_4xx_are_logged_and_counted() {
    // The inbound connector's certificate name changed: Exchange answers 5.7.64 at MAIL.
    let env = Env::start(|_| {}).await.relay().await;
    env.contoso
        .script(|s| s.certificate_name = Some("renamed.relay.test".into()));
    let mut sent = vec![one(&env, "attr36").await];
    let t = &sent[0].1;
    assert_eq!(t.mail.code, 451, "{t:?}");
    assert!(t.mail.text.starts_with("4.7.64 TenantAttribution"), "{t:?}");
    // ... on a recipient and after the data too.
    env.contoso.script(|s| {
        s.certificate_name = Some("contoso.relay.test".into());
        s.rcpt_replies.insert(
            "bob@example.org".into(),
            "550 5.7.64 TenantAttribution; Relay Access Denied [ATTR36]".into(),
        );
    });
    let t = one(&env, "rcpt").await;
    assert_eq!(t.1.rcpts[0].code, 451, "{t:?}");
    sent.push(t);
    env.contoso.script(|s| {
        s.rcpt_replies.clear();
        s.final_reply = Some("550 5.7.64 TenantAttribution; Relay Access Denied [ATTR36]".into());
    });
    let t = one(&env, "final").await;
    assert_eq!(t.1.end.as_ref().unwrap().code, 451, "{t:?}");
    sent.push(t);
    env.contoso.script(|s| {
        s.final_reply = Some("451 4.4.62 Mail sent to the wrong Office 365 region. ATTR35".into())
    });
    sent.push(one(&env, "region").await);
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    let text = metrics_text(&env).await;
    assert!(text.contains("sigsync_relay_configuration_replies_total{tenant=\"contoso\",reason=\"tenant_attribution\"} 3"), "{text}");
    assert!(text.contains("sigsync_relay_configuration_replies_total{tenant=\"contoso\",reason=\"wrong_region\"} 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_hop_dropping_mid_data_defers_and_by_bdat_too() {
    let env = Env::start(|_| {}).await.relay().await;
    let mut sent = Vec::new();
    env.contoso.script(|s| s.drop_after_bytes = Some(200));
    let t = one(&env, "drop-data").await;
    assert_eq!(t.1.end.as_ref().unwrap().code, 451, "{t:?}");
    sent.push(t);
    // The same over BDAT (a bare LF makes the relay use it).
    let bare = String::from_utf8(message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        "drop-bdat",
    ))
    .unwrap()
    .replace(
        "Subject: Quarterly numbers\r\n",
        "Subject: Quarterly\n numbers\r\n",
    );
    let t = env
        .send("adele@contoso.com", &["bob@example.org"], bare.as_bytes())
        .await;
    assert_eq!(t.end.as_ref().unwrap().code, 451, "{t:?}");
    sent.push(("drop-bdat".into(), t));
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    assert!(env.contoso.delivered().is_empty());
    assert_eq!(env.contoso.log(|l| l.cut_data), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_dropping_mid_data_sends_nothing_on() {
    let env = Env::start(|_| {}).await.relay().await;
    let msg = message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "cut");
    let mut s = Sender::open(env.addr()).await.unwrap();
    s.start_data().await.unwrap();
    s.send_raw(&msg[..msg.len() / 2]).await.unwrap();
    drop(s);
    // The next hop's transaction is reset and the connection kept for the next message.
    for _ in 0..100 {
        if env.contoso.log(|l| l.resets) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(env.contoso.log(|l| l.resets), 1);
    assert!(env.contoso.delivered().is_empty());
    let sent = vec![one(&env, "after").await];
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    assert!(sent[0].1.acknowledged());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_next_hop_past_the_processing_deadline_is_deferred_before_the_end_of_data() {
    // Without CHUNKING the relay waits for the next hop's 354 before it can send the message.
    let script = Script {
        chunking: false,
        ..Script::default()
    };
    let env = Env::start_with(script, |c| c.timeouts.processing = 1.0)
        .await
        .relay()
        .await;
    env.contoso
        .script(|s| s.delay_data_reply = Duration::from_millis(1500));
    let mut sent = vec![one(&env, "slow-354").await];
    let end = sent[0].1.end.clone().unwrap();
    assert_eq!(end.code, 451, "{end}");
    assert!(end.text.starts_with("4.3.0"), "{end}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        env.contoso.log(|l| l.cut_data),
        1,
        "the end of data never went out"
    );
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    assert!(env.contoso.delivered().is_empty());
    // The relay is fine for the next message.
    env.contoso.script(|s| s.delay_data_reply = Duration::ZERO);
    sent.push(one(&env, "fast").await);
    assert!(sent[1].1.acknowledged());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_reply_past_data_termination_is_a_4xx() {
    let env = Env::start(|c| c.timeouts.data_termination = 0.5)
        .await
        .relay()
        .await;
    env.contoso
        .script(|s| s.delay_final = Duration::from_secs(2));
    let sent = vec![one(&env, "late").await];
    let end = sent[0].1.end.clone().unwrap();
    assert_eq!((end.code, &end.text[..5]), (451, "4.4.2"), "{end}");
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    // The next hop takes it after all: the duplicate window of a before-queue proxy
    // (Exchange retries a message that was delivered). Nothing is lost either way.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.contoso.delivered().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_certificate_is_refused_by_the_next_hop_and_deferred() {
    let env = Env::start(|c| {
        c.tenants[0].client_certificate = pki("contoso-expired.pem");
        c.tenants[0].client_key = pki("contoso-expired.key");
    })
    .await
    .relay()
    .await;
    let sent = vec![one(&env, "expired").await];
    let t = &sent[0].1;
    assert_eq!(t.mail.code, 454, "{t:?}");
    assert!(t.mail.text.starts_with("4.7.5"), "{t:?}");
    for _ in 0..50 {
        if env.contoso.log(|l| l.tls_failures) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(env.contoso.log(|l| l.tls_failures) >= 1);
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    let text = metrics_text(&env).await;
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("sigsync_relay_client_certificate_expiry_seconds{tenant=\"contoso\"}")
        })
        .unwrap();
    assert!(
        line.ends_with(|c: char| c.is_ascii_digit()) && line.contains(" -"),
        "negative: {line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_messages_are_refused_by_size_or_after_the_data() {
    let env = Env::start(|_| {}).await.relay().await;
    let mut s = Sender::open(env.addr()).await.unwrap();
    let r = s
        .cmd("MAIL FROM:<adele@contoso.com> SIZE=2000000")
        .await
        .unwrap();
    assert_eq!((r.code, &r.text[..5]), (552, "5.3.4"), "{r}");
    // Without SIZE: read to the end, then refused; the next hop's transaction is reset.
    let big = large_message(CONTOSO_ID, "big", 1_200_000);
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &rcpts(&["bob@example.org"]),
            &big,
        )
        .await
        .unwrap();
    assert_eq!(t.end.as_ref().unwrap().code, 552, "{t:?}");
    let t2 = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &rcpts(&["bob@example.org"]),
            &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "small"),
        )
        .await
        .unwrap();
    assert!(t2.acknowledged(), "the session goes on: {t2:?}");
    let sent = vec![("big".into(), t), ("small".into(), t2)];
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    assert_eq!(env.contoso.log(|l| l.resets), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_byte_budget_defers_with_452() {
    let env = Env::start(|c| {
        c.limits.max_message_size = 600_000;
        c.limits.bytes_in_flight = 1_200_000;
    })
    .await
    .relay()
    .await;
    // One transaction holds most of the budget (its declared size, twice).
    let mut holder = Sender::open(env.addr()).await.unwrap();
    let r = holder
        .pipeline(&[
            "MAIL FROM:<adele@contoso.com> SIZE=500000".into(),
            "RCPT TO:<bob@example.org>".into(),
        ])
        .await
        .unwrap();
    assert_eq!(r[0].code, 250);
    let mut s = Sender::open(env.addr()).await.unwrap();
    let r = s
        .cmd("MAIL FROM:<adele@contoso.com> SIZE=200000")
        .await
        .unwrap();
    assert_eq!((r.code, &r.text[..5]), (452, "4.3.1"), "{r}");
    // Without SIZE the budget runs out while the data arrives: 452 after the data.
    let big = large_message(CONTOSO_ID, "nomem", 300_000);
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &rcpts(&["bob@example.org"]),
            &big,
        )
        .await
        .unwrap();
    assert_eq!(t.end.as_ref().unwrap().code, 452, "{t:?}");
    let sent = vec![("nomem".into(), t)];
    // Once the holder is gone, there is room again.
    holder.cmd("RSET").await.unwrap();
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &rcpts(&["bob@example.org"]),
            &big,
        )
        .await
        .unwrap();
    assert!(t.acknowledged(), "{t:?}");
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_hop_without_chunking_or_pipelining_still_gets_every_message() {
    let env = Env::start_with(
        Script {
            chunking: false,
            pipelining: false,
            dsn: false,
            ..Script::default()
        },
        |_| {},
    )
    .await
    .relay()
    .await;
    let bare = String::from_utf8(message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        "nochunk",
    ))
    .unwrap()
    .replace(
        "Subject: Quarterly numbers\r\n",
        "Subject: Quarterly\n numbers\r\n",
    );
    let mut s = Sender::open(env.addr()).await.unwrap();
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com> RET=FULL",
            &[
                "RCPT TO:<bob@example.org> NOTIFY=SUCCESS".into(),
                "RCPT TO:<carol@example.org>".into(),
            ],
            bare.as_bytes(),
        )
        .await
        .unwrap();
    assert!(t.acknowledged(), "{t:?}");
    let d = &env.contoso.delivered()[0];
    assert!(!d.bdat);
    assert_eq!(
        d.mail, "MAIL FROM:<adele@contoso.com>",
        "DSN parameters only to a DSN next hop"
    );
    assert_eq!(d.rcpts[0], "RCPT TO:<bob@example.org>");
    assert!(
        d.text().contains("Subject: Quarterly\r\n numbers"),
        "bare LF sent as CRLF over DATA"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_signed_off_thread_go_on_unsigned_with_the_loop_header_past_the_injection_deadline(
) {
    // Every message to the injection threads; first with time enough, then with none.
    let env = Env::start(|c| c.limits.inline_injection_bytes = 0)
        .await
        .relay()
        .await;
    let t = one(&env, "off-thread").await;
    assert!(t.1.acknowledged());
    assert!(env.contoso.delivered()[0].text().contains("Retail Manager"));

    // A message that takes the injector far longer than a microsecond.
    let env = Env::start(|c| {
        c.limits.inline_injection_bytes = 0;
        c.limits.max_message_size = 8 << 20;
        c.limits.bytes_in_flight = 64 << 20;
        c.timeouts.injection = 1e-6;
    })
    .await
    .relay()
    .await;
    let big = String::from_utf8(slow_message("late-inject")).unwrap();
    let t = env
        .send("adele@contoso.com", &["bob@example.org"], big.as_bytes())
        .await;
    assert!(t.acknowledged(), "the message goes on: {t:?}");
    let d = &env.contoso.delivered()[0];
    assert!(
        d.text()
            .contains(&format!("X-Sigsync-Processed: {CONTOSO_LOOP}\r\n")),
        "with the loop header"
    );
    assert!(!d.text().contains("Retail Manager"), "unsigned");
    let stats = env.relay.as_ref().unwrap().stats();
    assert_eq!(
        (
            stats.tenants["contoso"].failed,
            stats.tenants["contoso"].accepted
        ),
        (1, 1)
    );
    // What went on is the original message but for our Received line and the loop header.
    let text = d.text();
    let body_start = text.find("\r\nDKIM-Signature:").unwrap() + 2;
    assert!(text[body_start..] == big, "the original bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_chunking_data_goes_ahead_and_a_refusal_after_it_closes_the_connection() {
    let env = Env::start_with(
        Script {
            chunking: false,
            ..Script::default()
        },
        |_| {},
    )
    .await
    .relay()
    .await;
    // The next hop refuses DATA itself: that is the final reply.
    env.contoso
        .script(|s| s.data_reply = Some("554 5.5.1 Error: no valid recipients".into()));
    let mut sent = vec![one(&env, "data-refused").await];
    assert_eq!(
        sent[0].1.end.as_ref().unwrap().to_string(),
        "554 5.5.1 Error: no valid recipients"
    );
    env.contoso.script(|s| s.data_reply = None);
    // A message we refuse while the next hop waits in DATA: the connection is closed, not reset.
    let spoof = message(FABRIKAM_ID, "adele@contoso.com", "bob@example.org", "spoof");
    let t = env
        .send("adele@contoso.com", &["bob@example.org"], &spoof)
        .await;
    assert_eq!(t.end.as_ref().unwrap().code, 550);
    sent.push(("spoof".into(), t));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        env.contoso.log(|l| l.cut_data),
        1,
        "the next hop saw its DATA cut off"
    );
    sent.push(one(&env, "after").await);
    assert!(sent[2].1.acknowledged());
    assert!(!env.contoso.delivered()[0].bdat);
    // A sender that does not pipeline: DATA goes ahead when the sender sends it.
    let mut s = Sender::open(env.addr()).await.unwrap();
    for cmd in ["MAIL FROM:<adele@contoso.com>", "RCPT TO:<bob@example.org>"] {
        assert_eq!(s.cmd(cmd).await.unwrap().code, 250);
    }
    assert_eq!(s.cmd("DATA").await.unwrap().code, 354);
    let msg = message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "step");
    let end = s.data_body(&msg).await.unwrap();
    assert_eq!(end.code, 250, "{end}");
    assert_nothing_acknowledged_that_was_not_delivered(&sent, &[&env.contoso]);
    assert_eq!(env.contoso.delivered().len(), 2);
}
