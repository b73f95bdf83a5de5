//! Policy: each dimension (sender, recipients, kind), rule order, the on/off switch,
//! "no signature" with its reason, unknown senders, and client-side rendering.

use std::sync::Arc;

use async_trait::async_trait;
use sigsync_core::signature::{
    find_marker, Choice, Directory, InMemoryDirectory, KindScope, MessageContext, MessageKind,
    NoSignatureReason, Origin, RecipientScope, Rule, SenderData, SignatureEngine,
    SignatureEngineBuilder, TemplatePair, UserAttributes, TEXT_MARKER_CLIENT, TEXT_MARKER_SERVER,
};
use sigsync_core::{Error, ErrorKind, Result};

fn sig(name: &str) -> TemplatePair {
    TemplatePair::new(format!("{name}: {{{{ displayName }}}}"), name.to_string())
}

fn base() -> SignatureEngineBuilder {
    SignatureEngine::builder()
        .accepted_domains(["contoso.com", "contoso.co.uk"])
        .signature("full", sig("full"))
        .signature("reply", sig("reply"))
        .signature("sales", sig("sales"))
        .signature("internal", sig("internal"))
        .signature("fabrikam", sig("fabrikam"))
        .memory_directory(
            InMemoryDirectory::new()
                .with_user(
                    "adele@contoso.com",
                    UserAttributes {
                        display_name: Some("Adele".into()),
                        department: Some("Sales".into()),
                        ..Default::default()
                    },
                )
                .with_user("bob@contoso.com", UserAttributes::default())
                .with_group("all-sales@contoso.com", ["eu-sales"])
                .with_group("eu-sales", ["carol@contoso.com"]),
        )
}

/// The name of the chosen signature (the text template renders just the name).
fn chosen(engine: &SignatureEngine, ctx: &MessageContext) -> String {
    match engine.choose_sync(ctx).unwrap() {
        Choice::Sign(s) => s
            .text
            .trim_start_matches(|c: char| !c.is_ascii())
            .to_owned(),
        Choice::NoSignature(r) => format!("none: {r}"),
    }
}

fn ctx(sender: &str, to: &[&str], kind: MessageKind) -> MessageContext {
    MessageContext::new(sender, to.iter().copied(), kind)
}

#[test]
fn first_matching_rule_wins_in_priority_order() {
    let engine = base()
        .rule(
            Rule::new("replies")
                .kind(KindScope::Reply)
                .signature("reply"),
        )
        .rule(Rule::new("everyone").signature("full"))
        .rule(Rule::new("never reached").signature("sales"))
        .build()
        .unwrap();
    let to = ["x@fabrikam.com"];
    assert_eq!(
        chosen(&engine, &ctx("bob@contoso.com", &to, MessageKind::Reply)),
        "reply"
    );
    assert_eq!(
        chosen(&engine, &ctx("bob@contoso.com", &to, MessageKind::New)),
        "full"
    );
}

#[test]
fn disabled_rule_is_skipped() {
    let engine = base()
        .rule(Rule::new("off").signature("sales").enabled(false))
        .rule(Rule::new("on").signature("full"))
        .build()
        .unwrap();
    assert_eq!(
        chosen(&engine, &ctx("bob@contoso.com", &[], MessageKind::New)),
        "full"
    );
}

#[test]
fn message_kind_new_only_rule_skips_replies() {
    let engine = base()
        .rule(Rule::new("new").kind(KindScope::New).signature("full"))
        .build()
        .unwrap();
    assert_eq!(
        engine
            .choose_sync(&ctx("bob@contoso.com", &[], MessageKind::Reply))
            .unwrap(),
        Choice::NoSignature(NoSignatureReason::NoRuleMatched)
    );
}

