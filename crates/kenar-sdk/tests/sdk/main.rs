//! Black-box tests of the SDK: against the real `kenar-events` binary (`dev` mode, one per
//! test), against stub servers that record the exact requests, and of the compiled examples.
//!
//! The server binary must be built first (`cargo build -p kenar-server --bin kenar-events`;
//! `cargo test --workspace` builds it too).

mod support;

#[cfg(feature = "blocking")]
mod blocking;
mod examples;
mod oauth;
mod real_server;
mod retries;
mod webhooks;
mod wire_forms;
