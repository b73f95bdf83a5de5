//! The connector wizard as a command.
//!
//! With no arguments it runs on the embedded simulated tenant (served over HTTP on loopback):
//! it shows the device code prompt, signs in, lists the mail-enabled groups, shows the plan,
//! applies it with progress and prints the result.
//!
//! ```text
//! cargo run --example setup                         # configure the simulated tenant
//! cargo run --example setup -- --groups sales@contoso.com --external-only
//! cargo run --example setup -- --status --json
//! cargo run --example setup -- --tenant contoso.onmicrosoft.com --client-id <app id>
//! ```
//!
//! Run `cargo run --example setup -- --help` for every flag.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use sigsync_core::auth::{AuthConfig, Cloud, DeviceCodeFlow, DeviceCodePrompt};
use sigsync_core::exchange::rest::RestExchangeClient;
use sigsync_core::exchange::sim::{SimGroup, SimServer, SimServerOptions, SimTenant, SimUser};
use sigsync_core::exchange::{ExchangeClient, GroupKind, RetryPolicy, RetryingClient};
use sigsync_core::setup::{
    ConnectorSetup, Plan, Progress, SenderScope, ServiceProfile, SetupEngine, SetupStatus,
};
use sigsync_core::{Error, Result};

const USAGE: &str = "\
usage: setup [ACTION] [OPTIONS]

Actions (default: configure):
  --dry-run               show the plan, change nothing
  --status                show configured/paused/partial/absent, drift and the repair plan
  --pause                 disable the routing rule (mail flows normally, untouched)
  --resume                enable it again
  --remove                delete what sigsync created (rule, outbound, then inbound connector)

Choices:
  --groups A,B            route members of these mail-enabled groups (default: all users)
  --external-only         only mail to external recipients (default: internal mail too)
  --staged                create the routing rule disabled
  --profile FILE          service profile (JSON); default: the simulator's example service

Tenant (default: the embedded simulated tenant):
  --tenant T              tenant id or domain of a real tenant
  --client-id ID          the app (client) id to sign in with
  --cloud C               global | usgovgcchigh | usgovdod | china
  --login-url URL         sign-in endpoint base (a proxy, a private cloud, a test server)
  --exchange-url URL      Exchange Online base URL
  --graph-url URL         Microsoft Graph base URL (with /v1.0)
  --allow-http            allow plain http to loopback addresses only
  --sim-state FILE        keep the simulated tenant in FILE between runs

Output:
  --json                  print one JSON object instead of text
";

/// The simulator's example service: what `--profile` replaces.
const SIM_PROFILE: &str = r#"{
  "smart_hosts": ["smtp.signatures.example.com"],
  "tls_domain": "smtp.signatures.example.com",
  "certificate_name": "tenant1.smtp.signatures.example.com"
}"#;

#[derive(Debug, Default)]
struct Args {
    action: Option<&'static str>,
    groups: Vec<String>,
    external_only: bool,
    staged: bool,
    profile: Option<PathBuf>,
    tenant: Option<String>,
    client_id: Option<String>,
    cloud: Option<String>,
    login_url: Option<String>,
    exchange_url: Option<String>,
    graph_url: Option<String>,
    allow_http: bool,
    sim_state: Option<PathBuf>,
    json: bool,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let mut action = |a: &'static str| match args.action.replace(a) {
            Some(prev) if prev != a => Err(format!("choose one action, not --{prev} and --{a}")),
            _ => Ok(()),
        };
        match arg.as_str() {
            "--dry-run" => action("dry-run")?,
            "--status" => action("status")?,
            "--pause" => action("pause")?,
            "--resume" => action("resume")?,
            "--remove" => action("remove")?,
            "--groups" => {
                args.groups = value("--groups")?
                    .split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            "--external-only" => args.external_only = true,
            "--staged" => args.staged = true,
            "--profile" => args.profile = Some(value("--profile")?.into()),
            "--tenant" => args.tenant = Some(value("--tenant")?),
            "--client-id" => args.client_id = Some(value("--client-id")?),
            "--cloud" => args.cloud = Some(value("--cloud")?),
            "--login-url" => args.login_url = Some(value("--login-url")?),
            "--exchange-url" => args.exchange_url = Some(value("--exchange-url")?),
            "--graph-url" => args.graph_url = Some(value("--graph-url")?),
            "--allow-http" => args.allow_http = true,
            "--sim-state" => args.sim_state = Some(value("--sim-state")?.into()),
            "--json" => args.json = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}' (see --help)")),
        }
    }
    Ok(args)
}

