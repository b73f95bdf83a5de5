//! The HTTP Exchange client against loopback servers: wiremock for every request and error
//! shape, and the simulated tenant served over HTTP for end-to-end runs. One test binary, so
//! the HTTP stack is linked once.

#[path = "../common/mod.rs"]
mod defs;

#[path = "../setup_support/mod.rs"]
mod setup_support;

#[path = "../common/http.rs"]
mod http_fixtures;

mod common;
mod graph;
mod invoke;
mod redirects;
mod setup_e2e;
mod simulator;
