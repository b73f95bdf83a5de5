//! The signature service's per-message call: the signature engine's policy and templates
//! joined to the injector, built from one configuration.

use std::cell::RefCell;
use std::sync::Arc;

use super::engine::{InjectConfig, Injector};
use super::header;
use super::outcome::{Choice, Envelope, InjectError, MessageInfo, MessageKind, Outcome};
use super::writer::Output;
use crate::auth::TokenProvider;
use crate::signature::{
    self, MessageContext, Origin, SenderData, SignatureConfig, SignatureEngine, UserAttributes,
};
use crate::Result;

/// Chooses, renders and injects the signature for each message. Cheap to share between
/// threads (`Send + Sync`); build it once per configuration.
///
/// ```
/// use sigsync_core::inject::SignatureInjector;
/// use sigsync_core::signature::SignatureConfig;
///
/// let config = SignatureConfig::from_toml_str(r#"
///     accepted_domains = ["contoso.com"]
///     [signatures.standard]
///     html = "<p>{{ displayName }}</p>"
///     text = "{{ displayName }}"
///     [[rules]]
///     name = "everyone"
///     signature = "standard"
/// "#)?;
/// let service = SignatureInjector::from_config(&config, None)?;
/// let msg = b"From: adele@contoso.com\r\nTo: bob@example.org\r\nSubject: Hi\r\n\
///             Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n";
/// let user = sigsync_core::signature::UserAttributes {
///     display_name: Some("Adele Vance".into()),
///     ..Default::default()
/// };
/// let mut out = Vec::new();
/// let outcome = service.inject(msg, None, Some(&user), &mut out);
/// assert!(outcome.is_injected(), "{outcome:?}");
/// assert!(String::from_utf8_lossy(&out).contains("Adele Vance"));
/// # Ok::<(), sigsync_core::Error>(())
/// ```
pub struct SignatureInjector {
    engine: Arc<SignatureEngine>,
    injector: Injector,
}

impl SignatureInjector {
    /// Joins `engine` to an injector that stamps the engine's loop header (one header for
    /// the whole service).
    pub fn new(engine: Arc<SignatureEngine>) -> Result<Self> {
        let config = InjectConfig {
            loop_header: engine.loop_header().clone(),
            ..InjectConfig::default()
        };
        Ok(SignatureInjector {
            injector: Injector::new(config)?,
            engine,
        })
    }

    /// Builds the engine from a configuration (a Graph directory needs `tokens`).
    pub fn from_config(
        config: &SignatureConfig,
        tokens: Option<Arc<dyn TokenProvider>>,
    ) -> Result<Self> {
        Self::new(Arc::new(config.engine(tokens)?))
    }

    /// The signature engine.
    pub fn engine(&self) -> &SignatureEngine {
        &self.engine
    }

    /// The injector.
    pub fn injector(&self) -> &Injector {
        &self.injector
    }

    /// Injects the signature the policy chooses for `msg` into `out`. Sender and recipients
    /// come from `envelope` when given (so Bcc counts), else from the headers; `user`
    /// replaces the directory's attributes for the sender. Whatever happens, `out` holds the
    /// message to send on, with the loop header; a policy that cannot decide (a directory
    /// that must be asked asynchronously, a broken configuration) is a failure, not a skip.
    pub fn inject(
        &self,
        msg: &[u8],
        envelope: Option<&Envelope>,
        user: Option<&UserAttributes>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let (outcome, output) = self.prepare(msg, envelope, user);
        output.write_to(out);
        outcome
    }

    /// As [`SignatureInjector::inject`], but returns the message to send on as an [`Output`]
    /// for the caller to write, with its exact length known first (one allocation of the
    /// right size, e.g. a Python `bytes`).
    pub fn prepare<'a>(
        &'a self,
        msg: &'a [u8],
        envelope: Option<&Envelope>,
        user: Option<&UserAttributes>,
    ) -> (Outcome, Output<'a>) {
        // With `user`, group rules decide on `user.groups` or the in-memory directory, as
        // client-side rendering does: the sender gets the same rule either way.
        self.prepare_by(msg, None, envelope, |ctx| match user {
            Some(attrs) => self.engine.choose_for(ctx, Some(attrs), Origin::Server),
            None => self.engine.choose_sync(ctx),
        })
    }

    /// As [`SignatureInjector::prepare`], with the sender's attributes and groups looked up
    /// beforehand ([`SignatureEngine::sender_data`], asynchronously): no directory call is
    /// made here. `None` asks the in-memory directory, as `prepare` does.
    pub fn prepare_with_sender<'a>(
        &'a self,
        msg: &'a [u8],
        envelope: Option<&Envelope>,
        sender: Option<&SenderData>,
    ) -> (Outcome, Output<'a>) {
        self.prepare_by(msg, None, envelope, |ctx| match sender {
            Some(data) => self.engine.choose_with(ctx, data, Origin::Server),
            None => self.engine.choose_sync(ctx),
        })
    }

    /// As [`SignatureInjector::prepare_with_sender`], with the top-level header block already
    /// read by [`header::top`] (the relay reads it for its own checks).
    #[cfg(feature = "relay")]
    pub(crate) fn prepare_read_with_sender<'a>(
        &'a self,
        msg: &'a [u8],
        top: header::Block,
        envelope: &Envelope,
        sender: &SenderData,
    ) -> (Outcome, Output<'a>) {
        self.prepare_by(msg, Some(top), Some(envelope), |ctx| {
            self.engine.choose_with(ctx, sender, Origin::Server)
        })
    }

    /// The injector with `choose` as its policy; a policy that cannot decide is a failure.
    fn prepare_by<'a>(
        &'a self,
        msg: &'a [u8],
        top: Option<header::Block>,
        envelope: Option<&Envelope>,
        choose: impl Fn(&MessageContext) -> Result<signature::Choice>,
    ) -> (Outcome, Output<'a>) {
        let policy_error = RefCell::new(None);
        let top = top.unwrap_or_else(|| header::top(msg));
        let (outcome, output) =
            self.injector
                .prepare_read(msg, top, envelope, |info| match choose(&context(info)) {
                    Ok(signature::Choice::Sign(sig)) => Choice::Sign(sig),
                    Ok(signature::Choice::NoSignature(reason)) => {
                        Choice::NoSignature(reason.to_string())
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        *policy_error.borrow_mut() = Some(reason.clone());
                        Choice::NoSignature(reason)
                    }
                });
        let outcome = match (outcome, policy_error.into_inner()) {
            (Outcome::Skipped(_), Some(error)) => Outcome::Failed(InjectError::Policy(error)),
            (outcome, _) => outcome,
        };
        (outcome, output)
    }
}

impl SignatureInjector {
    /// The message to send on when the caller's per-message input is unusable (a malformed
    /// user mapping, an envelope address that is not UTF-8): the original with the loop
    /// header, as [`Outcome::Failed`] with [`InjectError::InvalidInput`]. Bindings use it
    /// so that bad input never drops mail.
    pub fn pass_through<'a>(
        &'a self,
        msg: &'a [u8],
        reason: impl Into<String>,
    ) -> (Outcome, Output<'a>) {
        self.injector
            .pass_through(msg, InjectError::InvalidInput(reason.into()))
    }
}

/// What the policy needs to know of a message.
fn context(info: &MessageInfo) -> MessageContext {
    MessageContext {
        sender: info.sender.clone().unwrap_or_default(),
        recipients: info.recipients.clone(),
        kind: match info.kind {
            MessageKind::New => signature::MessageKind::New,
            MessageKind::Reply | MessageKind::Forward => signature::MessageKind::Reply,
        },
    }
}
