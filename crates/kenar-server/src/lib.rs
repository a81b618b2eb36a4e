//! The kenar-events server: Kenar's Events API, the platform's administration, and storage.
//!
//! See ARCHITECTURE.md at the repository root for the map of modules and the invariants.

pub mod cli;
pub mod config;
pub mod delivery;
pub mod dev;
pub mod domain;
pub mod group;
pub mod http;
pub mod ingest;
pub mod introspection;
pub mod metrics;
pub mod panel;
pub mod rate;
pub mod startup;
pub mod store;

pub use config::Settings;
pub use startup::Application;

/// An error and its causes, `outer: inner: ...`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
