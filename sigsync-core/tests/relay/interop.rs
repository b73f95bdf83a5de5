//! Interop with real MTA tools from Debian: swaks as the sender (STARTTLS, a client
//! certificate, pipelining), Postfix's smtp-sink as the next hop in plain-text test mode (it has
//! no TLS) with delays and 4xx/5xx replies, and smtp-source as a plain-text load sender.

use std::time::Duration;

use sigsync_core::relay::RelayConfig;

use crate::support::mta::{Sink, Tools};
use crate::support::sender::Sender;
use crate::support::*;

/// The test message with LF line ends, as a file the tools read (they send CRLF).
fn message_file(env: &Env, name: &str, id: &str) -> std::path::PathBuf {
    let text = String::from_utf8(message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        id,
    ))
    .unwrap();
    env.dir.write(name, &text.replace("\r\n", "\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_sends_through_the_relay_with_starttls_and_a_client_certificate() {
    let Some(tools) = Tools::get("swaks_sends_through_the_relay") else {
        return;
    };
    let env = Env::start(|c| c.listener.client_certificate_roots = Some(pki("root.pem")))
        .await
        .relay()
        .await;
    let file = message_file(&env, "swaks.eml", "swaks1");
    let server = env.addr().to_string();
    let run = move |tls: bool| {
        let mut c = tools.swaks();
        c.args([
            "--server",
            &server,
            "--ehlo",
            "GV1PR07CU001.outbound.protection.outlook.com",
        ])
        .args([
            "--from",
            "adele@contoso.com",
            "--to",
            "bob@example.org,carol@example.org",
        ])
        .args(["--pipeline", "--timeout", "20"])
        .arg("--data")
        .arg(format!("@{}", file.display()));
        if tls {
            c.args(["--tls", "--tls-verify", "--tls-ca-path"])
                .arg(pki("root.pem"))
                .arg("--tls-cert")
                .arg(pki("exchange.pem"))
                .arg("--tls-key")
                .arg(pki("exchange.key"));
        }
        c.output().unwrap()
    };
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(true)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("<~  250 2.6.0 <id@mx.test> Queued mail for delivery"),
        "the next hop's reply over TLS:\n{stdout}"
    );
    let d = env.contoso.delivered();
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].rcpts,
        ["RCPT TO:<bob@example.org>", "RCPT TO:<carol@example.org>"]
    );
    assert!(d[0]
        .text()
        .contains(&format!("X-Sigsync-Processed: {CONTOSO_LOOP}")));
    assert!(d[0].text().contains("Retail Manager"), "signed");
    // Without STARTTLS swaks gets the relay's refusal.
    let out = tokio::task::spawn_blocking(move || run(false))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("<** 530 5.7.0 Must issue a STARTTLS command first"),
        "{stdout}"
    );
    assert_eq!(env.contoso.delivered().len(), 1);
}

/// Points contoso at `sink` over plain text (allowed for a loopback endpoint).
async fn to_sink(env: &Env, sink: &Sink, edit: impl FnOnce(&mut RelayConfig)) {
    let mut config = RelayConfig::load(&env.config_path).unwrap();
    config.tenants[0].return_endpoint = Some(sink.addr.to_string());
    config.tenants[0].return_tls = false;
    edit(&mut config);
    env.relay
        .as_ref()
        .unwrap()
        .reload_with(config)
        .await
        .unwrap();
}

