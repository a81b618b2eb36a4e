//! `kenar-bench`: benchmarks of kenar-events on this machine. It builds and starts the real
//! server, a fast webhook sink and a load generator, runs the scenarios of BENCHMARKS.md, prints
//! a table and writes the results as JSON. Any lost event fails the run.

mod client;
mod load;
mod report;
mod scenarios;
mod server;
mod sink;
mod trivial;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde_json::{json, Map, Value};

use crate::report::Report;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error`] from a message.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        $crate::Error::from(format!($($arg)*))
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// The load generator straight into the sink: the machine's limit for webhook POSTs.
    Raw,
    /// Events each routed to one subscribed app, as fast as the system takes them; in batches
    /// and one per ingestion call.
    Throughput,
    /// A fixed rate of single-event calls: ingestion call sent → arrival at the sink.
    Latency,
    /// One event to 100 subscribed apps.
    Fanout,
    /// The sink down while events are ingested, then up: memory, disk, drain rate.
    Backlog,
    /// Subscription registrations per second, beside a trivial axum handler.
    Register,
    /// Every scenario.
    All,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Raw => "raw",
            Scenario::Throughput => "throughput",
            Scenario::Latency => "latency",
            Scenario::Fanout => "fanout",
            Scenario::Backlog => "backlog",
            Scenario::Register => "register",
            Scenario::All => "all",
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "kenar-bench",
    about = "Benchmarks of kenar-events: the real server, a webhook sink and a load generator"
)]
pub struct Args {
    /// Scenarios to run, in this order (`all`: raw, throughput, latency, fanout, register,
    /// backlog).
    #[arg(required = true, value_enum)]
    pub scenarios: Vec<Scenario>,

    /// The database: `sqlite` (a fresh file in a temporary directory) or a `postgres://` URL (a
    /// fresh schema in that database, dropped afterwards). Repeat to run every scenario on each.
    #[arg(long = "database", default_value = "sqlite")]
    pub databases: Vec<String>,

    /// Small sizes that run in seconds (CI keeps the tool working with it); targets are not
    /// judged.
    #[arg(long)]
    pub smoke: bool,

    /// Events per run of throughput, fanout and backlog (defaults: 200,000, 10,000 and
    /// 1,000,000; smoke: 2,000, 20 and 1,000).
    #[arg(long)]
    pub events: Option<u64>,

    /// Events per ingestion call in the batched runs (at most 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch: u64,

    /// Concurrent publishing connections (defaults: 8 batched, 64 one event per call, 128 for
    /// the paced latency run, enough to keep its schedule while calls are slow).
    #[arg(long)]
    pub publishers: Option<usize>,

    /// Events per second in the latency scenario.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,

    /// How long the latency scenario publishes (default 30s; smoke 3s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub latency_duration: Option<Duration>,

    /// How long each side of the register scenario runs (default 10s; smoke 2s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub register_duration: Option<Duration>,

    /// Connections of the raw scenario.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,

    /// Keep-alive connections of the register scenario, one run each, for the registrations
    /// and the trivial handler alike (comma-separated). The target is judged on each side's
    /// best run: a durable registration is answered only after its commit is on disk, so a
    /// few connections measure the sync's round trip rather than how many the server takes.
    #[arg(long, value_delimiter = ',', default_values_t = [16, 64, 256],
          value_parser = clap::value_parser!(u16).range(1..))]
    pub register_connections: Vec<u16>,

    /// Declare the missing deliveries lost when none has arrived for this long.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub stall: Duration,

    /// Where to write the JSON results (default `target/bench/<scenarios>-<time>.json`).
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// The `kenar-events` binary to benchmark (default: the one of this build profile, built
    /// with cargo first).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,

    /// Use the server binary of this profile as it is, without running `cargo build` first.
    #[arg(long)]
    pub no_build: bool,
}

/// A benchmark run: its settings, the server binary and what was measured so far.
pub struct Bench {
    pub args: Args,
    pub server_bin: PathBuf,
    pub report: Report,
    /// The raw scenario's requests per second, once measured.
    pub raw_rps: Option<f64>,
    /// Batched delivered webhooks per second, per database kind, once measured.
    pub steady: HashMap<&'static str, f64>,
    /// Scenario runs finished with every event delivered.
    pub completed: usize,
}

impl Bench {
    pub fn smoke(&self) -> bool {
        self.args.smoke
    }

    /// `full` in a real run, `smoke` in a smoke run, unless `--events` says.
    pub fn events(&self, full: u64, smoke: u64) -> u64 {
        self.args
            .events
            .unwrap_or(if self.smoke() { smoke } else { full })
    }

