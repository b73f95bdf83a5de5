//! A group-scoped rule picks the same signature (and legal disclaimer) for the same message
//! whichever way the sender's attributes arrive: from the directory, as a `user` override
//! (the normal call from C and Python), with the groups listed in it, asynchronously, or
//! rendered client-side. A membership that cannot be told without waiting is a failure,
//! never a silent fall-through to another rule.

use std::sync::Arc;

use async_trait::async_trait;
use sigsync_core::inject::{Outcome, SignatureInjector};
use sigsync_core::signature::{
    Choice, Directory, InMemoryDirectory, MessageContext, MessageKind, Rule, SignatureEngine,
    TemplatePair, UserAttributes,
};

const MSG: &[u8] = b"From: Adele <adele@contoso.com>\r\nTo: bob@fabrikam.com\r\nSubject: Q3\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob\r\n";
const LEGAL: &str = "Legal: this mail binds Contoso Sales.";

fn builder() -> sigsync_core::signature::SignatureEngineBuilder {
    SignatureEngine::builder()
        .accepted_domains(["contoso.com"])
        .signature(
            "full",
            TemplatePair::new("<p>{{ displayName }}</p>", "{{ displayName }}"),
        )
        .disclaimer("legal", TemplatePair::new(format!("<p>{LEGAL}</p>"), LEGAL))
        .rule(
            Rule::new("sales")
                .sender_groups(["sales@contoso.com"])
                .signature("full")
                .disclaimer("legal"),
        )
        .rule(Rule::new("everyone").signature("full"))
}

fn adele() -> UserAttributes {
    UserAttributes {
        display_name: Some("Adele Vance".into()),
        mail: Some("adele@contoso.com".into()),
        ..Default::default()
    }
}

fn memory_directory() -> InMemoryDirectory {
    InMemoryDirectory::new()
        .with_user("adele@contoso.com", adele())
        .with_group("sales@contoso.com", ["eu-sales@contoso.com"])
        .with_group("eu-sales@contoso.com", ["adele@contoso.com"])
}

fn injected_text(service: &SignatureInjector, user: Option<&UserAttributes>) -> String {
    let mut out = Vec::new();
    let o = service.inject(MSG, None, user, &mut out);
    assert!(o.is_injected(), "{o:?}");
    String::from_utf8(out).unwrap()
}

#[test]
fn a_user_override_keeps_the_group_rule_the_directory_would_pick() {
    let engine = Arc::new(
        builder()
            .memory_directory(memory_directory())
            .build()
            .unwrap(),
    );
    let service = SignatureInjector::new(engine.clone()).unwrap();
    // From the directory.
    assert!(injected_text(&service, None).contains(LEGAL));
    // The attributes passed in (C, Python): membership still comes from the directory.
    assert!(injected_text(&service, Some(&adele())).contains(LEGAL));
    // Client-side rendering of the same message picks the same rule.
    let ctx = MessageContext::new("adele@contoso.com", ["bob@fabrikam.com"], MessageKind::New);
    let Choice::Sign(sig) = engine.render_client_side(&adele(), &ctx).unwrap() else {
        panic!("no signature client-side")
    };
    assert_eq!(sig.disclaimer_text.as_deref(), Some(LEGAL));
    // And so does the asynchronous path.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let Choice::Sign(sig) = rt.block_on(engine.choose(&ctx)).unwrap() else {
        panic!("no signature")
    };
    assert_eq!(sig.disclaimer_text.as_deref(), Some(LEGAL));
}

#[test]
fn groups_listed_in_the_user_mapping_decide_group_rules() {
    let service = SignatureInjector::new(Arc::new(builder().build().unwrap())).unwrap();
    let user: UserAttributes =
        serde_json::from_str(r#"{"displayName": "Adele Vance", "groups": ["Sales@Contoso.com"]}"#)
            .unwrap();
    assert!(injected_text(&service, Some(&user)).contains(LEGAL));
    let not_member: UserAttributes =
        serde_json::from_str(r#"{"displayName": "Adele Vance", "groups": []}"#).unwrap();
    assert!(!injected_text(&service, Some(&not_member)).contains(LEGAL));
    let ctx = MessageContext::new("adele@contoso.com", ["bob@fabrikam.com"], MessageKind::New);
    let engine = builder().build().unwrap();
    let Choice::Sign(sig) = engine.render_client_side(&user, &ctx).unwrap() else {
        panic!()
    };
    assert_eq!(sig.disclaimer_text.as_deref(), Some(LEGAL));
}

/// A directory that can only be asked asynchronously (as Graph).
struct Remote;

#[async_trait]
impl Directory for Remote {
    async fn user(&self, _: &str) -> sigsync_core::Result<Option<UserAttributes>> {
        Ok(Some(adele()))
    }
    async fn is_member(&self, _: &str, group: &str) -> sigsync_core::Result<bool> {
        Ok(group.eq_ignore_ascii_case("sales@contoso.com"))
    }
}

#[test]
fn membership_only_an_asynchronous_directory_knows_fails_instead_of_picking_another_rule() {
    let engine = Arc::new(builder().directory(Arc::new(Remote)).build().unwrap());
    let service = SignatureInjector::new(engine.clone()).unwrap();
    let mut out = Vec::new();
    let o = service.inject(MSG, None, Some(&adele()), &mut out);
    match &o {
        Outcome::Failed(e) => assert!(e.to_string().contains("groups"), "{e}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(out.ends_with(MSG), "the message passes through");
    // With the groups given, it signs with the group's rule.
    let user = UserAttributes {
        groups: Some(vec!["sales@contoso.com".into()]),
        ..adele()
    };
    assert!(injected_text(&service, Some(&user)).contains(LEGAL));
    // Asynchronously, the directory is asked and agrees.
    let ctx = MessageContext::new("adele@contoso.com", ["bob@fabrikam.com"], MessageKind::New);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let Choice::Sign(sig) = rt.block_on(engine.choose(&ctx)).unwrap() else {
        panic!()
    };
    assert_eq!(sig.disclaimer_text.as_deref(), Some(LEGAL));
}
