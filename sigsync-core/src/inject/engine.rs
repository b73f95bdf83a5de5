//! The injector: scan, classify, decode the bodies, ask the policy, plan the edits, write.

use std::borrow::Cow;

use memchr::memmem;

use crate::signature::RenderedSignature;
use crate::LoopHeader;

use super::body::{decode_all, Body};
use super::classify;
use super::edit::{html_edit, text_edit};
use super::header;
use super::html;
use super::images;
use super::outcome::{Choice, Envelope, InjectError, Injected, MessageInfo, Outcome, SkipReason};
use super::structure::{self, Limits};
use super::text;
use super::writer::{self, Edit, Output, Stamp};

use crate::signature::{TEXT_MARKER_CLIENT, TEXT_MARKER_SERVER};

/// Insertions: (offset into the content, bytes).
pub(crate) type Inserts = Vec<(usize, Vec<u8>)>;

/// Settings of an [`Injector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectConfig {
    /// The loop-prevention header stamped on every message that leaves the injector.
    pub loop_header: LoopHeader,
    /// The deepest multipart nesting scanned; deeper messages fail (and pass through). At
    /// most [`InjectConfig::MAX_DEPTH`].
    pub max_depth: usize,
    /// The most MIME parts scanned; messages with more fail (and pass through). 1 to
    /// [`InjectConfig::MAX_PARTS`].
    pub max_parts: usize,
}

impl InjectConfig {
    /// The largest `max_depth` an injector accepts: the scanner recurses once per level, and
    /// at this depth it fits a 256 KiB thread stack even in a debug build (tested).
    pub const MAX_DEPTH: usize = 64;
    /// The largest `max_parts` an injector accepts (each part costs a few hundred bytes).
    pub const MAX_PARTS: usize = 100_000;
}

impl Default for InjectConfig {
    fn default() -> Self {
        InjectConfig {
            loop_header: LoopHeader::default(),
            max_depth: 32,
            max_parts: 1000,
        }
    }
}

/// Puts signatures into MIME messages. Cheap to share between threads (`Sync`, no state
/// besides its configuration).
#[derive(Debug, Clone)]
pub struct Injector {
    config: InjectConfig,
    line_crlf: Vec<u8>,
    line_lf: Vec<u8>,
}

/// Why planning stopped without edits.
pub(crate) enum Stop {
    Skip(SkipReason),
    Fail(InjectError),
}

impl From<InjectError> for Stop {
    fn from(e: InjectError) -> Self {
        Stop::Fail(e)
    }
}

