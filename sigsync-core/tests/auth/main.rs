//! Microsoft sign-in against token servers on loopback (wiremock). One test binary, so the
//! HTTP stack is linked once.

#[path = "../common/http.rs"]
mod http_fixtures;

mod app_only;
mod common;
mod device_code;
mod provider;
mod secrets;
