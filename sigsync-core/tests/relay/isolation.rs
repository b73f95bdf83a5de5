//! Signing and the network threads: by default every message is signed on the relay's
//! injection threads, so a message that takes long to sign does not hold up the replies of
//! other sessions. Both tests run the relay on a current-thread runtime, where the network
//! thread is the only one: whatever runs on it holds up every session.

use std::time::Duration;

use crate::support::sender::Sender;
use crate::support::*;

/// Room for the slow message.
fn room(c: &mut sigsync_core::relay::RelayConfig) {
    c.limits.max_message_size = 8 << 20;
    c.limits.bytes_in_flight = 64 << 20;
}

/// Sends the slow message on one session and, once the relay holds all of it, a NOOP on
/// another; returns whether the message was signed by the time the NOOP was answered, and the
/// slow session's final reply.
async fn noop_while_signing(env: &Env) -> (bool, sender::Reply) {
    let relay = env.relay.as_ref().unwrap();
    let mut other = Sender::open(env.addr()).await.unwrap();
    let mut slow = Sender::open(env.addr()).await.unwrap();
    let msg = slow_message("slow");
    slow.start_data().await.unwrap();
    let mut wire = sender::stuff(&msg);
    wire.extend_from_slice(b".\r\n");
    slow.send_raw(&wire).await.unwrap();
    // The relay counts each message it holds twice; once all of it is in, the session has
    // gone on to sign it (on the network thread, in the same poll, or on an injection thread).
    // (Signed already: the transaction may be over before this task looks.)
    let done = |s: &sigsync_core::relay::TenantStats| s.injected + s.failed + s.skipped > 0;
    tokio::time::timeout(Duration::from_secs(60), async {
        while relay.stats().bytes_in_flight < 2 * msg.len() as i64
            && !done(&relay.stats().tenants["contoso"])
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the relay reads the whole message");
    let noop = other.cmd("NOOP").await.unwrap();
    assert_eq!(noop.code, 250, "{noop}");
    let signed = done(&relay.stats().tenants["contoso"]);
    let end = slow.reply().await.unwrap();
    (signed, end)
}

#[tokio::test(flavor = "current_thread")]
async fn by_default_a_slow_injection_does_not_hold_up_another_sessions_replies() {
    let env = Env::start(room).await.relay().await;
    let (signed, end) = noop_while_signing(&env).await;
    assert!(
        !signed,
        "the other session was answered while the message was being signed"
    );
    assert!(end.positive(), "{end}");
    let d = &env.contoso.delivered()[0];
    assert!(d.text().contains("Retail Manager"), "signed in the end");
    assert_eq!(
        env.relay.as_ref().unwrap().stats().tenants["contoso"].injected,
        1
    );
}

#[tokio::test(flavor = "current_thread")]
async fn signing_on_the_network_thread_holds_up_another_sessions_replies() {
    // The trade-off of `limits.inline_injection_bytes`: no hand-off to another thread, but a
    // message that takes long to sign holds up every session of that thread.
    let env = Env::start(|c| {
        room(c);
        c.limits.inline_injection_bytes = 8 << 20;
    })
    .await
    .relay()
    .await;
    let (signed, end) = noop_while_signing(&env).await;
    assert!(
        signed,
        "the other session's NOOP was answered only after the signing"
    );
    assert!(end.positive(), "{end}");
    assert!(env.contoso.delivered()[0].text().contains("Retail Manager"));
}
