//! Claims due deliveries and starts them, within the per-endpoint and global limits; takes
//! fresh deliveries straight from ingestion while their app has room and no older work waits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::sender::{SendResult, Sender, Target};
use super::{DeliveryConfig, Wake};
use crate::domain::credentials::random_bytes;
use crate::domain::retry::parse_retry_after;
use crate::domain::time::now_ms;
use crate::metrics::Metrics;
use crate::store::{Attempt, ClaimedDelivery, Next, Outcome, Store};

/// Claimed deliveries not yet finished (queued for their endpoint, or being sent), per app
/// and in all.
#[derive(Default)]
pub(super) struct Load {
    per_app: HashMap<i64, (usize, Arc<Semaphore>)>,
    total: usize,
    /// Apps that may have due deliveries in the store that no one holds: fresh deliveries of
    /// theirs go to the store unleased, behind the older ones, until a claim finds no more.
    backlogged: HashSet<i64>,
}

pub(super) struct Dispatcher {
    pub store: Store,
    pub config: DeliveryConfig,
    /// This worker's lease owner name.
    pub owner: String,
    pub sender: Arc<Sender>,
    pub metrics: Arc<Metrics>,
    pub outcomes: mpsc::Sender<Outcome>,
    pub wake: Wake,
    /// Claim for the backlogged apps now, without asking the store which apps have work.
    pub kick: Notify,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    pub load: Arc<Mutex<Load>>,
    /// Requests being sent, in all: a delivery holds its endpoint's permit, then one of these.
    pub sending: Arc<Semaphore>,
}

