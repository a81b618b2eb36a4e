//! The scenarios, and what they share: a server with a subscribed app, the check that every
//! event arrived, and CPU accounting.

pub mod backlog;
pub mod delivery;
pub mod register;

use std::time::{Duration, Instant};

use crate::client::{subscribe, Admin};
use crate::load::{SendLog, Target};
use crate::server::{cpu_time, Database, Server};
use crate::sink::{hook_url, Received};
use crate::{fail, Bench, Result};

/// The post every routed bench message is on, and its owner.
pub const POST: &str = "benchP01";
pub const USER: &str = "bench-user";

/// A server on a fresh database with app `bench-0`, whose webhooks go to `/hook/0` of a sink at
/// `sink_port`, subscribed (`NEW_MESSAGE_ON_POST` on [`POST`]) by the post's owner.
pub struct World {
    // Declared before the database: the server stops before its database goes.
    pub server: Server,
    pub db: Database,
    pub target: Target,
}

pub const APP: &str = "bench-0";

impl World {
    pub async fn one_app(
        bench: &Bench,
        database: &str,
        sink_port: u16,
        extra: &[&str],
    ) -> Result<World> {
        let db = Database::create(database)?;
        let server = Server::start(&bench.server_bin, &db, extra).await?;
        let mut admin = Admin::connect(server.addr).await?;
        admin.create_user(USER).await?;
        admin.create_post(POST, USER).await?;
        admin.create_app(APP, &hook_url(sink_port, 0)).await?;
        let key = admin.create_key(APP).await?;
        let scope = format!("CHAT_POST_CONVERSATIONS_READ.{POST}");
        let token = admin.mint_token(APP, USER, &[&scope]).await?;
        subscribe(server.addr, &key, &token, Some(POST)).await?;
        Ok(World {
            target: Target {
                addr: server.addr,
                post: POST.into(),
            },
            server,
            db,
        })
    }
}

/// What arrived, checked complete.
pub struct Delivered {
    pub first_arrival: Instant,
    pub last_arrival: Instant,
    pub unique: u64,
    pub duplicates: u64,
    /// Ingestion call sent → arrival at the sink, sorted, when a send log was given.
    pub latencies: Vec<Duration>,
}

/// Checks that each of `events` events reached each of `apps` apps exactly under one
/// `webhook-id`; anything missing fails the run, loudly.
pub fn verify(
    received: &Received,
    apps: usize,
    events: u64,
    log: Option<&SendLog>,
) -> Result<Delivered> {
    if received.malformed > 0 {
        return Err(fail!(
            "the sink got {} requests without a webhook-id or a bench event id",
            received.malformed
        ));
    }
    let events_usize = usize::try_from(events)?;
    let mut seen = vec![false; apps * events_usize];
    let mut twice = 0u64;
    let mut latencies = Vec::with_capacity(received.arrivals.len());
    for a in &received.arrivals {
        let (app, seq) = (usize::from(a.app), a.seq as usize);
        if app >= apps || seq >= events_usize {
            return Err(fail!(
                "the sink got an unexpected event {seq} for app {app}"
            ));
        }
        let slot = &mut seen[app * events_usize + seq];
        if *slot {
            twice += 1;
        }
        *slot = true;
        if let Some(sent) = log.and_then(|l| l.sent_at(a.seq)) {
            latencies.push(a.at.saturating_duration_since(sent));
        }
    }
    let lost = seen.iter().filter(|s| !**s).count();
    if lost > 0 {
        return Err(fail!(
            "LOST EVENTS: {lost} of {} deliveries never reached the sink",
            seen.len()
        ));
    }
    if twice > 0 {
        return Err(fail!(
            "{twice} events reached the same app under two different webhook-ids"
        ));
    }
    let first_arrival = received.arrivals.iter().map(|a| a.at).min();
    let last_arrival = received.arrivals.iter().map(|a| a.at).max();
    let (Some(first_arrival), Some(last_arrival)) = (first_arrival, last_arrival) else {
        return Err(fail!("nothing reached the sink"));
    };
    latencies.sort_unstable();
    Ok(Delivered {
        first_arrival,
        last_arrival,
        unique: received.arrivals.len() as u64,
        duplicates: received.duplicates,
        latencies,
    })
}

/// CPU used by the server and by the bench over a stretch of wall time.
pub struct CpuWatch {
    server_pid: u32,
    wall: Instant,
    server: Duration,
    bench: Duration,
}

/// Shares of one core (100% = one core busy all the time) over the stretch.
pub struct CpuUse {
    pub server: f64,
    pub bench: f64,
}

impl CpuWatch {
    pub fn start(server: &Server) -> CpuWatch {
        CpuWatch {
            server_pid: server.pid(),
            wall: Instant::now(),
            server: cpu_time(server.pid()).unwrap_or_default(),
            bench: cpu_time(std::process::id()).unwrap_or_default(),
        }
    }

    pub fn finish(&self) -> CpuUse {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let share = |now: Option<Duration>, then: Duration| {
            now.map_or(0.0, |n| n.saturating_sub(then).as_secs_f64() / wall * 100.0)
        };
        CpuUse {
            server: share(cpu_time(self.server_pid), self.server),
            bench: share(cpu_time(std::process::id()), self.bench),
        }
    }
}
