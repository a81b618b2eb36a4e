//! Domain types: parsed, validated values and the rules of the contract. No I/O lives here.

pub mod app;
pub mod credentials;
pub mod ids;
pub mod limits;
pub mod oauth;
pub mod permission;
pub mod pseudonym;
pub mod retry;
pub mod scope;
pub mod secret;
pub mod signature;
pub mod time;
pub mod url;

pub use app::AppKind;
pub use ids::{AppSlug, PostToken, UserId};
pub use permission::Permission;
pub use scope::{Scope, ScopeName, ScopeSet};
pub use secret::Secret;
