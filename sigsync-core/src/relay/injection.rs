//! Signing at the end of the data: on the injection threads within a deadline (or, up to
//! `limits.inline_injection_bytes`, on the network thread); whatever happens the message goes
//! on.

use std::sync::Arc;
use std::time::Instant;

use super::config::{secs, DkimArc};
use super::headers;
use super::metrics::Event;
use super::runtime::Runtime;
use super::tenants::Tenant;
use super::transaction::Txn;
use crate::inject::header::Block;
use crate::inject::{Envelope, InjectError, Outcome};
use crate::signature::SenderData;

impl Txn {
    /// Runs the injector; whatever happens the message goes on. Off the async workers by
    /// default; messages up to `limits.inline_injection_bytes` (0 unless configured) are signed
    /// right here, which saves the hand-off but holds up this thread's other sessions.
    pub(super) async fn inject(
        &self,
        rt: &Runtime,
        body: Vec<u8>,
        envelope: Envelope,
        sender: SenderData,
        head: (Block, Vec<(usize, usize)>),
    ) -> (Outcome, Vec<u8>) {
        let started = Instant::now();
        let (outcome, out) =
            if body.len() as u64 <= self.snapshot.config.limits.inline_injection_bytes {
                sign(&self.tenant, &body, &envelope, &sender, head)
            } else {
                self.inject_off_thread(rt, body, envelope, sender, head)
                    .await
            };
        let m = self.tenant.metrics(&rt.metrics);
        m.injection_time(started.elapsed().as_secs_f64());
        m.event(match &outcome {
            Outcome::Injected(_) => Event::Injected,
            Outcome::Skipped(_) => Event::Skipped,
            Outcome::Failed(_) => Event::Failed,
        });
        match &outcome {
            Outcome::Failed(e) => {
                tracing::warn!(error = %e, "injection failed; the message goes on unsigned")
            }
            o => tracing::debug!(
                outcome = o.label(),
                reason = o.reason().unwrap_or_default(),
                "injected"
            ),
        }
        (outcome, out)
    }

    /// Injection on the injection threads (`limits.injection_threads`), within
    /// `timeouts.injection`; past it the message goes on unchanged but for the loop header.
    async fn inject_off_thread(
        &self,
        rt: &Runtime,
        body: Vec<u8>,
        envelope: Envelope,
        sender: SenderData,
        head: (Block, Vec<(usize, usize)>),
    ) -> (Outcome, Vec<u8>) {
        let deadline = secs(self.snapshot.config.timeouts.injection);
        let body = Arc::new(body);
        let tenant = self.tenant.clone();
        let work = {
            let body = body.clone();
            rt.injection
                .run(move || sign(&tenant, &body, &envelope, &sender, head))
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(Ok(done)) => done,
            other => {
                let why = match other {
                    Err(_) => "injection ran past its deadline".to_owned(),
                    Ok(Err(_)) => "the injection thread stopped (the injector panicked)".to_owned(),
                    Ok(Ok(_)) => unreachable!(),
                };
                tracing::error!(%why, "passing the message on unsigned");
                let (outcome, output) = self
                    .tenant
                    .injector
                    .injector()
                    .pass_through(&body, InjectError::Internal(why));
                let mut out = Vec::with_capacity(output.len());
                output.write_to(&mut out);
                (outcome, out)
            }
        }
    }
}

/// The message the tenant's injector makes, written out. `head` is what the relay read of the
/// header: the top-level block (the injector does not read it again) and the fields to take
/// out if the message is signed (the tenant's DKIM signature and Microsoft's ARC set, found by
/// [`headers::Head::dkim_arc`] when the tenant asks for their removal), dropped as the message
/// is written.
fn sign(
    tenant: &Tenant,
    body: &[u8],
    envelope: &Envelope,
    sender: &SenderData,
    (top, strip): (Block, Vec<(usize, usize)>),
) -> (Outcome, Vec<u8>) {
    let (outcome, mut output) = tenant
        .injector
        .prepare_read_with_sender(body, top, envelope, sender);
    let injected = matches!(outcome, Outcome::Injected(_));
    // The injector does not touch these fields; should it ever, they go after the writing.
    let removed = !injected || strip.is_empty() || output.remove(&strip);
    let mut out = Vec::with_capacity(output.len());
    output.write_to(&mut out);
    if !removed && tenant.dkim_arc == DkimArc::Strip {
        if let Some(stripped) = headers::strip_dkim_arc(&out, &tenant.domains) {
            out = stripped;
        }
    }
    (outcome, out)
}

