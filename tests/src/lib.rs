//! Cross-crate tests for sigsync live in `tests/`; this library only carries the README's Rust
//! example as a doctest (`cargo test -p sigsync-tests --doc`), so that it compiles and runs
//! against the simulated tenant exactly as printed. `tests/readme.rs` checks the README's
//! other examples.

/// The README, whose `rust` code blocks rustdoc runs as doctests (every other block carries a
/// language tag that rustdoc does not compile; `tests/readme.rs` checks that).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
