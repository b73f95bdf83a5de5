//! The top-level header fields of a message, byte ranges only: the cross-tenant check reads
//! them, DKIM/ARC removal drops a few, and the `Received:` line goes on top. Everything else
//! stays byte for byte (`X-MS-Exchange-*` included). The fields are the injector's reading of
//! the header block (`inject::header`), which the injector then reuses.

use std::borrow::Cow;

use crate::inject::header::{self, Block, Field};

/// A header field as the relay reads it (beside the injector's own `name` and `value`).
pub(crate) trait FieldExt {
    /// Whether the name is `name` (ASCII case ignored).
    fn is(&self, msg: &[u8], name: &str) -> bool;
    /// The value as it stands in the message: after the colon, folded, with its line ending.
    fn raw_value<'a>(&self, msg: &'a [u8]) -> &'a [u8];
    /// The value unfolded and trimmed (lossy UTF-8), for messages.
    fn text(&self, msg: &[u8]) -> String {
        unfold(self.raw_value(msg))
    }
}

impl FieldExt for Field {
    fn is(&self, msg: &[u8], name: &str) -> bool {
        self.name(msg).eq_ignore_ascii_case(name.as_bytes())
    }

    fn raw_value<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        &msg[self.value_start..self.end]
    }
}

/// A folded value as one line: each line trimmed, joined by single spaces (lossy UTF-8).
fn unfold(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.split(['\r', '\n'])
        .map(|l| l.trim_matches([' ', '\t']))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The top-level header block of a received message, read once: the cross-tenant check and
/// the DKIM/ARC removal share it (the removal as ranges, applied where the message is written).
pub(crate) struct Head<'a> {
    msg: &'a [u8],
    block: Block,
}

impl<'a> Head<'a> {
    /// Reads the top-level header block of `msg`.
    pub(crate) fn read(msg: &'a [u8]) -> Self {
        Head {
            msg,
            block: header::top(msg),
        }
    }

    /// The block as read, for the injector (which then does not read it again).
    pub(crate) fn into_block(self) -> Block {
        self.block
    }

