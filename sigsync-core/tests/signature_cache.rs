//! The render cache never changes what a message gets.

use sigsync_core::signature::{
    Choice, MessageContext, MessageKind, Origin, SenderData, SignatureConfig, UserAttributes,
};

const CONFIG: &str = r#"
accepted_domains = ["contoso.com"]
[signatures.s]
html = "<b>{{ displayName }}</b> {{ jobTitle }}"
text = "{{ displayName }} {{ jobTitle }}"
[[rules]]
name = "all"
signature = "s"
"#;

fn rendered(cache: usize, user: &UserAttributes, engine_cfg: &SignatureConfig) -> Vec<String> {
    let mut cfg = engine_cfg.clone();
    cfg.render_cache = Some(cache);
    let engine = cfg.engine(None).unwrap();
    let ctx = MessageContext {
        sender: "a@contoso.com".into(),
        recipients: vec!["b@example.org".into()],
        kind: MessageKind::New,
    };
    let mut out = Vec::new();
    for title in ["Engineer", "Manager", "Engineer"] {
        let mut u = user.clone();
        u.job_title = Some(title.into());
        let data = SenderData {
            attributes: Some(u),
            groups: Vec::new(),
        };
        let Choice::Sign(sig) = engine.choose_with(&ctx, &data, Origin::Server).unwrap() else {
            panic!("expected a signature")
        };
        out.push(sig.html);
    }
    out
}

#[test]
fn cached_renderings_equal_fresh_ones_and_follow_attribute_changes() {
    let cfg = SignatureConfig::from_toml_str(CONFIG).unwrap();
    let user = UserAttributes {
        display_name: Some("Adele".into()),
        ..Default::default()
    };
    let fresh = rendered(0, &user, &cfg);
    let cached = rendered(16, &user, &cfg);
    assert_eq!(fresh, cached);
    assert!(cached[0].contains("Engineer") && cached[1].contains("Manager"));
    assert_eq!(cached[0], cached[2]);
    // A tiny cache that keeps evicting still renders correctly.
    assert_eq!(rendered(1, &user, &cfg), fresh);
}

#[test]
fn a_line_ending_in_a_block_tag_keeps_its_line_break() {
    for keep_empty_lines in [false, true] {
        let cfg = SignatureConfig::from_toml_str(&format!(
            r#"
            keep_empty_lines = {keep_empty_lines}
            custom_attributes = ["pronouns"]
            [signatures.s]
            html = "<p>{{{{ displayName }}}}</p>"
            text = """{{{{ displayName }}}}{{% if pronouns %}} ({{{{ pronouns }}}}){{% endif %}}
{{{{ jobTitle }}}}
{{% if department %}}
{{{{ department }}}}
{{% endif %}}
end"""
            [[rules]]
            name = "all"
            signature = "s"
            "#
        ))
        .unwrap();
        let engine = cfg.engine(None).unwrap();
        let mut user = UserAttributes {
            display_name: Some("Adele Vance".into()),
            job_title: Some("Retail Manager".into()),
            ..Default::default()
        };
        user.custom.insert("pronouns".into(), "she/her".into());
        let sig = engine
            .render(Some("s"), None, &user, Origin::Server)
            .unwrap();
        let text: String = sig
            .text
            .chars()
            .filter(|c| !('\u{2000}'..='\u{206F}').contains(c))
            .collect();
        assert_eq!(
            text, "Adele Vance (she/her)\nRetail Manager\nend",
            "keep_empty_lines = {keep_empty_lines}"
        );
    }
}

/// The cache is keyed on the attributes as the directory gives them, before the fallback
/// fills their gaps: attributes that differ only where the fallback fills, senders that
/// share a name and address but not the rest, and unknown senders all render as without it.
#[test]
fn renderings_through_the_fallback_equal_fresh_ones_for_every_kind_of_sender() {
    let cfg = SignatureConfig::from_toml_str(&format!(
        "{CONFIG}\n[fallback]\njobTitle = \"Staff\"\ndisplayName = \"Contoso\"\n"
    ))
    .unwrap();
    let senders: Vec<Option<UserAttributes>> = vec![
        None,
        Some(UserAttributes::default()),
        Some(UserAttributes {
            display_name: Some("Adele".into()),
            ..Default::default()
        }),
        Some(UserAttributes {
            display_name: Some("Adele".into()),
            job_title: Some("  ".into()),
            ..Default::default()
        }),
        Some(UserAttributes {
            display_name: Some("Adele".into()),
            job_title: Some("Engineer".into()),
            ..Default::default()
        }),
        Some(UserAttributes {
            display_name: Some("Adele".into()),
            mail: Some("a@contoso.com".into()),
            job_title: Some("Manager".into()),
            ..Default::default()
        }),
    ];
    let render = |cache: usize| -> Vec<String> {
        let mut cfg = cfg.clone();
        cfg.render_cache = Some(cache);
        let engine = cfg.engine(None).unwrap();
        let ctx = MessageContext {
            sender: "a@contoso.com".into(),
            recipients: vec!["b@example.org".into()],
            kind: MessageKind::New,
        };
        // Twice over, so the second round is served from the cache.
        (0..2)
            .flat_map(|_| senders.iter())
            .map(|attributes| {
                let data = SenderData {
                    attributes: attributes.clone(),
                    groups: Vec::new(),
                };
                match engine.choose_with(&ctx, &data, Origin::Server).unwrap() {
                    Choice::Sign(sig) => sig.text,
                    other => panic!("expected a signature: {other:?}"),
                }
            })
            .collect()
    };
    let fresh = render(0);
    assert_eq!(render(64), fresh);
    assert_eq!(render(1), fresh);
    assert!(fresh[0].contains("Contoso Staff"), "{fresh:?}");
    assert!(fresh[3].contains("Adele Staff"), "{fresh:?}");
    assert!(fresh[4].contains("Adele Engineer"), "{fresh:?}");
}
