//! raw, throughput, latency and fanout: events through the system (or, for raw, beside it) to
//! the sink.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use super::{verify, CpuUse, CpuWatch, World, POST, USER};
use crate::client::{started_via, subscribe, Admin};
use crate::load::{hammer, publish_closed, publish_paced, webhook_body, SendLog, Shot, Target};
use crate::report::{ms, percentile, rate, Target as Goal};
use crate::server::{Database, Server};
use crate::sink::Sink;
use crate::{Bench, Result};

/// A webhook as the server sends it, straight from the load generator to the sink.
struct RawShot;

impl Shot for RawShot {
    fn request(&self, i: u64) -> (String, Vec<(String, String)>, Bytes) {
        let headers = vec![
            ("authorization".into(), "bench-identification-key".into()),
            ("webhook-id".into(), format!("msg_{i}")),
            ("webhook-timestamp".into(), "1729429926".into()),
        ];
        ("/hook/0".into(), headers, webhook_body(POST, i))
    }
}

/// raw: the load generator posting webhook-sized requests straight into the sink.
pub async fn raw(bench: &mut Bench) -> Result<()> {
    let (rps, detail) = measure_raw(bench).await?;
    bench.raw_rps = Some(rps);
    let mut r = bench.report.scope("raw", "-");
    r.info("requests/s", rps, "req/s");
    r.detail(detail);
    Ok(())
}

/// One measurement of raw: requests/s and its details.
async fn measure_raw(bench: &Bench) -> Result<(f64, serde_json::Value)> {
    let n: u64 = if bench.smoke() { 5_000 } else { 200_000 };
    let connections = bench.args.connections;
    eprintln!("raw: {n} webhook POSTs into the sink over {connections} connections");
    let sink = Sink::start(0).await?;
    let (sent, elapsed) = hammer(sink.addr, Arc::new(RawShot), connections, Some(n), None).await?;
    sink.wait_for(sent, bench.args.stall).await?;
    let delivered = verify(&sink.take(), 1, sent, None)?;
    let detail = json!({"requests": sent, "seconds": elapsed.as_secs_f64(),
                        "connections": connections, "duplicates": delivered.duplicates});
    Ok((rate(sent, elapsed), detail))
}

async fn raw_rps(bench: &mut Bench) -> Result<f64> {
    if bench.raw_rps.is_none() {
        raw(bench).await?;
    }
    Ok(bench.raw_rps.unwrap_or(f64::NAN))
}

/// throughput, batched and one event per call.
pub async fn throughput(bench: &mut Bench, database: &str) -> Result<()> {
    let raw = raw_rps(bench).await?;
    let batch = bench.args.batch;
    let (steady, _) = throughput_run(bench, database, batch, raw).await?;
    bench.steady.insert(kind_of(database), steady);
    throughput_run(bench, database, 1, raw).await?;
    Ok(())
}

/// The batched steady throughput, measured now if this run has not measured it yet.
pub async fn steady(bench: &mut Bench, database: &str) -> Result<f64> {
    if let Some(r) = bench.steady.get(kind_of(database)) {
        return Ok(*r);
    }
    let raw = raw_rps(bench).await?;
    let (steady, _) = throughput_run(bench, database, bench.args.batch, raw).await?;
    bench.steady.insert(kind_of(database), steady);
    Ok(steady)
}

fn kind_of(database: &str) -> &'static str {
    if database == "sqlite" {
        "sqlite"
    } else {
        "postgres"
    }
}

