//! backlog: the sink is down (its port refuses connections) while the events are ingested, then
//! comes up. Measures the server's peak memory, the disk the backlog takes, and how fast it
//! drains compared with the steady throughput; every event must arrive.
//!
//! While the sink is down every attempt fails at once. Left to the retry schedule, the backlog
//! would burn through its attempts against the closed port and then wait minutes for the next
//! retry, which measures the schedule, not the system. So the server runs with
//! `--disable-after 0s`: the endpoint is parked (disabled, its deliveries pending) at its first
//! failure, as it would be after a long outage, and the drain starts when the operator
//! re-enables it (`POST /admin/v1/apps/{slug}/webhook/enable`) once the sink is up. The first
//! retry delay is 1s instead of 5s, so that the few thousand deliveries that failed before the
//! endpoint was parked are due as soon as it is enabled again. Nothing about durability changes:
//! ingestion commits as always, and parked deliveries only wait.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::delivery::steady;
use super::{verify, CpuWatch, World, APP};
use crate::client::Admin;
use crate::load::{publish_closed, SendLog};
use crate::report::{rate, Target as Goal};
use crate::server::free_port;
use crate::sink::Sink;
use crate::{fail, Bench, Result};

const MIB: f64 = 1024.0 * 1024.0;

/// Park the endpoint at its first failure; retry the first failures 1s later.
const FLAGS: &[&str] = &[
    "--disable-after",
    "0s",
    "--retry-schedule",
    "1s,5m,30m,2h,5h,10h,10h",
];

pub async fn run(bench: &mut Bench, database: &str) -> Result<()> {
    let steady = steady(bench, database).await?;
    let n = bench.events(1_000_000, 1_000);
    let batch = bench.args.batch;
    let publishers = bench.publishers(8);
    eprintln!("backlog on {database}: {n} events ingested with the sink down, then drained");
    let port = free_port()?;
    let world = World::one_app(bench, database, port, FLAGS).await?;

    // Sample the server's memory and the database's size once a second, throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let peak_disk = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak_disk) = (Arc::clone(&stop), Arc::clone(&peak_disk));
        let url = world.db.url();
        let kind = world.db.kind();
        let disk = move || {
            // A view of the same database, for measuring only.
            if kind == "sqlite" {
                let dir = std::path::Path::new(&url)
                    .parent()
                    .map(std::path::Path::to_path_buf);
                dir.and_then(|d| std::fs::read_dir(d).ok()).map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.metadata().ok())
                        .map(|m| m.len())
                        .sum::<u64>()
                })
            } else {
                None
            }
        };
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(bytes) = disk() {
                    peak_disk.fetch_max(bytes, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };

    let log = SendLog::new(usize::try_from(n)?);
    let published = publish_closed(&world.target, n, batch, publishers, &log).await?;
    let mut admin = Admin::connect(world.server.addr).await?;
    // The first deliveries failed against the closed port and parked the endpoint.
    let parked_by = Instant::now() + Duration::from_secs(30);
    while !admin.webhook_disabled(APP).await? {
        if Instant::now() > parked_by {
            return Err(fail!(
                "the endpoint was not disabled while the sink was down"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let disk_after_ingest = world.db.disk_bytes()?;
    let rss_after_ingest = world.server.memory_kib().map_or(0, |m| m.0);

    let sink = Sink::start(port).await?;
    let cpu = CpuWatch::start(&world.server);
    let up = Instant::now();
    admin.enable_webhook(APP).await?;
    let reenabled = drain(&sink, &mut admin, n, bench.args.stall).await?;
    let cpu = cpu.finish();
    let d = verify(&sink.take(), 1, n, None)?;
    let drain = rate(n, d.last_arrival.saturating_duration_since(up));
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let (_, rss_peak_kib) = world
        .server
        .memory_kib()
        .ok_or_else(|| fail!("could not read the server's memory"))?;
    let peak_disk = peak_disk
        .load(Ordering::Relaxed)
        .max(disk_after_ingest)
        .max(world.db.disk_bytes()?);
    let kind = world.db.kind();
    let mut r = bench.report.scope("backlog", kind);
    let rss_mib = rss_peak_kib as f64 / 1024.0;
    r.goal("server RSS peak", rss_mib, "MiB", Goal::AtMost(256.0));
    r.info("disk used (peak)", peak_disk as f64 / MIB, "MiB");
    r.info(
        "ingested/s (sink down)",
        rate(n, published.elapsed),
        "events/s",
    );
    r.info("drain", drain, "webhooks/s");
    r.goal("drain / steady", drain / steady, "", Goal::AtLeast(0.8));
    r.goal("lost", 0.0, "events", Goal::AtMost(0.0));
    r.info("endpoint re-enabled", reenabled as f64, "times");
    r.info("server CPU (drain)", cpu.server, "% of core");
    r.detail(json!({
        "events": n, "batch": batch, "publishers": publishers,
        "ingest_seconds": published.elapsed.as_secs_f64(),
        "drain_seconds": d.last_arrival.saturating_duration_since(up).as_secs_f64(),
        "steady_per_second": steady, "drain_per_second": drain,
        "duplicates": d.duplicates,
        "rss_after_ingest_kib": rss_after_ingest, "rss_peak_kib": rss_peak_kib,
        "disk_after_ingest_bytes": disk_after_ingest, "disk_peak_bytes": peak_disk,
        "server_cpu_percent_drain": cpu.server, "bench_cpu_percent_drain": cpu.bench,
        "server_flags": FLAGS, "re_enabled": reenabled,
    }));
    world.server.stop().await;
    Ok(())
}

/// Waits for the drain to deliver `n`. Outcomes of attempts made before the sink came up can be
/// recorded after the endpoint was enabled, and disable it again; the bench then enables it
/// again, as an operator would, and counts how often (the count is in the JSON).
async fn drain(sink: &Sink, admin: &mut Admin, n: u64, stall: Duration) -> Result<u64> {
    let mut reenabled = 0;
    let mut last = sink.unique();
    let mut last_progress = Instant::now();
    while sink.unique() < n {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = sink.unique();
        if now != last {
            (last, last_progress) = (now, Instant::now());
        } else if last_progress.elapsed() > stall {
            return Err(fail!(
                "LOST EVENTS: {} of {n} deliveries never reached the sink \
                 (nothing arrived for {stall:?})",
                n - now
            ));
        }
        if now < n && admin.webhook_disabled(APP).await? {
            admin.enable_webhook(APP).await?;
            reenabled += 1;
        }
    }
    Ok(reenabled)
}
