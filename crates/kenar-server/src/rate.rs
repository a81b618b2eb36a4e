//! Counting public API calls against the rate limits without a database write per call.
//!
//! Each process keeps, per app, the totals it last read from the shared counters and the calls
//! it has counted since. Far from a limit, a call is only counted here, and [`RateCounter::flush`]
//! (every [`FLUSH_EVERY`]) adds the calls to the shared counters in one transaction. Near a limit
//! (half of it, by what this process knows) or once a process holds 1/64 of the smaller limit
//! unflushed, the call is counted in the database at once, so the limit itself is exact within
//! a process. Across processes, what another process counted and has not flushed yet is unseen:
//! at most 1/64 of the smaller limit per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::limits::{windows, Limits};
use crate::store::{CallCount, Store, StoreResult};

/// How often calls counted in memory reach the shared counters.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// What this process knows of one app's current windows.
#[derive(Debug, Clone, Copy)]
struct Window {
    minute_start: i64,
    day_start: i64,
    /// The shared totals as last read.
    minute_total: i64,
    day_total: i64,
    /// Calls counted here since.
    pending: i64,
}

#[derive(Debug, Default)]
struct Counts {
    apps: HashMap<i64, Window>,
    /// Calls counted in windows that have ended, still to add to the shared counters.
    ended: Vec<CallCount>,
}

#[derive(Debug)]
pub struct RateCounter {
    store: Store,
    counts: Mutex<Counts>,
}

impl RateCounter {
    pub fn new(store: Store) -> RateCounter {
        RateCounter {
            store,
            counts: Mutex::default(),
        }
    }

    /// Counts one call of `app_id` at `now`; returns the totals of its windows, this call
    /// included, as (minute, day).
    pub async fn count(&self, app_id: i64, limits: Limits, now: i64) -> StoreResult<(i64, i64)> {
        let (minute_start, day_start) = windows(now);
        let slack = limits.per_minute.min(limits.per_day) / 64;
        let calls = {
            let mut counts = self.lock();
            let Counts { apps, ended } = &mut *counts;
            let w = apps.entry(app_id).or_insert(Window {
                minute_start,
                day_start,
                minute_total: 0,
                day_total: 0,
                pending: 0,
            });
            if (w.minute_start, w.day_start) != (minute_start, day_start) {
                if w.pending > 0 {
                    ended.push(CallCount {
                        app_id,
                        minute_start: w.minute_start,
                        day_start: w.day_start,
                        calls: w.pending,
                    });
                }
                let same_day = w.day_start == day_start;
                *w = Window {
                    minute_start,
                    day_start,
                    minute_total: 0,
                    day_total: if same_day { w.day_total + w.pending } else { 0 },
                    pending: 0,
                };
            }
            let minute = w.minute_total + w.pending + 1;
            let day = w.day_total + w.pending + 1;
            if w.pending < slack && 2 * minute < limits.per_minute && 2 * day < limits.per_day {
                w.pending += 1;
                return Ok((minute, day));
            }
            std::mem::take(&mut w.pending) + 1
        };
        let count = CallCount {
            app_id,
            minute_start,
            day_start,
            calls,
        };
        match self.store.count_requests(&[count]).await {
            Ok(totals) => {
                let (minute, day) = totals.first().copied().unwrap_or((0, 0));
                self.learn(count, minute, day);
                Ok((minute, day))
            }
            Err(e) => {
                // The calls before this one are still to be counted.
                self.put_back(CallCount {
                    calls: calls - 1,
                    ..count
                });
                Err(e)
            }
        }
    }

