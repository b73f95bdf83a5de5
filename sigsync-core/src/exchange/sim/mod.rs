//! The simulated tenant: an in-memory Exchange Online that behaves as the real service does
//! for connectors, transport rules, accepted domains and groups.
//!
//! It runs cmdlets ([`CmdletInput`]) and answers with Get-* shaped records, so the typed
//! [`ExchangeClient`](super::ExchangeClient) over it is the same code that runs over HTTP. It
//! enforces Exchange's validation (the same functions the builders call), case-insensitive
//! unique names, contiguous rule priorities, the 300-rule limit and the rule → connector
//! reference checks; it injects faults (before or after a write takes effect), latency and
//! replication lag (for creates, changes and removals); it can keep the state after every
//! write for tests to check; and it saves and loads its state as JSON.
//!
//! ```
//! # tokio_test_block_on(async {
//! use sigsync_core::exchange::sim::SimTenant;
//! use sigsync_core::exchange::ExchangeClient;
//!
//! let tenant = SimTenant::new();
//! tenant.add_accepted_domain("contoso.com", true);
//! assert_eq!(tenant.list_accepted_domains().await?.len(), 1);
//! # Ok::<(), sigsync_core::Error>(()) });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

mod faults;
mod http;
mod records;
mod store;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use faults::{injected_error, Fault, FaultTrigger, SimFaults};
pub use http::{SignInOutcome, SimServer, SimServerOptions};

use super::{AcceptedDomain, CmdletInput, CmdletTransport, Existing, GroupKind, MailGroup};
use crate::model::{Definition, InboundConnector, OutboundConnector, Params, TransportRule};
use crate::{Error, ErrorKind, Result};

/// How the simulated tenant behaves where Exchange's behaviour is a choice or not verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimSettings {
    /// Let dangerous states through that Exchange refuses (a rule routing to a missing,
    /// disabled or non-rule-scoped connector; removing, disabling or un-scoping a connector a
    /// rule routes to). Off by default; the mail-safety tests turn it on to prove the setup
    /// engine's own ordering.
    pub permissive: bool,
    /// Whether New-/Set-TransportRule check the routed connector at configuration time (the
    /// reference marks today's enforcement "not verified"; on by default).
    pub check_rule_connector: bool,
    /// Whether an inbound and an outbound connector may not share a name (one directory
    /// container; "not verified"; off by default).
    pub shared_connector_names: bool,
    /// Most transport rules the tenant holds.
    pub max_rules: usize,
    /// A created object stays invisible to this many subsequent reads of its kind.
    pub replication_lag_reads: u32,
    /// After an update, enable or disable, this many subsequent reads of its kind still show
    /// the object as it was.
    pub change_lag_reads: u32,
    /// After a removal, this many subsequent reads of its kind still show the object.
    pub removal_lag_reads: u32,
    /// The Retry-After that injected throttling faults carry.
    pub throttle_retry_after_ms: u64,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            permissive: false,
            check_rule_connector: true,
            shared_connector_names: false,
            max_rules: crate::model::validate::MAX_RULES,
            replication_lag_reads: 0,
            change_lag_reads: 0,
            removal_lag_reads: 0,
            throttle_retry_after_ms: 1000,
        }
    }
}

/// A group in the simulated directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimGroup {
    /// Directory object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Primary SMTP address; `None` for a security group without mail.
    pub mail: Option<String>,
    /// The kind of group.
    pub kind: GroupKind,
    /// Member addresses (users) or ids of nested groups.
    #[serde(default)]
    pub members: Vec<String>,
}

impl SimGroup {
    /// A group with a generated id and no members.
    pub fn new(display_name: impl Into<String>, mail: Option<&str>, kind: GroupKind) -> Self {
        SimGroup {
            id: uuid::Uuid::new_v4().to_string(),
            display_name: display_name.into(),
            mail: mail.map(str::to_owned),
            kind,
            members: Vec::new(),
        }
    }

    /// Adds members (user addresses or nested group ids).
    pub fn with_members<I, S>(mut self, members: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.members.extend(members.into_iter().map(Into::into));
        self
    }
}

/// A user in the simulated directory (what Graph's `/users` serves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    /// Directory object id.
    pub id: String,
    /// The user principal name.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// Further Graph properties by their Graph names (`jobTitle`, `department`, ...).
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl SimUser {
    /// A user with a generated id whose address is its user principal name.
    pub fn new(user_principal_name: impl Into<String>, display_name: impl Into<String>) -> Self {
        let upn = user_principal_name.into();
        SimUser {
            id: uuid::Uuid::new_v4().to_string(),
            mail: Some(upn.clone()),
            user_principal_name: upn,
            display_name: display_name.into(),
            properties: serde_json::Map::new(),
        }
    }

    /// Sets a Graph property, e.g. `("jobTitle", "Engineer")`.
    pub fn with_property(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.properties.insert(name.into(), value.into());
        self
    }

    /// Whether a group member entry (address, UPN or id) names this user.
    pub fn is_named_by(&self, member: &str) -> bool {
        member.eq_ignore_ascii_case(&self.id)
            || member.eq_ignore_ascii_case(&self.user_principal_name)
            || self
                .mail
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(member))
    }
}

