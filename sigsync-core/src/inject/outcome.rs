//! What the injector tells its caller: the message facts the policy decides on, the policy's
//! choice, and the outcome (injected, skipped with a reason, or failed with an error).

use std::fmt;

use crate::signature::RenderedSignature;

/// The SMTP envelope, when the caller has it (it sees Bcc recipients the headers hide).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM.
    pub mail_from: Option<String>,
    /// RCPT TO, one entry per recipient.
    pub rcpt_to: Vec<String>,
}

/// Whether a message starts a conversation or continues one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A new message.
    New,
    /// A reply (In-Reply-To/References, a reply subject, or quoted history in the body).
    Reply,
    /// A forward (forward subject prefix).
    Forward,
}

/// Where the sender and recipients came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressSource {
    /// The SMTP envelope given by the caller.
    Envelope,
    /// The From, To and Cc headers.
    Headers,
}

/// What the signature policy sees of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// The sender address (MAIL FROM, else the From header), if any.
    pub sender: Option<String>,
    /// The recipients (RCPT TO, else To and Cc).
    pub recipients: Vec<String>,
    /// Where sender and recipients came from.
    pub source: AddressSource,
    /// New message, reply or forward.
    pub kind: MessageKind,
}

/// The policy's decision for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Insert this signature.
    Sign(RenderedSignature),
    /// Add nothing; the reason is reported as [`SkipReason::Policy`].
    NoSignature(String),
}

/// Why a message was passed through without a signature (not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The loop header is already on the message with the configured value (other values
    /// are replaced, and the message is processed).
    LoopHeader,
    /// Our own signature is already in the newest part of the message (no stacking in threads).
    AlreadySigned,
    /// A signature inserted by the compose-time add-in is in the newest part (combo mode).
    ClientSignature,
    /// S/MIME or PGP signed (a signature would break it).
    Signed,
    /// S/MIME or PGP encrypted.
    Encrypted,
    /// A calendar invite or response (text/calendar).
    Calendar,
    /// A report: delivery status (NDR) or read receipt.
    Report,
    /// An automatic message (Auto-Submitted other than `no`, `Precedence: auto_reply`/`junk`,
    /// X-Autoreply and kin).
    AutoReply,
    /// The body is only a TNEF (winmail.dat) blob.
    TnefOnly,
    /// No text/plain or text/html body to sign.
    NoTextBody,
    /// The policy chose no signature.
    Policy(String),
}

impl SkipReason {
    /// A short stable label for logs and reports, e.g. `signed`.
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::LoopHeader => "already_processed:loop_header",
            SkipReason::AlreadySigned => "already_processed:signature",
            SkipReason::ClientSignature => "client_signature",
            SkipReason::Signed => "signed",
            SkipReason::Encrypted => "encrypted",
            SkipReason::Calendar => "calendar",
            SkipReason::Report => "report",
            SkipReason::AutoReply => "auto_reply",
            SkipReason::TnefOnly => "tnef_only",
            SkipReason::NoTextBody => "no_text_body",
            SkipReason::Policy(_) => "policy",
        }
    }

    /// Whether this skip means the message was processed before (loop header or own signature).
    pub fn is_already_processed(&self) -> bool {
        matches!(self, SkipReason::LoopHeader | SkipReason::AlreadySigned)
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Policy(r) => write!(f, "policy: {r}"),
            other => f.write_str(other.label()),
        }
    }
}

/// Why injection failed; the message was passed through unchanged (plus the loop header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InjectError {
    /// The MIME structure is broken where we would have to change it.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Deeper nesting or more parts than the configured limits.
    #[error("message too complex: {0}")]
    TooComplex(String),
    /// A body uses a transfer encoding we do not decode, or its encoded data is invalid.
    #[error("cannot decode body: {0}")]
    Encoding(String),
    /// A body's charset is unknown, or its bytes are invalid in it.
    #[error("charset problem: {0}")]
    Charset(String),
    /// The signature policy could not decide (configuration or directory failure).
    #[error("signature policy failed: {0}")]
    Policy(String),
    /// The caller's per-message input was unusable (a malformed user mapping, an envelope
    /// address that is not UTF-8): the message passed through, so that no mail is lost.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A bug: an invariant of the injector broke.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<InjectError> for crate::Error {
    fn from(e: InjectError) -> Self {
        match e {
            InjectError::Internal(m) => crate::Error::Internal(m),
            other => crate::Error::validation("message", other.to_string()),
        }
    }
}

/// What was inserted, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected {
    /// HTML bodies that got the signature.
    pub html_parts: usize,
    /// Plain-text bodies that got the signature.
    pub text_parts: usize,
    /// Whether the signature went above quoted history (a reply boundary was found).
    pub above_quote: bool,
    /// Whether a disclaimer was added.
    pub disclaimer: bool,
    /// Inline images attached.
    pub images: usize,
}

/// The result of one injection. In every case the caller's buffer holds the message to send
/// on, with the loop header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The signature was inserted.
    Injected(Injected),
    /// Passed through unchanged (but for the loop header), for a reason that is not an error.
    Skipped(SkipReason),
    /// Passed through unchanged (but for the loop header) because of an error: alert on these.
    Failed(InjectError),
}

impl Outcome {
    /// `injected`, `skipped` or `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Injected(_) => "injected",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
        }
    }

    /// The skip reason or error text; `None` when injected.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Injected(_) => None,
            Outcome::Skipped(r) => Some(r.to_string()),
            Outcome::Failed(e) => Some(e.to_string()),
        }
    }

    /// Whether the signature was inserted.
    pub fn is_injected(&self) -> bool {
        matches!(self, Outcome::Injected(_))
    }

    /// Whether this is a failure (as opposed to an injection or a skip).
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}