fn cloud(name: Option<&str>) -> Result<Cloud> {
    Ok(match name.map(str::to_ascii_lowercase).as_deref() {
        None | Some("global") => Cloud::Global,
        Some("usgovgcchigh") | Some("gcchigh") => Cloud::UsGovGccHigh,
        Some("usgovdod") | Some("dod") => Cloud::UsGovDod,
        Some("china") => Cloud::China,
        Some(other) => {
            return Err(Error::validation(
                "--cloud",
                format!("unknown cloud '{other}'"),
            ))
        }
    })
}

/// A fresh simulated tenant: accepted domains (the service's certificate domain among them),
/// users and mail-enabled groups.
fn seeded_tenant() -> SimTenant {
    let t = SimTenant::new();
    t.add_accepted_domain("contoso.com", true);
    t.add_accepted_domain("contoso.onmicrosoft.com", false);
    t.add_accepted_domain("tenant1.smtp.signatures.example.com", false);
    for (mail, name, title) in [
        ("adele@contoso.com", "Adele Vance", "Retail Manager"),
        ("megan@contoso.com", "Megan Bowen", "Marketing Manager"),
    ] {
        t.add_user(SimUser::new(mail, name).with_property("jobTitle", title));
    }
    t.add_group(
        SimGroup::new("Sales", Some("sales@contoso.com"), GroupKind::Distribution)
            .with_members(["adele@contoso.com"]),
    );
    t.add_group(
        SimGroup::new(
            "Marketing",
            Some("marketing@contoso.com"),
            GroupKind::Microsoft365,
        )
        .with_members(["megan@contoso.com"]),
    );
    t.add_group(SimGroup::new(
        "Helpdesk",
        Some("helpdesk@contoso.com"),
        GroupKind::MailEnabledSecurity,
    ));
    t.add_group(SimGroup::new("IT admins", None, GroupKind::Security));
    t
}

fn say(json: bool, line: impl AsRef<str>) {
    if !json {
        println!("{}", line.as_ref());
    }
}

fn plan_json(plan: &Plan) -> serde_json::Value {
    plan.steps
        .iter()
        .map(|s| json!({"op": s.op, "kind": s.kind, "name": s.name}))
        .collect()
}