/// One call the tenant received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// 1-based index among all calls.
    pub index: u64,
    /// The cmdlet.
    pub cmdlet: String,
    /// Its `Identity`, if any.
    pub identity: Option<String>,
    /// The error class it failed with, if it failed.
    pub error: Option<ErrorKind>,
    /// Whether it changed the tenant (a write that took effect, even when it was then
    /// reported as failed).
    pub applied: bool,
}

impl CallRecord {
    /// Whether the call was a write (anything but `Get-*`).
    pub fn is_write(&self) -> bool {
        !self.cmdlet.starts_with("Get-")
    }
}

/// What the tenant holds, typed, read without counting as calls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Outbound connectors.
    pub outbound: Vec<Existing<OutboundConnector>>,
    /// Inbound connectors.
    pub inbound: Vec<Existing<InboundConnector>>,
    /// Transport rules in priority order.
    pub rules: Vec<Existing<TransportRule>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Stored {
    guid: String,
    params: Params,
    created: String,
    changed: String,
    /// Reads that still miss this new object.
    #[serde(default)]
    hidden_reads: u32,
    /// The parameters reads still show after a change, and for how many more reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stale: Option<(Params, u32)>,
}

/// A removed object that reads still show for a while.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Removed {
    kind: crate::model::ObjectKind,
    index: usize,
    stored: Stored,
    reads: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(default)]
    settings: SimSettings,
    #[serde(default)]
    outbound: Vec<Stored>,
    #[serde(default)]
    inbound: Vec<Stored>,
    #[serde(default)]
    rules: Vec<Stored>,
    #[serde(default)]
    groups: Vec<SimGroup>,
    #[serde(default)]
    accepted_domains: Vec<AcceptedDomain>,
    #[serde(default)]
    users: Vec<SimUser>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    removed: Vec<Removed>,
    #[serde(skip)]
    faults: Vec<Fault>,
    #[serde(skip)]
    calls: Vec<CallRecord>,
    #[serde(skip)]
    latency: Duration,
    /// What the tenant held after each write, while recording.
    #[serde(skip)]
    history: Option<Vec<(CallRecord, Snapshot)>>,
}

/// An in-memory Exchange Online tenant. Cloning gives another handle on the same tenant.
#[derive(Debug, Clone, Default)]
pub struct SimTenant {
    state: Arc<Mutex<State>>,
}

impl SimTenant {
    /// An empty tenant with default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tenant with `settings`.
    pub fn with_settings(settings: SimSettings) -> Self {
        let tenant = Self::new();
        tenant.lock().settings = settings;
        tenant
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current settings.
    pub fn settings(&self) -> SimSettings {
        self.lock().settings.clone()
    }

    /// Replaces the settings.
    pub fn set_settings(&self, settings: SimSettings) {
        self.lock().settings = settings;
    }

    /// Adds an accepted domain.
    pub fn add_accepted_domain(&self, domain: &str, default: bool) {
        self.lock().accepted_domains.push(AcceptedDomain {
            domain_name: domain.to_owned(),
            domain_type: "Authoritative".to_owned(),
            default,
        });
    }

    /// Adds a group to the directory.
    pub fn add_group(&self, group: SimGroup) {
        self.lock().groups.push(group);
    }

    /// Every group, mail-enabled or not.
    pub fn groups(&self) -> Vec<SimGroup> {
        self.lock().groups.clone()
    }

    /// Adds a user to the directory.
    pub fn add_user(&self, user: SimUser) {
        self.lock().users.push(user);
    }

    /// Every user.
    pub fn users(&self) -> Vec<SimUser> {
        self.lock().users.clone()
    }

    /// The accepted domains.
    pub fn accepted_domains(&self) -> Vec<AcceptedDomain> {
        self.lock().accepted_domains.clone()
    }

    /// The latency added to every call.
    pub fn latency(&self) -> Duration {
        self.lock().latency
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Adds `latency` to every call (async calls only).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Every call received so far.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().calls.clone()
    }

    /// How many write calls (anything but `Get-*`) were received, failed ones included.
    pub fn write_count(&self) -> usize {
        self.lock().calls.iter().filter(|c| c.is_write()).count()
    }

    /// Forgets the call log and restarts the call count.
    pub fn reset_calls(&self) {
        self.lock().calls.clear();
    }

    /// What the tenant holds, as it is (objects that reads do not show yet included, objects
    /// that reads still show after a removal left out).
    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot()
    }

    /// Starts keeping the state after every write call (applied or not) and the call itself,
    /// for tests that check an invariant at every step; forgets what was kept before.
    pub fn record_history(&self) {
        self.lock().history = Some(Vec::new());
    }

