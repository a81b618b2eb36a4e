//! The delivery engine: take fresh deliveries from ingestion or claim due ones in batches,
//! send them, record outcomes in batches.
//!
//! ```text
//!  ingest ──writes leased, then hands over──▶ dispatcher ◀──claim (lease)── store
//!                        │ spawn per delivery (endpoint semaphore, global cap)
//!                        ▼
//!                     sender ──POST──▶ app      outcome ──▶ recorder ──batch tx──▶ store
//! ```
//!
//! A fresh delivery skips the claim when its app has room in this process and no older due
//! work in the store: ingestion writes it already leased to this worker and hands it over once
//! the transaction commits. Otherwise it is written unleased and waits for a claim, in order.

mod dispatcher;
mod recorder;
pub mod sender;

use std::sync::{Arc, OnceLock, Weak};
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

    /// Deliveries this process holds at most, queued for their endpoint or being sent:
    /// sixteen for every request that may be in flight (8,192 at the defaults), so that an
    /// app at its high-water mark leaves room for others.
    pub fn max_claimed(&self) -> usize {
        self.max_in_flight.saturating_mul(16)
    }

    /// Deliveries of one app held here at most: what fresh deliveries are handed over up to,
    /// and what a claim tops the app up to. Four batches beyond the endpoint's concurrency, so
    /// that the endpoint keeps working while a claim waits for the store's writer, and one
    /// whole ingestion group more, so that a group arriving while the app is topped up still
    /// fits. A fresh delivery that does not fit goes to the store unleased, and from then on
    /// every fresh delivery of its app waits there behind it and costs a claim (a rewrite of
    /// its state, a read of its body) until a claim comes up short. With the room of four
    /// batches alone, 55-97 % of the batched benchmark's deliveries were started by a claim
    /// although ingestion ran barely ahead of delivery; with this room 31-46 % on SQLite and
    /// 0-29 % on PostgreSQL.
    pub fn claim_high_water(&self) -> usize {
        (self.endpoint_concurrency + 4 * self.batch_size() + crate::ingest::GROUP_MAX_ITEMS)
            .min(self.max_claimed())
    }

    /// An app is claimed for again once this few of its deliveries are held here, so a claim
    /// fetches a whole batch.
    pub fn claim_low_water(&self) -> usize {
        self.claim_high_water() - self.batch_size()
    }

    /// A claimed delivery must be sent within its lease, after which another worker may take
    /// it. It may wait for its endpoint (at most [`DeliveryConfig::claim_high_water`] ahead of
    /// it, `endpoint_concurrency` at a time) and for a sending slot (at most `max_claimed`
    /// ahead, `max_in_flight` at a time), each round bounded by the request timeout.
    pub fn lease(&self) -> Duration {
        let rounds = self.claim_high_water() / self.endpoint_concurrency.max(1)
            + self.max_claimed() / self.max_in_flight.max(1)
            + 2;
        self.request_timeout * u32::try_from(rounds).unwrap_or(u32::MAX)
    }

    /// How far ahead a worker, once per poll interval, says it is alive: past that time it is
    /// taken for dead, and the deliveries it held are let go before their leases end. Ten
    /// missed beats, and at least a second.
    pub fn worker_silence(&self) -> Duration {
        (self.poll_interval * 10).max(Duration::from_secs(1))
    }

    /// [`DeliveryConfig::worker_silence`] in milliseconds.
    pub fn worker_silence_ms(&self) -> i64 {
        i64::try_from(self.worker_silence().as_millis()).unwrap_or(i64::MAX)
    }

    /// [`DeliveryConfig::lease`] in milliseconds, as leases are stored.
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease().as_millis()).unwrap_or(i64::MAX)
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

/// Ingestion's door to this process's dispatcher. Cheap to clone; closed (everything goes to the
/// store unleased) until [`start`] opens it, and in a process that does not deliver.
///
/// It holds the dispatcher weakly: the engine stops (and its recorder with it) when its own
/// tasks end, whoever keeps a handoff.
#[derive(Clone, Default)]
pub struct Handoff(Arc<OnceLock<Weak<dispatcher::Dispatcher>>>);