async fn run(args: Args) -> Result<()> {
    let embedded = args.tenant.is_none()
        && args.login_url.is_none()
        && args.exchange_url.is_none()
        && args.graph_url.is_none();

    let profile = match &args.profile {
        Some(path) => {
            ServiceProfile::from_json(&std::fs::read_to_string(path).map_err(|e| {
                Error::Config(format!("cannot read profile {}: {e}", path.display()))
            })?)?
        }
        None => ServiceProfile::from_json(SIM_PROFILE)?,
    };
    let scope = if args.groups.is_empty() {
        SenderScope::AllUsers
    } else {
        SenderScope::Groups(args.groups.clone())
    };
    let setup = ConnectorSetup::builder(profile)
        .scope(scope)
        .include_internal(!args.external_only)
        .staged(args.staged)
        .build()?;

    // The embedded simulated tenant, served over HTTP on loopback: the same wire format, the
    // real sign-in flow and the real client.
    let server = if embedded {
        let tenant = match &args.sim_state {
            Some(path) if path.exists() => SimTenant::load_from(path)?,
            _ => seeded_tenant(),
        };
        let options = SimServerOptions {
            tenant_id: "8f4b5a8e-2f6c-4c1e-9a57-3c2d1b0e7f61".into(),
            ..SimServerOptions::default()
        };
        Some(SimServer::start(tenant, options).await)
    } else {
        None
    };

    let cloud = cloud(args.cloud.as_deref())?;
    let (tenant_arg, login_url, exchange_url, graph_url, allow_http) = match &server {
        Some(s) => (
            s.tenant_id().to_owned(),
            s.login_url(),
            s.exchange_url(),
            s.graph_url(),
            true,
        ),
        None => (
            args.tenant
                .clone()
                .unwrap_or_else(|| "organizations".into()),
            args.login_url
                .clone()
                .unwrap_or_else(|| cloud.login_url().to_string()),
            args.exchange_url
                .clone()
                .unwrap_or_else(|| cloud.exchange_url().to_string()),
            args.graph_url
                .clone()
                .unwrap_or_else(|| cloud.graph_url().to_string()),
            args.allow_http,
        ),
    };
    let client_id = match (&args.client_id, embedded) {
        (Some(id), _) => id.clone(),
        (None, true) => "sigsync-example".into(),
        (None, false) => {
            return Err(Error::validation(
                "--client-id",
                "a real tenant needs the app (client) id to sign in with",
            ))
        }
    };

    // Sign in with a one-time code: the admin's password never reaches us.
    let auth = AuthConfig::builder(client_id, tenant_arg.as_str())
        .cloud(cloud)
        .login_url(login_url)
        .allow_http(allow_http)
        .build()?;
    let json_out = args.json;
    let tokens = DeviceCodeFlow::new(auth)
        .sign_in(move |prompt: &DeviceCodePrompt| {
            let text = prompt.message.clone().unwrap_or_else(|| {
                format!(
                    "To sign in, open {} and enter the code {}",
                    prompt.verification_uri, prompt.user_code
                )
            });
            if json_out {
                eprintln!("{text}");
            } else {
                println!("{text}");
            }
        })
        .await?;
    let provider: Arc<dyn sigsync_core::auth::TokenProvider> = Arc::new(tokens);
    if let Some(id) = provider.identity() {
        say(
            args.json,
            format!(
                "Signed in as {} (tenant {})",
                id.user_principal_name
                    .as_deref()
                    .unwrap_or("an application"),
                id.tenant_id
            ),
        );
    }
    let rest = RestExchangeClient::builder(provider)
        .exchange_url(exchange_url)
        .graph_url(graph_url)
        .allow_http(allow_http);
    let rest = if embedded { rest } else { rest.cloud(cloud) };
    let rest = match &args.tenant {
        Some(t) => rest.tenant(t.clone()),
        None => rest,
    };
    let client = Arc::new(RetryingClient::new(rest.build()?, RetryPolicy::default()));
    let engine = SetupEngine::new(client.clone());

    let action = args.action.unwrap_or("configure");
    if action == "configure" || action == "dry-run" {
        let groups = client.list_mail_enabled_groups().await?;
        say(
            args.json,
            format!("Mail-enabled groups ({}):", groups.len()),
        );
        for g in &groups {
            say(
                args.json,
                format!("  {} <{}> ({:?})", g.display_name, g.mail, g.kind),
            );
        }
    }

    let progress = |p: Progress<'_>| {
        if json_out {
            return;
        }
        match p {
            Progress::Started(s) => println!("  ... {s}"),
            Progress::Finished(s) => println!("  ok  {} {} '{}'", s.op, s.kind, s.name),
            Progress::Failed(s, e) => println!("  FAILED {} {} '{}': {e}", s.op, s.kind, s.name),
            Progress::Undoing(s) => println!("  undo {} '{}'", s.kind, s.name),
        }
    };

    let (plan, writes, status, failure) = match action {
        "dry-run" | "configure" => {
            let (plan, findings) = engine.plan(&setup).await?;
            for f in &findings {
                say(args.json, format!("preflight {f}"));
            }
            say(args.json, format!("Plan:\n{plan}"));
            if action == "dry-run" {
                let status = engine.status(&setup).await?.status;
                (plan, 0, status, None)
            } else {
                let report = engine.configure(&setup, &progress).await?;
                let status = report.status.unwrap_or(SetupStatus::Partial);
                (plan, report.writes, status, report.error)
            }
        }
        "status" => {
            let status = engine.status(&setup).await?;
            for d in &status.drift {
                say(args.json, format!("drift: {d}"));
            }
            say(args.json, format!("Repair plan:\n{}", status.repair));
            (status.repair, 0, status.status, None)
        }
        other => {
            let report = match other {
                "pause" => engine.pause(&setup, &progress).await?,
                "resume" => engine.resume(&setup, &progress).await?,
                _ => engine.remove(&setup, &progress).await?,
            };
            let plan = Plan {
                steps: report.steps.iter().map(|s| s.step.clone()).collect(),
                unchanged: Vec::new(),
            };
            let status = report.status.unwrap_or(SetupStatus::Partial);
            (plan, report.writes, status, report.error)
        }
    };

    if let (Some(server), Some(path)) = (&server, &args.sim_state) {
        server.tenant().save_to(path)?;
    }
    if args.json {
        let out = json!({
            "action": action,
            "status": status,
            "plan": plan_json(&plan),
            "writes": writes,
        });
        println!("{out}");
    } else {
        println!("Result: {action}: {status} ({writes} writes)");
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("setup: {msg}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("setup: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("setup: {}", e.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
