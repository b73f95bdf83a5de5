//! Placement in plain text, which has no structural markers (reply-markers.md §0.2, §3.3, §4):
//! the first of a separator line (`-----Original Message-----` and its localized and
//! dash-framed kin, 32 underscores, Apple's "Begin forwarded message:"), an attribution line
//! (`On … wrote:` and localized forms, also wrapped onto two lines), a `From:` header block
//! with at least one more label (localized), or `>` quoting that runs to the end. A sign-off
//! directly above the boundary stays with the new reply.

/// What the scan found in one plain-text body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TextPlacement {
    /// Start of the line where the quoted history begins.
    pub boundary: Option<usize>,
}

const ATTRIBUTION_ENDINGS: &[&str] = &[
    "wrote:",
    "said:",
    "schrieb:",
    "a écrit :",
    "a écrit:",
    "escribió:",
    "ha scritto:",
    "escreveu:",
    "schreef:",
    "pisze:",
    "napisał(a):",
    "skrev:",
    "napsal(a):",
    "napísal(a):",
    "ezt írta:",
    "şunu yazdı:",
    "пишет:",
    "пише:",
    "написал:",
    "написала:",
    "写道：",
    "写道:",
    "寫道:",
    "寫道：",
    "のメッセージ:",
    "작성:",
    "작성하였습니다:",
    "het volgende geschreven:",
    "följande:",
];
const OPENERS: &[&str] = &[
    "on ", "am ", "le ", "el ", "il ", "em ", "op ", "w dniu ", "dnia ", "den ", "dne ",
];
const FORWARD_LINES: &[&str] = &[
    "begin forwarded message:",
    "anfang der weitergeleiteten nachricht:",
    "début du message réexpédié :",
    "début du message transféré :",
    "inicio del mensaje reenviado:",
    "inizio messaggio inoltrato:",
    "begin doorgestuurd bericht:",
    "início da mensagem encaminhada:",
    "start på videresendt besked:",
    "vidarebefordrat mejl:",
];
const FROM_LABELS: &[&str] = &[
    "from:",
    "von:",
    "de :",
    "de:",
    "da:",
    "van:",
    "från:",
    "fra:",
    "od:",
    "от:",
    "发件人:",
    "发件人：",
    "寄件者:",
    "lähettäjä:",
    "feladó:",
    "kimden:",
    "보낸 사람:",
];
const OTHER_LABELS: &[&str] = &[
    "sent:",
    "date:",
    "to:",
    "cc:",
    "subject:",
    "gesendet:",
    "datum:",
    "an:",
    "betreff:",
    "envoyé :",
    "envoyé:",
    "à :",
    "à:",
    "objet :",
    "objet:",
    "enviado:",
    "fecha:",
    "para:",
    "asunto:",
    "inviato:",
    "data:",
    "a:",
    "oggetto:",
    "verzonden:",
    "aan:",
    "onderwerp:",
    "enviada em:",
    "assunto:",
    "skickat:",
    "till:",
    "ämne:",
    "sendt:",
    "til:",
    "emne:",
    "dato:",
    "lähetetty:",
    "vastaanottaja:",
    "aihe:",
    "wysłano:",
    "do:",
    "temat:",
    "odesláno:",
    "komu:",
    "předmět:",
    "отправлено:",
    "кому:",
    "тема:",
    "发送时间:",
    "收件人:",
    "主题:",
    "보낸 날짜:",
    "받는 사람:",
    "제목:",
    "elküldve:",
    "címzett:",
    "tárgy:",
    "gönderilen:",
    "kime:",
    "konu:",
    "kopia:",
    "копия:",
    "抄送:",
    "참조:",
    "dw:",
    "kopie:",
];

struct Line<'a> {
    start: usize,
    text: &'a str,
}

fn lines(s: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in s.bytes().enumerate() {
        if c == b'\n' {
            let t = s.get(start..i).unwrap_or_default();
            out.push(Line {
                start,
                text: t.strip_suffix('\r').unwrap_or(t),
            });
            start = i + 1;
        }
    }
    if start < s.len() {
        out.push(Line {
            start,
            text: s.get(start..).unwrap_or_default(),
        });
    }
    out
}

