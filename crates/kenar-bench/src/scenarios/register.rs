//! register: subscription registrations per second through the public API (API key + access
//! token, keep-alive), beside a trivial axum handler answering the same requests in the same
//! run, each at several concurrency levels, the two taking turns in short slices.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use super::CpuWatch;
use crate::client::{Admin, Conn};
use crate::load::{hammer, Shot};
use crate::report::{rate, Target as Goal};
use crate::server::{Database, Server, TempDir};
use crate::sink::Sink;
use crate::trivial::Trivial;
use crate::{fail, Bench, Result};

/// Registrations of several users, each on their own post, round robin; each one an upsert
/// with fresh metadata.
struct Registrations {
    key: String,
    /// (`Bearer <token>`, post) per user.
    users: Vec<(String, String)>,
}

impl Shot for Registrations {
    fn request(&self, i: u64) -> (String, Vec<(String, String)>, Bytes) {
        let (bearer, post) = &self.users[(i as usize) % self.users.len()];
        let body = format!(
            r#"{{"event_type":"NEW_MESSAGE_ON_POST","event_resource_id":"{post}","metadata":{{"n":{i}}}}}"#
        );
        let headers = vec![
            ("x-api-key".into(), self.key.clone()),
            ("authorization".into(), bearer.clone()),
        ];
        (
            "/v1/open-platform/events/subscriptions".into(),
            headers,
            Bytes::from(body),
        )
    }
}

pub async fn run(bench: &mut Bench, database: &str) -> Result<()> {
    let duration = bench.args.register_duration.unwrap_or(if bench.smoke() {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(10)
    });
    let warmup = duration / 10;
    let levels: Vec<usize> = bench
        .args
        .register_connections
        .iter()
        .map(|&c| usize::from(c))
        .collect();
    let users = if bench.smoke() { 4 } else { 16 };
    eprintln!(
        "register on {database}: {duration:?} each, at {levels:?} connections, {users} users"
    );
    let sync = {
        let dir = TempDir::new("sync")?;
        disk_sync(&dir.0)?
    };
    // The app needs a webhook URL to register; nothing is delivered.
    let sink = Sink::start(0).await?;
    let db = Database::create(database)?;
    let server = Server::start(&bench.server_bin, &db, &[]).await?;
    let mut admin = Admin::connect(server.addr).await?;
    admin.create_app("reg", &sink.url(0)).await?;
    let key = admin.create_key("reg").await?;
    let mut pairs = Vec::new();
    for u in 0..users {
        let (user, post) = (format!("reg-user-{u}"), format!("regPost{u:02}"));
        admin.create_user(&user).await?;
        admin.create_post(&post, &user).await?;
        let scope = format!("CHAT_POST_CONVERSATIONS_READ.{post}");
        let token = admin.mint_token("reg", &user, &[&scope]).await?;
        pairs.push((format!("Bearer {token}"), post));
    }
    let shot: Arc<dyn Shot> = Arc::new(Registrations { key, users: pairs });

    let trivial = Trivial::start().await?;
    for &connections in &levels {
        keep_calling(server.addr, &shot, connections, warmup).await?;
        keep_calling(trivial.addr, &shot, connections, warmup).await?;
    }
    // Every level's slices, on both sides, are spread over the whole scenario, so that the
    // target (the best level against the best level, often not the same one) compares
    // stretches of the same minutes.
    let slice = duration / SLICES;
    let mut sums: Vec<Sums> = levels.iter().map(|_| Sums::default()).collect();
    for _ in 0..SLICES {
        for (&connections, sum) in levels.iter().zip(&mut sums) {
            let cpu = CpuWatch::start(&server);
            let (done, elapsed) = keep_calling(server.addr, &shot, connections, slice).await?;
            let used = cpu.finish();
            sum.done += done;
            sum.elapsed += elapsed;
            sum.server_cpu += used.server * elapsed.as_secs_f64();
            sum.bench_cpu += used.bench * elapsed.as_secs_f64();
            let (done, elapsed) = keep_calling(trivial.addr, &shot, connections, slice).await?;
            sum.baseline_done += done;
            sum.baseline_elapsed += elapsed;
        }
    }
    let mut runs = Vec::with_capacity(levels.len());
    // (requests answered, per second) at each level.
    let mut baselines = Vec::with_capacity(levels.len());
    for (&connections, sum) in levels.iter().zip(&sums) {
        let seconds = sum.elapsed.as_secs_f64().max(1e-9);
        runs.push(Run {
            connections,
            done: sum.done,
            per_second: rate(sum.done, sum.elapsed),
            cpu: super::CpuUse {
                server: sum.server_cpu / seconds,
                bench: sum.bench_cpu / seconds,
            },
        });
        baselines.push((
            sum.baseline_done,
            rate(sum.baseline_done, sum.baseline_elapsed),
        ));
    }
    drop(trivial);
    check_one_subscription_per_user(&server, users).await?;
    server.stop().await;
    drop(db);

    let kind = if database == "sqlite" {
        "sqlite"
    } else {
        "postgres"
    };
    let sync_us = sync.as_secs_f64() * 1e6;
    for (run, &(baseline_done, baseline)) in runs.iter().zip(&baselines) {
        let name = format!("register/{}", run.connections);
        let mut r = bench.report.scope(&name, kind);
        r.info("registrations/s", run.per_second, "req/s");
        r.info("trivial axum baseline", baseline, "req/s");
        r.info("ratio to baseline", run.per_second / baseline, "");
        r.info("server CPU", run.cpu.server, "% of core");
        r.info(
            "ceiling at one sync a round",
            run.connections as f64 / sync.as_secs_f64(),
            "req/s",
        );
        r.detail(json!({
            "disk_sync_median_us": sync_us,
            "seconds": duration.as_secs_f64(), "connections": run.connections, "users": users,
            "registrations": run.done, "baseline_requests": baseline_done,
            "server_cpu_percent": run.cpu.server, "bench_cpu_percent": run.cpu.bench,
        }));
    }
    let best = runs.iter().map(|r| r.per_second).fold(0.0, f64::max);
    let best_baseline = baselines.iter().map(|&(_, b)| b).fold(0.0, f64::max);
    let mut r = bench.report.scope("register", kind);
    r.goal(
        "best ratio to baseline",
        best / best_baseline,
        "",
        Goal::AtLeast(0.5),
    );
    r.info("disk sync (median)", sync_us, "us");
    Ok(())
}

