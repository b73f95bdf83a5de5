//! The loop header, one definition for the routing rule and the service: the rule's pattern
//! matches exactly the value the service stamps (and nothing a sender could slip past it), the
//! value is random per profile and kept, a rotation never leaves stamped mail unexcepted, and
//! the signature configuration cannot silently disagree with the profile.

use regex::Regex;
use sigsync_core::loop_header::{pattern_for, value_of_pattern};
use sigsync_core::setup::{ConnectorSetup, ServiceProfile};
use sigsync_core::signature::SignatureConfig;
use sigsync_core::{ErrorKind, LoopHeader};

fn profile(header: LoopHeader) -> ServiceProfile {
    ServiceProfile::builder()
        .smart_hosts(["smtp.signatures.example.com"])
        .certificate_name("tenant1.smtp.signatures.example.com")
        .loop_header(header)
        .build()
        .unwrap()
}

/// The routing rule's exception, as the regular expressions Exchange evaluates.
fn rule_patterns(p: &ServiceProfile) -> Vec<Regex> {
    let setup = ConnectorSetup::builder(p.clone()).build().unwrap();
    let rule = setup.desired().routing_rule;
    assert_eq!(
        rule.except_if_header_matches_message_header(),
        Some(p.loop_header.name.as_str())
    );
    rule.except_if_header_matches_patterns()
        .iter()
        .map(|p| Regex::new(p).unwrap())
        .collect()
}

fn excepted(patterns: &[Regex], stamped: &str) -> bool {
    patterns.iter().any(|r| r.is_match(stamped))
}

#[test]
fn rule_pattern_matches_the_stamped_value_exactly_for_every_value_shape() {
    let values = [
        LoopHeader::DEFAULT_VALUE.to_owned(),
        LoopHeader::random_value(),
        "v1.2".into(),
        "a.b-c_d".into(),
        "...".into(),
        "x".repeat(LoopHeader::MAX_VALUE_LEN),
    ];
    for value in values {
        let p = profile(LoopHeader::new("X-Sigsync-Processed", value.clone()).unwrap());
        let patterns = rule_patterns(&p);
        assert!(excepted(&patterns, &value), "{value} must match itself");
        // Anchored: a value that merely contains it, or a prefix of it, is not excepted.
        for near in [
            format!("x{value}"),
            format!("{value}x"),
            format!("{value} {value}"),
            value[..value.len() - 1].to_owned(),
        ] {
            assert!(
                !excepted(&patterns, &near),
                "{near:?} must not match {value:?}"
            );
        }
        // Escaped: a '.' in the value is a literal dot.
        if value.contains('.') {
            let forged = value.replace('.', "a");
            assert!(!excepted(&patterns, &forged), "{forged:?} vs {value:?}");
        }
        assert_eq!(
            value_of_pattern(&pattern_for(&value)),
            value,
            "the value reads back from the rule"
        );
    }
}

#[test]
fn values_outside_the_safe_alphabet_are_refused_with_the_field() {
    for bad in ["a+b", "(x)", "$x", "x|y", "a b", "tab\t", "ü", ""] {
        let e = LoopHeader::new("X-Sigsync-Processed", bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation, "{bad:?}");
        assert!(e.to_string().contains("loop_header.value"), "{e}");
        let json = format!(
            r#"{{"smart_hosts": ["smtp.example.com"], "certificate_name": "relay.example.com",
                "loop_header": {{"value": {}}}}}"#,
            serde_json::to_string(bad).unwrap()
        );
        let e = ServiceProfile::from_json(&json).unwrap_err();
        assert!(e.to_string().contains("loop_header.value"), "{e}");
    }
}

#[test]
fn each_new_profile_gets_its_own_random_value_that_a_sender_cannot_guess() {
    let a = ServiceProfile::builder()
        .smart_hosts(["smtp.signatures.example.com"])
        .certificate_name("tenant1.smtp.signatures.example.com")
        .build()
        .unwrap();
    let b = ServiceProfile::builder()
        .smart_hosts(["smtp.signatures.example.com"])
        .certificate_name("tenant1.smtp.signatures.example.com")
        .build()
        .unwrap();
    assert_ne!(a.loop_header.value, b.loop_header.value);
    // The documented default is not among what the rule excepts.
    assert!(!excepted(&rule_patterns(&a), LoopHeader::DEFAULT_VALUE));
    // Kept: reading the saved profile gives the same value, so re-runs converge.
    assert_eq!(ServiceProfile::from_json(&a.to_json()).unwrap(), a);
}

#[test]
fn rotation_keeps_every_stamped_value_excepted_in_every_phase() {
    let mut p = profile(LoopHeader::generate());
    let old = p.loop_header.value.clone();
    // Phase 1: the rule accepts old and new; the service still stamps old.
    let new = p.begin_loop_header_rotation();
    let patterns = rule_patterns(&p);
    assert!(excepted(&patterns, &old) && excepted(&patterns, &new));
    assert_eq!(p.loop_header.value, old);
    // Phase 2: the service switches to new; the rule is unchanged (same patterns, any order).
    let phase1 = ConnectorSetup::builder(p.clone())
        .build()
        .unwrap()
        .desired();
    p.switch_loop_header(&new).unwrap();
    let phase2 = ConnectorSetup::builder(p.clone())
        .build()
        .unwrap()
        .desired();
    assert_eq!(
        phase1.routing_rule.except_if_header_matches_patterns(),
        phase2.routing_rule.except_if_header_matches_patterns()
    );
    assert_eq!(p.loop_header.value, new);
    // Auto-replies now carry the new value.
    assert_eq!(
        phase2.auto_reply_rule.unwrap().set_header_value(),
        Some(new.as_str())
    );
    // Phase 3: the old value is dropped.
    p.finish_loop_header_rotation();
    let patterns = rule_patterns(&p);
    assert!(excepted(&patterns, &new) && !excepted(&patterns, &old));
    // The rotation state is kept in the profile file.
    let mut q = profile(LoopHeader::generate());
    q.begin_loop_header_rotation();
    assert_eq!(ServiceProfile::from_json(&q.to_json()).unwrap(), q);
}

#[test]
fn signature_configuration_takes_the_profiles_loop_header_or_names_the_mismatch() {
    let p = profile(LoopHeader::generate());
    let without = SignatureConfig::from_toml_str(
        r#"
        [signatures.s]
        html = "<p>{{ displayName }}</p>"
        text = "{{ displayName }}"
        [[rules]]
        name = "all"
        signature = "s"
        "#,
    )
    .unwrap();
    let joined = without.clone().with_loop_header(&p.loop_header).unwrap();
    let engine = joined.engine(None).unwrap();
    assert_eq!(engine.loop_header(), &p.loop_header);

    let mut same = without.clone();
    same.loop_header = Some(p.loop_header.clone());
    assert!(same.with_loop_header(&p.loop_header).is_ok());

    let mut other = without;
    other.loop_header = Some(LoopHeader::default());
    let e = other.with_loop_header(&p.loop_header).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let text = e.to_string();
    assert!(
        text.contains(&p.loop_header.value)
            && text.contains("X-Sigsync-Processed: true")
            && text.contains("signature configuration"),
        "{text}"
    );
}
