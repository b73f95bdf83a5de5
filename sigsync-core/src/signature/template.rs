//! Signature templates: Jinja syntax (minijinja), compiled and checked when loaded.
//!
//! * Placeholders are the attribute names of [`UserAttributes`](super::UserAttributes)
//!   (`{{ displayName }}`, `{{ jobTitle }}`, `{{ businessPhone }}`, custom attributes by name)
//!   and the configured images (`{{ images.logo }}`). `businessPhones` is a list: use
//!   `{{ businessPhone }}` (the first) or `{{ businessPhones|join(", ") }}`.
//! * Conditional blocks: `{% if mobilePhone %}...{% endif %}`; block tags on their own line
//!   leave no blank line. Besides, a template line whose placeholders are all empty disappears
//!   by itself (unless `collapse_empty_lines` is off), so a missing phone number never leaves a
//!   `Mobile:` label or a blank line.
//! * HTML templates escape every value for HTML text and quoted attributes. A URL attribute
//!   (`href`, `src`, `object data`, ...) with a placeholder anywhere in it is checked as one
//!   URL after rendering, as a browser reads it, unless literal text before the placeholder
//!   fixes a safe scheme: `javascript:`, `data:` and any scheme but `http`, `https`, `mailto`,
//!   `tel` and `cid` render an empty link. Placeholders in `style` must be plain CSS values.
//!   Placeholders outside quoted attribute values, in any other attribute than text ones
//!   (`title`, `alt`, `data-*`, ...), `<script>`, placeholders in `<style>`, and the filters
//!   that would emit values unescaped (`safe`, `tojson`) are refused when the template is
//!   loaded (see `html_guard`).
//! * An unknown placeholder, an unknown image or a syntax error is a
//!   [`Error::Config`](crate::Error::Config) when the template is loaded, never when mail is
//!   sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use minijinja::value::Object;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::attributes::{UserAttributes, STANDARD_ATTRIBUTES};
use super::html_guard::{guard_html, safe_css, safe_url_attr};
use super::template_source::{collapse_empty_lines, keep_trailing_breaks};
use crate::{Error, Result};

/// URL schemes a placeholder may produce in a link or image source.
pub const SAFE_URL_SCHEMES: &[&str] = &["http", "https", "mailto", "tel", "cid"];

/// Global functions of minijinja that templates may call.
pub(crate) const ALLOWED_GLOBALS: &[&str] = &["range", "dict", "namespace", "loop"];

/// Whether a template produces HTML (escaped) or plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Html,
    Text,
}

/// A set of compiled templates sharing one environment (the engine holds one).
#[derive(Debug)]
pub(crate) struct Templates {
    env: Environment<'static>,
    known: BTreeSet<String>,
    images: BTreeSet<String>,
    /// Custom attributes (empty) and `images`: what a user's attributes don't define.
    base: Arc<BTreeMap<String, Value>>,
}

