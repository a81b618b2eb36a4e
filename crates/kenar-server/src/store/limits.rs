//! Request counters of the rate limits, shared by every process through the database.

use sqlx::Row;

use super::{Store, StoreResult};

/// Calls of one app to add to its counters: `calls` in the minute window starting at
/// `minute_start` and the day window starting at `day_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCount {
    pub app_id: i64,
    pub minute_start: i64,
    pub day_start: i64,
    pub calls: i64,
}

impl Store {
    /// Adds each count to its app's windows in one transaction; returns each app's totals
    /// after its addition, as (minute, day), in the same order.
    ///
    /// Every node locks counter rows in one order: by app, then day, a day's row before its
    /// minutes, minutes in time order. Two nodes adding counts for the same apps, each in the
    /// order its own map gave them, otherwise deadlock on PostgreSQL.
    pub async fn count_requests(&self, counts: &[CallCount]) -> StoreResult<Vec<(i64, i64)>> {
        let counts = counts.to_vec();
        self.bookkeeping(move |conn| {
            Box::pin(async move {
                let mut order: Vec<usize> = (0..counts.len()).collect();
                order.sort_by_key(|&i| {
                    let c = &counts[i];
                    (c.app_id, c.day_start, c.minute_start)
                });
                let mut tx = sqlx::Connection::begin(conn).await?;
                let mut totals = vec![(0, 0); counts.len()];
                for i in order {
                    let c = &counts[i];
                    let rows = sqlx::query(
                        "INSERT INTO rate_counters (app_id, kind, window_start, count) \
                         VALUES ($1, 'day', $3, $4), ($1, 'minute', $2, $4) \
                         ON CONFLICT (app_id, kind, window_start) \
                         DO UPDATE SET count = rate_counters.count + excluded.count \
                         RETURNING kind, count",
                    )
                    .bind(c.app_id)
                    .bind(c.minute_start)
                    .bind(c.day_start)
                    .bind(c.calls)
                    .fetch_all(&mut *tx)
                    .await?;
                    let (mut minute, mut day) = (0, 0);
                    for r in rows {
                        let count: i64 = r.try_get("count")?;
                        match r.try_get::<String, _>("kind")?.as_str() {
                            "minute" => minute = count,
                            _ => day = count,
                        }
                    }
                    totals[i] = (minute, day);
                }
                tx.commit().await?;
                Ok(totals)
            })
        })
        .await
    }

    /// Forgets windows that ended before `before`.
    pub async fn prune_rate_counters(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
            .bind(before)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }
}
