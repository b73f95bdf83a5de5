//! Rendering: full, partial and empty attributes, escaping, unsafe links, images, disclaimers
//! and load-time errors.

use sigsync_core::signature::{
    find_marker, Origin, Rule, SignatureEngine, SignatureImage, TemplatePair, UserAttributes,
    TEXT_MARKER_SERVER,
};
use sigsync_core::ErrorKind;

const HTML: &str = r#"<p><b title="{{ displayName }}">{{ displayName }}</b>
{{ jobTitle }}{% if jobTitle and department %} · {% endif %}{{ department }}
<a href="mailto:{{ mail }}">{{ mail }}</a>
Tel: {{ businessPhone }}
Mobile: {{ mobilePhone }}
<a href="{{ linkedin }}">LinkedIn</a>
</p>"#;

const TEXT: &str = "{{ displayName }}
{{ jobTitle }}
Tel: {{ businessPhone }}
Mobile: {{ mobilePhone }}
{{ city }}{% if city and country %}, {% endif %}{{ country }}";

fn engine() -> SignatureEngine {
    SignatureEngine::builder()
        .custom_attributes(["linkedin"])
        .signature("standard", TemplatePair::new(HTML, TEXT))
        .rule(Rule::new("everyone").signature("standard"))
        .build()
        .unwrap()
}

fn full_user() -> UserAttributes {
    UserAttributes {
        display_name: Some("Adele Vance".into()),
        job_title: Some("Retail Manager".into()),
        department: Some("Retail".into()),
        mail: Some("adele@contoso.com".into()),
        business_phones: vec!["+1 425 555 0109".into()],
        mobile_phone: Some("+1 425 555 0110".into()),
        city: Some("Seattle".into()),
        country: Some("United States".into()),
        ..Default::default()
    }
    .custom("linkedin", "https://www.linkedin.com/in/adele")
}

fn render(user: &UserAttributes) -> sigsync_core::signature::RenderedSignature {
    engine()
        .render(Some("standard"), None, user, Origin::Server)
        .unwrap()
}

