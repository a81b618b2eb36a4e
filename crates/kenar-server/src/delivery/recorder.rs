//! Records outcomes in batches: one transaction (one fsync) for every outcome that arrived
//! while the previous batch was being written.

use std::time::Duration;

use tokio::sync::mpsc;

use super::Wake;
use crate::domain::time::now_ms;
use crate::store::{Outcome, Store};

const MAX_BATCH: usize = 512;
const WRITE_TRIES: usize = 5;

pub(super) async fn run(
    store: Store,
    owner: String,
    mut rx: mpsc::Receiver<Outcome>,
    disable_after: Duration,
    wake: Wake,
) {
    let disable_after_ms = i64::try_from(disable_after.as_millis()).unwrap_or(i64::MAX / 2);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        for attempt in 1..=WRITE_TRIES {
            match store
                .record_outcomes(&owner, &batch, now_ms(), disable_after_ms)
                .await
            {
                Ok(disabled) => {
                    for app_id in disabled {
                        tracing::warn!(app_id, "webhook endpoint disabled: failing for too long");
                    }
                    break;
                }
                Err(e) if attempt < WRITE_TRIES => {
                    tracing::warn!(error = %e, attempt, "recording delivery outcomes failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt as u64)).await;
                }
                Err(e) => {
                    // The deliveries keep their leases, which expire and bring them back: at
                    // least once still holds, at the price of a repeat.
                    tracing::error!(error = %e, count = batch.len(), "could not record delivery outcomes");
                }
            }
        }
        batch.clear();
        // A retry may be due at once, and endpoint slots were freed.
        wake.notify();
    }
    tracing::debug!("recorder stopped");
}
