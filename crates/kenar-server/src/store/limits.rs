//! Request counters of the rate limits, shared by every process through the database.

use sqlx::Row;

use super::{Store, StoreResult};

impl Store {
    /// Counts one request of `app_id` in its minute and day windows; returns the counts
    /// (this request included) as (minute, day).
    pub async fn count_request(
        &self,
        app_id: i64,
        minute_start: i64,
        day_start: i64,
    ) -> StoreResult<(i64, i64)> {
        let rows = self
            .bookkeeping(move |conn| {
                Box::pin(async move {
                    Ok(sqlx::query(
                        "INSERT INTO rate_counters (app_id, kind, window_start, count) \
                         VALUES ($1, 'minute', $2, 1), ($1, 'day', $3, 1) \
                         ON CONFLICT (app_id, kind, window_start) \
                         DO UPDATE SET count = rate_counters.count + 1 RETURNING kind, count",
                    )
                    .bind(app_id)
                    .bind(minute_start)
                    .bind(day_start)
                    .fetch_all(conn)
                    .await?)
                })
            })
            .await?;
        let (mut minute, mut day) = (0, 0);
        for r in rows {
            let count: i64 = r.try_get("count")?;
            match r.try_get::<String, _>("kind")?.as_str() {
                "minute" => minute = count,
                _ => day = count,
            }
        }
        Ok((minute, day))
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