fn is_separator(t: &str) -> bool {
    let t = t.trim();
    if t.len() >= 10 && t.bytes().all(|c| c == b'_') {
        return true;
    }
    let lower = t.to_lowercase();
    if FORWARD_LINES.contains(&lower.as_str()) {
        return true;
    }
    let dash = |c: char| c == '-' || c == '‐';
    let lead = t.chars().take_while(|&c| dash(c)).count();
    let trail = t.chars().rev().take_while(|&c| dash(c)).count();
    if lead < 2 || trail < 2 || t.chars().count() <= lead + trail || t.len() > 100 {
        return false;
    }
    let inner = t.trim_matches(dash).trim();
    !inner.is_empty()
        && inner.split_whitespace().count() <= 7
        && !inner.contains("PGP")
        && inner.chars().any(|c| c.is_alphabetic())
}

fn is_attribution(lower: &str) -> bool {
    let t = lower.trim_end();
    t.len() < 400
        && (ATTRIBUTION_ENDINGS.iter().any(|e| t.ends_with(e))
            || (t.contains("schrieb") && t.ends_with("uhr:")))
}

fn label_of(lower: &str) -> Option<bool> {
    let t = lower.trim_start_matches(['*', ' ']);
    if FROM_LABELS.iter().any(|l| t.starts_with(l)) {
        Some(true)
    } else if OTHER_LABELS.iter().any(|l| t.starts_with(l)) {
        Some(false)
    } else {
        None
    }
}

/// Whether a line can start the history at all (cheap test before the lowercasing ones):
/// every rule needs a colon, a dash or underscore run, or an attribution opener.
fn candidate(t: &str) -> bool {
    let b = t.trim_start().as_bytes();
    memchr::memchr(b':', b).is_some()
        || t.contains('：')
        || matches!(b.first(), Some(b'-' | b'_'))
        || t.trim_start().starts_with('‐')
        || OPENERS
            .iter()
            .any(|o| b.len() >= o.len() && b[..o.len()].eq_ignore_ascii_case(o.as_bytes()))
}

/// Finds where the quoted history starts in a plain-text body.
pub(crate) fn scan(s: &str) -> TextPlacement {
    let ls = lines(s);
    let n = ls.len();
    // quoted_tail[i]: every non-blank line from i on starts with '>'.
    let mut quoted_tail = vec![true; n + 1];
    for i in (0..n).rev() {
        let t = ls[i].text.trim();
        quoted_tail[i] = quoted_tail[i + 1] && (t.is_empty() || t.starts_with('>'));
    }
    let next_nonblank = |i: usize| (i + 1..n).find(|&k| !ls[k].text.trim().is_empty());
    for i in 0..n {
        let t = ls[i].text;
        if t.trim().is_empty() {
            continue;
        }
        let boundary = Some(ls[i].start);
        if t.trim_start().starts_with('>') {
            if quoted_tail[i] {
                return TextPlacement { boundary };
            }
            continue;
        }
        if !candidate(t) {
            continue;
        }
        if is_separator(t) {
            return TextPlacement { boundary };
        }
        let lower = t.to_lowercase();
        let followed_by_quote = next_nonblank(i)
            .is_some_and(|k| ls[k].text.trim_start().starts_with('>') && quoted_tail[k]);
        if is_attribution(&lower) || (followed_by_quote && lower.trim_end().ends_with(':')) {
            return TextPlacement { boundary };
        }
        if let Some(k) = next_nonblank(i).filter(|&k| k == i + 1) {
            let wrapped = format!("{} {}", lower.trim_end(), ls[k].text.trim().to_lowercase());
            if OPENERS.iter().any(|o| lower.trim_start().starts_with(o)) && is_attribution(&wrapped)
            {
                return TextPlacement { boundary };
            }
        }
        if let Some(from) = label_of(&lower) {
            let mut labels = 1;
            let mut has_from = from;
            for l in ls.iter().skip(i + 1).take(5) {
                match label_of(&l.text.to_lowercase()) {
                    Some(f) => {
                        labels += 1;
                        has_from |= f;
                    }
                    None => break,
                }
            }
            if labels >= 2 && has_from {
                return TextPlacement { boundary };
            }
        }
    }
    TextPlacement { boundary: None }
}

