//! Directory values never become markup, script or a `javascript:` link: every URL-bearing
//! attribute is guarded wherever a placeholder sits in it, over a broad list of
//! filter-evasion payloads, and what cannot be guarded is refused when the template loads.

use sigsync_core::signature::{Origin, SignatureEngine, TemplatePair, UserAttributes};

/// Filter-evasion payloads (OWASP's XSS filter evasion list and kin), as directory values.
const PAYLOADS: &[&str] = &[
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "\u{1}javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    "java\0script:alert(1)",
    "javascript&colon;alert(1)",
    "javascript&#58;alert(1)",
    "javascript&#x3A;alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)",
    "jav&#x09;ascript:alert(1)",
    "jav&Tab;ascript:alert(1)",
    "vbscript:msgbox(1)",
    "livescript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    "\" onmouseover=\"alert(1)",
    "' onmouseover='alert(1)",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "javascript://%0aalert(1)",
    "javascript:/*--></title></style></textarea></script><svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
    "\u{feff}javascript:alert(1)",
    "javascript\u{a0}:alert(1)",
    "java",
    "script:alert(1)",
    "https://contoso.com/\" onclick=\"alert(1)",
];

/// HTML templates that put directory values into attributes, including the optional-link
/// pattern from the docs and concatenations.
const TEMPLATES: &[&str] = &[
    r#"<a href="{{ linkedin }}">in</a>"#,
    r#"<a href="{% if linkedin %}{{ linkedin }}{% endif %}">in</a>"#,
    r#"{% if linkedin %}<a href="{{ linkedin }}">in</a>{% endif %}"#,
    r#"<a href="{{ linkedin }}{{ website }}">in</a>"#,
    r#"<a href="{{ website }}:{{ linkedin }}">in</a>"#,
    r#"<a href="{{ linkedin ~ website }}">in</a>"#,
    r#"<a href=' {{ linkedin }}'>in</a>"#,
    r#"<a href="java{{ linkedin }}">in</a>"#,
    r#"<a HREF="{{ linkedin|lower }}">in</a>"#,
    r#"<a href="{{ linkedin|replace("x", "y") }}">in</a>"#,
    r#"<img src="{{ website }}" alt="{{ displayName }}">"#,
    r#"<object data="{{ website }}"></object>"#,
    r#"<table background="{{ website }}"><tr><td>x</td></tr></table>"#,
    r#"<form action="{{ website }}"></form>"#,
    r#"<a href="mailto:{{ mail }}" title="{{ displayName }}">{{ displayName }}</a>"#,
    r#"<p style="color:{{ website }}">{{ displayName }}</p>"#,
    r#"<span data-x="{{ linkedin }}" title='{{ website }}'>{{ linkedin }}</span>"#,
];

fn engine(html: &str) -> Result<SignatureEngine, sigsync_core::Error> {
    SignatureEngine::builder()
        .custom_attributes(["linkedin", "website"])
        .signature("s", TemplatePair::new(html, "x"))
        .build()
}

/// Decodes character references as a browser does in attribute values (numeric, and the
/// named ones that can spell a scheme): the test's own reading, independent of the guard.
fn browser_decode(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(rest.len());
        let (name, tail) = rest.split_at(end);
        let tail = tail.strip_prefix(';').unwrap_or(tail);
        let ch = if let Some(h) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
            u32::from_str_radix(h, 16).ok().and_then(char::from_u32)
        } else if let Some(d) = name.strip_prefix('#') {
            d.parse().ok().and_then(char::from_u32)
        } else {
            match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "colon" => Some(':'),
                "Tab" => Some('\t'),
                "NewLine" => Some('\n'),
                _ => None,
            }
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = tail;
            }
            None => out.push('&'),
        }
    }
    out.push_str(rest);
    out
}

