//! Signing at the end of the data: small messages on the network thread, larger ones on the
//! blocking pool within a deadline; whatever happens the message goes on.

use std::sync::Arc;
use std::time::Instant;

use super::config::secs;
use super::metrics::Event;
use super::runtime::Runtime;
use super::transaction::Txn;
use crate::inject::{Envelope, InjectError, Outcome, SignatureInjector};
use crate::signature::SenderData;

impl Txn {
    /// Runs the injector; whatever happens the message goes on. Messages up to
    /// `limits.inline_injection_bytes` are signed right here (tens of microseconds: less than
    /// handing them to another thread and back); larger ones off the async workers.
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
                inject(&self.tenant.injector, &body, &envelope, &sender)
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

    /// Injection on the blocking pool, at most `limits.injection_threads` at once, within
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
        let injector = self.tenant.injector.clone();
        let work = {
            let body = body.clone();
            let permit = rt.injection.clone();
            async move {
                let _permit = permit.acquire_owned().await;
                tokio::task::spawn_blocking(move || inject(&injector, &body, &envelope, &sender))
                    .await
            }
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(Ok(done)) => done,
            other => {
                let why = match other {
                    Err(_) => "injection ran past its deadline".to_owned(),
                    Ok(Err(e)) => format!("injection stopped: {e}"),
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

/// The message the tenant's injector makes, written out.
fn inject(
    injector: &SignatureInjector,
    body: &[u8],
    envelope: &Envelope,
    sender: &SenderData,
) -> (Outcome, Vec<u8>) {
    let (outcome, output) = injector.prepare_with_sender(body, Some(envelope), Some(sender));
    let mut out = Vec::with_capacity(output.len());
    output.write_to(&mut out);
    (outcome, out)
}
