//! The simulated tenant behaves as Exchange Online does for connectors and rules (`rules`),
//! and fails, lags, records and persists as the tests ask (`faults`).

#[path = "../common/mod.rs"]
mod common;

mod faults;
mod rules;

use sigsync_core::exchange::sim::SimTenant;
use sigsync_core::exchange::ExchangeClient;
use sigsync_core::model::{Params, TransportRule};

use common::*;

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn params(v: serde_json::Value) -> Params {
    v.as_object().unwrap().clone()
}

pub(crate) fn rule_named(name: &str, priority: Option<u32>) -> TransportRule {
    let b = TransportRule::builder(name).set_header("X-Test", name);
    match priority {
        Some(p) => b.priority(p),
        None => b,
    }
    .build()
    .unwrap()
}

/// A tenant with the service's connectors and routing rule.
pub(crate) async fn configured() -> SimTenant {
    let t = SimTenant::new();
    t.create_outbound_connector(&outbound()).await.unwrap();
    t.create_inbound_connector(&inbound()).await.unwrap();
    t.create_transport_rule(&rule()).await.unwrap();
    t
}
