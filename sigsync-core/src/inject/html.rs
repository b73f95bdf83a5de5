//! Placement in HTML: a small tag scanner (comments, raw-text elements and quoted attributes
//! handled; no DOM) that finds the first reply-history marker of the known clients, walks up to
//! its outermost wrapper that holds nothing else, and finds the real closing `</body>`.
//!
//! Markers (reply-markers.md §1, §3.3): Outlook on the web / new Outlook (`appendonsend`, the
//! 98% `hr`, `divRplyFwdMsg`, `mail-editor-reference-message-container`, `x_` prefixes),
//! Outlook desktop (the Word `border-top` div, the `hr tabindex=-1` of 2003), Outlook for Mac
//! (`OLK_SRC_BODY_SECTION`), Gmail (`gmail_quote`, `gmail_quote_container`), Apple Mail
//! (`blockquote type="cite"`), Thunderbird (`moz-cite-prefix`, `moz-forward-container`),
//! Yahoo, Proton, Zimbra, Tutanota, Zoho, Windows Mail and a few webmails.

use super::text::collapse_ws;

/// What the scan found in one HTML body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HtmlPlacement {
    /// Where the quoted history starts (insert the signature here), if found.
    pub boundary: Option<usize>,
    /// Where the end of the document is: before the last `</body>` (outside comments), else
    /// before the last `</html>`, else after the last non-whitespace byte.
    pub end: usize,
    /// First `data-sigsync="server"` element.
    pub server_marker: Option<usize>,
    /// First `data-sigsync="client"` element.
    pub client_marker: Option<usize>,
    /// The document ends inside a comment, a tag or a raw-text element, so text added at the
    /// end would not be shown.
    pub open_at_end: bool,
    /// `end` is a `</body>` or `</html>` (not the end of the text).
    pub end_is_close: bool,
    /// Where the first PGP armour line (`-----BEGIN PGP `) in the text of the newest part
    /// (above the history, outside comments, tags and raw-text elements) starts.
    pub armour: Option<usize>,
}

impl HtmlPlacement {
    /// Where the signature goes.
    pub fn signature_at(&self) -> usize {
        self.boundary.unwrap_or(self.end)
    }