impl Injector {
    /// An injector with this configuration (the loop header and the limits are validated).
    pub fn new(config: InjectConfig) -> crate::Result<Self> {
        config.loop_header.validate()?;
        if config.max_depth > InjectConfig::MAX_DEPTH {
            return Err(crate::Error::validation(
                "InjectConfig.max_depth",
                format!(
                    "must be at most {} (got {})",
                    InjectConfig::MAX_DEPTH,
                    config.max_depth
                ),
            ));
        }
        if config.max_parts == 0 || config.max_parts > InjectConfig::MAX_PARTS {
            return Err(crate::Error::validation(
                "InjectConfig.max_parts",
                format!(
                    "must be 1 to {} (got {})",
                    InjectConfig::MAX_PARTS,
                    config.max_parts
                ),
            ));
        }
        let line_crlf = config.loop_header.line().into_bytes();
        let mut line_lf = line_crlf.clone();
        line_lf.truncate(line_lf.len() - 2);
        line_lf.push(b'\n');
        Ok(Injector {
            config,
            line_crlf,
            line_lf,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &InjectConfig {
        &self.config
    }

    /// Injects the signature that `choose` picks for this message into `msg`, writing the
    /// message to send on into `out` (cleared first) whatever the outcome. `envelope`, when
    /// given, supplies sender and recipients (Bcc included); otherwise the headers do.
    pub fn inject<F>(
        &self,
        msg: &[u8],
        envelope: Option<&Envelope>,
        choose: F,
        out: &mut Vec<u8>,
    ) -> Outcome
    where
        F: FnOnce(&MessageInfo) -> Choice,
    {
        let (outcome, output) = self.prepare(msg, envelope, choose);
        output.write_to(out);
        outcome
    }

    /// As [`Injector::inject`], but returns the message to send on as an [`Output`] for the
    /// caller to write, with its exact length known first (one allocation of the right size).
    pub fn prepare<'a, F>(
        &'a self,
        msg: &'a [u8],
        envelope: Option<&Envelope>,
        choose: F,
    ) -> (Outcome, Output<'a>)
    where
        F: FnOnce(&MessageInfo) -> Choice,
    {
        self.prepare_read(msg, header::top(msg), envelope, choose)
    }

    /// As [`Injector::prepare`], with the top-level header block already read (by
    /// [`header::top`], e.g. by the relay for its own checks): it is not read again.
    pub(crate) fn prepare_read<'a, F>(
        &'a self,
        msg: &'a [u8],
        top: header::Block,
        envelope: Option<&Envelope>,
        choose: F,
    ) -> (Outcome, Output<'a>)
    where
        F: FnOnce(&MessageInfo) -> Choice,
    {
        debug_assert_eq!(top, header::top(msg), "a block of another message");
        let start = header::top_start(msg);
        let (processed, stamp) = self.stamp(msg, start, &top);
        let eol = eol_of(msg, start, &stamp);
        if processed {
            return (
                Outcome::Skipped(SkipReason::LoopHeader),
                Output::pass_through(msg, stamp),
            );
        }
        match guarded(|| self.run(msg, top, envelope, choose, stamp.clone(), eol)) {
            Ok((injected, output)) => (Outcome::Injected(injected), output),
            Err(stop) => {
                let outcome = match stop {
                    Stop::Skip(r) => Outcome::Skipped(r),
                    Stop::Fail(e) => Outcome::Failed(e),
                };
                (outcome, Output::pass_through(msg, stamp))
            }
        }
    }

    /// The message to send on when the message cannot be processed for a reason outside it
    /// (bad per-message input, such as a malformed user mapping): the original with the loop
    /// header, reported as [`Outcome::Failed`] with `error`.
    pub fn pass_through<'a>(&'a self, msg: &'a [u8], error: InjectError) -> (Outcome, Output<'a>) {
        let start = header::top_start(msg);
        let (_, stamp) = self.stamp(msg, start, &header::block(msg, start, msg.len()));
        (Outcome::Failed(error), Output::pass_through(msg, stamp))
    }

    /// Whether `msg` carries the loop header with the configured value (then it was processed
    /// before), and the edits that leave exactly one loop header with that value: other
    /// values (`no`, another tenant's, a forged one) are removed, and the line is inserted
    /// where it cannot change how the existing header lines are read (after a leading mbox
    /// `From ` line and after any leading continuation lines). `top` is the header block
    /// at `start`.
    fn stamp<'a>(&'a self, msg: &'a [u8], start: usize, top: &header::Block) -> (bool, Stamp<'a>) {
        let he = top.end;
        let lh = &self.config.loop_header;
        let mut kept = false;
        let mut edits = Stamp::new();
        for f in &top.fields {
            // A leading continuation line is no field, whatever it holds.
            if matches!(msg.get(f.start), Some(b' ' | b'\t'))
                || !f.name(msg).eq_ignore_ascii_case(lh.name.as_bytes())
            {
                continue;
            }
            if !kept && f.value(msg) == lh.value.as_bytes() {
                kept = true;
                continue;
            }
            edits.push((f.start, f.end, Cow::Borrowed(&[][..])));
        }
        if kept {
            return (true, edits);
        }
        let mut at = start;
        while at < he && matches!(msg.get(at), Some(b' ' | b'\t')) {
            at = memchr::memchr(b'\n', &msg[at..he]).map_or(he, |i| at + i + 1);
        }
        let crlf = eol_of(msg, start, &edits) == b"\r\n";
        let line: &'a [u8] = if crlf { &self.line_crlf } else { &self.line_lf };
        let bytes = if at == msg.len() && !msg.is_empty() && !msg.ends_with(b"\n") {
            // The message ends inside its header: the line goes after an eol of its own.
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let name_value = line.strip_suffix(eol).unwrap_or(line);
            Cow::Owned([eol, name_value].concat())
        } else {
            Cow::Borrowed(line)
        };
        edits.insert(0, (at, at, bytes));
        (false, edits)
    }

    /// Injects `signature` (no policy) into `msg`; see [`Injector::inject`].
    pub fn inject_with(
        &self,
        msg: &[u8],
        signature: &RenderedSignature,
        out: &mut Vec<u8>,
    ) -> Outcome {
        self.inject(msg, None, |_| Choice::Sign(signature.clone()), out)
    }

    fn run<'a, F>(
        &self,
        msg: &'a [u8],
        top: header::Block,
        envelope: Option<&Envelope>,
        choose: F,
        stamp: Stamp<'a>,
        eol: &'static [u8],
    ) -> Result<(Injected, Output<'a>), Stop>
    where
        F: FnOnce(&MessageInfo) -> Choice,
    {
        let limits = Limits {
            max_depth: self.config.max_depth,
            max_parts: self.config.max_parts,
        };
        let mut st = structure::scan(msg, limits, top)?;
        st.eol = eol;
        st.stamp_removed_ends = stamp.iter().filter(|e| e.1 > e.0).map(|e| e.1).collect();
        let top = &st.parts[0];
        if let Some(r) = classify::by_structure(&st) {
            return Err(Stop::Skip(r));
        }
        if let Some(r) = classify::auto_reply(msg, top) {
            return Err(Stop::Skip(r));
        }
        let (html_parts, text_parts) = classify::bodies(&st);
        if html_parts.is_empty() && text_parts.is_empty() {
            return Err(Stop::Skip(if classify::has_tnef(&st) {
                SkipReason::TnefOnly
            } else {
                SkipReason::NoTextBody
            }));
        }
        // Where readers disagree on where a header ends, an edit would be read differently
        // by some of them: the message passes through.
        if top.obs_colon
            || html_parts
                .iter()
                .chain(&text_parts)
                .any(|&i| st.parts[i].obs_colon)
        {
            return Err(Stop::Fail(InjectError::Malformed(
                "a header field has white space before its colon (obsolete syntax that \
                 readers do not agree on)"
                    .into(),
            )));
        }
        // Nor where they disagree on what a part is.
        if let Some(name) = st.parts.iter().find_map(|p| p.conflict) {
            return Err(Stop::Fail(InjectError::Malformed(format!(
                "a part has more than one {name} field (readers take either, and an edit \
                 of one would leave the other)"
            ))));
        }
        let htmls = decode_all(msg, &st, &html_parts, true)?;
        let texts = decode_all(msg, &st, &text_parts, false)?;
        // Armour makes a message signed or encrypted only in its new text: quoted history
        // (a reply to a clear-signed message) and HTML comments do not count.
        for b in htmls.iter().chain(texts.iter()) {
            let t = b.text();
            let at = match (&b.html, &b.plain) {
                (Some(h), _) => h.armour,
                (_, Some(p)) => text::armour(t, p.boundary.unwrap_or(t.len())),
                _ => None,
            };
            let Some(at) = at else { continue };
            let rest = &t.as_bytes()[at + html::ARMOUR.len()..];
            if rest.starts_with(b"MESSAGE-----") {
                return Err(Stop::Skip(SkipReason::Encrypted));
            }
            if rest.starts_with(b"SIGNED MESSAGE-----") {
                return Err(Stop::Skip(SkipReason::Signed));
            }
        }
        let html_target = target(&htmls);
        let text_target = target(&texts);
        if let Some(h) = html_target.and_then(|i| htmls[i].html.as_ref()) {
            if h.has_client_signature() {
                return Err(Stop::Skip(SkipReason::ClientSignature));
            }
            if h.has_server_signature() {
                return Err(Stop::Skip(SkipReason::AlreadySigned));
            }
        }
        if let Some(t) = text_target.map(|i| &texts[i]) {
            let newest = t
                .text()
                .get(..t.boundary().unwrap_or(t.text().len()))
                .unwrap_or_default();
            if newest.contains(TEXT_MARKER_CLIENT) {
                return Err(Stop::Skip(SkipReason::ClientSignature));
            }
            if newest.contains(TEXT_MARKER_SERVER) {
                return Err(Stop::Skip(SkipReason::AlreadySigned));
            }
        }
        let has_history = htmls
            .iter()
            .chain(texts.iter())
            .any(|b| b.boundary().is_some());
        let info = classify::message_info(msg, top, envelope, has_history);
        let sig = match choose(&info) {
            Choice::Sign(sig) => sig,
            Choice::NoSignature(reason) => return Err(Stop::Skip(SkipReason::Policy(reason))),
        };
        if let Some(t) = text_target.map(|i| &texts[i]) {
            let own = normalize_eol(sig.text.trim(), "\n");
            let own_crlf = own.replace('\n', "\r\n");
            let upto = t.boundary().unwrap_or(t.text().len());
            let region = t.text().get(..upto).unwrap_or_default().as_bytes();
            let found = |needle: &str| contains(region, needle.as_bytes());
            if !own.is_empty() && (found(&own) || found(&own_crlf)) {
                return Err(Stop::Skip(SkipReason::AlreadySigned));
            }
        }
        let mut stats = Injected::default();
        let mut edits: Vec<Edit<'_>> = Vec::new();
        let mut image_host = None;
        if let Some(ti) = html_target {
            let last = htmls.len() - 1;
            let disclaimer = sig
                .disclaimer_html
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .filter(|d| !html_ends_with(htmls[last].text(), d));
            let mut per_body: Vec<Vec<(usize, String)>> = vec![Vec::new(); htmls.len()];
            if !sig.html.is_empty() {
                let at = htmls[ti].html.as_ref().map_or(0, |h| h.signature_at());
                per_body[ti].push((at, sig.html.clone()));
                stats.html_parts += 1;
                stats.above_quote |= htmls[ti].boundary().is_some();
            }
            if let Some(d) = disclaimer {
                let at = htmls[last].html.as_ref().map_or(0, |h| h.end);
                per_body[last].push((at, d.to_owned()));
                stats.disclaimer = true;
            }
            for (b, ins) in htmls.iter().zip(&per_body) {
                let Some(h) = b.html.as_ref() else { continue };
                if h.open_at_end && !h.end_is_close && ins.iter().any(|(at, _)| *at == h.end) {
                    return Err(Stop::Fail(InjectError::Malformed(
                        "the HTML ends inside an unclosed comment, tag or raw-text element".into(),
                    )));
                }
            }
            for (b, ins) in htmls.into_iter().zip(per_body) {
                if ins.is_empty() {
                    continue;
                }
                if b.idx == html_parts[ti] && stats.html_parts > 0 {
                    image_host = Some(b.idx);
                }
                html_edit(msg, &st, b, ins, &mut edits)?;
            }
        }
        if let Some(ti) = text_target {
            let last = texts.len() - 1;
            let disclaimer = sig
                .disclaimer_text
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .filter(|d| !text::ends_with_disclaimer(texts[last].text(), d));
            let mut per_body: Vec<Vec<(usize, &str, bool)>> = vec![Vec::new(); texts.len()];
            if !sig.text.trim().is_empty() {
                let at = texts[ti].boundary().unwrap_or(texts[ti].text().len());
                per_body[ti].push((at, sig.text.as_str(), texts[ti].boundary().is_some()));
                stats.text_parts += 1;
                stats.above_quote |= texts[ti].boundary().is_some();
            }
            if let Some(d) = disclaimer {
                per_body[last].push((texts[last].text().len(), d, false));
                stats.disclaimer = true;
            }
            for (b, ins) in texts.into_iter().zip(per_body) {
                if !ins.is_empty() {
                    text_edit(msg, &st, b, ins, &mut edits)?;
                }
            }
        }
        if stats.html_parts == 0 && stats.text_parts == 0 && !stats.disclaimer {
            return Err(Stop::Skip(SkipReason::Policy("empty signature".into())));
        }
        if let (Some(host), false) = (image_host, sig.images.is_empty()) {
            stats.images = images::attach(msg, &st, host, &sig.images, &mut edits)?;
        }
        let boundaries: Vec<Vec<u8>> = st
            .parts
            .iter()
            .filter(|p| p.is_multipart())
            .filter_map(|p| p.ct.param("boundary").map(|b| b.into_owned()))
            .collect();
        let boundaries: Vec<&[u8]> = boundaries.iter().map(Vec::as_slice).collect();
        let output = writer::prepare(msg, stamp, edits, st.eol, &boundaries)?;
        Ok((stats, output))
    }
}

/// The line ending of the message: that of its first line past `start` (an mbox line) that
/// is not a removed loop header field. The stamp and every line the injector adds use it, and
/// injecting the output again finds the same one (what comes first is never ours).
fn eol_of(msg: &[u8], start: usize, removed: &Stamp<'_>) -> &'static [u8] {
    let mut next = start;
    while let Some(e) = removed.iter().find(|e| e.0 == next && e.1 > e.0) {
        next = e.1;
    }
    let at = memchr::memchr(b'\n', &msg[next.min(msg.len())..])
        .map(|i| next + i)
        .or_else(|| memchr::memchr(b'\n', msg));
    match at {
        Some(i) if i > 0 && msg[i - 1] == b'\r' => b"\r\n",
        Some(_) => b"\n",
        None => b"\r\n",
    }
}

/// Whether `needle` occurs in `hay`. Searches for a short prefix and compares the rest: a
/// searcher for the whole of a long needle (a signature) costs more to build than the search.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.len() > hay.len() {
        return false;
    }
    let prefix = &needle[..needle.len().min(16)];
    memmem::find_iter(hay, prefix).any(|i| hay[i..].starts_with(needle))
}

