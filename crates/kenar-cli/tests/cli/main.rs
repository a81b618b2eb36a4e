//! End-to-end tests of `kenar` as a user types it: the compiled binary, run with arguments and
//! environment variables against a real `kenar-events dev` server (one per test).
//!
//! The server binary must be built first (`cargo build -p kenar-server --bin kenar-events`;
//! `cargo test --workspace` builds it too).

mod admin;
mod deliveries;
mod events;
mod listen;
mod settings;
mod support;
