//! What a message looks like after the round trip, and who may send one.

use sigsync_core::inject::{Envelope, SignatureInjector};
use sigsync_core::relay::DkimArc;
use sigsync_core::setup::ServiceProfile;
use sigsync_core::signature::SignatureConfig;

use crate::support::sender::Sender;
use crate::support::*;

/// The message the tenant's injector makes of `msg`, as the relay should send it on.
async fn injector_output(
    env: &Env,
    tenant: &str,
    msg: &[u8],
    from: &str,
    rcpts: &[&str],
) -> Vec<u8> {
    let profile = ServiceProfile::from_json(
        &std::fs::read_to_string(env.dir.0.join(tenant).join("profile.json")).unwrap(),
    )
    .unwrap();
    let config = SignatureConfig::load(env.dir.0.join(tenant).join("signature.toml"))
        .and_then(|c| c.with_loop_header(&profile.loop_header))
        .unwrap();
    let injector = SignatureInjector::from_config(&config, None).unwrap();
    let sender = injector.engine().sender_data(from).await;
    let envelope = Envelope {
        mail_from: Some(from.into()),
        rcpt_to: rcpts.iter().map(|r| r.to_string()).collect(),
    };
    let (outcome, output) = injector.prepare_with_sender(msg, Some(&envelope), Some(&sender));
    assert!(outcome.is_injected(), "{outcome:?}");
    let mut out = Vec::new();
    output.write_to(&mut out);
    out
}