#[test]
fn sender_by_address_by_transitive_group_and_by_attribute() {
    let engine = base()
        .rule(
            Rule::new("listed")
                .sender_addresses(["BOB@contoso.com"])
                .signature("internal"),
        )
        .rule(
            Rule::new("group")
                .sender_groups(["ALL-SALES@contoso.com"])
                .signature("sales"),
        )
        .rule(
            Rule::new("dept")
                .sender_attribute("department", ["sales"])
                .signature("fabrikam"),
        )
        .rule(Rule::new("rest").signature("full"))
        .build()
        .unwrap();
    let c = |s: &str| ctx(s, &["x@fabrikam.com"], MessageKind::New);
    assert_eq!(chosen(&engine, &c("Bob <bob@contoso.com>")), "internal");
    assert_eq!(
        chosen(&engine, &c("carol@contoso.com")),
        "sales",
        "nested group"
    );
    assert_eq!(
        chosen(&engine, &c("adele@contoso.com")),
        "fabrikam",
        "department"
    );
    assert_eq!(chosen(&engine, &c("dave@contoso.com")), "full");
}

#[test]
fn recipients_internal_only_any_external_and_listed_domains() {
    let engine = base()
        .rule(
            Rule::new("partner")
                .recipients(RecipientScope::Domains(vec!["*.fabrikam.com".into()]))
                .signature("fabrikam"),
        )
        .rule(
            Rule::new("internal")
                .recipients(RecipientScope::Internal)
                .signature("internal"),
        )
        .rule(
            Rule::new("external")
                .recipients(RecipientScope::External)
                .signature("full"),
        )
        .build()
        .unwrap();
    let c = |to: &[&str]| ctx("bob@contoso.com", to, MessageKind::New);
    assert_eq!(
        chosen(&engine, &c(&["a@CONTOSO.com", "b@contoso.co.uk"])),
        "internal"
    );
    assert_eq!(
        chosen(&engine, &c(&["a@contoso.com", "x@gmail.com"])),
        "full"
    );
    assert_eq!(
        chosen(&engine, &c(&["a@contoso.com", "x@eu.fabrikam.com"])),
        "fabrikam"
    );
}

#[test]
fn rule_without_signature_means_no_signature_with_its_reason() {
    let engine = base()
        .rule(Rule::new("internal is unsigned").recipients(RecipientScope::Internal))
        .rule(Rule::new("rest").signature("full"))
        .build()
        .unwrap();
    let choice = engine
        .choose_sync(&ctx(
            "bob@contoso.com",
            &["a@contoso.com"],
            MessageKind::New,
        ))
        .unwrap();
    let Choice::NoSignature(reason) = choice else {
        panic!("{choice:?}")
    };
    assert_eq!(
        reason,
        NoSignatureReason::RuleAddsNothing("internal is unsigned".into())
    );
    assert!(reason.to_string().contains("internal is unsigned"));
}

#[test]
fn unknown_sender_gets_fallback_not_an_error() {
    let engine = base()
        .fallback(UserAttributes {
            display_name: Some("Contoso".into()),
            ..Default::default()
        })
        .rule(Rule::new("all").signature("full"))
        .build()
        .unwrap();
    let c = ctx("nobody@contoso.com", &[], MessageKind::New);
    let s = engine.choose_sync(&c).unwrap();
    assert!(s.signature().unwrap().html.contains("full: Contoso"));
}

#[test]
fn internal_rules_need_accepted_domains() {
    let e = SignatureEngine::builder()
        .rule(Rule::new("i").recipients(RecipientScope::Internal))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert!(e.to_string().contains("accepted_domains"));
}

struct FailingDirectory;

#[async_trait]
impl Directory for FailingDirectory {
    async fn user(&self, _: &str) -> Result<Option<UserAttributes>> {
        Err(Error::Network("connection refused".into()))
    }
    async fn is_member(&self, _: &str, _: &str) -> Result<bool> {
        Err(Error::Network("connection refused".into()))
    }
}