/// One throughput run: events each routed to one subscribed app, published in calls of `batch`
/// from enough connections to keep the server busy. Returns (delivered/s, CPU use).
async fn throughput_run(
    bench: &mut Bench,
    database: &str,
    batch: u64,
    raw: f64,
) -> Result<(f64, CpuUse)> {
    let n = bench.events(200_000, 2_000);
    let publishers = bench.publishers(if batch == 1 { 64 } else { 8 });
    let name = if batch == 1 {
        "throughput/single".to_owned()
    } else {
        format!("throughput/batch{batch}")
    };
    // The machine's speed drifts within minutes: the batched ratio is judged against raw
    // measured right before the run and right after it, averaged.
    let raw_before = if batch == 1 {
        None
    } else {
        Some(measure_raw(bench).await?.0)
    };
    eprintln!("{name} on {database}: {n} events, {publishers} publishers");
    let sink = Sink::start(0).await?;
    let world = World::one_app(bench, database, sink.addr.port(), &[]).await?;
    let log = SendLog::new(usize::try_from(n)?);
    let cpu = CpuWatch::start(&world.server);
    let published = publish_closed(&world.target, n, batch, publishers, &log).await?;
    sink.wait_for(n, bench.args.stall).await?;
    let cpu = cpu.finish();
    let d = verify(&sink.take(), 1, n, Some(&log))?;
    let first_sent = log.first().unwrap_or(d.first_arrival);
    let delivered = rate(n, d.last_arrival.saturating_duration_since(first_sent));
    let (handed_over, claimed) = started_via(world.target.addr).await?;
    let memory = world.server.memory_kib().map(|m| m.1);
    let kind = world.db.kind();
    world.server.stop().await;
    let raw = match raw_before {
        Some(before) => (before + measure_raw(bench).await?.0) / 2.0,
        None => raw,
    };
    let mut r = bench.report.scope(&name, kind);
    if batch == 1 {
        r.goal(
            "delivered/s",
            delivered,
            "webhooks/s",
            Goal::AtLeast(7_000.0),
        );
        r.info("ratio to raw", delivered / raw, "");
    } else {
        r.goal(
            "delivered/s",
            delivered,
            "webhooks/s",
            Goal::AtLeast(20_000.0),
        );
        r.goal("ratio to raw", delivered / raw, "", Goal::AtLeast(0.40));
        r.info("raw, before and after (mean)", raw, "req/s");
    }
    r.info("accepted/s", rate(n, published.elapsed), "events/s");
    r.info("server CPU", cpu.server, "% of core");
    r.info("bench CPU", cpu.bench, "% of core");
    // Under overload fresh deliveries queue in the store and cost a claim each.
    let started = (handed_over + claimed).max(1) as f64;
    r.info("started by claims", 100.0 * claimed as f64 / started, "%");
    let mut calls = published.call_times;
    calls.sort_unstable();
    r.detail(json!({
        "events": n, "batch": batch, "publishers": publishers, "calls": published.calls,
        "started_by_handoff": handed_over, "started_by_claim": claimed,
        "publish_seconds": published.elapsed.as_secs_f64(),
        "delivered_per_second": delivered, "raw_per_second": raw,
        "duplicates": d.duplicates,
        "end_to_end_ms": {"p50": ms(percentile(&d.latencies, 50.0)),
                          "p99": ms(percentile(&d.latencies, 99.0))},
        "ingestion_call_ms": {"p50": ms(percentile(&calls, 50.0)),
                              "p99": ms(percentile(&calls, 99.0))},
        "server_cpu_percent": cpu.server, "bench_cpu_percent": cpu.bench,
        "server_memory_kib": memory,
    }));
    Ok((delivered, cpu))
}

