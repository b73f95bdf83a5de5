//! Runnable examples for sigsync live in `examples/`; this library is empty.