#[tokio::test]
async fn directory_failure_does_not_stop_mail() {
    let engine = SignatureEngine::builder()
        .signature("full", sig("full"))
        .signature("sales", sig("sales"))
        .directory(Arc::new(FailingDirectory))
        .rule(
            Rule::new("group")
                .sender_groups(["sales"])
                .signature("sales"),
        )
        .rule(Rule::new("all").signature("full"))
        .build()
        .unwrap();
    let c = ctx("bob@contoso.com", &[], MessageKind::New);
    let s = engine.choose(&c).await.unwrap();
    assert!(s.signature().unwrap().text.ends_with("full"));
    // The sync path refuses an asynchronous directory instead of guessing.
    assert_eq!(
        engine.choose_sync(&c).unwrap_err().kind(),
        ErrorKind::Config
    );
}

#[tokio::test]
async fn async_choose_uses_the_directory_for_groups_and_attributes() {
    let engine = base()
        .rule(
            Rule::new("group")
                .sender_groups(["all-sales@contoso.com"])
                .signature("sales"),
        )
        .rule(Rule::new("all").signature("full"))
        .build()
        .unwrap();
    let s = engine
        .choose(&ctx("carol@contoso.com", &[], MessageKind::New))
        .await
        .unwrap();
    assert!(s.signature().unwrap().text.ends_with("sales"));
    let s = engine
        .choose(&ctx("adele@contoso.com", &[], MessageKind::New))
        .await
        .unwrap();
    assert_eq!(
        s.signature().unwrap().html,
        format!(r#"<div data-sigsync="server">{TEXT_MARKER_SERVER}full: Adele</div>"#)
    );
}

#[test]
fn client_side_rendering_carries_the_client_marker() {
    let engine = base()
        .rule(
            Rule::new("replies")
                .kind(KindScope::Reply)
                .signature("reply"),
        )
        .rule(Rule::new("all").signature("full"))
        .build()
        .unwrap();
    let user = UserAttributes {
        display_name: Some("Eve <Admin>".into()),
        mail: Some("eve@contoso.com".into()),
        ..Default::default()
    };
    let compose = MessageContext {
        sender: String::new(),
        recipients: vec!["x@fabrikam.com".into()],
        kind: MessageKind::New,
    };
    let Choice::Sign(r) = engine.render_client_side(&user, &compose).unwrap() else {
        panic!()
    };
    assert_eq!(
        r.html,
        format!(r#"<div data-sigsync="client">{TEXT_MARKER_CLIENT}full: Eve &lt;Admin&gt;</div>"#)
    );
    assert_eq!(r.text, format!("{TEXT_MARKER_CLIENT}full"));
    assert_eq!(find_marker(&r.html), Some(Origin::Client));
    // A client that strips unknown attributes (or derives text from HTML) keeps the mark.
    let stripped = r.html.replace(r#" data-sigsync="client""#, "");
    assert_eq!(find_marker(&stripped), Some(Origin::Client));
    assert_eq!(
        find_marker(&format!("Hi\n\n{}\n> quoted", r.text)),
        Some(Origin::Client)
    );

    let reply = MessageContext {
        kind: MessageKind::Reply,
        ..compose
    };
    let r = engine.render_client_side(&user, &reply).unwrap();
    assert!(r.signature().unwrap().html.contains("reply: Eve"));
}

#[test]
fn explicit_sender_data_answers_group_rules() {
    let engine = base()
        .rule(Rule::new("group").sender_groups(["vip"]).signature("sales"))
        .rule(Rule::new("all").signature("full"))
        .build()
        .unwrap();
    let c = ctx("zed@contoso.com", &[], MessageKind::New);
    let sender = SenderData {
        attributes: None,
        groups: vec!["VIP".into()],
    };
    let s = engine.choose_with(&c, &sender, Origin::Server).unwrap();
    assert!(s.signature().unwrap().text.ends_with("sales"));
}

#[test]
fn engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SignatureEngine>();
    assert_send_sync::<sigsync_core::signature::GraphDirectory>();
}

#[test]
fn accepted_domain_that_is_an_address_is_refused() {
    let e = SignatureEngine::builder()
        .accepted_domains(["bob@contoso.com"])
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
}
