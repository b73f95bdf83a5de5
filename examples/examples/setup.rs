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
//! cargo run --example setup -- --sim-faults faults.json    # lag, throttling, failing writes
//! cargo run --example setup -- --tenant contoso.onmicrosoft.com --client-id <app id> --profile service.json
//! ```
//!
//! Exit status: 0 when the action succeeded, 1 when it failed (the report says what the tenant
//! holds and how to repair it), 2 for a usage error.
//!
//! Run `cargo run --example setup -- --help` for every flag.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sigsync_core::auth::{AuthConfig, Cloud, DeviceCodeFlow, DeviceCodePrompt};
use sigsync_core::exchange::rest::RestExchangeClient;
use sigsync_core::exchange::sim::{
    SimFaults, SimGroup, SimServer, SimServerOptions, SimTenant, SimUser,
};
use sigsync_core::exchange::{ExchangeClient, GroupKind, RetryPolicy, RetryingClient};
use sigsync_core::http::validate_base_url;
use sigsync_core::setup::{
    ConnectorSetup, Plan, Progress, Reason, Report, SenderScope, ServiceProfile, SetupEngine,
    SetupStatus, StatusReport, Step,
};
use sigsync_core::{Error, Result};

const USAGE: &str = "\
usage: setup [ACTION] [OPTIONS]

Actions (default: configure):
  --dry-run               show the plan, change nothing
  --status                show the status (configured, degraded, at_risk, paused, partial,
                          absent), why, drift and the repair plan
  --pause                 disable the routing rule (mail flows normally, untouched)
  --resume                enable it again
  --remove                delete what sigsync created (rule, outbound, then inbound connector)

Choices:
  --groups A,B            route members of these mail-enabled groups (default: all users)
  --external-only         only mail to external recipients (default: internal mail too)
  --staged                create the routing rule disabled
  --profile FILE          service profile (JSON; required for a real tenant). Its loop-header
                          value is generated and saved into FILE on the first run

Tenant (default: the embedded simulated tenant):
  --tenant T              tenant id or domain of a real tenant
  --client-id ID          the app (client) id to sign in with
  --cloud C               global | usgovgcchigh | usgovdod | china
  --login-url URL         sign-in endpoint base (a proxy, a private cloud, a test server)
  --exchange-url URL      Exchange Online base URL
  --graph-url URL         Microsoft Graph base URL (with /v1.0)
  --allow-http            allow plain http to loopback addresses only
  --sim-state FILE        keep the simulated tenant in FILE between runs (and the example
                          service's profile in FILE.profile.json)
  --sim-faults FILE       run the simulated tenant with the faults in FILE (JSON): redirects,
                          replication lag, throttling, failing and applied-then-failed writes

Output:
  --json                  print one JSON object instead of text

Exit status: 0 done, 1 the action failed (see the report), 2 usage error.
";

/// The simulator's example service: what `--profile` replaces. (Its loop-header value is
/// generated on first use and kept beside `--sim-state`.)
const SIM_PROFILE: &str = r#"{
  "smart_hosts": ["smtp.signatures.example.com"],
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
    cloud: Cloud,
    login_url: Option<String>,
    exchange_url: Option<String>,
    graph_url: Option<String>,
    allow_http: bool,
    sim_state: Option<PathBuf>,
    sim_faults: Option<PathBuf>,
    json: bool,
}

impl Args {
    /// No real tenant or endpoint named: the embedded simulated tenant.
    fn embedded(&self) -> bool {
        self.tenant.is_none()
            && self.login_url.is_none()
            && self.exchange_url.is_none()
            && self.graph_url.is_none()
    }
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
            "--cloud" => args.cloud = cloud(&value("--cloud")?)?,
            "--login-url" => args.login_url = Some(value("--login-url")?),
            "--exchange-url" => args.exchange_url = Some(value("--exchange-url")?),
            "--graph-url" => args.graph_url = Some(value("--graph-url")?),
            "--allow-http" => args.allow_http = true,
            "--sim-state" => args.sim_state = Some(value("--sim-state")?.into()),
            "--sim-faults" => args.sim_faults = Some(value("--sim-faults")?.into()),
            "--json" => args.json = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}' (see --help)")),
        }
    }
    // Flag values that are wrong on their face are usage errors too.
    for (flag, url) in [
        ("--login-url", &args.login_url),
        ("--exchange-url", &args.exchange_url),
        ("--graph-url", &args.graph_url),
    ] {
        if let Some(url) = url {
            validate_base_url(flag, url, args.allow_http).map_err(|e| e.to_string())?;
        }
    }
    if !args.embedded() {
        if args.client_id.is_none() {
            return Err("a real tenant needs --client-id (the app to sign in with)".into());
        }
        if args.profile.is_none() {
            return Err(
                "a real tenant needs --profile FILE (the signature service's profile)".into(),
            );
        }
        if args.sim_state.is_some() || args.sim_faults.is_some() {
            return Err("--sim-state and --sim-faults are for the simulated tenant".into());
        }
    }
    Ok(args)
}