/// Places taken for fresh deliveries, to write leased to [`Taken::owner`] until
/// [`Taken::lease_until`].
pub struct Taken {
    dispatcher: Arc<dispatcher::Dispatcher>,
    lease_until: i64,
}

impl Handoff {
    /// Opens a round of taking places, or `None` when closed.
    pub fn begin(&self, now: i64) -> Option<Taken> {
        let dispatcher = self.0.get()?.upgrade()?;
        let lease_until = now.saturating_add(dispatcher.config.lease_ms());
        Some(Taken {
            dispatcher,
            lease_until,
        })
    }
}

impl Taken {
    pub fn owner(&self) -> &str {
        &self.dispatcher.owner
    }

    pub fn lease_until(&self) -> i64 {
        self.lease_until
    }

    /// A place for a fresh delivery to `app_id`, or `false`: write it unleased.
    pub fn take(&self, app_id: i64) -> bool {
        self.dispatcher.take_fresh(app_id)
    }

    /// A fresh delivery to `app_id` was written unleased.
    pub fn left_in_store(&self, app_id: i64) {
        self.dispatcher.left_in_store(app_id);
    }

    /// The places of deliveries that were not written after all.
    pub fn give_back(&self, app_ids: impl IntoIterator<Item = i64>) {
        self.dispatcher.give_back(app_ids);
    }

    /// Starts the leased deliveries, now durable.
    pub fn hand_over(&self, batch: Vec<crate::store::ClaimedDelivery>) {
        self.dispatcher.hand_over(batch);
    }
}

/// Starts the dispatcher and the recorder on `tracker`; they stop when `cancel` fires, after
/// in-flight deliveries finish and their outcomes are recorded.
pub fn start(
    store: Store,
    config: DeliveryConfig,
    metrics: Arc<Metrics>,
    wake: Wake,
    handoff: &Handoff,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    let owner = format!(
        "worker-{}",
        crate::domain::credentials::random_alphanumeric(12)
    );
    let sender = sender::Sender::new(&config);
    let config_max_in_flight = config.max_in_flight;
    let (outcomes, rx) = tokio::sync::mpsc::channel(4096);
    tracker.spawn(recorder::run(
        store.clone(),
        owner.clone(),
        rx,
        config.disable_after,
        wake.clone(),
    ));
    let dispatcher = Arc::new(dispatcher::Dispatcher {
        store,
        config,
        owner,
        sender: Arc::new(sender),
        metrics,
        outcomes,
        wake,
        kick: Default::default(),
        cancel,
        tracker: tracker.clone(),
        load: Default::default(),
        sending: Arc::new(tokio::sync::Semaphore::new(config_max_in_flight)),
    });
    if handoff.0.set(Arc::downgrade(&dispatcher)).is_err() {
        tracing::warn!(
            "a delivery engine already runs in this process; fresh deliveries go to the first"
        );
    }
    tracker.spawn(dispatcher.run());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_defaults_an_app_four_batches_deep_still_takes_a_whole_ingestion_group() {
        let config = DeliveryConfig::default();
        let busy = config.endpoint_concurrency + 4 * config.batch_size();
        assert!(
            busy + crate::ingest::GROUP_MAX_ITEMS <= config.claim_high_water(),
            "{busy} held + a group of {} > high water {}",
            crate::ingest::GROUP_MAX_ITEMS,
            config.claim_high_water()
        );
        assert!(
            config.claim_high_water() < config.max_claimed(),
            "one app at its high-water mark leaves room for others"
        );
    }

    #[test]
    fn a_small_engine_keeps_its_room_within_its_cap() {
        let config = DeliveryConfig {
            endpoint_concurrency: 1,
            max_in_flight: 2,
            ..DeliveryConfig::default()
        };
        assert_eq!(config.max_claimed(), 32);
        assert_eq!(config.batch_size(), 32);
        assert_eq!(config.claim_high_water(), 32);
        assert_eq!(config.claim_low_water(), 0);
    }
}