/// Runs `f`, turning a panic into a failure, so that mail passes through even on a bug.
/// Fuzzing builds let the panic through so the fuzzer sees it.
fn guarded<T>(f: impl FnOnce() -> Result<T, Stop>) -> Result<T, Stop> {
    #[cfg(not(fuzzing))]
    {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(_) => Err(Stop::Fail(InjectError::Internal(
                "panic while injecting".into(),
            ))),
        }
    }
    #[cfg(fuzzing)]
    {
        f()
    }
}

/// The body that gets the signature: the first with a reply boundary, else the last.
fn target(bodies: &[Body<'_>]) -> Option<usize> {
    if bodies.is_empty() {
        return None;
    }
    Some(
        bodies
            .iter()
            .position(|b| b.boundary().is_some())
            .unwrap_or(bodies.len() - 1),
    )
}

/// `s` with every line break (`\r\n` or `\n`) as `eol`, in one pass.
pub(crate) fn normalize_eol(s: &str, eol: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 32 + eol.len());
    let mut rest = s;
    while let Some(i) = memchr::memchr(b'\n', rest.as_bytes()) {
        let line = &rest[..i];
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push_str(eol);
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out
}

fn html_ends_with(doc: &str, disclaimer: &str) -> bool {
    let want = html::visible_text(disclaimer);
    if want.is_empty() {
        return false;
    }
    let mut from = doc.len().saturating_sub(disclaimer.len() * 4 + 4096);
    while !doc.is_char_boundary(from) {
        from -= 1;
    }
    // Start the tail at a tag so that we do not read half a tag as text.
    let tail = doc.get(from..).unwrap_or_default();
    let tail = tail.find('<').map_or(tail, |i| &tail[i..]);
    html::visible_text(tail).ends_with(&want)
}

#[cfg(test)]
mod tests {
    use super::normalize_eol;

    /// Every mix of line breaks and lone carriage returns becomes what the two replacements
    /// it stands for (`\r\n` → `\n`, then `\n` → eol) made of it.
    #[test]
    fn normalize_eol_equals_the_two_replacements_on_every_short_mix() {
        let pieces = ["a", "é", "\r", "\n", "\r\n", ""];
        let mut checked = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let s = [a, b, c, d].concat();
                        for eol in ["\n", "\r\n"] {
                            let want = s.replace("\r\n", "\n").replace('\n', eol);
                            assert_eq!(normalize_eol(&s, eol), want, "{s:?} {eol:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 6 * 6 * 6 * 6 * 2);
    }
}
