//! The HTML template guard: directory values (which users can edit for themselves) never
//! become markup, script or a `javascript:` link.
//!
//! At load, every placeholder inside a tag is checked: it must sit in a quoted attribute
//! value; in a URL-bearing attribute (`href`, `src`, `object data`, ...) wherever it sits,
//! the whole value is routed through `safe_url_attr` unless the literal text before it
//! already fixes a safe scheme (`mailto:{{ mail }}`); in `style` each placeholder goes through
//! `safe_css`; in plain text attributes (`title`, `alt`, `data-*`, ...) escaping suffices; in
//! any other attribute (`on*`, `srcdoc`, `srcset`, `content`, ...) it is refused. `<script>`,
//! placeholders in `<style>`, and the filters that emit values unescaped (`safe`, `tojson`,
//! `autoescape`) are refused.

use super::template::safe_url;

/// Attributes whose value is a URL (or a list of them): a value there could be a
/// `javascript:` link.
const URL_ATTRS: &[&str] = &[
    "href",
    "src",
    "background",
    "action",
    "formaction",
    "poster",
    "cite",
    "xlink:href",
    "longdesc",
    "data",
    "codebase",
    "classid",
    "archive",
    "profile",
    "manifest",
    "icon",
    "usemap",
    "dynsrc",
    "lowsrc",
    "ping",
    "itemtype",
    "xmlns",
];

/// Attributes whose value is only text: escaping is all a placeholder there needs.
const TEXT_ATTRS: &[&str] = &[
    "title",
    "alt",
    "class",
    "id",
    "name",
    "width",
    "height",
    "align",
    "valign",
    "bgcolor",
    "color",
    "border",
    "cellpadding",
    "cellspacing",
    "colspan",
    "rowspan",
    "dir",
    "lang",
    "target",
    "rel",
    "face",
    "size",
    "hspace",
    "vspace",
    "summary",
    "abbr",
    "scope",
    "headers",
    "label",
    "role",
];