impl Templates {
    /// An empty set that accepts the standard placeholders, `custom` ones and `images`.
    pub(crate) fn new(custom: &BTreeSet<String>, images: &BTreeMap<String, String>) -> Self {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.add_filter("safe_url", |v: Value| safe_url_filter(&v));
        // Added by the HTML guard: a whole URL attribute value, and a value in `style`. Both
        // return plain strings, which the formatter escapes once.
        env.add_filter("safe_url_attr", |v: Value| {
            Value::from(safe_url_attr(&v.to_string()))
        });
        env.add_filter("safe_css", |v: Value| {
            if v.is_undefined() || v.is_none() {
                Value::from("")
            } else {
                Value::from(safe_css(&v.to_string()))
            }
        });
        // HTML escaping of `& < > " '` (minijinja's default also turns `/` into `&#x2f;`, which
        // is correct but makes "she/her" unreadable in HTML source and some text conversions).
        env.set_formatter(|out, state, value| {
            if state.auto_escape() == AutoEscape::Html && !value.is_safe() {
                if value.is_undefined() || value.is_none() {
                    return Ok(());
                }
                out.write_str(&escape_html(&value.to_string()))
                    .map_err(|e| {
                        minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                    })
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        let mut known: BTreeSet<String> = super::attributes::STANDARD_ATTRIBUTES
            .iter()
            .chain(super::attributes::DERIVED_PLACEHOLDERS)
            .chain(ALLOWED_GLOBALS)
            .map(|s| s.to_string())
            .collect();
        known.extend(custom.iter().cloned());
        let mut base: BTreeMap<String, Value> = custom
            .iter()
            .map(|c| (c.clone(), Value::from("")))
            .collect();
        base.insert("images".into(), Value::from_serialize(images));
        Templates {
            env,
            known,
            images: images.keys().cloned().collect(),
            base: Arc::new(base),
        }
    }

    /// The render context for `user`: placeholders are looked up when a template reads them,
    /// so a render builds no map and converts only the attributes the template uses.
    pub(crate) fn context(&self, user: Arc<UserAttributes>) -> Value {
        Value::from_object(Context {
            user,
            base: self.base.clone(),
        })
    }

    /// Compiles `source` under `name` (`name` gets a `.html`/`.txt` suffix), checks its
    /// placeholders, and renders it once with full and once with empty sample data.
    pub(crate) fn add(
        &mut self,
        name: &str,
        source: &str,
        flavor: Flavor,
        collapse: bool,
    ) -> Result<String> {
        let what = match flavor {
            Flavor::Html => "HTML",
            Flavor::Text => "text",
        };
        let full_name = match flavor {
            Flavor::Html => format!("{name}.html"),
            Flavor::Text => format!("{name}.txt"),
        };
        let err = |e: String| Error::Config(format!("{what} template {name:?}: {e}"));
        let mut src = if collapse {
            collapse_empty_lines(source, flavor).map_err(|e| err(e.to_string()))?
        } else {
            keep_trailing_breaks(source)
        };
        if flavor == Flavor::Html {
            src = guard_html(&src).map_err(err)?;
        }
        self.env
            .add_template_owned(full_name.clone(), src)
            .map_err(|e| err(describe(&e)))?;
        let tmpl = self
            .env
            .get_template(&full_name)
            .map_err(|e| err(describe(&e)))?;
        for var in tmpl.undeclared_variables(true) {
            let mut parts = var.split('.');
            let root = parts.next().unwrap_or_default();
            if !self.known.contains(root) {
                return Err(err(format!(
                    "unknown placeholder `{root}` (known: the Graph user fields, businessPhone, \
                     images.<name> and the declared custom attributes)"
                )));
            }
            if root == "images" {
                if let Some(image) = parts.next() {
                    if !self.images.contains(image) {
                        return Err(err(format!("unknown image `images.{image}`")));
                    }
                }
            }
        }
        // Render once with every field set and once with none, so that unknown filters and
        // type errors surface now rather than when mail is sent.
        let mut sample = UserAttributes::default();
        for name in STANDARD_ATTRIBUTES {
            sample.set(name, "Sample");
        }
        for name in self.base.keys().filter(|k| *k != "images") {
            sample.custom.insert(name.clone(), "Sample".into());
        }
        for user in [sample, UserAttributes::default()] {
            tmpl.render(self.context(Arc::new(user)))
                .map_err(|e| err(describe(&e)))?;
        }
        Ok(full_name)
    }

    /// Renders a compiled template with `ctx`; trims trailing whitespace.
    pub(crate) fn render(&self, full_name: &str, ctx: &Value) -> Result<String> {
        let tmpl = self
            .env
            .get_template(full_name)
            .map_err(|e| Error::Internal(format!("template {full_name} vanished: {e}")))?;
        let out = tmpl
            .render(ctx)
            .map_err(|e| Error::Config(format!("template {full_name}: {}", describe(&e))))?;
        Ok(out.trim_end().trim_start_matches(['\r', '\n']).to_owned())
    }
}

/// A render context: the user's attributes, then the custom attributes they lack (empty) and
/// the images.
#[derive(Debug)]
struct Context {
    user: Arc<UserAttributes>,
    base: Arc<BTreeMap<String, Value>>,
}

impl Object for Context {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        self.user
            .context_value(name)
            .or_else(|| self.base.get(name).cloned())
    }
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Escapes for HTML text and quoted attributes (`& < > " '`).
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cleans a URL that came from directory data: `None` when its scheme is not one of
/// [`SAFE_URL_SCHEMES`]. A bare host (`www.contoso.com`) becomes `https://www.contoso.com`.
pub fn safe_url(raw: &str) -> Option<String> {
    // Browsers ignore ASCII whitespace and control characters inside a URL's scheme.
    let clean: String = raw.chars().filter(|c| *c > ' ' && *c != '\x7f').collect();
    if clean.is_empty() {
        return None;
    }
    let scheme_end = clean.find(':');
    let first_delim = clean.find(['/', '?', '#']);
    match scheme_end {
        Some(i) if first_delim.is_none_or(|d| i < d) => {
            let scheme = clean[..i].to_ascii_lowercase();
            SAFE_URL_SCHEMES.contains(&scheme.as_str()).then_some(clean)
        }
        _ if clean.starts_with("//") => Some(format!("https:{clean}")),
        _ if clean.starts_with(['/', '?', '#']) => Some(clean),
        _ => Some(format!("https://{clean}")),
    }
}

fn safe_url_filter(v: &Value) -> Value {
    if v.is_undefined() || v.is_none() {
        return Value::from_safe_string(String::new());
    }
    let s = v.to_string();
    Value::from_safe_string(safe_url(&s).map(|u| escape_html(&u)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_url_refuses_script_schemes_and_keeps_web_and_mail_links() {
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url(" JaVa\tScRiPt:alert(1)"), None);
        assert_eq!(safe_url("data:text/html,<b>"), None);
        assert_eq!(safe_url("vbscript:x"), None);
        assert_eq!(
            safe_url("https://contoso.com/a?b=1").as_deref(),
            Some("https://contoso.com/a?b=1")
        );
        assert_eq!(
            safe_url("www.contoso.com").as_deref(),
            Some("https://www.contoso.com")
        );
        assert_eq!(safe_url("mailto:a@b.c").as_deref(), Some("mailto:a@b.c"));
        assert_eq!(safe_url(""), None);
    }
}
