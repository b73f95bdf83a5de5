//! Load-time transformations of template sources: lines that vanish when their placeholders
//! are empty (the HTML guard is in `html_guard`).

use std::collections::BTreeMap;

use minijinja::Environment;

use super::template::{Flavor, ALLOWED_GLOBALS};

/// Wraps each template line that holds placeholders (and no block tags) in an `if` over its
/// variables, so that the line, newline included, disappears when all of them are empty.
pub(crate) fn collapse_empty_lines(
    source: &str,
    flavor: Flavor,
) -> Result<String, minijinja::Error> {
    let probe = Environment::new();
    let mut out = String::with_capacity(source.len() + 64);
    let mut in_tag = false;
    for line in source.split_inclusive('\n') {
        let starts_in_tag = in_tag;
        if flavor == Flavor::Html {
            in_tag = scan_tag_state(line, in_tag);
        }
        let body = line.strip_suffix('\n').unwrap_or(line);
        let plain = inline_blocks_balanced(body)
            && !body.contains("{#")
            && body.contains("{{")
            && body.matches("{{").count() == body.matches("}}").count()
            && !starts_in_tag
            && !in_tag
            && (flavor == Flavor::Text || tags_balanced(body));
        if !plain {
            push_line(&mut out, line);
            continue;
        }
        let vars = probe.template_from_str(body)?.undeclared_variables(false);
        let mut vars: Vec<_> = vars
            .into_iter()
            .filter(|v| !ALLOWED_GLOBALS.contains(&v.as_str()) && v != "images")
            .collect();
        if vars.is_empty() {
            push_line(&mut out, line);
            continue;
        }
        vars.sort();
        out.push_str("{% if ");
        out.push_str(&vars.join(" or "));
        out.push_str(" %}");
        push_line(&mut out, line);
        out.push_str("{% endif %}");
    }
    Ok(out)
}

/// The template with a line break kept after every line that has content and ends in a block
/// tag (for templates whose empty lines are kept).
pub(crate) fn keep_trailing_breaks(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 16);
    for line in source.split_inclusive('\n') {
        push_line(&mut out, line);
    }
    out
}

/// Appends `line`; when it has content and ends in a block tag (`...{% endif %}`), doubles its
/// line break, because the engine's `trim_blocks` removes the first break after a block tag:
/// meant for lines holding only tags, it would join a content line to the next one.
fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    let Some(body) = line.strip_suffix('\n') else {
        return;
    };
    let body = body.strip_suffix('\r').unwrap_or(body);
    let trimmed = body.trim_end();
    if !(trimmed.ends_with("%}") && has_content_besides_tags(trimmed)) {
        return;
    }
    out.push_str(if line.ends_with("\r\n") { "\r\n" } else { "\n" });
}

/// Whether a line holds anything besides `{% ... %}` tags and blanks.
fn has_content_besides_tags(line: &str) -> bool {
    let mut rest = line;
    loop {
        match rest.find("{%") {
            Some(i) => {
                if !rest[..i].trim().is_empty() {
                    return true;
                }
                match rest[i..].find("%}") {
                    Some(j) => rest = &rest[i + j + 2..],
                    None => return true,
                }
            }
            None => return !rest.trim().is_empty(),
        }
    }
}

/// Whether the block tags of a line (if any) are only `if`/`for` blocks opened and closed on
/// the same line, so that wrapping the line in another `if` keeps the template valid.
fn inline_blocks_balanced(line: &str) -> bool {
    let (mut ifs, mut fors) = (0i32, 0i32);
    let mut rest = line;
    while let Some(i) = rest.find("{%") {
        let Some(j) = rest[i..].find("%}") else {
            return false;
        };
        let inner = rest[i + 2..i + j]
            .trim_matches(|c: char| c == '-' || c == '+')
            .trim();
        match inner.split_whitespace().next().unwrap_or_default() {
            "if" => ifs += 1,
            "endif" => ifs -= 1,
            "for" => fors += 1,
            "endfor" => fors -= 1,
            "elif" | "else" => {}
            _ => return false,
        }
        if ifs < 0 || fors < 0 {
            return false;
        }
        rest = &rest[i + j + 2..];
    }
    ifs == 0 && fors == 0
}

/// Whether every non-void element opened on an HTML line is closed on it (and vice versa),
/// so that removing the line cannot unbalance the document.
fn tags_balanced(line: &str) -> bool {
    const VOID: &[&str] = &[
        "br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "source",
    ];
    let mut depth: BTreeMap<String, i32> = BTreeMap::new();
    let lower = line.to_ascii_lowercase();
    let b = lower.as_bytes();
    for (i, _) in lower.match_indices('<') {
        let (close, start) = if b.get(i + 1) == Some(&b'/') {
            (true, i + 2)
        } else {
            (false, i + 1)
        };
        let name: String = lower[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if name.is_empty() || VOID.contains(&name.as_str()) {
            continue;
        }
        *depth.entry(name).or_default() += if close { -1 } else { 1 };
    }
    depth.values().all(|d| *d == 0)
}

/// Tracks whether an HTML line ends inside a tag (ignoring Jinja expressions).
fn scan_tag_state(line: &str, mut in_tag: bool) -> bool {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"{{") || b[i..].starts_with(b"{%") {
            let close: &[u8] = if b[i + 1] == b'{' { b"}}" } else { b"%}" };
            match find(b, i + 2, close) {
                Some(j) => i = j + 2,
                None => return in_tag,
            }
            continue;
        }
        match b[i] {
            b'<' if b
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'/') =>
            {
                in_tag = true
            }
            b'>' => in_tag = false,
            _ => {}
        }
        i += 1;
    }
    in_tag
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_whose_placeholders_are_empty_are_wrapped_in_a_condition() {
        let out = collapse_empty_lines("A\nTel: {{ businessPhone }}\nB", Flavor::Text).unwrap();
        assert_eq!(
            out,
            "A\n{% if businessPhone %}Tel: {{ businessPhone }}\n{% endif %}B"
        );
        // Lines inside a multi-line tag are left alone.
        let src = "<a href=\"{{ mail }}\"\n  title=\"x\">{{ mail }}</a>\n";
        assert_eq!(collapse_empty_lines(src, Flavor::Html).unwrap(), src);
        // So are lines that open or close an element they do not close or open.
        let src = "<p><b>{{ displayName }}</b>\n</p>";
        assert_eq!(collapse_empty_lines(src, Flavor::Html).unwrap(), src);
    }
}