/// The delivered message without the relay's `Received:` field (which must come first).
fn without_received(data: &[u8]) -> &[u8] {
    let text = std::str::from_utf8(data).unwrap();
    assert!(text.starts_with("Received: from GV1PR07CU001.outbound.protection.outlook.com ([127.0.0.1])\r\n\tby relay.test (sigsync relay) with ESMTPS id "), "{text}");
    let end = text
        .find("\r\nX-Sigsync-Processed")
        .expect("the loop header after Received")
        + 2;
    &data[end..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_delivered_as_the_injector_made_it_with_envelope_and_parameters_verbatim() {
    let env = Env::start(|c| c.tenants[0].dkim_arc = DkimArc::Keep)
        .await
        .relay()
        .await;
    let msg = message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "m1");
    let mut s = Sender::open(env.addr()).await.unwrap();
    let rcpts = [
        "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org".to_string(),
        "RCPT TO:<carol@example.net> NOTIFY=NEVER".to_string(),
        "RCPT TO:<dave@contoso.com>".to_string(),
    ];
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com> SIZE=2000 BODY=8BITMIME RET=HDRS ENVID=QQ314159",
            &rcpts,
            &msg,
        )
        .await
        .unwrap();
    assert_eq!(t.mail.code, 250, "{t:?}");
    assert!(t.rcpts.iter().all(|r| r.code == 250), "{t:?}");
    let end = t.end.clone().unwrap();
    assert_eq!(end.code, 250);
    assert!(
        end.text.contains("Queued mail for delivery"),
        "the next hop's own reply: {end}"
    );

    let d = env.contoso.delivered();
    assert_eq!(d.len(), 1);
    let d = &d[0];
    assert_eq!(
        d.mail, "MAIL FROM:<adele@contoso.com> BODY=8BITMIME RET=HDRS ENVID=QQ314159",
        "SIZE taken off, the rest verbatim"
    );
    assert_eq!(d.rcpts, rcpts);
    assert_eq!(
        d.ehlo, "contoso.relay.test",
        "EHLO with the certificate name"
    );
    assert_eq!(d.client_cn.as_deref(), Some("contoso.relay.test"));
    assert!(
        d.tls && d.bdat,
        "BDAT whenever the next hop offers CHUNKING"
    );

    let expected = injector_output(
        &env,
        "contoso",
        &msg,
        "adele@contoso.com",
        &["bob@example.org", "carol@example.net", "dave@contoso.com"],
    )
    .await;
    assert_eq!(
        without_received(&d.data),
        &expected[..],
        "the delivered message is the injector's output"
    );
    let text = d.text();
    assert!(
        text.contains(&format!("\r\nX-Sigsync-Processed: {CONTOSO_LOOP}\r\n")),
        "the profile's loop header"
    );
    assert!(text.contains("Adele Vance") && text.contains("Retail Manager"));
    for line in String::from_utf8(msg.clone())
        .unwrap()
        .split("\r\n")
        .filter(|l| l.starts_with("X-MS-Exchange-"))
    {
        assert!(
            text.contains(&format!("\r\n{line}\r\n")),
            "{line} kept byte for byte"
        );
    }
    let stats = env.relay.as_ref().unwrap().stats();
    assert_eq!(
        (
            stats.tenants["contoso"].accepted,
            stats.tenants["contoso"].injected
        ),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_body_changed_the_tenant_dkim_signature_and_microsoft_arc_set_are_removed() {
    let env = Env::start(|_| {}).await.relay().await;
    let msg = message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "m2");
    let t = env
        .send("adele@contoso.com", &["bob@example.org"], &msg)
        .await;
    assert!(t.acknowledged(), "{t:?}");
    let d = &env.contoso.delivered()[0];
    let expected = String::from_utf8(
        injector_output(
            &env,
            "contoso",
            &msg,
            "adele@contoso.com",
            &["bob@example.org"],
        )
        .await,
    )
    .unwrap();
    // The four fields of `message()`, each with its continuation lines.
    let mut stripped = expected.clone();
    for field in [
        "DKIM-Signature:",
        "ARC-Seal:",
        "ARC-Message-Signature:",
        "ARC-Authentication-Results:",
    ] {
        let start = stripped.find(&format!("\r\n{field}")).unwrap() + 2;
        let mut end = start;
        loop {
            end += stripped[end..].find("\r\n").unwrap() + 2;
            if !stripped[end..].starts_with([' ', '\t']) {
                break;
            }
        }
        stripped.replace_range(start..end, "");
    }
    assert!(!stripped.contains("ARC-") && !stripped.contains("DKIM-"));
    assert_eq!(String::from_utf8_lossy(without_received(&d.data)), stripped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_goes_to_its_own_endpoint_with_its_own_certificate() {
    let env = Env::start(|_| {}).await.relay().await;
    let c = env
        .send(
            "adele@contoso.com",
            &["x@example.org"],
            &message(CONTOSO_ID, "adele@contoso.com", "x@example.org", "c1"),
        )
        .await;
    let f = env
        .send(
            "adele@fabrikam.com",
            &["y@example.org"],
            &message(FABRIKAM_ID, "adele@fabrikam.com", "y@example.org", "f1"),
        )
        .await;
    assert!(c.acknowledged() && f.acknowledged(), "{c:?} {f:?}");
    let (c, f) = (&env.contoso.delivered()[0], &env.fabrikam.delivered()[0]);
    assert_eq!(c.client_cn.as_deref(), Some("contoso.relay.test"));
    assert_eq!(f.client_cn.as_deref(), Some("fabrikam.relay.test"));
    assert!(f
        .text()
        .contains(&format!("X-Sigsync-Processed: {FABRIKAM_LOOP}\r\n")));
    // "=46abrikam Inc": quoted-printable escapes a line-leading F (a "From " guard).
    assert!(f.text().contains("abrikam Inc"), "{}", f.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_another_tenant_id_is_refused_after_the_data_and_the_next_hop_transaction_aborted(
) {
    let env = Env::start(|_| {}).await.relay().await;
    // EchoSpoofing: a connector in fabrikam's tenant, sending with contoso's domain.
    let spoof = message(FABRIKAM_ID, "adele@contoso.com", "victim@example.org", "s1");
    let t = env
        .send("adele@contoso.com", &["victim@example.org"], &spoof)
        .await;
    let end = t.end.clone().unwrap();
    assert_eq!(end.code, 550, "{end}");
    assert!(end.text.starts_with("5.7.1"), "{end}");
    // No CrossTenant-Id, and an X-OriginatorOrg of another organisation: refused too.
    let text = String::from_utf8(message(
        CONTOSO_ID,
        "adele@contoso.com",
        "v@example.org",
        "s2",
    ))
    .unwrap();
    let forged: String = text
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("X-MS-Exchange-CrossTenant-Id"))
        .map(|l| {
            if l.starts_with("X-OriginatorOrg") {
                "X-OriginatorOrg: fabrikam.com\r\n"
            } else {
                l
            }
        })
        .collect();
    let t2 = env
        .send("adele@contoso.com", &["v@example.org"], forged.as_bytes())
        .await;
    assert_eq!(t2.end.as_ref().unwrap().code, 550);
    assert!(env.contoso.delivered().is_empty());
    assert_eq!(
        env.contoso.log(|l| l.resets),
        2,
        "the next-hop transaction was aborted with RSET"
    );
    assert_eq!(
        env.relay.as_ref().unwrap().stats().tenants["contoso"].rejected,
        2
    );
    // The connection was reused for the next, genuine message.
    let ok = env
        .send(
            "adele@contoso.com",
            &["bob@example.org"],
            &message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "ok"),
        )
        .await;
    assert!(ok.acknowledged());
    assert_eq!(env.contoso.log(|l| l.connections), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bdat_from_the_sender_and_bare_line_feeds_go_on_by_bdat() {
    let env = Env::start(|_| {}).await.relay().await;
    let msg = message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "b1");
    let mut s = Sender::open(env.addr()).await.unwrap();
    let t = s
        .transaction_bdat(
            "MAIL FROM:<adele@contoso.com> BODY=8BITMIME",
            &["RCPT TO:<bob@example.org>".into()],
            &msg,
            100,
        )
        .await
        .unwrap();
    assert!(t.acknowledged(), "{t:?}");
    // A bare LF in a header the injector leaves alone (it re-encodes the bodies it signs).
    let bare = String::from_utf8(message(
        CONTOSO_ID,
        "adele@contoso.com",
        "bob@example.org",
        "b2",
    ))
    .unwrap()
    .replace(
        "Subject: Quarterly numbers\r\n",
        "Subject: Quarterly\n numbers\r\n",
    );
    let t = s
        .transaction(
            "MAIL FROM:<adele@contoso.com>",
            &["RCPT TO:<bob@example.org>".into()],
            bare.as_bytes(),
        )
        .await
        .unwrap();
    assert!(t.acknowledged(), "{t:?}");
    let d = env.contoso.delivered();
    assert!(d[0].bdat, "received by BDAT, sent by BDAT");
    assert!(
        d[1].bdat,
        "a bare LF goes by BDAT (Exchange refuses it over DATA: 5.6.11)"
    );
    assert!(
        d[1].text().contains("Subject: Quarterly\n numbers\r\n"),
        "the bare LF is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_sender_unknown_domains_and_mail_before_starttls_are_deferred_or_refused() {
    let env = Env::start(|_| {}).await.relay().await;
    let (mut s, _) = Sender::connect(env.addr()).await.unwrap();
    s.cmd("EHLO exo.test").await.unwrap();
    let r = s.cmd("MAIL FROM:<adele@contoso.com>").await.unwrap();
    assert_eq!(r.code, 530, "no mail before STARTTLS: {r}");
    let mut s = Sender::open(env.addr()).await.unwrap();
    let r = s.cmd("MAIL FROM:<someone@unknown.example>").await.unwrap();
    assert_eq!(r.code, 451, "unattributed: deferred, never guessed: {r}");
    let r = s.cmd("MAIL FROM:<>").await.unwrap();
    assert_eq!(r.code, 451, "{r}");
    let r = s.cmd("RCPT TO:<bob@example.org>").await.unwrap();
    assert_eq!(r.code, 503, "{r}");
    assert_eq!(
        env.relay.as_ref().unwrap().stats().tenants["unattributed"].deferred,
        2
    );
    assert_eq!(env.contoso.log(|l| l.connections), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_domains_are_attributed_whatever_their_case_and_a_trailing_dot() {
    let env = Env::start(|_| {}).await.relay().await;
    let mut s = Sender::open(env.addr()).await.unwrap();
    for from in [
        "adele@contoso.com",
        "Adele@CONTOSO.Com",
        "adele@contoso.com.",
        "adele@fabrikam.com",
    ] {
        let r = s.cmd(&format!("MAIL FROM:<{from}>")).await.unwrap();
        assert_eq!(r.code, 250, "{from}: {r}");
        let r = s.cmd("RSET").await.unwrap();
        assert_eq!(r.code, 250, "{r}");
    }
    let r = s
        .cmd("MAIL FROM:<adele@contoso.com.example>")
        .await
        .unwrap();
    assert_eq!(r.code, 451, "{r}");
    let stats = env.relay.as_ref().unwrap().stats();
    assert_eq!(stats.tenants["unattributed"].deferred, 1);
}