/// Where the first PGP armour line that starts a line of `s[..upto]` (the newest text)
/// begins, if any.
pub(crate) fn armour(s: &str, upto: usize) -> Option<usize> {
    let region = s.as_bytes().get(..upto)?;
    memchr::memmem::find_iter(region, super::html::ARMOUR).find(|&i| {
        let line_start = region[..i]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |n| n + 1);
        region[line_start..i]
            .iter()
            .all(|&c| c == b' ' || c == b'\t')
    })
}

/// Collapses runs of whitespace to one space and trims.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Whether the text ends with the disclaimer (quote prefixes and whitespace ignored).
pub(crate) fn ends_with_disclaimer(s: &str, disclaimer: &str) -> bool {
    let want = collapse_ws(disclaimer);
    if want.is_empty() {
        return false;
    }
    let mut from = s.len().saturating_sub(want.len() * 4 + 1024);
    while !s.is_char_boundary(from) {
        from -= 1;
    }
    let tail: String = s
        .get(from..)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim_start_matches(['>', ' ']))
        .collect::<Vec<_>>()
        .join("\n");
    collapse_ws(&tail).ends_with(&want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<&str> {
        scan(s).boundary.map(|p| &s[p..])
    }

    #[test]
    fn outlook_separator_and_header_block_without_separator() {
        let s = "Hi\r\n\r\nAnna\r\n\r\n-----Original Message-----\r\nFrom: X\r\n";
        assert!(b(s).unwrap().starts_with("-----Original"));
        let s = "Hi\n\nAnna\n\nFrom: X <x@y>\nSent: Monday\nTo: Y\nSubject: RE: z\n\nold";
        assert!(b(s).unwrap().starts_with("From: X"));
        let s = "Hallo\n\nVon: X\nGesendet: Montag\nAn: Y\n";
        assert!(b(s).unwrap().starts_with("Von:"));
    }

    #[test]
    fn localized_separators_and_underscores() {
        for sep in [
            "-----Ursprüngliche Nachricht-----",
            "-------- Original message --------",
            "------------------ 原始邮件 ------------------",
            "________________________________",
            "Begin forwarded message:",
        ] {
            let s = format!("Hi\n\n{sep}\nold\n");
            assert!(b(&s).unwrap().starts_with(sep), "{sep}");
        }
        assert_eq!(b("Hi\n-- \nsig\n-----BEGIN PGP SIGNATURE-----\n"), None);
    }

    #[test]
    fn attribution_lines_plain_wrapped_and_localized() {
        let s =
            "Hi\n\nOn Mon, Jan 1, 2024 at 10:00 AM Anna Schmidt <anna@x.com>\nwrote:\n\n> old\n";
        assert!(b(s).unwrap().starts_with("On Mon"));
        let s = "Salut\n\nLe 3 mars 2024, Émilie a écrit :\n> vieux\n";
        assert!(b(s).unwrap().starts_with("Le 3"));
        let s = "Hi\n\n2014-12-11 23:51 GMT+02:00 Anna <a@b>:\n> old\n";
        assert!(b(s).unwrap().starts_with("2014"));
    }

    #[test]
    fn quote_only_counts_when_it_runs_to_the_end() {
        let s = "Hi\n> q1\nmy answer\n> q2\nmore\n";
        assert_eq!(b(s), None);
        let s = "Hi\n\n> q1\n>\n> q2\n";
        assert!(b(s).unwrap().starts_with("> q1"));
    }

    #[test]
    fn disclaimer_at_end_is_recognised_through_quoting() {
        assert!(ends_with_disclaimer(
            "Hi\n> old\n> Confidential:  do not\n> forward.\n\n",
            "Confidential: do not forward."
        ));
        assert!(!ends_with_disclaimer(
            "Confidential: do not forward.\nmore",
            "Confidential: do not forward."
        ));
    }
}
