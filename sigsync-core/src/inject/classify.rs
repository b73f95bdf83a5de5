//! What kind of message this is: the skips that need no decoding (loop header, automatic
//! messages, signed or encrypted, calendar, reports, TNEF), which parts are the bodies a
//! reader sees, and the facts the policy decides on.

use super::header;
use super::outcome::{AddressSource, Envelope, MessageInfo, MessageKind, SkipReason};
use super::structure::{Part, Structure};

/// Automatic messages, from the top-level headers (RFC 3834 and Exchange's kin).
/// `X-Auto-Response-Suppress` is not among them: it asks others not to auto-reply to a
/// message, which Outlook sets on ordinary mail too.
pub(crate) fn auto_reply(msg: &[u8], top: &Part) -> Option<SkipReason> {
    const NAMES: &[&str] = &[
        "auto-submitted",
        "x-autoreply",
        "x-autorespond",
        "x-autoreply-from",
        "x-mail-autoreply",
        "precedence",
    ];
    for f in &top.fields {
        let raw_name = f.name(msg);
        let Some(name) = NAMES
            .iter()
            .find(|n| raw_name.eq_ignore_ascii_case(n.as_bytes()))
        else {
            continue;
        };
        let value = header::lower(f.value(msg));
        let first = value.split(';').next().unwrap_or_default().trim();
        let auto = match *name {
            "auto-submitted" => first != "no",
            "precedence" => matches!(first, "auto_reply" | "junk"),
            _ => true,
        };
        if auto {
            return Some(SkipReason::AutoReply);
        }
    }
    None
}

/// Skips decided by the structure alone. Forwarded messages (message/rfc822) are opaque and
/// do not count: a signed message forwarded as an attachment does not stop us.
pub(crate) fn by_structure(st: &Structure) -> Option<SkipReason> {
    let mut found: Option<SkipReason> = None;
    let rank = |r: &SkipReason| match r {
        SkipReason::Encrypted => 0,
        SkipReason::Signed => 1,
        SkipReason::Report => 2,
        _ => 3,
    };
    for (i, p) in st.parts.iter().enumerate() {
        let ct = &p.ct;
        let r = match (ct.main.as_str(), ct.sub.as_str()) {
            ("multipart", "signed") => Some(SkipReason::Signed),
            ("multipart", "encrypted") | ("application", "pgp-encrypted") => {
                Some(SkipReason::Encrypted)
            }
            ("application", "pkcs7-mime") | ("application", "x-pkcs7-mime") => {
                let t = ct
                    .param("smime-type")
                    .map(|t| header::lower(&t))
                    .unwrap_or_default();
                Some(if t == "signed-data" {
                    SkipReason::Signed
                } else {
                    SkipReason::Encrypted
                })
            }
            ("multipart", "report") => Some(SkipReason::Report),
            ("message", "delivery-status") | ("message", "disposition-notification") if i == 0 => {
                Some(SkipReason::Report)
            }
            ("text", "calendar") => Some(SkipReason::Calendar),
            _ => None,
        };
        if let Some(r) = r {
            if found.as_ref().is_none_or(|f| rank(&r) < rank(f)) {
                found = Some(r);
            }
        }
    }
    found
}

/// Whether any part is a TNEF blob (winmail.dat).
pub(crate) fn has_tnef(st: &Structure) -> bool {
    st.parts
        .iter()
        .any(|p| p.ct.main == "application" && (p.ct.sub == "ms-tnef" || p.ct.sub == "vnd.ms-tnef"))
}

/// The bodies a reader sees, in document order: (html parts, text parts).
///
/// multipart/alternative: every child; multipart/related: its root; multipart/mixed and
/// others: the first child, plus later inline text, alternative and related parts (Apple Mail
/// puts text between attachments; a signature image wraps such a part in a related). Attachments and message/rfc822 parts are never bodies.
pub(crate) fn bodies(st: &Structure) -> (Vec<usize>, Vec<usize>) {
    let mut html = Vec::new();
    let mut text = Vec::new();
    collect(st, 0, &mut html, &mut text);
    (html, text)
}

