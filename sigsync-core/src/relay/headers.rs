//! The top-level header fields of a message, byte ranges only: the cross-tenant check reads
//! them, DKIM/ARC removal drops a few, and the `Received:` line goes on top. Everything else
//! stays byte for byte (`X-MS-Exchange-*` included).

use std::collections::HashSet;

/// One header field: `msg[start..end]`, the name at `msg[start..start + name_len]`, the
/// value (folded, with its line ending) after the colon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub start: usize,
    pub name_len: usize,
    pub end: usize,
}

impl Field {
    pub(crate) fn name<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        &msg[self.start..self.start + self.name_len]
    }

    pub(crate) fn is(&self, msg: &[u8], name: &str) -> bool {
        self.name(msg).eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value as it stands in the message: after the colon, folded, with its line ending.
    pub(crate) fn raw_value<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        &msg[self.start + self.name_len + 1..self.end]
    }

    /// The value unfolded and trimmed (lossy UTF-8).
    pub(crate) fn value(&self, msg: &[u8]) -> String {
        unfold(self.raw_value(msg))
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

/// The fields of the top-level header block, in order (stops at the blank line, or at the first
/// line that is neither a field nor a continuation).
pub(crate) fn fields(msg: &[u8]) -> Vec<Field> {
    // Room for the header of a message as Exchange hands it over, without regrowing.
    let mut out: Vec<Field> = Vec::with_capacity(32);
    let mut pos = 0;
    while pos < msg.len() {
        let end = memchr::memchr(b'\n', &msg[pos..]).map_or(msg.len(), |i| pos + i + 1);
        let line = &msg[pos..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            match out.last_mut() {
                Some(f) => f.end = end,
                None => break,
            }
        } else {
            let Some(colon) = memchr::memchr(b':', line) else {
                break;
            };
            let name = &line[..colon];
            if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
                break;
            }
            out.push(Field {
                start: pos,
                name_len: colon,
                end,
            });
        }
        pos = end;
    }
    out
}

/// Why a message may not go on under a tenant.
pub(crate) fn cross_tenant_check(
    msg: &[u8],
    tenant_id: &str,
    org_domains: &[String],
) -> Result<(), String> {
    let fields = fields(msg);
    let values = |name: &str| -> Vec<String> {
        fields
            .iter()
            .filter(|f| f.is(msg, name))
            .map(|f| f.value(msg))
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
        return Err("neither X-MS-Exchange-CrossTenant-Id nor X-OriginatorOrg is present".into());
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

/// The value of tag `name` in a DKIM-Signature or ARC field's raw value (`tag=value` pairs
/// split on `;`), white space removed. Only that tag is decoded: the long `b=` and `bh=` values
/// are skipped, not copied.
fn tag(raw: &[u8], name: &str) -> Option<String> {
    raw.split(|&b| b == b';').find_map(|t| {
        let eq = memchr::memchr(b'=', t)?;
        let key = String::from_utf8_lossy(&t[..eq]);
        key.trim().eq_ignore_ascii_case(name).then(|| {
            String::from_utf8_lossy(&t[eq + 1..])
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect()
        })
    })
}

/// The message without the tenant's own `DKIM-Signature` fields (`d=` one of `domains`) and
/// without Microsoft's ARC sets (`ARC-Seal`/`ARC-Message-Signature` with `d=microsoft.com`
/// and the `ARC-Authentication-Results` of the same instances); `None` when there is none.
pub(crate) fn strip_dkim_arc(msg: &[u8], domains: &[String]) -> Option<Vec<u8>> {
    let fields = fields(msg);
    let mut drop: Vec<&Field> = Vec::new();
    let mut instances = HashSet::new();
    for f in &fields {
        let is_dkim = f.is(msg, "DKIM-Signature");
        let is_arc = f.is(msg, "ARC-Seal") || f.is(msg, "ARC-Message-Signature");
        if !is_dkim && !is_arc {
            continue;
        }
        let raw = f.raw_value(msg);
        let d = tag(raw, "d").unwrap_or_default();
        if is_dkim && domains.iter().any(|x| x.eq_ignore_ascii_case(&d)) {
            drop.push(f);
        } else if is_arc && d.eq_ignore_ascii_case("microsoft.com") {
            if let Some(i) = tag(raw, "i") {
                instances.insert(i);
            }
            drop.push(f);
        }
    }
    // Without an ARC set of Microsoft's there is no ARC-Authentication-Results to drop.
    if !instances.is_empty() {
        for f in &fields {
            if f.is(msg, "ARC-Authentication-Results") {
                // Only the first tag (`i=`) is read, not the whole (long) value.
                let raw = f.raw_value(msg);
                let first = unfold(raw.split(|&b| b == b';').next().unwrap_or_default());
                let i = first.trim().strip_prefix("i=");
                if i.is_some_and(|i| instances.contains(i.trim())) {
                    drop.push(f);
                }
            }
        }
    }
    if drop.is_empty() {
        return None;
    }
    drop.sort_by_key(|f| f.start);
    let mut out = Vec::with_capacity(msg.len());
    let mut pos = 0;
    for f in drop {
        out.extend_from_slice(&msg[pos..f.start]);
        pos = f.end;
    }
    out.extend_from_slice(&msg[pos..]);
    Some(out)
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
        let f = fields(MSG);
        assert_eq!(f.len(), 8);
        assert!(f[0].is(MSG, "dkim-signature"));
        assert_eq!(
            f[0].value(MSG),
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
        let fields = fields(msg);
        let mut drop = Vec::new();
        let mut instances = HashSet::new();
        for f in &fields {
            let is_dkim = f.is(msg, "DKIM-Signature");
            let is_arc = f.is(msg, "ARC-Seal") || f.is(msg, "ARC-Message-Signature");
            if !is_dkim && !is_arc {
                continue;
            }
            let t = tags(&f.value(msg));
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
                let v = f.value(msg);
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
        proptest::sample::select(vec!["", " ", "\t", "\r\n ", "\r\n\t", " \r\n  "])
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