    /// The calls and states kept since [`SimTenant::record_history`], oldest first.
    pub fn history(&self) -> Vec<(CallRecord, Snapshot)> {
        self.lock().history.clone().unwrap_or_default()
    }

    /// Lets replication finish: every read shows the tenant as it is from now on (objects
    /// not yet visible appear, changed ones show their new state, removed ones are gone).
    pub fn settle(&self) {
        let mut guard = self.lock();
        let state = &mut *guard;
        for s in state
            .outbound
            .iter_mut()
            .chain(state.inbound.iter_mut())
            .chain(state.rules.iter_mut())
        {
            s.hidden_reads = 0;
            s.stale = None;
        }
        state.removed.clear();
    }

    /// Makes this handle's tenant a copy of `other`'s state (objects, directory, settings;
    /// not faults, calls or history): reuse one served tenant for many scenarios.
    pub fn restore_from(&self, other: &SimTenant) {
        let copy = {
            let o = other.lock();
            State {
                faults: Vec::new(),
                calls: Vec::new(),
                history: None,
                ..o.clone()
            }
        };
        *self.lock() = copy;
    }

    /// The tenant's state (objects, groups, domains, settings) as JSON.
    pub fn save_json(&self) -> String {
        serde_json::to_string_pretty(&*self.lock()).unwrap_or_else(|_| "{}".into())
    }

    /// A tenant restored from [`SimTenant::save_json`] output.
    pub fn load_json(json: &str) -> Result<Self> {
        let state: State = serde_json::from_str(json)
            .map_err(|e| Error::Config(format!("simulated tenant state: {e}")))?;
        Ok(SimTenant {
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// Saves the state to a file.
    pub fn save_to(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.save_json())
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))
    }

    /// Loads a tenant from a file written by [`SimTenant::save_to`].
    pub fn load_from(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::load_json(&json)
    }

    /// Runs one cmdlet synchronously (no latency): the tenant's whole behaviour.
    pub fn invoke_sync(&self, input: &CmdletInput) -> Result<Vec<Params>> {
        let mut state = self.lock();
        let index = state.calls.len() as u64 + 1;
        let retry_after = Duration::from_millis(state.settings.throttle_retry_after_ms);
        let fault = state
            .faults
            .iter_mut()
            .find(|f| f.matches(index, &input.name))
            .map(|f| {
                if let Some(t) = f.times.as_mut() {
                    *t -= 1;
                }
                (f.kind, f.after_commit)
            });
        let write = input.is_write();
        let (result, applied) = match fault {
            Some((kind, true)) if write => match store::run(&mut state, input) {
                Ok(_) => (Err(injected_error(kind, &input.name, retry_after)), true),
                Err(e) => (Err(e), false),
            },
            Some((kind, _)) => (Err(injected_error(kind, &input.name, retry_after)), false),
            None => {
                let result = store::run(&mut state, input);
                let applied = write && result.is_ok();
                (result, applied)
            }
        };
        let record = CallRecord {
            index,
            cmdlet: input.name.clone(),
            identity: input.identity().map(str::to_owned),
            error: result.as_ref().err().map(Error::kind),
            applied,
        };
        if write && state.history.is_some() {
            let snapshot = state.snapshot();
            if let Some(h) = state.history.as_mut() {
                h.push((record.clone(), snapshot));
            }
        }
        state.calls.push(record);
        result
    }
}

impl State {
    fn snapshot(&self) -> Snapshot {
        fn read<D: Definition>(stored: &[Stored], rule: bool) -> Vec<Existing<D>> {
            stored
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let record = records::record::<D>(s, &s.params, i, rule);
                    Some(Existing {
                        guid: s.guid.clone(),
                        when_created: Some(s.created.clone()),
                        when_changed: Some(s.changed.clone()),
                        definition: D::from_record(&record).ok()?,
                    })
                })
                .collect()
        }
        Snapshot {
            outbound: read(&self.outbound, false),
            inbound: read(&self.inbound, false),
            rules: read(&self.rules, true),
        }
    }
}

#[async_trait]
impl CmdletTransport for SimTenant {
    async fn invoke(&self, input: &CmdletInput) -> Result<Vec<Params>> {
        let latency = self.lock().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let span = tracing::debug_span!("cmdlet", cmdlet = %input.name, sim = true);
        let _enter = span.enter();
        self.invoke_sync(input)
    }

    async fn mail_enabled_groups(&self) -> Result<Vec<MailGroup>> {
        let state = self.lock();
        Ok(state
            .groups
            .iter()
            .filter(|g| g.kind.is_mail_enabled())
            .filter_map(|g| {
                Some(MailGroup {
                    id: g.id.clone(),
                    display_name: g.display_name.clone(),
                    mail: g.mail.clone()?,
                    kind: g.kind,
                })
            })
            .collect())
    }
}