    pub fn publishers(&self, default: usize) -> usize {
        self.args.publishers.unwrap_or(default)
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(trivial::COMMAND) {
        return trivial::main();
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kenar-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(until_interrupted(run(args))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nkenar-bench FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `work` unless SIGINT or SIGTERM comes first; then `work` is dropped, and with it the
/// servers it started, their temporary directories and PostgreSQL schemas.
async fn until_interrupted(work: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => Err(fail!("interrupted")),
        _ = term.recv() => Err(fail!("terminated")),
    }
}

async fn run(args: Args) -> Result<()> {
    let server_bin = server::server_binary(
        args.server_bin.clone(),
        !args.no_build && std::env::var_os("CARGO").is_some(),
    )?;
    let mut order: Vec<Scenario> = Vec::new();
    for s in &args.scenarios {
        let expanded = match s {
            Scenario::All => vec![
                Scenario::Raw,
                Scenario::Throughput,
                Scenario::Latency,
                Scenario::Fanout,
                Scenario::Register,
                Scenario::Backlog,
            ],
            other => vec![*other],
        };
        for s in expanded {
            if !order.contains(&s) {
                order.push(s);
            }
        }
    }
    let label: Vec<&str> = args.scenarios.iter().map(|s| s.name()).collect();
    let label = label.join("+");
    let mut bench = Bench {
        report: Report::new(args.smoke),
        args,
        server_bin,
        raw_rps: None,
        steady: HashMap::new(),
        completed: 0,
    };
    let started = std::time::SystemTime::now();
    eprintln!(
        "kenar-bench: {} against {} ({})",
        label,
        bench.server_bin.display(),
        if bench.smoke() { "smoke" } else { "full" }
    );
    if order.contains(&Scenario::Raw) {
        scenarios::delivery::raw(&mut bench).await?;
        bench.completed += 1;
    }
    for database in bench.args.databases.clone() {
        for scenario in &order {
            match scenario {
                Scenario::Raw | Scenario::All => {}
                Scenario::Throughput => {
                    scenarios::delivery::throughput(&mut bench, &database).await?
                }
                Scenario::Latency => scenarios::delivery::latency(&mut bench, &database).await?,
                Scenario::Fanout => scenarios::delivery::fanout(&mut bench, &database).await?,
                Scenario::Backlog => scenarios::backlog::run(&mut bench, &database).await?,
                Scenario::Register => scenarios::register::run(&mut bench, &database).await?,
            }
            bench.completed += 1;
        }
    }
    println!("\n{}", bench.report.table());
    let out = write_json(&bench, &label, started)?;
    println!("results written to {}", out.display());
    if bench.smoke() {
        // Smoke runs check that every scenario works and loses nothing; timings are not judged.
        println!("kenar-bench: {} passed, 0 failed", bench.completed);
    }
    Ok(())
}

/// The machine: cores and CPU model.
fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    json!({"cores": cores, "cpu": cpu})
}

fn write_json(bench: &Bench, label: &str, started: std::time::SystemTime) -> Result<PathBuf> {
    let stamp = humantime::format_rfc3339_seconds(started).to_string();
    let out = match &bench.args.out {
        Some(p) => p.clone(),
        None => {
            let exe = std::env::current_exe()?;
            let target = exe
                .parent()
                .and_then(|p| p.parent())
                .ok_or_else(|| fail!("no target directory above {}", exe.display()))?;
            target
                .join("bench")
                .join(format!("{label}-{}.json", stamp.replace(':', "")))
        }
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut header = Map::new();
    header.insert("date".into(), json!(stamp));
    header.insert("machine".into(), machine());
    header.insert(
        "profile".into(),
        json!(if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }),
    );
    header.insert("smoke".into(), json!(bench.smoke()));
    header.insert(
        "server".into(),
        json!(bench.server_bin.display().to_string()),
    );
    header.insert(
        "command".into(),
        json!(std::env::args()
            .map(|a| redact_password(&a))
            .collect::<Vec<_>>()
            .join(" ")),
    );
    let text = serde_json::to_string_pretty(&bench.report.json(header))?;
    std::fs::write(&out, text)?;
    Ok(out)
}

/// A URL's password, if any, replaced by `***`, so that results can be shared.
fn redact_password(arg: &str) -> String {
    let Some((scheme, rest)) = arg.split_once("://") else {
        return arg.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return arg.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => arg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_not_written_down() {
        assert_eq!(
            redact_password("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_password("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_password("all"), "all");
    }

    #[test]
    fn register_levels_are_counts_above_zero() {
        let parse = |levels: &str| {
            Args::try_parse_from(["kenar-bench", "register", "--register-connections", levels])
                .map(|a| a.register_connections)
        };
        assert_eq!(parse("16,64").expect("two levels"), [16, 64]);
        for bad in ["0", "16,0", "", "x"] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