fn dump_dir(env: &Env, name: &str) -> std::path::PathBuf {
    let dir = env.dir.0.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    // smtp-sink drops root privileges to nobody before it writes.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn dumps(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sink_as_the_next_hop_gets_signed_mail_and_its_replies_delays_and_drops_are_mirrored()
{
    let Some(tools) = Tools::get("smtp_sink_as_the_next_hop") else {
        return;
    };
    let env = Env::start(|_| {}).await.relay().await;
    let rcpts = ["RCPT TO:<bob@example.org>".to_string()];
    let send = |id: &'static str| {
        let addr = env.addr();
        let rcpts = rcpts.clone();
        async move {
            let mut s = Sender::open(addr).await.unwrap();
            let msg = message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", id);
            let t = s
                .transaction("MAIL FROM:<adele@contoso.com> RET=HDRS", &rcpts, &msg)
                .await
                .unwrap();
            (id.to_string(), t)
        }
    };

    // Accepted: the message is in smtp-sink's dump, signed, and its 250 came back.
    let dir = dump_dir(&env, "dumps");
    let template = format!("{}/%H%M%S", dir.display());
    let sink = tools.sink(&["-d", &template]);
    to_sink(&env, &sink, |_| {}).await;
    let (_, t) = send("sink-ok").await;
    assert_eq!(t.end.as_ref().unwrap().to_string(), "250 2.0.0 Ok", "{t:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dumped = dumps(&dir);
    assert_eq!(dumped.len(), 1);
    assert!(
        dumped[0].contains(&format!("X-Sigsync-Processed: {CONTOSO_LOOP}")),
        "{}",
        dumped[0]
    );
    // smtp-sink writes the envelope it got as X- fields above the message.
    for field in [
        "X-Helo-Args: contoso.relay.test\n",
        "X-Mail-Args: <adele@contoso.com> RET=HDRS\n",
        "X-Rcpt-Args: <bob@example.org>\n",
    ] {
        assert!(dumped[0].contains(field), "{field} in\n{}", dumped[0]);
    }
    drop(sink);

    // Refusals, a drop after the data, and delays.
    let cases: Vec<(&[&str], &str, Code, u16)> = vec![
        (&["-f", "mail"], "mail 5xx", |t| Some(t.mail.code), 500),
        (&["-r", "rcpt"], "rcpt 4xx", |t| Some(t.rcpts[0].code), 450),
        (&["-f", "rcpt"], "rcpt 5xx", |t| Some(t.rcpts[0].code), 500),
        (
            &["-r", "."],
            "4xx after data",
            |t| t.end.as_ref().map(|r| r.code),
            450,
        ),
        (
            &["-f", "."],
            "5xx after data",
            |t| t.end.as_ref().map(|r| r.code),
            500,
        ),
        (
            &["-q", "."],
            "dropped after data",
            |t| t.end.as_ref().map(|r| r.code),
            451,
        ),
    ];
    let mut sent = Vec::new();
    for (args, what, code, want) in cases {
        let sink = tools.sink(args);
        to_sink(&env, &sink, |_| {}).await;
        let (id, t) = send("sink-case").await;
        assert_eq!(code(&t), Some(want), "{what}: {t:?}");
        sent.push((id, t));
    }
    // A slow DATA reply: within the processing deadline it goes through, past it the
    // transaction is deferred before the end of data. (Commands one at a time: smtp-sink does
    // not delay a DATA that came pipelined.)
    for (delay, processing, want) in [("1", 10.0, 250), ("3", 1.0, 451)] {
        let sink = tools.sink(&["-w", delay]);
        to_sink(&env, &sink, |c| c.timeouts.processing = processing).await;
        let mut s = Sender::open(env.addr()).await.unwrap();
        for cmd in [
            "MAIL FROM:<adele@contoso.com>",
            "RCPT TO:<bob@example.org>",
            "DATA",
        ] {
            assert!(s.cmd(cmd).await.unwrap().code < 400);
        }
        let msg = message(
            CONTOSO_ID,
            "adele@contoso.com",
            "bob@example.org",
            "sink-slow",
        );
        let end = s.data_body(&msg).await.unwrap();
        assert_eq!(end.code, want, "DATA reply after {delay} s: {end}");
    }
    let stats = env.relay.as_ref().unwrap().stats();
    assert_eq!(stats.tenants["contoso"].accepted, 2, "{stats:?}");
}

/// Which reply of a transaction a case looks at.
type Code = fn(&crate::support::sender::Transcript) -> Option<u16>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_source_sends_through_the_relay_to_smtp_sink() {
    let Some(tools) = Tools::get("smtp_source_through_the_relay") else {
        return;
    };
    let env = Env::start(|c| c.listener.allow_plaintext_on_loopback = true)
        .await
        .relay()
        .await;
    let dir = dump_dir(&env, "source-dumps");
    let template = format!("{}/%H%M%S", dir.display());
    let sink = tools.sink(&["-d", &template]);
    to_sink(&env, &sink, |_| {}).await;
    let file = message_file(&env, "source.eml", "source");
    let relay = env.addr().to_string();
    let out = tokio::task::spawn_blocking(move || {
        tools
            .source()
            .args([
                "-s",
                "4",
                "-m",
                "40",
                "-f",
                "adele@contoso.com",
                "-t",
                "bob@example.org",
                "-F",
            ])
            .arg(file)
            .arg(relay)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dumped = dumps(&dir);
    assert_eq!(dumped.len(), 40);
    assert!(dumped.iter().all(
        |d| d.contains(&format!("X-Sigsync-Processed: {CONTOSO_LOOP}"))
            && d.contains("Retail Manager")
    ));
    let stats = env.relay.as_ref().unwrap().stats();
    assert_eq!(
        (
            stats.tenants["contoso"].accepted,
            stats.tenants["contoso"].injected
        ),
        (40, 40)
    );
}
