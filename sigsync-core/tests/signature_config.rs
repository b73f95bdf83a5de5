//! The configuration file: the committed samples load, TOML and JSON agree, and mistakes are
//! load-time errors that say where.

use std::path::PathBuf;

use sigsync_core::signature::{
    Choice, MessageContext, MessageKind, NoSignatureReason, SignatureConfig, UserAttributes,
};
use sigsync_core::{ErrorKind, LoopHeader};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn sample_user() -> UserAttributes {
    let json = std::fs::read_to_string(examples().join("user.json")).unwrap();
    serde_json::from_str(&json).unwrap()
}

#[test]
fn sample_configuration_loads_and_signs_by_policy() {
    let config = SignatureConfig::load(examples().join("signature.toml")).unwrap();
    // The sample leaves the loop header to the service profile (its one source).
    assert_eq!(config.loop_header, None);
    let engine = config.engine(None).unwrap();
    assert_eq!(engine.loop_header(), &LoopHeader::default());
    assert_eq!(engine.rules().len(), 6);

    let to_partner = ["ben@fabrikam.com"];
    let ctx =
        |kind, to: &[&str]| MessageContext::new("AdeleV@contoso.com", to.iter().copied(), kind);

    let Choice::Sign(s) = engine
        .choose_sync(&ctx(MessageKind::New, &to_partner))
        .unwrap()
    else {
        panic!()
    };
    assert!(
        s.html.contains("<b>Adele Vance</b> (she/her)<br>"),
        "{}",
        s.html
    );
    assert!(!s.html.contains("Mobile:"), "no mobile phone: no line");
    assert_eq!(s.images.len(), 1, "the logo is embedded, the banner hosted");
    assert!(s
        .html
        .contains("https://cdn.contoso.com/signature/banner.png"));
    assert!(s
        .html
        .contains(r#"href="https://www.linkedin.com/in/adelevance""#));
    assert!(
        s.text.contains("1 Microsoft Way, Redmond"),
        "fallback fills the address"
    );

    // A group member writing to a non-partner gets the Sales rule (with the disclaimer).
    let s = engine
        .choose_sync(&ctx(MessageKind::New, &["x@gmail.com"]))
        .unwrap();
    assert!(s.signature().unwrap().disclaimer_text.is_some());

    let s = engine
        .choose_sync(&ctx(MessageKind::Reply, &to_partner))
        .unwrap();
    assert!(s
        .signature()
        .unwrap()
        .text
        .contains("Adele Vance | Retail Manager | Contoso Ltd"));

    assert_eq!(
        engine
            .choose_sync(&ctx(MessageKind::New, &["bob@contoso.co.uk"]))
            .unwrap(),
        Choice::NoSignature(NoSignatureReason::RuleAddsNothing(
            "Internal mail gets no signature".into()
        ))
    );
}

#[test]
fn sample_user_renders_client_side_with_every_field() {
    let engine = SignatureConfig::load(examples().join("signature.toml"))
        .unwrap()
        .engine(None)
        .unwrap();
    let ctx = MessageContext::new("", ["ben@fabrikam.com"], MessageKind::New);
    let r = engine.render_client_side(&sample_user(), &ctx).unwrap();
    let r = r.signature().unwrap();
    assert!(r.html.starts_with(r#"<div data-sigsync="client">"#));
    assert!(r.text.contains("Mobile: +1 425 555 0110"));
    assert!(r.text.contains("Retail Manager | Sales"));
}

#[test]
fn json_and_toml_describe_the_same_configuration() {
    let toml_config = SignatureConfig::load(examples().join("signature.toml")).unwrap();
    let json = serde_json::to_string(&toml_config).unwrap();
    let json_config = SignatureConfig::from_json_str(&json).unwrap();
    assert_eq!(json_config.rules, toml_config.rules);
    assert_eq!(json_config.directory, toml_config.directory);
    json_config.engine(None).unwrap();
}

#[test]
fn template_errors_name_the_signature_when_loading() {
    let config = SignatureConfig::from_toml_str(
        r#"
        [signatures.broken]
        html = "{{ displayName }"
        text = "x"
        "#,
    )
    .unwrap();
    let e = config.engine(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("broken"), "{e}");
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_with_their_place() {
    let e = SignatureConfig::from_toml_str("acepted_domains = []").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("acepted_domains"), "{e}");

    let e = SignatureConfig::from_toml_str("[[rules]]\nname = \"r\"\nrecipients = \"internl\"\n")
        .unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
}

#[test]
fn missing_template_file_and_ambiguous_image_are_validation_errors() {
    let config = SignatureConfig::from_toml_str(
        r#"
        [signatures.s]
        html_file = "does-not-exist.html"
        text = "x"
        "#,
    )
    .unwrap();
    let e = config.engine(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert!(e.to_string().contains("signatures.s.html"), "{e}");

    let config = SignatureConfig::from_toml_str(
        r#"
        [images.logo]
        url = "https://cdn.contoso.com/l.png"
        base64 = "AAAA"
        "#,
    )
    .unwrap();
    assert!(config
        .engine(None)
        .unwrap_err()
        .to_string()
        .contains("images.logo"));
}

#[test]
fn graph_directory_needs_a_token_provider() {
    let config =
        SignatureConfig::from_toml_str("[directory]\nsource = \"graph\"\ncache_ttl_secs = 60\n")
            .unwrap();
    let e = config.engine(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}

#[test]
fn bad_loop_header_in_the_file_is_refused() {
    // Refused when the file is read, naming the field.
    let e = SignatureConfig::from_toml_str("[loop_header]\nname = \"X Bad\"\nvalue = \"1\"\n")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("loop_header.name"), "{e}");
}