    fn newest(&self, at: Option<usize>) -> bool {
        match (at, self.boundary) {
            (Some(m), Some(b)) => m < b,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Whether our own signature is in the newest part (above the history).
    pub fn has_server_signature(&self) -> bool {
        self.newest(self.server_marker)
    }

    /// Whether the add-in's signature is in the newest part.
    pub fn has_client_signature(&self) -> bool {
        self.newest(self.client_marker)
    }
}

/// A lower-cased tag name, truncated to 16 bytes (no allocation per tag).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Name {
    buf: [u8; 16],
    len: u8,
}

impl Name {
    fn new(raw: &[u8]) -> Name {
        let mut buf = [0u8; 16];
        let len = raw.len().min(16);
        for (d, s) in buf.iter_mut().zip(raw) {
            *d = s.to_ascii_lowercase();
        }
        Name {
            buf,
            len: len as u8,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    fn is(&self, n: &str) -> bool {
        self.as_bytes() == n.as_bytes()
    }

    fn is_any(&self, ns: &[&str]) -> bool {
        ns.iter().any(|n| self.is(n))
    }
}

struct Open {
    name: Name,
    start: usize,
    at: u64,
}

/// Attributes as (name range, value range) into the document.
type Attrs = Vec<((usize, usize), (usize, usize))>;

const VOID: &[&str] = &[
    "br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source", "param",
    "embed", "track", "keygen",
];
const RAW: &[&str] = &["script", "style", "textarea", "title", "xmp"];
const STOP: &[&str] = &[
    "body", "html", "head", "table", "tbody", "tr", "td", "th", "li", "ul", "ol",
];
const MAX_STACK: usize = 256;

/// The start of a PGP armour header line.
pub(crate) const ARMOUR: &[u8] = b"-----BEGIN PGP ";

/// Scans an HTML body for the reply boundary, the end of the document and our markers.
pub(crate) fn scan(s: &str) -> HtmlPlacement {
    let b = s.as_bytes();
    let mut out = HtmlPlacement::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut attrs: Attrs = Vec::new();
    let mut counter: u64 = 0;
    let mut last_body = None;
    let mut last_html = None;
    let mut i = 0;
    while i < b.len() {
        let lt = memchr::memchr(b'<', &b[i..]).unwrap_or(b.len() - i);
        if out.boundary.is_none() && out.armour.is_none() {
            out.armour = memchr::memmem::find(&b[i..i + lt], ARMOUR).map(|k| i + k);
        }
        if i + lt >= b.len() {
            break;
        }
        if lt > 0 && out.boundary.is_none() && has_content(&b[i..i + lt]) {
            counter += 1;
        }
        let t = i + lt;
        let rest = &b[t..];
        if rest.starts_with(b"<!--") {
            i = match memchr::memmem::find(&rest[4..], b"-->") {
                Some(e) => t + 4 + e + 3,
                None => {
                    out.open_at_end = true;
                    b.len()
                }
            };
            continue;
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            i = memchr::memchr(b'>', rest).map_or_else(
                || {
                    out.open_at_end = true;
                    b.len()
                },
                |e| t + e + 1,
            );
            continue;
        }
        let (is_end, name_at) = if rest.get(1) == Some(&b'/') {
            (true, t + 2)
        } else {
            (false, t + 1)
        };
        if !b.get(name_at).is_some_and(|c| c.is_ascii_alphabetic()) {
            counter += 1; // a literal '<'
            i = t + 1;
            continue;
        }
        let mut j = name_at;
        while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' && b[j] != b'/' {
            j += 1;
        }
        let name = Name::new(&b[name_at..j]);
        let (Ok(tag_end) | Err(tag_end)) = parse_attrs(b, j, &mut attrs).inspect_err(|_| {
            out.open_at_end = true;
        });
        i = tag_end;
        if is_end {
            if name.is("body") {
                last_body = Some(t);
            } else if name.is("html") {
                last_html = Some(t);
            }
            if out.boundary.is_none() {
                if let Some(k) = stack.iter().rposition(|o| o.name == name) {
                    stack.truncate(k);
                }
            }
            continue;
        }
        if RAW.iter().any(|r| name.is(r)) {
            i = skip_raw(b, i, name.as_bytes());
            out.open_at_end |= i >= b.len();
        }
        if out.boundary.is_some() {
            // Below the history only the end of the document matters.
            continue;
        }
        if let Some(v) = attr(b, &attrs, "data-sigsync") {
            if v.eq_ignore_ascii_case(b"server") && out.server_marker.is_none() {
                out.server_marker = Some(t);
            } else if v.eq_ignore_ascii_case(b"client") && out.client_marker.is_none() {
                out.client_marker = Some(t);
            }
        }
        if is_marker(b, &name, &attrs) {
            let mut at = t;
            let mut expected = counter;
            for o in stack.iter().rev() {
                if o.at != expected || o.name.is_any(STOP) {
                    break;
                }
                at = o.start;
                expected = o.at.saturating_sub(1);
            }
            out.boundary = Some(at);
            continue;
        }
        if !name.is("br") && !name.is("wbr") {
            counter += 1;
        }
        let self_closing = b.get(tag_end.wrapping_sub(2)) == Some(&b'/');
        if !name.is_any(VOID) && !name.is_any(RAW) && !self_closing && stack.len() < MAX_STACK {
            stack.push(Open {
                name,
                start: t,
                at: counter,
            });
        }
    }
    let trimmed = s.trim_end().len();
    out.end_is_close = last_body.or(last_html).is_some();
    out.end = last_body.or(last_html).unwrap_or(trimmed);
    out
}

fn has_content(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with(b"&nbsp;") {
            i += 6;
        } else if text[i..].starts_with("\u{a0}".as_bytes()) {
            i += 2;
        } else {
            return true;
        }
    }
    false
}

fn skip_raw(b: &[u8], from: usize, name: &[u8]) -> usize {
    let mut i = from;
    while let Some(k) = memchr::memmem::find(&b[i..], b"</") {
        let at = i + k + 2;
        let end = at + name.len();
        if b.get(at..end).is_some_and(|n| n.eq_ignore_ascii_case(name)) {
            return at - 2;
        }
        i = at;
    }
    b.len()
}

/// Parses attributes from `j` (just after the tag name) to the closing `>` into `attrs`;
/// returns the position after `>`, or `Err(b.len())` when the text ends inside the tag (an
/// unclosed quote swallows every `>` after it, as in a browser).
fn parse_attrs(b: &[u8], mut j: usize, attrs: &mut Attrs) -> Result<usize, usize> {
    attrs.clear();
    loop {
        while j < b.len() && (b[j].is_ascii_whitespace() || b[j] == b'/') {
            j += 1;
        }
        if j >= b.len() {
            return Err(b.len());
        }
        if b[j] == b'>' {
            return Ok(j + 1);
        }
        let ns = j;
        while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'=' && b[j] != b'>' {
            j += 1;
        }
        let name = (ns, j);
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let mut value = (j, j);
        if b.get(j) == Some(&b'=') {
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            value = match b.get(j) {
                Some(&q) if q == b'"' || q == b'\'' => {
                    let e = memchr::memchr(q, &b[j + 1..]).map_or(b.len(), |e| j + 1 + e);
                    let r = (j + 1, e);
                    j = (e + 1).min(b.len());
                    r
                }
                _ => {
                    let s = j;
                    while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                        j += 1;
                    }
                    (s, j)
                }
            };
        }
        if attrs.len() < 64 {
            attrs.push((name, value));
        }
    }
}