/// Every attribute of every tag in `html` as (tag, name, value), values decoded; panics on
/// markup that a value created (a tag or attribute the template did not have).
fn attributes(html: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let b = html.as_bytes();
    let mut i = 0;
    while let Some(lt) = html[i..].find('<') {
        let t = i + lt + 1;
        let name_end = html[t..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .map_or(html.len(), |e| t + e);
        let tag = html[t..name_end].to_ascii_lowercase();
        let mut j = name_end;
        loop {
            while j < b.len() && (b[j].is_ascii_whitespace() || b[j] == b'/') {
                j += 1;
            }
            if j >= b.len() || b[j] == b'>' {
                break;
            }
            let ns = j;
            while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'=' && b[j] != b'>' {
                j += 1;
            }
            let name = html[ns..j].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(j) == Some(&b'=') {
                j += 1;
                let q = b[j];
                assert!(q == b'"' || q == b'\'', "unquoted attribute in {html}");
                let e = html[j + 1..].find(q as char).unwrap() + j + 1;
                value = browser_decode(&html[j + 1..e]);
                j = e + 1;
            }
            out.push((tag.clone(), name, value));
        }
        i = j.min(html.len());
    }
    out
}

fn scheme(url: &str) -> String {
    // Browsers drop leading C0 controls and spaces, and tabs and newlines anywhere.
    let clean: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    match clean.find(':') {
        Some(i) if !clean[..i].contains(['/', '?', '#']) => clean[..i].to_ascii_lowercase(),
        _ => String::new(),
    }
}

#[test]
fn no_directory_value_becomes_a_script_link_or_markup_in_any_attribute() {
    let allowed = ["", "http", "https", "mailto", "tel", "cid"];
    let url_attrs = ["href", "src", "data", "background", "action"];
    for tpl in TEMPLATES {
        let engine = engine(tpl).unwrap_or_else(|e| panic!("{tpl}: {e}"));
        let benign = UserAttributes {
            display_name: Some("Adele".into()),
            mail: Some("adele@contoso.com".into()),
            ..Default::default()
        }
        .custom("linkedin", "https://www.linkedin.com/in/adele")
        .custom("website", "https://contoso.com");
        let clean = engine
            .render(Some("s"), None, &benign, Origin::Server)
            .unwrap()
            .html;
        let baseline: Vec<(String, String)> = attributes(&clean)
            .into_iter()
            .map(|(t, n, _)| (t, n))
            .collect();
        for payload in PAYLOADS {
            for other in ["", "script:alert(1)", "java"] {
                let user = UserAttributes {
                    display_name: Some(payload.to_string()),
                    mail: Some(payload.to_string()),
                    ..Default::default()
                }
                .custom("linkedin", *payload)
                .custom("website", other);
                let html = engine
                    .render(Some("s"), None, &user, Origin::Server)
                    .unwrap()
                    .html;
                if html.is_empty() {
                    continue; // every placeholder of the line was empty: the line vanished
                }
                let attrs = attributes(&html);
                let shape: Vec<(String, String)> = attrs
                    .iter()
                    .map(|(t, n, _)| (t.clone(), n.clone()))
                    .collect();
                assert_eq!(
                    shape, baseline,
                    "a value changed the markup: {tpl} with {payload:?}: {html}"
                );
                for (tag, name, value) in &attrs {
                    if url_attrs.contains(&name.as_str()) {
                        let s = scheme(value);
                        assert!(
                            allowed.contains(&s.as_str()),
                            "{tag} {name}={value:?} has scheme {s:?}: {tpl} with {payload:?}"
                        );
                    }
                    if name == "style" {
                        assert!(!value.contains('('), "style {value:?}: {tpl}");
                    }
                }
            }
        }
    }
}

#[test]
fn templates_whose_placeholders_cannot_be_guarded_are_refused_at_load() {
    for tpl in [
        r#"<a title="{{ linkedin|tojson }}">x</a>"#,
        r##"<a href="#" onclick="{{ linkedin }}">x</a>"##,
        r#"<iframe srcdoc="{{ linkedin }}"></iframe>"#,
        r#"<img srcset="{{ website }} 2x">"#,
        r#"<meta http-equiv="refresh" content="0;url={{ website }}">"#,
        r#"<svg><animate attributeName="href" values="{{ linkedin }}"/></svg>"#,
        r#"<a href={{ linkedin }}>x</a>"#,
        r#"<a {{ linkedin }}>x</a>"#,
        r#"<b>{{ linkedin|safe }}</b>"#,
        "<style>p { color: {{ website }} }</style>",
        r#"<a href="javascript:void(0)">x</a>"#,
    ] {
        let e = engine(tpl).expect_err(tpl);
        assert!(e.to_string().contains("HTML template"), "{tpl}: {e}");
    }
}

#[test]
fn safe_links_still_render() {
    let engine = engine(TEMPLATES[1]).unwrap();
    let user = UserAttributes::default().custom("linkedin", "https://www.linkedin.com/in/adele");
    let html = engine
        .render(Some("s"), None, &user, Origin::Server)
        .unwrap()
        .html;
    assert!(
        html.contains(r#"href="https://www.linkedin.com/in/adele""#),
        "{html}"
    );
    let engine = engine_with(r#"<a href="{{ website }}?a=1&amp;b={{ linkedin }}">x</a>"#);
    let user = UserAttributes::default()
        .custom("website", "https://contoso.com/p")
        .custom("linkedin", "x");
    let html = engine
        .render(Some("s"), None, &user, Origin::Server)
        .unwrap()
        .html;
    assert!(
        html.contains(r#"href="https://contoso.com/p?a=1&amp;b=x""#),
        "{html}"
    );
}

fn engine_with(html: &str) -> SignatureEngine {
    engine(html).unwrap()
}
