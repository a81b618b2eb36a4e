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
