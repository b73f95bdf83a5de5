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
    ) -> (Outcome, Vec<u8>) {
        let started = Instant::now();
        let (outcome, out) =
            if body.len() as u64 <= self.snapshot.config.limits.inline_injection_bytes {
                sign(&self.tenant, &body, &envelope, &sender)
            } else {
                self.inject_off_thread(rt, body, envelope, sender).await
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
    ) -> (Outcome, Vec<u8>) {
        let deadline = secs(self.snapshot.config.timeouts.injection);
        let body = Arc::new(body);
        let tenant = self.tenant.clone();
        let work = {
            let body = body.clone();
            rt.injection
                .run(move || sign(&tenant, &body, &envelope, &sender))
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

/// The message the tenant's injector makes, written out; when it signed the message and the
/// tenant asks for it, without the tenant's DKIM signature and Microsoft's ARC set (their
/// removal scans the header too, so it runs wherever the signing does).
fn sign(
    tenant: &Tenant,
    body: &[u8],
    envelope: &Envelope,
    sender: &SenderData,
) -> (Outcome, Vec<u8>) {
    let (outcome, output) = tenant
        .injector
        .prepare_with_sender(body, Some(envelope), Some(sender));
    let mut out = Vec::with_capacity(output.len());
    output.write_to(&mut out);
    if matches!(outcome, Outcome::Injected(_)) && tenant.dkim_arc == DkimArc::Strip {
        if let Some(stripped) = headers::strip_dkim_arc(&out, &tenant.domains) {
            out = stripped;
        }
    }
    (outcome, out)
}