fn cloud(name: &str) -> std::result::Result<Cloud, String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "global" => Cloud::Global,
        "usgovgcchigh" | "gcchigh" => Cloud::UsGovGccHigh,
        "usgovdod" | "dod" => Cloud::UsGovDod,
        "china" => Cloud::China,
        other => {
            return Err(format!(
                "unknown --cloud '{other}' (global, usgovgcchigh, usgovdod or china)"
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

fn steps_json(steps: &[&Step]) -> serde_json::Value {
    steps
        .iter()
        .map(|s| json!({"op": s.op, "kind": s.kind, "name": s.name}))
        .collect()
}

fn plan_json(plan: &Plan) -> serde_json::Value {
    steps_json(&plan.steps.iter().collect::<Vec<_>>())
}

/// The service profile: `--profile FILE` (its loop-header value generated and saved into the
/// file on first use); else the simulator's example service, kept beside `--sim-state` so
/// that re-runs use the same value.
fn service_profile(args: &Args) -> Result<ServiceProfile> {
    let file = match (&args.profile, &args.sim_state) {
        (Some(path), _) => path.clone(),
        (None, Some(state)) => {
            let path = state.with_extension("profile.json");
            if !path.exists() {
                ServiceProfile::create_from_json(SIM_PROFILE)?.save(&path)?;
            }
            path
        }
        (None, None) => return ServiceProfile::create_from_json(SIM_PROFILE),
    };
    let (profile, written) = ServiceProfile::load_or_init(&file)?;
    if written {
        say(
            args.json,
            format!(
                "Generated the tenant's loop-header value and saved it in {} (keep the file: \
                 every run must use the same value)",
                file.display()
            ),
        );
    }
    Ok(profile)
}

async fn run(args: Args) -> Result<()> {
    let embedded = args.embedded();
    let profile = service_profile(&args)?;
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
    let faults = match &args.sim_faults {
        Some(path) => Some(SimFaults::load(path)?),
        None => None,
    };
    let mut own_settings = None;
    let server = if embedded {
        let tenant = match &args.sim_state {
            Some(path) if path.exists() => SimTenant::load_from(path)?,
            _ => seeded_tenant(),
        };
        if let Some(f) = &faults {
            own_settings = Some(tenant.settings());
            f.apply_to(&tenant);
        }
        let options = SimServerOptions {
            tenant_id: "8f4b5a8e-2f6c-4c1e-9a57-3c2d1b0e7f61".into(),
            ..SimServerOptions::default()
        };
        let server = SimServer::start(tenant, options).await;
        if let Some(f) = &faults {
            server.redirect_next(f.redirects);
        }
        Some(server)
    } else {
        None
    };

    let cloud = args.cloud;
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
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(|| "sigsync-example".into());

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
    // The simulator's lag is counted in reads, not time: retry it quickly.
    let policy = if embedded {
        RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        }
    } else {
        RetryPolicy::default()
    };
    let client = Arc::new(RetryingClient::new(rest.build()?, policy));
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
            Progress::Adopted(s) => {
                println!("  adopt {} '{}' (it existed already)", s.kind, s.name)
            }
            Progress::Failed(s, e) => println!("  FAILED {} {} '{}': {e}", s.op, s.kind, s.name),
            Progress::Undoing(s) => println!("  undo {} '{}'", s.kind, s.name),
        }
    };

    let outcome = match action {
        "dry-run" | "configure" => {
            // One read: the plan shown is the plan applied.
            let (plan, findings) = engine.plan(&setup).await?;
            for f in &findings {
                say(args.json, format!("preflight {f}"));
            }
            say(args.json, format!("Plan:\n{plan}"));
            if action == "dry-run" {
                Outcome::from_status(engine.status(&setup).await?, plan)
            } else {
                let report = engine
                    .configure_with(&setup, &plan, findings, &progress)
                    .await?;
                Outcome::from_report(report)
            }
        }
        "status" => {
            let status = engine.status(&setup).await?;
            for d in &status.drift {
                say(args.json, format!("drift: {d}"));
            }
            let plan = status.repair.clone();
            Outcome::from_status(status, plan)
        }
        other => {
            let report = match other {
                "pause" => engine.pause(&setup, &progress).await?,
                "resume" => engine.resume(&setup, &progress).await?,
                _ => engine.remove(&setup, &progress).await?,
            };
            Outcome::from_report(report)
        }
    };

    if let (Some(server), Some(path)) = (&server, &args.sim_state) {
        // Keep the tenant, not the faults of this run; replication finishes between runs.
        if let Some(settings) = own_settings {
            server.tenant().set_settings(settings);
        }
        server.tenant().settle();
        server.tenant().save_to(path)?;
    }
    outcome.print(action, args.json);
    match outcome.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What an action came to, for the text and JSON output.
struct Outcome {
    /// The steps run (or planned, for a dry run or a status).
    steps: Vec<Step>,
    writes: usize,
    status: Option<SetupStatus>,
    reasons: Vec<Reason>,
    repair: Plan,
    error: Option<Error>,
}

impl Outcome {
    fn from_report(report: Report) -> Self {
        Outcome {
            steps: report.steps.into_iter().map(|s| s.step).collect(),
            writes: report.writes,
            status: report.status,
            reasons: report.reasons,
            repair: report.repair,
            error: report.error,
        }
    }

    fn from_status(status: StatusReport, plan: Plan) -> Self {
        Outcome {
            steps: plan.steps,
            writes: 0,
            status: Some(status.status),
            reasons: status.reasons,
            repair: status.repair,
            error: None,
        }
    }

    fn print(&self, action: &str, json: bool) {
        let status = self.status.map_or("unknown", SetupStatus::name);
        if json {
            let out = json!({
                "action": action,
                "status": status,
                "reasons": self.reasons,
                "plan": steps_json(&self.steps.iter().collect::<Vec<_>>()),
                "repair": plan_json(&self.repair),
                "writes": self.writes,
                "error": self.error.as_ref().map(ToString::to_string),
            });
            println!("{out}");
            return;
        }
        for r in &self.reasons {
            println!("  {r}");
        }
        if !self.repair.is_empty() && action != "status" && action != "dry-run" {
            println!("To repair, run configure again; it would:\n{}", self.repair);
        }
        match &self.error {
            None => println!("Result: {action}: {status} ({} writes)", self.writes),
            Some(_) => println!(
                "Result: {action} FAILED; the tenant is {status} ({} writes)",
                self.writes
            ),
        }
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