    fn named(&self, name: &'static str) -> impl Iterator<Item = &Field> + '_ {
        self.block
            .fields
            .iter()
            .filter(move |f| f.is(self.msg, name))
    }

    /// Why the message may not go on under a tenant: every `X-MS-Exchange-CrossTenant-Id`
    /// must name `tenant_id`; without one, every `X-OriginatorOrg` must be one of
    /// `org_domains` (lower-case).
    pub(crate) fn cross_tenant_check(
        &self,
        tenant_id: &str,
        org_domains: &[String],
    ) -> Result<(), String> {
        let msg = self.msg;
        let mut ids = self.named("X-MS-Exchange-CrossTenant-Id").peekable();
        if ids.peek().is_some() {
            return match ids.find(|f| !unfolded_eq(f.raw_value(msg), tenant_id, false)) {
                None => Ok(()),
                Some(other) => Err(format!(
                    "X-MS-Exchange-CrossTenant-Id {:?} is not the tenant's id",
                    other.text(msg)
                )),
            };
        }
        let mut orgs = self.named("X-OriginatorOrg").peekable();
        if orgs.peek().is_none() {
            return Err(
                "neither X-MS-Exchange-CrossTenant-Id nor X-OriginatorOrg is present".into(),
            );
        }
        match orgs.find(|f| {
            !org_domains
                .iter()
                .any(|d| unfolded_eq(f.raw_value(msg), d, true))
        }) {
            None => Ok(()),
            Some(other) => Err(format!(
                "X-OriginatorOrg {:?} is not one of the tenant's domains",
                other.text(msg)
            )),
        }
    }

    /// The byte ranges of the tenant's own `DKIM-Signature` fields (`d=` one of `domains`)
    /// and of Microsoft's ARC sets (`ARC-Seal`/`ARC-Message-Signature` with
    /// `d=microsoft.com` and the `ARC-Authentication-Results` of the same instances), in
    /// order; empty when there is none.
    pub(crate) fn dkim_arc(&self, domains: &[String]) -> Vec<(usize, usize)> {
        let msg = self.msg;
        let mut drop: Vec<(usize, usize)> = Vec::new();
        let mut instances: Vec<Cow<'_, [u8]>> = Vec::new();
        let mut arc_results = false;
        for f in &self.block.fields {
            // Only names that start as these can be one of them.
            if !matches!(msg[f.start], b'D' | b'd' | b'A' | b'a') {
                continue;
            }
            let is_dkim = f.is(msg, "DKIM-Signature");
            let is_arc = f.is(msg, "ARC-Seal") || f.is(msg, "ARC-Message-Signature");
            arc_results |= f.is(msg, "ARC-Authentication-Results");
            if !is_dkim && !is_arc {
                continue;
            }
            let raw = f.raw_value(msg);
            let d = tag(raw, b"d").unwrap_or_default();
            if is_dkim && domains.iter().any(|x| d.eq_ignore_ascii_case(x.as_bytes())) {
                drop.push((f.start, f.end));
            } else if is_arc && d.eq_ignore_ascii_case(b"microsoft.com") {
                if let Some(i) = tag(raw, b"i") {
                    if !instances.contains(&i) {
                        instances.push(i);
                    }
                }
                drop.push((f.start, f.end));
            }
        }
        // Without an ARC set of Microsoft's there is no ARC-Authentication-Results to drop.
        if !instances.is_empty() && arc_results {
            for f in self.named("ARC-Authentication-Results") {
                // Only the first tag (`i=`) is read, not the whole (long) value.
                let i = arc_results_instance(f.raw_value(msg));
                if i.is_some_and(|i| instances.contains(&i)) {
                    drop.push((f.start, f.end));
                }
            }
            drop.sort_unstable();
        }
        drop
    }
}

/// `msg` without the byte ranges in `drop` (sorted, not overlapping).
pub(crate) fn without(msg: &[u8], drop: &[(usize, usize)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut pos = 0;
    for &(start, end) in drop {
        out.extend_from_slice(&msg[pos..start]);
        pos = end;
    }
    out.extend_from_slice(&msg[pos..]);
    out
}

/// Why a message may not go on under a tenant (see [`Head::cross_tenant_check`]).
#[cfg(test)]
pub(crate) fn cross_tenant_check(
    msg: &[u8],
    tenant_id: &str,
    org_domains: &[String],
) -> Result<(), String> {
    Head::read(msg).cross_tenant_check(tenant_id, org_domains)
}

/// The message without the tenant's own `DKIM-Signature` fields and Microsoft's ARC sets
/// (see [`Head::dkim_arc`]); `None` when there is none.
pub(crate) fn strip_dkim_arc(msg: &[u8], domains: &[String]) -> Option<Vec<u8>> {
    let drop = Head::read(msg).dkim_arc(domains);
    (!drop.is_empty()).then(|| without(msg, &drop))
}

/// ASCII white space as `char::is_whitespace` sees it (vertical tab included).
fn is_ws(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `s` without leading and trailing bytes for which `cut` holds.
fn trim_by(mut s: &[u8], cut: impl Fn(&u8) -> bool) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !cut(first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !cut(last) {
            break;
        }
        s = rest;
    }
    s
}

/// A folded value as one line, as [`unfold`] makes it but in bytes (each line trimmed of
/// spaces and tabs, joined by single spaces): borrowed when the value is one line already.
fn unfolded(raw: &[u8]) -> Cow<'_, [u8]> {
    let line = trim_by(raw, |b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    if !line.contains(&b'\r') && !line.contains(&b'\n') {
        return Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len());
    for piece in line
        .split(|&b| b == b'\r' || b == b'\n')
        .map(|l| trim_by(l, |b| matches!(b, b' ' | b'\t')))
        .filter(|l| !l.is_empty())
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(piece);
    }
    Cow::Owned(out)
}

/// Whether a field's value, unfolded and trimmed, is `want` (ASCII case ignored; with
/// `dots`, trailing dots of the value ignored), without building the string.
fn unfolded_eq(raw: &[u8], want: &str, dots: bool) -> bool {
    let v = unfolded(raw);
    let mut v: &[u8] = &v;
    if dots {
        while let [rest @ .., b'.'] = v {
            v = rest;
        }
    }
    // A byte that is not UTF-8 never equals `want` (UTF-8), as its lossy decoding would not.
    v.eq_ignore_ascii_case(want.as_bytes())
}

/// The value of tag `name` in a DKIM-Signature or ARC field's raw value (`tag=value` pairs
/// split on `;`), white space removed. Only that tag is read: the long `b=` and `bh=` values
/// are skipped, not copied; a value without inner white space is borrowed.
fn tag<'m>(raw: &'m [u8], name: &[u8]) -> Option<Cow<'m, [u8]>> {
    raw.split(|&b| b == b';').find_map(|t| {
        let eq = memchr::memchr(b'=', t)?;
        let (key, value) = (&t[..eq], &t[eq + 1..]);
        if !key.is_ascii() || !value.is_ascii() {
            // Unicode white space, as the lossy decoding reads it.
            let key = String::from_utf8_lossy(key);
            return key.trim().as_bytes().eq_ignore_ascii_case(name).then(|| {
                let v: String = String::from_utf8_lossy(value)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                Cow::Owned(v.into_bytes())
            });
        }
        if !trim_by(key, is_ws).eq_ignore_ascii_case(name) {
            return None;
        }
        let value = trim_by(value, is_ws);
        Some(if value.iter().any(is_ws) {
            Cow::Owned(value.iter().copied().filter(|b| !is_ws(b)).collect())
        } else {
            Cow::Borrowed(value)
        })
    })
}