/// Whether a placeholder may sit in attribute `name` with escaping alone.
fn text_attr(name: &str) -> bool {
    TEXT_ATTRS.contains(&name)
        || name.starts_with("aria-")
        || (name.starts_with("data-") && name != super::HTML_MARKER_ATTR)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Whether the literal start of a URL value fixes where the link goes, whatever follows:
/// a scheme (checked to be safe), or a path, query or fragment. `Err` for an unsafe scheme.
fn fixes_scheme(literal: &str, attr: &str) -> Result<bool, String> {
    let clean: String = literal.chars().filter(|c| *c > ' ').collect();
    match clean.find([':', '/', '?', '#', '&']) {
        Some(i) if clean.as_bytes()[i] == b':' => match safe_url(&clean) {
            Some(_) => Ok(true),
            None => Err(format!("unsafe URL in `{attr}`: {literal:?}")),
        },
        // An entity could hide a scheme: not fixed.
        Some(i) if clean.as_bytes()[i] == b'&' => Ok(false),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// Checks placeholders in HTML tags and routes the ones in URL and style attributes through
/// the `safe_url_attr` and `safe_css` filters; refuses what cannot be guarded.
pub(crate) fn guard_html(src: &str) -> Result<String, String> {
    let lower = src.to_ascii_lowercase();
    if lower.contains("<script") {
        return Err("<script> is not allowed in a signature".into());
    }
    // Directory values may be edited by the users themselves: never emit them unescaped.
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let filter_used = |f: &str| {
        compact.match_indices(f).any(|(i, m)| {
            !compact[i + m.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    if filter_used("|safe") || compact.contains("{%autoescape") {
        return Err("`safe` and `autoescape` would emit directory values unescaped".into());
    }
    if filter_used("tojson") {
        return Err("`tojson` does not escape quotes for HTML attributes".into());
    }
    let mut style_from = 0;
    while let Some(s) = find(lower.as_bytes(), style_from, b"<style") {
        let e = find(lower.as_bytes(), s, b"</style").unwrap_or(lower.len());
        if lower[s..e].contains("{{") || lower[s..e].contains("{%") {
            return Err("placeholders are not allowed in <style>".into());
        }
        style_from = e.max(s + 1);
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut copied = 0;
    let mut i = 0;
    let jinja_end = |i: usize| -> Result<usize, String> {
        let close: &[u8] = match b[i + 1] {
            b'{' => b"}}",
            b'%' => b"%}",
            _ => b"#}",
        };
        find(b, i + 2, close)
            .map(|j| j + 2)
            .ok_or_else(|| "unclosed `{{`, `{%` or `{#`".to_string())
    };
    let is_jinja = |i: usize| b[i] == b'{' && matches!(b.get(i + 1), Some(b'{' | b'%' | b'#'));
    while i < b.len() {
        if b[i..].starts_with(b"<!--") {
            i = find(b, i + 4, b"-->").map_or(b.len(), |j| j + 3);
            continue;
        }
        if is_jinja(i) {
            i = jinja_end(i)?;
            continue;
        }
        if !(b[i] == b'<' && b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic())) {
            i += 1;
            continue;
        }
        // Inside a tag: skip the tag name, then read attributes.
        i += 1;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            if is_jinja(i) {
                return Err("a placeholder may not form a tag name".into());
            }
            i += 1;
        }
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                i += 1;
                break;
            }
            if b[i..].starts_with(b"{{") {
                return Err(
                    "a placeholder inside a tag must be within a quoted attribute value".into(),
                );
            }
            if is_jinja(i) {
                i = jinja_end(i)?;
                continue;
            }
            let name_start = i;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && !matches!(b[i], b'=' | b'>' | b'/')
                && !is_jinja(i)
            {
                i += 1;
            }
            let name = src[name_start..i].to_ascii_lowercase();
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= b.len() || b[i] != b'=' {
                continue;
            }
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let Some(&quote) = b.get(i).filter(|q| matches!(q, b'"' | b'\'')) else {
                // Unquoted value: must hold no placeholder.
                let start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                if src[start..i].contains("{{") {
                    return Err(format!(
                        "quote the value of attribute `{name}`: it holds a placeholder"
                    ));
                }
                continue;
            };
            i += 1;
            let value_start = i;
            let mut first_jinja: Option<usize> = None;
            let mut exprs: Vec<(usize, usize)> = Vec::new();
            while i < b.len() && b[i] != quote {
                if is_jinja(i) {
                    let end = jinja_end(i)?;
                    first_jinja.get_or_insert(i);
                    if b[i + 1] == b'{' {
                        exprs.push((i, end));
                    }
                    i = end;
                } else {
                    i += 1;
                }
            }
            let value_end = i.min(b.len());
            i += 1;
            let literal = &src[value_start..first_jinja.unwrap_or(value_end)];
            if URL_ATTRS.contains(&name.as_str()) {
                // A literal scheme must be safe even without placeholders.
                let fixed = fixes_scheme(literal, &name)?;
                if exprs.is_empty() || fixed {
                    continue;
                }
                // A placeholder can reach the scheme, wherever it sits: the whole rendered
                // value is checked as one URL.
                out.push_str(&src[copied..value_start]);
                out.push_str("{% filter safe_url_attr %}");
                out.push_str(&src[value_start..value_end]);
                out.push_str("{% endfilter %}");
                copied = value_end;
                continue;
            }
            if exprs.is_empty() || text_attr(&name) {
                continue;
            }
            if name == "style" {
                out.push_str(&src[copied..value_start]);
                let mut from = value_start;
                for (s, e) in exprs {
                    let inner = src[s + 2..e - 2].trim_matches(|c: char| c == '-' || c == ' ');
                    out.push_str(&src[from..s]);
                    out.push_str("{{ (");
                    out.push_str(inner);
                    out.push_str(")|safe_css }}");
                    from = e;
                }
                out.push_str(&src[from..value_end]);
                copied = value_end;
                continue;
            }
            return Err(format!(
                "placeholders are not allowed in attribute `{name}` (only in URL, style and \
                 text attributes such as title, alt or data-*)"
            ));
        }
    }
    out.push_str(&src[copied..]);
    Ok(out)
}

/// Decodes the HTML character references a browser decodes in an attribute value: numeric
/// ones and the named ones that can spell a scheme (`&colon;`, `&Tab;`, ...). Unknown named
/// references stay as they are (a URL that starts with one has no scheme).
pub(crate) fn decode_entities(s: &str) -> String {
    const NAMED: &[(&str, &str)] = &[
        ("amp", "&"),
        ("lt", "<"),
        ("gt", ">"),
        ("quot", "\""),
        ("apos", "'"),
        ("colon", ":"),
        ("Tab", "\t"),
        ("NewLine", "\n"),
        ("sol", "/"),
        ("nbsp", "\u{a0}"),
        ("period", "."),
        ("lpar", "("),
        ("rpar", ")"),
        ("excl", "!"),
        ("num", "#"),
        ("quest", "?"),
        ("equals", "="),
        ("semi", ";"),
        ("comma", ","),
        ("percnt", "%"),
        ("bsol", "\\"),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let body_end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map_or(rest.len(), |e| e + 1);
        let body = &rest[1..body_end];
        let after = if rest[body_end..].starts_with(';') {
            body_end + 1
        } else {
            body_end
        };
        let decoded = if let Some(num) = body.strip_prefix('#') {
            let v = match num.strip_prefix(['x', 'X']) {
                Some(h) => u32::from_str_radix(h, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            v.map(|c| char::from_u32(c).unwrap_or('\u{fffd}').to_string())
        } else {
            NAMED
                .iter()
                .find(|(n, _)| *n == body)
                .map(|(_, v)| (*v).to_string())
        };
        match decoded {
            Some(d) if !body.is_empty() => {
                out.push_str(&d);
                rest = &rest[after..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `safe_url_attr` filter: the rendered (escaped) value of a URL attribute as the
/// browser reads it, kept when its scheme is safe, else empty. Returned unescaped: the
/// formatter escapes it once.
pub(crate) fn safe_url_attr(rendered: &str) -> String {
    safe_url(&decode_entities(rendered)).unwrap_or_default()
}

/// The `safe_css` filter: a directory value in a `style` attribute, kept only when it is a
/// plain CSS value (letters, digits, spaces, `#%.,-`), else empty.
pub(crate) fn safe_css(value: &str) -> String {
    let v = value.trim();
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || " #%.,-".contains(c))
    {
        v.to_owned()
    } else {
        String::new()
    }
}

/// Escapes as the formatter does (for tests of the filters).
#[cfg(test)]
fn esc(s: &str) -> String {
    super::template::escape_html(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_placeholders_anywhere_in_the_value_are_checked_as_one_url() {
        for src in [
            r#"<a href="{{ linkedin }}">x</a>"#,
            r#"<a href="{% if linkedin %}{{ linkedin }}{% endif %}">x</a>"#,
            r#"<a href="{{ a }}{{ b }}">x</a>"#,
            r#"<object data="{{ a }}"></object>"#,
            r#"<a href=" {{ a }}">x</a>"#,
            r#"<a href="java{{ a }}">x</a>"#,
        ] {
            let out = guard_html(src).unwrap();
            assert!(out.contains("{% filter safe_url_attr %}"), "{out}");
        }
        // A literal scheme or path before the placeholder fixes the scheme.
        for src in [
            r#"<a href="mailto:{{ mail }}">"#,
            r#"<a href="https://x.com/{{ a }}">"#,
            r#"<a href="/u/{{ a }}">"#,
        ] {
            assert_eq!(guard_html(src).unwrap(), src);
        }
    }

    #[test]
    fn what_cannot_be_guarded_is_refused() {
        for src in [
            r#"<a {{ attrs }}>"#,
            r#"<a href={{ mail }}>"#,
            r#"<img onerror="{{ x }}">"#,
            r#"<a href="javascript:alert(1)">"#,
            "<script>var a = '{{ x }}'</script>",
            "<b>{{ displayName | safe }}</b>",
            "{% autoescape false %}{{ x }}{% endautoescape %}",
            r#"<a title="{{ x|tojson }}">"#,
            "<b>{{ x | tojson }}</b>",
            r#"<iframe srcdoc="{{ x }}"></iframe>"#,
            r#"<img srcset="{{ x }} 2x">"#,
            r#"<meta http-equiv="refresh" content="0;url={{ x }}">"#,
            r#"<div data-sigsync="{{ x }}">"#,
            "<style>a { color: {{ x }} }</style>",
        ] {
            assert!(guard_html(src).is_err(), "{src}");
        }
    }

    #[test]
    fn style_placeholders_go_through_safe_css() {
        let out = guard_html(r#"<p style="color:{{ brandColor }};font:Arial">"#).unwrap();
        assert_eq!(
            out,
            r#"<p style="color:{{ (brandColor)|safe_css }};font:Arial">"#
        );
        assert_eq!(safe_css("#ff0000"), "#ff0000");
        assert_eq!(safe_css("red;background:url(x)"), "");
        assert_eq!(safe_css("expression(alert(1))"), "");
    }

    #[test]
    fn the_url_filter_reads_the_value_as_a_browser_does() {
        assert_eq!(safe_url_attr(&esc("javascript:alert(1)")), "");
        assert_eq!(safe_url_attr("java&#115;cript:alert(1)"), "");
        assert_eq!(safe_url_attr("javascript&colon;alert(1)"), "");
        assert_eq!(safe_url_attr("java&Tab;script:alert(1)"), "");
        assert_eq!(safe_url_attr("&#x6A;avascript:alert(1)"), "");
        // What our escaping made literal stays literal (a relative link, no scheme).
        assert_eq!(
            safe_url_attr(&esc("&#106;avascript:alert(1)")),
            "https://&#106;avascript:alert(1)"
        );
        assert_eq!(
            safe_url_attr("https://x.com/?a=1&amp;b=2"),
            "https://x.com/?a=1&b=2"
        );
    }
}