/// latency: single-event calls at a fixed rate; ingestion call sent → arrival at the sink.
pub async fn latency(bench: &mut Bench, database: &str) -> Result<()> {
    let rate_per_s = bench.args.rate;
    let duration = bench.args.latency_duration.unwrap_or(if bench.smoke() {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(30)
    });
    let connections = bench.publishers(128);
    eprintln!("latency on {database}: {rate_per_s} events/s for {duration:?}");
    let sink = Sink::start(0).await?;
    let world = World::one_app(bench, database, sink.addr.port(), &[]).await?;
    let total = (f64::from(rate_per_s) * duration.as_secs_f64()).round() as u64;
    let log = SendLog::new(usize::try_from(total)?);
    let cpu = CpuWatch::start(&world.server);
    let published = publish_paced(&world.target, rate_per_s, duration, connections, &log).await?;
    sink.wait_for(published.events, bench.args.stall).await?;
    let cpu = cpu.finish();
    let d = verify(&sink.take(), 1, published.events, Some(&log))?;
    let lat = &d.latencies;
    let mut calls = published.call_times;
    calls.sort_unstable();
    let kind = world.db.kind();
    let mut r = bench.report.scope("latency", kind);
    r.goal("p50", ms(percentile(lat, 50.0)), "ms", Goal::AtMost(2.0));
    r.info("p90", ms(percentile(lat, 90.0)), "ms");
    r.goal("p99", ms(percentile(lat, 99.0)), "ms", Goal::AtMost(10.0));
    r.info("max", ms(percentile(lat, 100.0)), "ms");
    r.info("ingestion call p50", ms(percentile(&calls, 50.0)), "ms");
    r.info("ingestion call p99", ms(percentile(&calls, 99.0)), "ms");
    r.info("send lag (max)", ms(published.max_lag), "ms");
    r.info("server CPU", cpu.server, "% of core");
    r.detail(json!({
        "rate": rate_per_s, "seconds": duration.as_secs_f64(), "events": published.events,
        "connections": connections, "duplicates": d.duplicates,
        "max_send_lag_ms": ms(published.max_lag),
        "p999_ms": ms(percentile(lat, 99.9)),
        "server_cpu_percent": cpu.server, "bench_cpu_percent": cpu.bench,
    }));
    world.server.stop().await;
    Ok(())
}

/// fanout: each event to 100 apps subscribed to all of the owner's posts.
pub async fn fanout(bench: &mut Bench, database: &str) -> Result<()> {
    const APPS: usize = 100;
    let raw = raw_rps(bench).await?;
    let n = bench.events(10_000, 20);
    let batch = bench.args.batch;
    let publishers = bench.publishers(8);
    eprintln!(
        "fanout on {database}: {n} events to {APPS} apps ({} deliveries)",
        n * APPS as u64
    );
    let sink = Sink::start(0).await?;
    let db = Database::create(database)?;
    let server = Server::start(&bench.server_bin, &db, &[]).await?;
    let mut admin = Admin::connect(server.addr).await?;
    admin.create_user(USER).await?;
    admin.create_post(POST, USER).await?;
    for app in 0..APPS {
        let slug = format!("fan-{app}");
        admin.create_app(&slug, &sink.url(app)).await?;
        let key = admin.create_key(&slug).await?;
        let token = admin
            .mint_token(&slug, USER, &["CHAT_SUPPLIER_ALL_CONVERSATIONS_READ"])
            .await?;
        subscribe(server.addr, &key, &token, None).await?;
    }
    let target = Target {
        addr: server.addr,
        post: POST.into(),
    };
    let log = SendLog::new(usize::try_from(n)?);
    let cpu = CpuWatch::start(&server);
    let published = publish_closed(&target, n, batch, publishers, &log).await?;
    let deliveries = n * APPS as u64;
    sink.wait_for(deliveries, bench.args.stall).await?;
    let cpu = cpu.finish();
    let d = verify(&sink.take(), APPS, n, Some(&log))?;
    let first_sent = log.first().unwrap_or(d.first_arrival);
    let per_s = rate(
        deliveries,
        d.last_arrival.saturating_duration_since(first_sent),
    );
    let kind = db.kind();
    let mut r = bench.report.scope("fanout", kind);
    r.info("deliveries/s", per_s, "webhooks/s");
    r.info("ratio to raw", per_s / raw, "");
    r.info("server CPU", cpu.server, "% of core");
    r.detail(json!({
        "events": n, "apps": APPS, "deliveries": d.unique, "duplicates": d.duplicates,
        "batch": batch, "publish_seconds": published.elapsed.as_secs_f64(),
        "server_cpu_percent": cpu.server, "bench_cpu_percent": cpu.bench,
        "server_memory_kib": server.memory_kib().map(|m| m.1),
    }));
    server.stop().await;
    drop(db);
    Ok(())
}