impl Dispatcher {
    pub async fn run(self: Arc<Self>) {
        // The store is asked for due work on a wake and at least every poll interval, however
        // often kicks come.
        let poll = self.config.poll_interval;
        let mut scanned_at: Option<Instant> = None;
        let mut released_at: Option<Instant> = None;
        let mut woken = true;
        loop {
            if self.cancel.is_cancelled() {
                break;
            }
            // Once per poll interval this worker says it is alive (for ten intervals more),
            // and deliveries held by a worker that is gone (lease ended, or owner past its time
            // alive) are let go, to be found by the scan.
            let mut released = false;
            if released_at.is_none_or(|at| at.elapsed() >= poll) {
                released_at = Some(Instant::now());
                let now = now_ms();
                let alive_until = now.saturating_add(self.config.worker_silence_ms());
                match self
                    .store
                    .beat_and_release(&self.owner, now, alive_until)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(
                            count = n,
                            "deliveries a worker that is gone held are due again"
                        );
                        released = true;
                    }
                    Err(e) => tracing::error!(error = %e, "beating and releasing leases failed"),
                }
            }
            let scan = woken || released || scanned_at.is_none_or(|at| at.elapsed() >= poll);
            if scan {
                scanned_at = Some(Instant::now());
            }
            if let Err(e) = self.claim(scan).await {
                tracing::error!(error = %e, "claiming deliveries failed");
            }
            let next_scan = poll.saturating_sub(scanned_at.map_or(poll, |at| at.elapsed()));
            woken = tokio::select! {
                _ = self.wake.notified() => true,
                _ = self.kick.notified() => false,
                _ = tokio::time::sleep(next_scan) => false,
                _ = self.cancel.cancelled() => break,
            };
        }
        tracing::debug!("dispatcher stopped");
    }

    /// Claims for every app with due work whose local queue has drained to its low-water mark
    /// (three batches beyond its endpoint's concurrency), up to the high-water mark (a batch
    /// more), within the process's limit. Claiming in gulps keeps the claim statements few,
    /// and an app's full queue keeps it out, so a slow endpoint never takes the slots of
    /// others. With `scan` the store says which apps have due work (retries come due, other
    /// processes ingest); without, the apps known to be backlogged are tried.
    async fn claim(self: &Arc<Self>, scan: bool) -> crate::store::StoreResult<()> {
        let now = now_ms();
        let scanned = if scan {
            Some(self.store.apps_with_due_work(now).await?)
        } else {
            None
        };
        let wants = {
            let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
            let apps: Vec<i64> = match scanned {
                Some(apps) => {
                    load.backlogged.extend(apps.iter().copied());
                    apps
                }
                None => load.backlogged.iter().copied().collect(),
            };
            let mut free = self.config.max_claimed().saturating_sub(load.total);
            let low = self.config.claim_low_water();
            let high = self.config.claim_high_water();
            let mut wants = Vec::new();
            for app in apps {
                let queued = load.per_app.get(&app).map(|(n, _)| *n).unwrap_or(0);
                if queued > low || free == 0 {
                    continue;
                }
                let n = (high - queued).min(free);
                free -= n;
                wants.push((app, n as i64));
            }
            wants
        };
        if wants.is_empty() {
            return Ok(());
        }
        let lease_until = now.saturating_add(self.config.lease_ms());
        let batch = self
            .store
            .claim_due(&self.owner, &wants, now, lease_until)
            .await?;
        {
            // An app that gave less than asked has nothing due left unheld; its fresh
            // deliveries may skip the store's queue again. (One ingested unleased meanwhile is
            // found by the next scan.)
            let mut got: HashMap<i64, i64> = HashMap::new();
            for d in &batch {
                *got.entry(d.app_id).or_default() += 1;
            }
            let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
            for (app, n) in &wants {
                if got.get(app).copied().unwrap_or(0) < *n {
                    load.backlogged.remove(app);
                }
            }
        }
        for d in &batch {
            self.reserve(d.app_id);
        }
        self.count_started("claim", batch.len());
        self.start(batch).await
    }

    /// Starts deliveries this process holds the leases of, each already counted by
    /// [`Dispatcher::reserve`].
    async fn start(self: &Arc<Self>, batch: Vec<ClaimedDelivery>) -> crate::store::StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut app_ids: Vec<i64> = batch.iter().map(|d| d.app_id).collect();
        app_ids.sort_unstable();
        app_ids.dedup();
        let targets: HashMap<i64, Arc<Target>> = match self.store.endpoints(&app_ids).await {
            Ok(found) => found
                .into_iter()
                .map(|e| (e.app_id, Arc::new(self.sender.target(e))))
                .collect(),
            Err(e) => {
                // Their leases expire and bring them back.
                for d in &batch {
                    self.finish(d.app_id);
                }
                return Err(e);
            }
        };
        for delivery in batch {
            // The app was seen with an endpoint; one removed since simply waits for its lease
            // to expire.
            let Some(target) = targets.get(&delivery.app_id).cloned() else {
                self.finish(delivery.app_id);
                continue;
            };
            let permit_pool = self.semaphore(delivery.app_id);
            let this = Arc::clone(self);
            self.tracker.spawn(async move {
                let app_id = delivery.app_id;
                if let Ok(_endpoint_slot) = permit_pool.acquire_owned().await {
                    if let Ok(_sending_slot) = this.sending.acquire().await {
                        this.deliver(&target, delivery).await;
                    }
                }
                this.finish(app_id);
            });
        }
        Ok(())
    }

    /// Takes a place for a fresh delivery to `app_id`, which the caller then writes leased to
    /// this worker and hands over with [`Dispatcher::hand_over`] once it is durable. `false`
    /// when the app has older work waiting in the store, or no room here: the delivery goes to
    /// the store unleased and a claim picks it up in its turn.
    pub fn take_fresh(&self, app_id: i64) -> bool {
        if self.cancel.is_cancelled() {
            return false;
        }
        let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
        if load.backlogged.contains(&app_id) {
            return false;
        }
        let queued = load.per_app.get(&app_id).map(|(n, _)| *n).unwrap_or(0);
        if queued >= self.config.claim_high_water() || load.total >= self.config.max_claimed() {
            load.backlogged.insert(app_id);
            return false;
        }
        drop(load);
        self.reserve(app_id);
        true
    }

    /// Notes that a fresh delivery to `app_id` went to the store unleased.
    pub fn left_in_store(&self, app_id: i64) {
        let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
        load.backlogged.insert(app_id);
        drop(load);
        self.kick.notify_one();
    }

    /// Gives back places taken by [`Dispatcher::take_fresh`] whose deliveries were not written.
    pub fn give_back(&self, app_ids: impl IntoIterator<Item = i64>) {
        for app_id in app_ids {
            self.finish(app_id);
        }
    }

    /// Starts fresh deliveries, durable and leased to this worker, whose places
    /// [`Dispatcher::take_fresh`] took.
    pub fn hand_over(self: &Arc<Self>, batch: Vec<ClaimedDelivery>) {
        self.count_started("handoff", batch.len());
        let this = Arc::clone(self);
        self.tracker.spawn(async move {
            if let Err(e) = this.start(batch).await {
                tracing::error!(error = %e, "starting fresh deliveries failed");
            }
        });
    }

    fn count_started(&self, via: &'static str, n: usize) {
        if n > 0 {
            self.metrics
                .started
                .get_or_create(&vec![("via", via)])
                .inc_by(n as u64);
        }
    }

    /// Counts a delivery this process now holds.
    fn reserve(&self, app_id: i64) {
        let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
        load.total += 1;
        self.app_load(&mut load, app_id).0 += 1;
    }

    /// The endpoint's slots of an app this process holds deliveries of.
    fn semaphore(&self, app_id: i64) -> Arc<Semaphore> {
        let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&self.app_load(&mut load, app_id).1)
    }

    /// An app's (held deliveries, endpoint slots), created on first use.
    fn app_load<'a>(&self, load: &'a mut Load, app_id: i64) -> &'a mut (usize, Arc<Semaphore>) {
        let concurrency = self.config.endpoint_concurrency;
        load.per_app
            .entry(app_id)
            .or_insert_with(|| (0, Arc::new(Semaphore::new(concurrency))))
    }

    /// Forgets a finished delivery, and claims again if that makes it worthwhile.
    fn finish(&self, app_id: i64) {
        if self.release(app_id) {
            self.kick.notify_one();
        }
    }

    /// Forgets a finished delivery; `true` when that makes claiming worthwhile again (its app
    /// drained to the low-water mark, or the process was full).
    fn release(&self, app_id: i64) -> bool {
        let mut load = self.load.lock().unwrap_or_else(|e| e.into_inner());
        let was_full = load.total >= self.config.max_claimed();
        load.total = load.total.saturating_sub(1);
        let mut drained = false;
        if let Some(entry) = load.per_app.get_mut(&app_id) {
            entry.0 = entry.0.saturating_sub(1);
            drained = entry.0 == self.config.claim_low_water();
            if entry.0 == 0 {
                load.per_app.remove(&app_id);
            }
        }
        was_full || drained
    }

    async fn deliver(&self, target: &Target, d: ClaimedDelivery) {
        let attempted_at = now_ms();
        let result = self.sender.send(target, d.id, d.body).await;
        self.metrics.latency.observe(result.latency.as_secs_f64());
        let next = self.next_step(d.schedule_step, &result, now_ms());
        let outcome_label = match next {
            Next::Succeeded => "succeeded",
            Next::Retry { .. } => "retrying",
            Next::Failed => "failed",
        };
        self.metrics
            .attempts
            .get_or_create(&vec![("outcome", outcome_label)])
            .inc();
        match (&next, &result.error) {
            (Next::Succeeded, _) => {
                tracing::debug!(delivery_id = d.id, app_id = d.app_id, status = ?result.status, "delivered")
            }
            (_, error) => tracing::info!(
                delivery_id = d.id,
                app_id = d.app_id,
                event_type = %d.event_type,
                status = ?result.status,
                error = error.as_deref().unwrap_or(""),
                outcome = outcome_label,
                "delivery attempt failed"
            ),
        }
        let outcome = Outcome {
            delivery_id: d.id,
            app_id: d.app_id,
            attempt: Attempt {
                attempted_at,
                status_code: result.status.map(i64::from),
                latency_ms: i64::try_from(result.latency.as_millis()).unwrap_or(i64::MAX),
                response_body: result.body,
                error: result.error,
            },
            next,
        };
        // The recorder outlives every sender; if it is gone the process is stopping and the
        // lease brings the delivery back.
        let _ = self.outcomes.send(outcome).await;
    }

    fn next_step(&self, schedule_step: i64, r: &SendResult, now: i64) -> Next {
        if r.status.is_some_and(|s| (200..300).contains(&s)) {
            return Next::Succeeded;
        }
        let unit = f64::from(u32::from_le_bytes(random_bytes::<4>())) / (f64::from(u32::MAX) + 1.0);
        let step = usize::try_from(schedule_step).unwrap_or(usize::MAX);
        let Some(mut delay) = self.config.schedule.delay_after(step, unit) else {
            return Next::Failed;
        };
        // A receiver that asks for time gets it (within a day).
        if matches!(r.status, Some(429 | 503)) {
            if let Some(after) = r
                .retry_after
                .as_deref()
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()))
            {
                delay = delay.max(after.min(Duration::from_secs(24 * 3600)));
            }
        }
        Next::Retry {
            at: now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
        }
    }
}