/// The instance (`i=`) that an `ARC-Authentication-Results` value names first.
fn arc_results_instance(raw: &[u8]) -> Option<Cow<'_, [u8]>> {
    let first = raw.split(|&b| b == b';').next().unwrap_or_default();
    if !first.is_ascii() {
        let first = unfold(first);
        let i = first.trim().strip_prefix("i=")?;
        return Some(Cow::Owned(i.trim().as_bytes().to_vec()));
    }
    match unfolded(first) {
        Cow::Borrowed(v) => Some(Cow::Borrowed(trim_by(
            trim_by(v, is_ws).strip_prefix(b"i=")?,
            is_ws,
        ))),
        Cow::Owned(v) => Some(Cow::Owned(
            trim_by(trim_by(&v, is_ws).strip_prefix(b"i=")?, is_ws).to_vec(),
        )),
    }
}

/// Appends the current time as an RFC 5322 date, formatted once a second (per thread).
fn push_rfc5322_now(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    thread_local! {
        static LAST: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != now.timestamp() {
            *last = (
                now.timestamp(),
                now.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
            );
        }
        out.extend_from_slice(last.1.as_bytes());
    })
}

/// Our `Received:` field, ending like the message's lines (CRLF, or LF for a bare-LF message).
pub(crate) fn received_line(
    helo: &str,
    peer: std::net::IpAddr,
    hostname: &str,
    tls: bool,
    id: &str,
    crlf: bool,
) -> Vec<u8> {
    use std::io::Write as _;
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut out = Vec::with_capacity(128 + helo.len() + hostname.len());
    out.extend_from_slice(b"Received: from ");
    out.extend(
        helo.bytes()
            .filter(|b| b.is_ascii_graphic() && !b"()\\;".contains(b)),
    );
    // Writing to a Vec cannot fail.
    let _ = write!(out, " ([{peer}])");
    out.extend_from_slice(eol);
    out.extend_from_slice(b"\tby ");
    out.extend_from_slice(hostname.as_bytes());
    out.extend_from_slice(if tls {
        b" (sigsync relay) with ESMTPS id "
    } else {
        b" (sigsync relay) with ESMTP id "
    });
    out.extend_from_slice(id.as_bytes());
    out.push(b';');
    out.extend_from_slice(eol);
    out.push(b'\t');
    push_rfc5322_now(&mut out);
    out.extend_from_slice(eol);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const MSG: &[u8] =
        b"DKIM-Signature: v=1; a=rsa-sha256; d=contoso.com;\r\n s=selector1; bh=x\r\n\
ARC-Seal: i=1; a=rsa-sha256; d=microsoft.com; cv=none\r\n\
ARC-Message-Signature: i=1; a=rsa-sha256;\r\n\td=microsoft.com; s=arcselector\r\n\
ARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=none\r\n\
DKIM-Signature: v=1; d=list.example; s=s1\r\n\
X-MS-Exchange-CrossTenant-Id: 9B1C8A4E-1d2f-4c3b-8a7e-5f6d7c8b9a01\r\n\
X-OriginatorOrg: contoso.com\r\n\
Subject: x\r\n\r\nbody\r\nDKIM-Signature: not a header\r\n";

    #[test]
    fn fields_follow_folding_and_stop_at_the_body() {
        let f = header::top(MSG).fields;
        assert_eq!(f.len(), 8);
        assert!(f[0].is(MSG, "dkim-signature"));
        assert_eq!(
            f[0].text(MSG),
            "v=1; a=rsa-sha256; d=contoso.com; s=selector1; bh=x"
        );
        assert!(f[7].is(MSG, "Subject"));
    }

    #[test]
    fn the_tenant_dkim_signature_and_microsofts_arc_set_are_removed_and_nothing_else() {
        let out = strip_dkim_arc(MSG, &["contoso.com".into()]).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(
                "DKIM-Signature: v=1; d=list.example; s=s1\r\nX-MS-Exchange-CrossTenant-Id"
            ),
            "{out}"
        );
        assert!(!out.contains("ARC-"));
        assert!(out.ends_with("Subject: x\r\n\r\nbody\r\nDKIM-Signature: not a header\r\n"));
        assert_eq!(
            strip_dkim_arc(b"Subject: x\r\n\r\nb", &["contoso.com".into()]),
            None
        );
    }

    /// The removal as it was before the tag scan (every value unfolded, every tag decoded):
    /// the oracle for the property below.
    fn strip_by_full_parse(msg: &[u8], domains: &[String]) -> Option<Vec<u8>> {
        let tags = |value: &str| -> Vec<(String, String)> {
            value
                .split(';')
                .filter_map(|t| {
                    let (k, v) = t.split_once('=')?;
                    let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
                    Some((k.trim().to_ascii_lowercase(), v))
                })
                .collect()
        };
        let tag = |t: &[(String, String)], name: &str| {
            t.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        };
        let fields = header::top(msg).fields;
        let mut drop = Vec::new();
        let mut instances = HashSet::new();
        for f in &fields {
            let is_dkim = f.is(msg, "DKIM-Signature");
            let is_arc = f.is(msg, "ARC-Seal") || f.is(msg, "ARC-Message-Signature");
            if !is_dkim && !is_arc {
                continue;
            }
            let t = tags(&f.text(msg));
            let d = tag(&t, "d").unwrap_or_default();
            if is_dkim && domains.iter().any(|x| x.eq_ignore_ascii_case(&d)) {
                drop.push(*f);
            } else if is_arc && d.eq_ignore_ascii_case("microsoft.com") {
                instances.extend(tag(&t, "i"));
                drop.push(*f);
            }
        }
        for f in &fields {
            if f.is(msg, "ARC-Authentication-Results") {
                let v = f.text(msg);
                let i = v
                    .split(';')
                    .next()
                    .and_then(|s| s.trim().strip_prefix("i="));
                if i.is_some_and(|i| instances.contains(i.trim())) {
                    drop.push(*f);
                }
            }
        }
        if drop.is_empty() {
            return None;
        }
        drop.sort_by_key(|f| f.start);
        let mut out = Vec::new();
        let mut pos = 0;
        for f in drop {
            out.extend_from_slice(&msg[pos..f.start]);
            pos = f.end;
        }
        out.extend_from_slice(&msg[pos..]);
        Some(out)
    }

    /// White space as it appears around tags: none, spaces, tabs, or a fold.
    fn gap() -> impl proptest::strategy::Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "", " ", "\t", "\r\n ", "\r\n\t", " \r\n  ", "\u{0b}", "\u{0c}", "\u{a0}",
        ])
    }

    fn tag_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let name = proptest::sample::select(vec!["d", "D", "i", "I", "b", "bh", "s", "v", "cv"]);
        let value = proptest::sample::select(vec![
            "contoso.com",
            "Contoso.COM",
            "microsoft.com",
            "list.example",
            "1",
            "2",
            "x y",
            "AbC+/=\r\n\tdeF==",
            "micro\u{0b}soft.com",
            "microsoft.com\u{a0}",
            "contoso.\u{e9}",
            "",
        ]);
        (gap(), name, gap(), gap(), value, gap())
            .prop_map(|(a, n, b, c, v, d)| format!("{a}{n}{b}={c}{v}{d}"))
    }

    fn field_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let name = proptest::sample::select(vec![
            "DKIM-Signature",
            "dkim-signature",
            "ARC-Seal",
            "arc-message-signature",
            "ARC-Authentication-Results",
            "Subject",
        ]);
        (name, proptest::collection::vec(tag_text(), 0..6))
            .prop_map(|(n, tags)| format!("{n}:{}\r\n", tags.join(";")))
    }

    proptest::proptest! {
        #[test]
        fn reading_only_the_d_and_i_tags_removes_what_the_full_parse_removes(
            fields in proptest::collection::vec(field_text(), 0..8),
        ) {
            let msg = format!("{}\r\nbody\r\n", fields.concat()).into_bytes();
            let domains = ["contoso.com".to_string()];
            proptest::prop_assert_eq!(
                strip_dkim_arc(&msg, &domains),
                strip_by_full_parse(&msg, &domains)
            );
        }
    }

    /// The check as it was before it compared bytes (every value unfolded into a `String`):
    /// the oracle for the property below.
    fn check_by_strings(msg: &[u8], tenant_id: &str, org_domains: &[String]) -> Result<(), String> {
        let fields = header::top(msg).fields;
        let values = |name: &str| -> Vec<String> {
            fields
                .iter()
                .filter(|f| f.is(msg, name))
                .map(|f| f.text(msg))
                .collect()
        };
        let ids = values("X-MS-Exchange-CrossTenant-Id");
        if !ids.is_empty() {
            return match ids.iter().find(|v| !v.eq_ignore_ascii_case(tenant_id)) {
                None => Ok(()),
                Some(other) => Err(format!(
                    "X-MS-Exchange-CrossTenant-Id {other:?} is not the tenant's id"
                )),
            };
        }
        let orgs = values("X-OriginatorOrg");
        if orgs.is_empty() {
            return Err(
                "neither X-MS-Exchange-CrossTenant-Id nor X-OriginatorOrg is present".into(),
            );
        }
        match orgs.iter().find(|v| {
            !org_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(v.trim_end_matches('.')))
        }) {
            None => Ok(()),
            Some(other) => Err(format!(
                "X-OriginatorOrg {other:?} is not one of the tenant's domains"
            )),
        }
    }

    /// A value as senders write it: the right or a wrong id or domain, any case, white space
    /// and folds around it, trailing dots, bytes that are not UTF-8.
    fn tenant_value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let core = proptest::sample::select(vec![
            &b"9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01"[..],
            b"9B1C8A4E-1D2F-4C3B-8A7E-5F6D7C8B9A01",
            b"00000000-0000-0000-0000-000000000000",
            b"contoso.com",
            b"Contoso.COM",
            b"contoso.com..",
            b"fabrikam.com",
            b"contoso .com",
            b"contoso.com\xff",
            b"contoso.\xc3\xa9com",
            b"",
        ]);
        let ws = proptest::sample::select(vec![
            &b""[..],
            b" ",
            b"\t",
            b"\x0c",
            b"\r\n ",
            b"\r\n\t",
            b" \r\n  ",
            b"\r\n \r\n ",
        ]);
        (ws.clone(), core, ws).prop_map(|(a, c, b)| [a, c, b].concat())
    }

    fn tenant_field() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let name = proptest::sample::select(vec![
            &b"X-MS-Exchange-CrossTenant-Id"[..],
            b"x-ms-exchange-crosstenant-id",
            b"X-OriginatorOrg",
            b"X-ORIGINATORORG",
            b"Subject",
        ]);
        (name, tenant_value()).prop_map(|(n, v)| [n, b":", &v, b"\r\n"].concat())
    }

    proptest::proptest! {
        #[test]
        fn the_cross_tenant_check_decides_as_the_string_comparison_did(
            fields in proptest::collection::vec(tenant_field(), 0..5),
        ) {
            let msg = [fields.concat(), b"\r\nbody\r\n".to_vec()].concat();
            let id = "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01";
            let domains = ["contoso.com".to_string(), "contoso.co.uk".to_string()];
            proptest::prop_assert_eq!(
                cross_tenant_check(&msg, id, &domains),
                check_by_strings(&msg, id, &domains)
            );
        }
    }

    #[test]
    fn cross_tenant_id_must_name_the_tenant_and_originator_org_is_the_fallback() {
        let id = "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01";
        let doms = ["contoso.com".to_string()];
        assert_eq!(cross_tenant_check(MSG, id, &doms), Ok(()));
        let e = cross_tenant_check(MSG, "00000000-0000-0000-0000-000000000000", &doms).unwrap_err();
        assert!(e.contains("CrossTenant-Id"), "{e}");
        // A second, forged id anywhere in the header block fails the check too.
        let forged = [
            b"X-MS-Exchange-CrossTenant-Id: 00000000-0000-0000-0000-000000000000\r\n".as_slice(),
            MSG,
        ]
        .concat();
        assert!(cross_tenant_check(&forged, id, &doms).is_err());
        let org_only = b"X-OriginatorOrg: Contoso.com\r\nSubject: x\r\n\r\n";
        assert_eq!(cross_tenant_check(org_only, id, &doms), Ok(()));
        assert!(cross_tenant_check(org_only, id, &["fabrikam.com".into()]).is_err());
        assert!(cross_tenant_check(
            b"Subject: x\r\n\r\nX-OriginatorOrg: contoso.com\r\n",
            id,
            &doms
        )
        .is_err());
        // The header is read as mail clients and the injector read it: a field with white
        // space before its colon is that field (a forged id there fails the check), and an
        // mbox `From ` line before the header is not part of it.
        let spaced = [
            b"X-MS-Exchange-CrossTenant-Id \t: 00000000-0000-0000-0000-000000000000\r\n".as_slice(),
            MSG,
        ]
        .concat();
        assert!(cross_tenant_check(&spaced, id, &doms).is_err());
        let mbox = [
            b"From adele@contoso.com Fri Dec  4 10:00:00 2026\r\n".as_slice(),
            MSG,
        ]
        .concat();
        assert_eq!(cross_tenant_check(&mbox, id, &doms), Ok(()));
    }

    #[test]
    fn received_line_is_folded_and_keeps_the_message_line_ending() {
        let r = received_line(
            "exo (x)\\é;",
            "10.0.0.1".parse().unwrap(),
            "relay.test",
            true,
            "T1",
            true,
        );
        let r = String::from_utf8(r).unwrap();
        assert!(r.starts_with("Received: from exox ([10.0.0.1])\r\n\tby relay.test (sigsync relay) with ESMTPS id T1;\r\n\t"), "{r}");
        assert!(r.ends_with("+0000\r\n"));
        let lf = received_line("e", "::1".parse().unwrap(), "r", false, "T", false);
        assert!(!lf.contains(&b'\r') && lf.ends_with(b"\n"));
    }
}
