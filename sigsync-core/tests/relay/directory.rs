//! Sender attributes from the tenant's directory: Graph with the tenant's app-only credentials
//! (the simulated tenant over HTTP), looked up at MAIL FROM; and XOORG attribution.

use sigsync_core::exchange::sim::{SimGroup, SimServer, SimServerOptions, SimTenant, SimUser};
use sigsync_core::exchange::GroupKind;
use sigsync_core::relay::GraphCredentials;

use crate::support::sender::Sender;
use crate::support::*;

fn graph_signatures(graph_url: &str) -> String {
    format!(
        r#"
accepted_domains = ["contoso.com"]

[fallback]
companyName = "Contoso Ltd"

[signatures.standard]
html = "<p>{{{{ displayName }}}} | {{{{ companyName }}}}</p>"
text = "{{{{ displayName }}}} | {{{{ companyName }}}}"

[signatures.marketing]
html = "<p>{{{{ displayName }}}}, {{{{ jobTitle }}}} | Marketing team</p>"
text = "{{{{ displayName }}}}, {{{{ jobTitle }}}} | Marketing team"

[[rules]]
name = "marketing"
senders = {{ groups = ["marketing@contoso.com"] }}
signature = "marketing"

[[rules]]
name = "everyone"
signature = "standard"

[directory]
source = "graph"
base_url = "{graph_url}"
allow_http = true
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_attributes_and_groups_come_from_graph_with_the_tenants_app_only_credentials() {
    let tenant = SimTenant::new();
    let mut megan = SimUser::new("megan@contoso.com", "Megan Bowen");
    megan
        .properties
        .insert("jobTitle".into(), "Marketing Manager".into());
    tenant.add_user(megan);
    tenant.add_group(
        SimGroup::new(
            "Marketing",
            Some("marketing@contoso.com"),
            GroupKind::Distribution,
        )
        .with_members(["megan@contoso.com"]),
    );
    let server = SimServer::start(
        tenant,
        SimServerOptions {
            tenant_id: CONTOSO_ID.into(),
            client_secret: Some("s3cret-for-graph".into()),
            ..SimServerOptions::default()
        },
    )
    .await;
    let env = Env::start(|c| {
        c.tenants[0].graph = Some(GraphCredentials {
            client_id: "00000000-0000-0000-0000-00000000a11e".into(),
            certificate: None,
            private_key: None,
            secret_file: Some("contoso/graph-secret.txt".into()),
            cloud: None,
            login_url: Some(server.login_url()),
            allow_http: true,
        });
    })
    .await;
    env.dir
        .write("contoso/graph-secret.txt", "s3cret-for-graph\n");
    env.dir.write(
        "contoso/signature.toml",
        &graph_signatures(&server.graph_url()),
    );
    let env = env.relay().await;

    let t = env
        .send(
            "megan@contoso.com",
            &["x@example.org"],
            &message(CONTOSO_ID, "megan@contoso.com", "x@example.org", "g1"),
        )
        .await;
    assert!(t.acknowledged(), "{t:?}");
    let t = env
        .send(
            "adele@contoso.com",
            &["x@example.org"],
            &message(CONTOSO_ID, "adele@contoso.com", "x@example.org", "g2"),
        )
        .await;
    assert!(t.acknowledged(), "{t:?}");
    let d = env.contoso.delivered();
    assert!(
        d[0].text()
            .contains("Megan Bowen, Marketing Manager | Marketing team"),
        "{}",
        d[0].text()
    );
    // Not in the directory: the fallback, and not the group's signature.
    assert!(
        d[1].text().contains("\u{2063} | Contoso Ltd\r\n")
            || d[1].text().contains("=E2=81=A3 | Contoso Ltd"),
        "{}",
        d[1].text()
    );
    assert!(!d[1].text().contains("Marketing team") && !d[1].text().contains("Megan"));
    assert_eq!(
        env.relay.as_ref().unwrap().stats().tenants["contoso"].injected,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xoorg_names_the_tenant_when_advertised_and_is_not_forwarded() {
    let env = Env::start(|c| c.listener.advertise_xoorg = true)
        .await
        .relay()
        .await;
    let mut s = Sender::open(env.addr()).await.unwrap();
    let ehlo = s.cmd("EHLO exo.test").await.unwrap();
    assert!(ehlo.text.contains("XOORG"), "{ehlo}");
    let msg = message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "x1");
    let t = s
        .transaction(
            "MAIL FROM:<> XOORG=contoso.com",
            &["RCPT TO:<bob@example.org>".into()],
            &msg,
        )
        .await
        .unwrap();
    assert!(t.acknowledged(), "a null sender attributed by XOORG: {t:?}");
    assert_eq!(env.contoso.delivered()[0].mail, "MAIL FROM:<>");
    // XOORG wins over the sender domain (an SRS-rewritten or foreign sender).
    let msg = message(CONTOSO_ID, "adele@contoso.com", "bob@example.org", "x2");
    let t = s
        .transaction(
            "MAIL FROM:<bounce+SRS=x=y@lists.example> XOORG=contoso.com",
            &["RCPT TO:<bob@example.org>".into()],
            &msg,
        )
        .await
        .unwrap();
    assert!(t.acknowledged(), "{t:?}");
    assert_eq!(env.contoso.delivered().len(), 2);
}