fn collect(st: &Structure, i: usize, html: &mut Vec<usize>, text: &mut Vec<usize>) {
    let Some(p) = st.parts.get(i) else { return };
    if p.is_multipart() {
        match p.ct.sub.as_str() {
            "alternative" => {
                for &c in &p.children {
                    collect(st, c, html, text);
                }
            }
            "related" => {
                // The root is the first child (the `start` parameter is rare and points there).
                if let Some(&r) = p.children.first() {
                    collect(st, r, html, text);
                }
            }
            _ => {
                for (n, &c) in p.children.iter().enumerate() {
                    let Some(cp) = st.parts.get(c) else { continue };
                    let inline_body = !cp.attachment
                        && (cp.ct.main == "text"
                            || (cp.ct.main == "multipart"
                                && matches!(
                                    cp.ct.sub.as_str(),
                                    "related" | "alternative" | "mixed"
                                )));
                    if n == 0 || inline_body {
                        collect(st, c, html, text);
                    }
                }
            }
        }
        return;
    }
    // A part without a blank line after its header still has a body to readers (empty, or
    // starting straight after the last field): its edit adds the blank line first. A message
    // of no bytes at all is nothing to sign.
    if p.attachment || p.ct.main != "text" || (i == 0 && p.start == p.end) {
        return;
    }
    match p.ct.sub.as_str() {
        "html" => html.push(i),
        "plain" => text.push(i),
        _ => {}
    }
}

const FORWARD_PREFIXES: &[&str] = &[
    "fw:",
    "fwd:",
    "wg:",
    "tr:",
    "rv:",
    "i:",
    "vs:",
    "vb:",
    "doorst:",
    "enc:",
    "fs:",
    "转发:",
    "轉寄:",
    "pd:",
    "továbbítás:",
];
const REPLY_PREFIXES: &[&str] = &[
    "re:", "aw:", "sv:", "antw:", "odp:", "ris:", "r:", "ref:", "回复:", "答复:", "回覆:", "vá:",
];

/// Sender, recipients and kind for the policy.
pub(crate) fn message_info(
    msg: &[u8],
    top: &Part,
    envelope: Option<&Envelope>,
    has_history: bool,
) -> MessageInfo {
    // One pass over the top-level fields for everything the policy needs.
    let mut from = Vec::new();
    let mut rcpt = Vec::new();
    let mut subject = None;
    let mut threaded = false;
    for f in &top.fields {
        let name = f.name(msg);
        if envelope.is_none() {
            if name.eq_ignore_ascii_case(b"from") && from.is_empty() {
                header::addresses(f.value(msg), &mut from);
            } else if name.eq_ignore_ascii_case(b"to") || name.eq_ignore_ascii_case(b"cc") {
                header::addresses(f.value(msg), &mut rcpt);
            }
        }
        if subject.is_none() && name.eq_ignore_ascii_case(b"subject") {
            subject = Some(String::from_utf8_lossy(f.value(msg)).to_lowercase());
        }
        threaded |=
            name.eq_ignore_ascii_case(b"in-reply-to") || name.eq_ignore_ascii_case(b"references");
    }
    let (sender, recipients, source) = match envelope {
        Some(env) => (
            env.mail_from.clone().filter(|s| !s.trim().is_empty()),
            env.rcpt_to.clone(),
            AddressSource::Envelope,
        ),
        None => (from.into_iter().next(), rcpt, AddressSource::Headers),
    };
    let subject = subject.unwrap_or_default();
    let subject = subject.trim_start();
    let kind = if FORWARD_PREFIXES.iter().any(|p| subject.starts_with(p)) {
        MessageKind::Forward
    } else if threaded || has_history || REPLY_PREFIXES.iter().any(|p| subject.starts_with(p)) {
        MessageKind::Reply
    } else {
        MessageKind::New
    };
    MessageInfo {
        sender,
        recipients,
        source,
        kind,
    }
}
