//! The delivery engine: claim due deliveries in batches, send them, record outcomes in batches.
//!
//! ```text
//!  ingest ──notify──▶ dispatcher ──claim (lease)──▶ store
//!                        │ spawn per delivery (endpoint semaphore, global cap)
//!                        ▼
//!                     sender ──POST──▶ app      outcome ──▶ recorder ──batch tx──▶ store
//! ```

mod dispatcher;
mod recorder;
pub mod sender;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::retry::RetrySchedule;
use crate::domain::url::PrivateTargets;
use crate::metrics::Metrics;
use crate::store::Store;

/// How the engine delivers.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub schedule: RetrySchedule,
    /// Per request, connection included.
    pub request_timeout: Duration,
    /// Deliveries in flight to one endpoint at most, so a slow one cannot hog the workers.
    pub endpoint_concurrency: usize,
    /// Deliveries in flight in this process at most.
    pub max_in_flight: usize,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
    /// How often to look for due retries (and for work another process ingested) when idle.
    pub poll_interval: Duration,
    pub private_targets: PrivateTargets,
}

impl DeliveryConfig {
    /// Deliveries claimed per query.
    pub fn batch_size(&self) -> usize {
        256.min(self.max_claimed())
    }

    /// Deliveries this process holds at most, queued for their endpoint or being sent.
    pub fn max_claimed(&self) -> usize {
        self.max_in_flight.saturating_mul(4)
    }

    /// A claimed delivery must be sent within its lease, after which another worker may take
    /// it. It may wait for its endpoint (at most a batch ahead of it, `endpoint_concurrency` at
    /// a time) and for a sending slot (at most `max_claimed` ahead, `max_in_flight` at a time),
    /// each round bounded by the request timeout.
    pub fn lease(&self) -> Duration {
        let rounds = self.batch_size() / self.endpoint_concurrency.max(1)
            + self.max_claimed() / self.max_in_flight.max(1)
            + 2;
        self.request_timeout * u32::try_from(rounds).unwrap_or(u32::MAX)
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            schedule: RetrySchedule::standard(),
            request_timeout: Duration::from_secs(10),
            endpoint_concurrency: 16,
            max_in_flight: 512,
            disable_after: Duration::from_secs(5 * 24 * 3600),
            poll_interval: Duration::from_secs(1),
            private_targets: PrivateTargets::Refuse,
        }
    }
}

/// Wakes the engine when there is new work. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn notify(&self) {
        self.0.notify_one();
    }

    async fn notified(&self) {
        self.0.notified().await;
    }
}

/// Starts the dispatcher and the recorder on `tracker`; they stop when `cancel` fires, after
/// in-flight deliveries finish and their outcomes are recorded.
pub fn start(
    store: Store,
    config: DeliveryConfig,
    metrics: Arc<Metrics>,
    wake: Wake,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) -> Result<(), sender::BuildError> {
    let owner = format!(
        "worker-{}",
        crate::domain::credentials::random_alphanumeric(12)
    );
    let sender = sender::Sender::new(&config)?;
    let config_max_in_flight = config.max_in_flight;
    let (outcomes, rx) = tokio::sync::mpsc::channel(4096);
    tracker.spawn(recorder::run(
        store.clone(),
        owner.clone(),
        rx,
        config.disable_after,
        wake.clone(),
    ));
    let dispatcher = dispatcher::Dispatcher {
        store,
        config,
        owner,
        sender: Arc::new(sender),
        metrics,
        outcomes,
        wake,
        cancel,
        tracker: tracker.clone(),
        load: Default::default(),
        sending: Arc::new(tokio::sync::Semaphore::new(config_max_in_flight)),
    };
    tracker.spawn(dispatcher.run());
    Ok(())
}
