//! The relay end to end on loopback with real TLS on both legs: a sending client standing in
//! for Exchange Online, the relay, and next hops that require the tenant's client certificate
//! and record what they accepted.

mod support;

#[cfg(feature = "sim")]
mod directory;
mod e2e;
mod faults;
mod interop;
mod isolation;
mod lifecycle;
mod load;