#[test]
fn full_attributes_fill_every_line() {
    let r = render(&full_user());
    assert!(r
        .html
        .starts_with(&format!(r#"<div data-sigsync="server">{TEXT_MARKER_SERVER}<p><b title="Adele Vance">Adele Vance</b>"#)));
    assert!(r.html.contains("Retail Manager · Retail"));
    assert!(r.html.contains("Mobile: +1 425 555 0110"));
    assert!(r
        .html
        .contains(r#"href="https://www.linkedin.com/in/adele""#));
    assert_eq!(
        r.text,
        format!(
            "{TEXT_MARKER_SERVER}Adele Vance\nRetail Manager\nTel: +1 425 555 0109\n\
             Mobile: +1 425 555 0110\nSeattle, United States"
        )
    );
}

#[test]
fn missing_fields_remove_their_lines_without_blank_lines() {
    let user = UserAttributes {
        display_name: Some("Bob".into()),
        city: Some("Paris".into()),
        ..Default::default()
    };
    let r = render(&user);
    assert_eq!(r.text, format!("{TEXT_MARKER_SERVER}Bob\nParis"));
    assert!(!r.html.contains("Mobile:"), "{}", r.html);
    assert!(!r.html.contains("Tel:"));
    assert!(!r.html.contains("LinkedIn"));
    assert!(!r.html.contains("\n\n"), "{}", r.html);
}

#[test]
fn empty_attributes_render_only_static_lines() {
    let r = render(&UserAttributes::default());
    assert_eq!(
        r.text, "",
        "a template of placeholders only renders nothing"
    );
    assert_eq!(
        r.html,
        format!(
            r#"<div data-sigsync="server">{TEXT_MARKER_SERVER}<p><b title=""></b>
</p></div>"#
        )
    );
}

#[test]
fn script_in_display_name_is_escaped_in_text_and_attributes() {
    let mut user = full_user();
    user.display_name = Some("<script>alert(1)</script>".into());
    let r = render(&user);
    assert!(!r.html.contains("<script>"), "{}", r.html);
    assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The plain text keeps the value as typed: it is not HTML.
    assert!(r.text.contains("<script>alert(1)</script>"));
}

#[test]
fn quotes_cannot_break_out_of_an_attribute() {
    let mut user = full_user();
    user.display_name = Some(r#"x" onmouseover="alert(1)' y"#.into());
    let r = render(&user);
    assert!(!r.html.contains(r#"" onmouseover=""#), "{}", r.html);
    assert!(r
        .html
        .contains("title=\"x&quot; onmouseover=&quot;alert(1)&#39; y\""));
}

#[test]
fn javascript_link_from_directory_data_is_refused() {
    for evil in [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
    ] {
        let user = full_user().custom("linkedin", evil);
        let r = render(&user);
        let lower = r.html.to_ascii_lowercase();
        assert!(!lower.contains("javascript"), "{evil:?} -> {}", r.html);
        assert!(!lower.contains("data:"), "{evil:?} -> {}", r.html);
        assert!(r.html.contains(r#"<a href="">LinkedIn</a>"#), "{}", r.html);
    }
}

#[test]
fn bare_host_in_a_link_becomes_https() {
    let user = full_user().custom("linkedin", "www.linkedin.com/in/adele");
    assert!(render(&user)
        .html
        .contains(r#"href="https://www.linkedin.com/in/adele""#));
}

fn build_err(html: &str, text: &str) -> sigsync_core::Error {
    SignatureEngine::builder()
        .signature("s", TemplatePair::new(html, text))
        .build()
        .unwrap_err()
}

#[test]
fn unknown_placeholder_fails_at_load_time() {
    let e = build_err("{{ displayName }}", "{{ jobTitel }}");
    assert_eq!(e.kind(), ErrorKind::Config);
    let msg = e.to_string();
    assert!(
        msg.contains("jobTitel") && msg.contains("\"signature/s\""),
        "{msg}"
    );
}

#[test]
fn syntax_error_fails_at_load_time_with_its_line() {
    let e = build_err("<p>\n{% if displayName %}{{ displayName }}\n</p>", "x");
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("HTML template"), "{e}");
    let e = build_err("x", "{{ displayName ");
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("text template"), "{e}");
}

#[test]
fn unknown_filter_and_unsafe_template_fail_at_load_time() {
    assert_eq!(
        build_err("{{ displayName | shout }}", "x").kind(),
        ErrorKind::Config
    );
    let e = build_err(r#"<a href="javascript:alert(1)">x</a>"#, "x");
    assert!(e.to_string().contains("unsafe URL"), "{e}");
    assert!(build_err("<a {{ mail }}>x</a>", "x")
        .to_string()
        .contains("quoted"));
}

#[test]
fn unknown_image_and_undeclared_custom_attribute_fail_at_load_time() {
    let e = build_err(r#"<img src="{{ images.logo }}">"#, "x");
    assert!(e.to_string().contains("images.logo"), "{e}");
    let e = build_err("{{ pronouns }}", "x");
    assert!(e.to_string().contains("pronouns"), "{e}");
}

#[test]
fn rule_referring_to_a_missing_signature_fails_at_load_time() {
    let e = SignatureEngine::builder()
        .rule(Rule::new("r").signature("nope"))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert!(e.to_string().contains("rules[r].signature"), "{e}");
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

#[test]
fn inline_image_becomes_a_cid_part_and_hosted_image_a_url() {
    let engine = SignatureEngine::builder()
        .image(
            SignatureImage::inline("logo", PNG.to_vec())
                .unwrap()
                .with_filename("logo.png"),
        )
        .image(SignatureImage::hosted("banner", "https://cdn.contoso.com/b.png").unwrap())
        .image(SignatureImage::inline("unused", PNG.to_vec()).unwrap())
        .signature(
            "s",
            TemplatePair::new(
                r#"<img src="{{ images.logo }}" alt="logo"><img src="{{ images.banner }}">"#,
                "{{ displayName }}",
            ),
        )
        .build()
        .unwrap();
    let r = engine
        .render(Some("s"), None, &UserAttributes::default(), Origin::Server)
        .unwrap();
    assert_eq!(r.images.len(), 1, "only referenced inline images travel");
    let img = &r.images[0];
    assert_eq!(img.content_type, "image/png");
    assert_eq!(img.filename.as_deref(), Some("logo.png"));
    assert!(r.html.contains(&format!(r#"src="cid:{}""#, img.content_id)));
    assert!(r.html.contains(r#"src="https://cdn.contoso.com/b.png""#));
}

#[test]
fn disclaimer_is_separate_and_marked() {
    let engine = SignatureEngine::builder()
        .signature(
            "s",
            TemplatePair::new("{{ displayName }}", "{{ displayName }}"),
        )
        .disclaimer(
            "legal",
            TemplatePair::new(
                "<small>{{ companyName }} is confidential.</small>",
                "{{ companyName }} is confidential.",
            ),
        )
        .fallback(UserAttributes {
            company_name: Some("Contoso".into()),
            ..Default::default()
        })
        .build()
        .unwrap();
    let r = engine
        .render(
            Some("s"),
            Some("legal"),
            &UserAttributes::default(),
            Origin::Server,
        )
        .unwrap();
    assert_eq!(r.html, "", "an empty signature renders nothing");
    assert_eq!(
        r.disclaimer_html.as_deref(),
        Some(r#"<div data-sigsync="disclaimer"><small>Contoso is confidential.</small></div>"#)
    );
    assert_eq!(
        r.disclaimer_text.as_deref(),
        Some("Contoso is confidential.")
    );
}

#[test]
fn markers_are_found_in_html_and_text() {
    let r = render(&full_user());
    assert_eq!(find_marker(&r.html), Some(Origin::Server));
    assert_eq!(find_marker(&r.text), Some(Origin::Server));
    assert_eq!(
        find_marker("<DIV DATA-SIGSYNC=client>"),
        Some(Origin::Client)
    );
    assert_eq!(
        find_marker("<div data-sigsync='client'>"),
        Some(Origin::Client)
    );
    assert_eq!(find_marker("-- \nBob"), None);
}