fn attr<'a>(b: &'a [u8], attrs: &Attrs, name: &str) -> Option<&'a [u8]> {
    attrs
        .iter()
        .find(|((s, e), _)| b[*s..*e].eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, (s, e))| &b[*s..*e])
}

fn ends_with_ci(hay: &[u8], suffix: &str) -> bool {
    hay.len() >= suffix.len()
        && hay[hay.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

const ID_SUFFIXES: &[&str] = &[
    "divrplyfwdmsg",
    "appendonsend",
    "olk_src_body_section",
    "mail-editor-reference-message-container",
    "stopspelling",
    "zwchr",
    "isreplycontent",
    "isforwardcontent",
    "reply139content",
    "orimsghtmlseperator",
];
const CLASS_SUFFIXES: &[&str] = &[
    "gmail_quote",
    "gmail_quote_container",
    "moz-cite-prefix",
    "moz-forward-container",
    "protonmail_quote",
    "yahoo_quoted",
    "tutanota_quote",
    "zmail_extra",
    "outlookmessageheader",
    "ms-outlook-mobile-reference-message",
    "iosymail",
];

fn is_marker(b: &[u8], name: &Name, attrs: &Attrs) -> bool {
    if attrs.is_empty() {
        return false;
    }
    if let Some(id) = attr(b, attrs, "id") {
        if ID_SUFFIXES.iter().any(|m| ends_with_ci(id, m)) {
            return true;
        }
    }
    if let Some(class) = attr(b, attrs, "class") {
        if class
            .split(|c| c.is_ascii_whitespace())
            .any(|tok| CLASS_SUFFIXES.iter().any(|m| ends_with_ci(tok, m)))
        {
            return true;
        }
    }
    if name.is("blockquote") {
        return attr(b, attrs, "type").is_some_and(|t| t.eq_ignore_ascii_case(b"cite"));
    }
    if name.is("hr") {
        return attr(b, attrs, "tabindex").is_some_and(|t| t.trim_ascii() == b"-1");
    }
    if !name.is("div") {
        return false;
    }
    if attr(b, attrs, "name").is_some_and(|n| {
        n.eq_ignore_ascii_case(b"quote") || n.eq_ignore_ascii_case(b"messagereplysection")
    }) {
        return true;
    }
    let Some(style) = attr(b, attrs, "style") else {
        return false;
    };
    if !style
        .windows(10)
        .any(|w| w.eq_ignore_ascii_case(b"border-top"))
    {
        return false;
    }
    let st: Vec<u8> = style
        .iter()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let has = |n: &[u8]| memchr::memmem::find(&st, n).is_some();
    has(b"border-top:solid#e1e1e1")
        || has(b"border-top:solid#b5c4df")
        || has(b"border-top:#b5c4df1ptsolid")
        || has(b"border-top-color:rgb(229,229,229)")
}

/// The visible text of an HTML fragment, entities for spaces and markup decoded, whitespace
/// collapsed (for comparing disclaimers).
pub(crate) fn visible_text(html: &str) -> String {
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<' {
            if b[i..].starts_with(b"<!--") {
                i = memchr::memmem::find(&b[i + 4..], b"-->").map_or(b.len(), |e| i + 4 + e + 3);
                continue;
            }
            let (Ok(end) | Err(end)) = parse_attrs(b, i + 1, &mut Vec::new());
            let name_end = b[i + 1..]
                .iter()
                .position(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
                .map_or(b.len(), |p| i + 1 + p);
            let name = html
                .get(i + 1..name_end)
                .unwrap_or_default()
                .to_ascii_lowercase();
            out.push(' ');
            i = if name == "style" || name == "script" {
                skip_raw(b, end, name.as_bytes())
            } else {
                end
            };
            continue;
        }
        let next = memchr::memchr(b'<', &b[i..]).map_or(b.len(), |p| i + p);
        out.push_str(html.get(i..next).unwrap_or_default());
        i = next;
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    collapse_ws(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, needle: &str) -> Option<usize> {
        s.find(needle)
    }

    #[test]
    fn owa_reply_boundary_is_appendonsend() {
        let s = r#"<html><body><div>Hi</div><div id="Signature">me</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg">From:</div></body></html>"#;
        let p = scan(s);
        assert_eq!(p.boundary, at(s, r#"<div id="appendonsend""#));
        assert_eq!(p.end, s.find("</body>").unwrap());
    }

    #[test]
    fn word_border_div_walks_up_to_its_empty_wrapper() {
        let s = "<body><div class=WordSection1><p>Hi</p><div>\n<div style='border:none; border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p><b>From:</b></p></div></div></div></body>";
        assert_eq!(scan(s).boundary, at(s, "<div>\n"));
    }

    #[test]
    fn apple_blockquote_walks_up_through_br_but_not_body() {
        let s = r#"<body>Hi<div><br><blockquote type="cite"><div>On x wrote:</div></blockquote></div></body>"#;
        assert_eq!(scan(s).boundary, at(s, "<div><br>"));
        let s = r#"<body><blockquote type="cite">q</blockquote></body>"#;
        assert_eq!(scan(s).boundary, at(s, "<blockquote"));
    }

    #[test]
    fn markers_and_body_inside_comments_and_styles_are_ignored() {
        let s = "<body><style>.gmail_quote{}</style><!-- <div class=\"gmail_quote\"> </body> -->x</body>";
        let p = scan(s);
        assert_eq!(p.boundary, None);
        assert_eq!(p.end, s.rfind("</body>").unwrap());
    }

    #[test]
    fn end_is_last_body_close_case_insensitive_or_trimmed_end() {
        let s = "<html><body>a<div><html><body>fwd</body></html></div>\n</BODY >\n</HTML>";
        assert_eq!(scan(s).end, s.find("</BODY").unwrap());
        let s = "<div>fragment</div>\n\n";
        assert_eq!(scan(s).end, s.trim_end().len());
    }

    #[test]
    fn own_and_client_markers_count_only_above_the_history() {
        let s = r#"<div data-sigsync="server">sig</div><div class="gmail_quote">q<div data-sigsync=client></div></div>"#;
        let p = scan(s);
        assert!(p.has_server_signature());
        assert!(!p.has_client_signature());
        let s = r#"<p>new</p><div class="gmail_quote"><div data-sigsync="server">old</div></div>"#;
        assert!(!scan(s).has_server_signature());
    }

    #[test]
    fn pgp_armour_counts_only_in_the_newest_text_outside_comments() {
        let s = "<p>-----BEGIN PGP SIGNED MESSAGE-----</p>";
        assert_eq!(scan(s).armour, Some(3));
        let s = "<p>Hi</p><!-- -----BEGIN PGP SIGNED MESSAGE----- --><p>x</p>";
        assert_eq!(scan(s).armour, None);
        let s =
            "<p>Hi</p><blockquote type=\"cite\">-----BEGIN PGP SIGNED MESSAGE-----</blockquote>";
        assert_eq!(scan(s).armour, None);
        assert_eq!(scan("-----BEGIN PGP MESSAGE-----").armour, Some(0));
    }

    #[test]
    fn visible_text_strips_tags_and_entities() {
        assert_eq!(
            visible_text("<p>A&nbsp;&amp; <b>B</b></p><style>x{}</style>\n C"),
            "A & B C"
        );
    }
}
