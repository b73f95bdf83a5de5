//! Cross-crate tests for sigsync live in `tests/`; this library is empty.