    /// Adds every call counted here to the shared counters, and learns their totals.
    pub async fn flush(&self) -> StoreResult<()> {
        let batch: Vec<CallCount> = {
            let mut counts = self.lock();
            let mut batch = std::mem::take(&mut counts.ended);
            for (&app_id, w) in counts.apps.iter_mut() {
                if w.pending > 0 {
                    batch.push(CallCount {
                        app_id,
                        minute_start: w.minute_start,
                        day_start: w.day_start,
                        calls: std::mem::take(&mut w.pending),
                    });
                }
            }
            batch
        };
        if batch.is_empty() {
            return Ok(());
        }
        match self.store.count_requests(&batch).await {
            Ok(totals) => {
                for (count, (minute, day)) in batch.into_iter().zip(totals) {
                    self.learn(count, minute, day);
                }
                Ok(())
            }
            Err(e) => {
                for count in batch {
                    self.put_back(count);
                }
                Err(e)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the shared totals read after adding `count`, if its windows are still current.
    fn learn(&self, count: CallCount, minute: i64, day: i64) {
        let mut counts = self.lock();
        if let Some(w) = counts.apps.get_mut(&count.app_id) {
            if (w.minute_start, w.day_start) == (count.minute_start, count.day_start) {
                w.minute_total = w.minute_total.max(minute);
                w.day_total = w.day_total.max(day);
            }
        }
    }

    /// Keeps calls that could not be added to the shared counters, to add them later.
    fn put_back(&self, count: CallCount) {
        if count.calls <= 0 {
            return;
        }
        let mut counts = self.lock();
        match counts.apps.get_mut(&count.app_id) {
            Some(w) if (w.minute_start, w.day_start) == (count.minute_start, count.day_start) => {
                w.pending += count.calls;
            }
            _ => counts.ended.push(count),
        }
    }
}

/// Flushes `counter` every [`FLUSH_EVERY`] until `cancel` fires, and once more then.
pub async fn flush_periodically(
    counter: std::sync::Arc<RateCounter>,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        let stop = tokio::select! {
            _ = tokio::time::sleep(FLUSH_EVERY) => false,
            _ = cancel.cancelled() => true,
        };
        if let Err(e) = counter.flush().await {
            tracing::warn!(error = %e, "adding counted calls to the rate counters failed");
        }
        if stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limits::MINUTE_MS;

    /// Limits far above what the tests call.
    const ROOMY: Limits = Limits {
        per_minute: 64_000,
        per_day: 1_000_000,
    };

    async fn counter() -> (RateCounter, Store, tempfile::TempDir) {
        let (store, dir) = Store::temporary().await;
        (RateCounter::new(store.clone()), store, dir)
    }

    /// The shared totals of app 1's windows at `now`, as another process would see them.
    async fn shared(store: &Store, now: i64) -> (i64, i64) {
        let (minute_start, day_start) = windows(now);
        let totals = store
            .count_requests(&[CallCount {
                app_id: 1,
                minute_start,
                day_start,
                calls: 0,
            }])
            .await
            .expect("read");
        totals[0]
    }

    #[tokio::test]
    async fn far_from_the_limit_calls_are_counted_here_and_flushed_later() {
        let (counter, store, _dir) = counter().await;
        let limits = ROOMY;
        let now = 1_000 * MINUTE_MS + 10_000;
        for i in 1..=100 {
            assert_eq!(counter.count(1, limits, now).await.expect("count"), (i, i));
        }
        assert_eq!(shared(&store, now).await, (0, 0));
        counter.flush().await.expect("flush");
        assert_eq!(shared(&store, now).await, (100, 100));
        assert_eq!(
            counter.count(1, limits, now).await.expect("count"),
            (101, 101)
        );
    }

    #[tokio::test]
    async fn near_the_limit_every_call_is_counted_in_the_database() {
        let (counter, store, _dir) = counter().await;
        let limits = Limits {
            per_minute: 10,
            per_day: 100,
        };
        let now = 1_000 * MINUTE_MS + 10_000;
        for i in 1..=12 {
            assert_eq!(counter.count(1, limits, now).await.expect("count"), (i, i));
            assert_eq!(shared(&store, now).await, (i, i), "call {i}");
        }
    }

    #[tokio::test]
    async fn calls_counted_elsewhere_are_learned_at_the_next_flush() {
        let (counter, store, _dir) = counter().await;
        let limits = ROOMY;
        let now = 1_000 * MINUTE_MS + 10_000;
        counter.count(1, limits, now).await.expect("count");
        let (minute_start, day_start) = windows(now);
        store
            .count_requests(&[CallCount {
                app_id: 1,
                minute_start,
                day_start,
                calls: 40_000,
            }])
            .await
            .expect("another process");
        counter.flush().await.expect("flush");
        // Past half the limit: counted in the database at once.
        assert_eq!(
            counter.count(1, limits, now).await.expect("count"),
            (40_002, 40_002)
        );
        // A new minute starts from the day's total.
        let later = now + MINUTE_MS;
        assert_eq!(
            counter.count(1, limits, later).await.expect("count"),
            (1, 40_003)
        );
    }
}
