//! What every handler can reach.

use std::sync::Arc;

use crate::delivery::Wake;
use crate::domain::limits::Limits;
use crate::domain::pseudonym::PseudonymKey;
use crate::domain::url::PrivateTargets;
use crate::domain::Secret;
use crate::metrics::Metrics;
use crate::store::Store;

/// Shared, read-only context of the HTTP layer.
#[derive(Debug)]
pub struct Context {
    pub store: Store,
    /// Turns platform user ids into the ids each app sees.
    pub pseudonyms: PseudonymKey,
    /// Guards the administration API.
    pub admin_token: Secret,
    /// Guards the ingestion API (contract 3.3).
    pub platform_token: Secret,
    /// Whether apps may point webhooks and dynamic actions at private addresses.
    pub private_targets: PrivateTargets,
    pub metrics: Arc<Metrics>,
    /// Tells the delivery engine that new deliveries are due.
    pub wake: Wake,
    /// Rate limits of apps that have none of their own.
    pub default_limits: Limits,
    /// Group commit of subscription registrations.
    pub subscriptions: crate::group::GroupCommit<crate::store::NewSubscription>,
    /// Counts calls against the rate limits.
    pub rates: Arc<crate::rate::RateCounter>,
    /// For calls to apps' dynamic-action URLs (with the SSRF guard when private targets are
    /// refused).
    pub outbound: reqwest::Client,
    pub oauth: super::oauth::OAuthConfig,
    /// When set, access tokens are validated by this external authorization server instead of
    /// the built-in one.
    pub introspector: Option<crate::introspection::Introspector>,
    /// Fires when the server starts shutting down, so that long-lived responses (the delivery
    /// stream) end instead of holding the graceful shutdown up.
    pub stopping: tokio_util::sync::CancellationToken,
    /// Group commit of ingestion calls.
    pub ingest: crate::ingest::IngestQueue,
}

pub type AppState = Arc<Context>;