/// Slices each side's time at a level is cut into, the sides and levels taking turns: the
/// machine's speed drifts from minute to minute (the trivial handler alone measured
/// 61,000–99,000 requests/s in one hour), and a baseline run after the registrations caught a
/// different minute than theirs.
const SLICES: u32 = 5;

/// `shot`'s requests from `connections` keep-alive connections for `duration`: (answered,
/// elapsed).
async fn keep_calling(
    addr: std::net::SocketAddr,
    shot: &Arc<dyn Shot>,
    connections: usize,
    duration: Duration,
) -> Result<(u64, Duration)> {
    hammer(addr, Arc::clone(shot), connections, None, Some(duration)).await
}

/// What one concurrency level's slices add up to, on both sides: requests answered, time
/// taken, and CPU (shares of a core times seconds) while the server was called.
#[derive(Default)]
struct Sums {
    done: u64,
    elapsed: Duration,
    server_cpu: f64,
    bench_cpu: f64,
    baseline_done: u64,
    baseline_elapsed: Duration,
}

/// The registrations at one concurrency level.
struct Run {
    connections: usize,
    done: u64,
    per_second: f64,
    cpu: super::CpuUse,
}

/// Re-registering the same tuple replaces it: after thousands of calls each user still has one
/// subscription.
async fn check_one_subscription_per_user(server: &Server, users: usize) -> Result<()> {
    let mut conn = Conn::open(server.addr).await?;
    let bearer = format!("Bearer {}", crate::client::ADMIN);
    let (status, body) = conn
        .request(
            hyper::Method::GET,
            "/admin/v1/apps/reg/subscriptions",
            &[("authorization", &bearer)],
            Bytes::new(),
        )
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    let count = v["subscriptions"].as_array().map_or(0, Vec::len);
    if !status.is_success() || count != users {
        return Err(fail!(
            "expected {users} subscriptions after the registrations, found {count} ({status})"
        ));
    }
    Ok(())
}

/// Appends of 4 KiB timed by [`disk_sync`].
const SYNC_PROBES: usize = 200;

/// The median time to append 4 KiB to a file in `dir` and have the disk hold it (`fsync`, as
/// SQLite calls it): what every durable commit waits at least. A registration is answered only
/// after its commit, so each connection makes at most one request per sync, and `connections`
/// over this bounds the rate, however the commits are grouped.
fn disk_sync(dir: &Path) -> Result<Duration> {
    use std::io::Write;
    let path = dir.join("sync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let block = [0u8; 4096];
    let mut times = Vec::with_capacity(SYNC_PROBES);
    for _ in 0..SYNC_PROBES {
        let start = Instant::now();
        file.write_all(&block)?;
        file.sync_all()?;
        times.push(start.elapsed());
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}