#[cfg(test)]
mod tests {
    use super::headers::{strip_dkim_arc, Head};
    use crate::inject::{Choice, InjectConfig, Injector, Outcome};
    use crate::signature::RenderedSignature;

    /// Every `.eml` under the crate's test fixtures (client shapes and real-world mail).
    fn fixtures() -> Vec<Vec<u8>> {
        fn walk(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "eml") {
                    out.push(std::fs::read(p).unwrap());
                }
            }
        }
        let mut out = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            &mut out,
        );
        out
    }

    /// DKIM and ARC fields as they reach the relay: the tenant's signature (folded), a
    /// foreign one, Microsoft's ARC sets of two instances, another party's ARC set.
    const SETS: [&str; 5] = [
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=contoso.com;\r\n\t s=selector1; h=From:Subject; bh=abc=; b=XyZ\r\n\t+/09==\r\n",
        "DKIM-Signature: v=1; d=list.example; s=s1; b=x\r\n",
        "ARC-Seal: i=1; a=rsa-sha256; s=arcselector; d=microsoft.com; cv=none; b=q\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=microsoft.com; s=arcselector; b=w\r\nARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=pass\r\n",
        "ARC-Seal: i=2; d=microsoft.com; cv=pass; b=q\r\nARC-Authentication-Results: i=2;\r\n mx.microsoft.com 1; dkim=pass\r\nARC-Message-Signature: i=2; d=microsoft.com; b=w\r\n",
        "ARC-Seal: i=3; d=gateway.example; cv=pass; b=q\r\nARC-Authentication-Results: i=3; gw 1\r\n",
    ];

    /// The message with `fields` at the top and again after its first line (or, for an
    /// LF-only message, with LF line ends).
    fn with_fields(msg: &[u8], fields: &str, after_first: bool) -> Vec<u8> {
        let lf = !msg.windows(2).any(|w| w == b"\r\n");
        let fields = if lf {
            fields.replace("\r\n", "\n")
        } else {
            fields.to_owned()
        };
        let at = if after_first {
            memchr::memchr(b'\n', msg).map_or(0, |i| i + 1)
        } else {
            0
        };
        [&msg[..at], fields.as_bytes(), &msg[at..]].concat()
    }

    /// Taking the DKIM/ARC fields out as edits of the injector's output (what the relay does)
    /// gives the bytes that removing them from the written output gives (what it did), on
    /// every fixture, with every set of fields, at the top and inside the header; and the
    /// edits are never refused on these (the fallback would hide a mismatch).
    #[test]
    fn removal_as_edits_equals_removal_from_the_written_message_on_every_fixture() {
        let injector = Injector::new(InjectConfig::default()).unwrap();
        let sig = RenderedSignature {
            html: "<div data-sigsync=\"server\"><p>Anna Example</p></div>".into(),
            text: "-- \nAnna Example".into(),
            ..Default::default()
        };
        let domains = ["contoso.com".to_string()];
        let (mut injected, mut removed) = (0, 0);
        for msg in fixtures() {
            for n in 0..=SETS.len() {
                let fields = SETS[..n].concat();
                for after_first in [false, true] {
                    let msg = with_fields(&msg, &fields, after_first);
                    let (outcome, mut output) =
                        injector.prepare(&msg, None, |_| Choice::Sign(sig.clone()));
                    if !matches!(outcome, Outcome::Injected(_)) {
                        continue;
                    }
                    injected += 1;
                    let mut written = Vec::new();
                    output.write_to(&mut written);
                    // The relay hands the injector the block it read: the same output.
                    let (again, reused) =
                        injector.prepare_read(&msg, Head::read(&msg).into_block(), None, |_| {
                            Choice::Sign(sig.clone())
                        });
                    assert_eq!(again.label(), outcome.label());
                    assert!(reused.chunks().eq(output.chunks()));
                    let old = strip_dkim_arc(&written, &domains).unwrap_or(written);
                    let drop = Head::read(&msg).dkim_arc(&domains);
                    removed += usize::from(!drop.is_empty());
                    assert!(output.remove(&drop), "refused: {drop:?}");
                    let mut new = Vec::with_capacity(output.len());
                    output.write_to(&mut new);
                    assert_eq!(new.len(), output.len());
                    assert_eq!(String::from_utf8_lossy(&new), String::from_utf8_lossy(&old));
                }
            }
        }
        // The fixtures that the injector signs, each with and without fields to take out.
        assert!(injected >= 40 && removed >= 30, "{injected} {removed}");
    }
}
