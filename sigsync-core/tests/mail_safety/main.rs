//! The mail-safety invariant under every single failed call, in memory and over HTTP: the
//! whole class of faults (each error class at each call, writes that apply and then fail,
//! replication lag for every write kind) for every operation that writes.

#[path = "../common/http.rs"]
mod http_fixtures;
#[path = "../setup_support/mod.rs"]
mod support;

mod http;
mod memory;
mod scenarios;
