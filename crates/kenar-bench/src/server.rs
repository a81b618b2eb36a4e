//! The real server: the `kenar-events` binary of the same build profile, started as a child
//! process on a fresh database (a SQLite file in a temporary directory, or a fresh schema of a
//! PostgreSQL database), and what the bench reads about it (memory, disk).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::client::{ADMIN, PLATFORM};
use crate::{fail, Result};

/// The `kenar-events` binary: `explicit` if given; else the one beside this executable (the same
/// target profile directory), built first with `cargo build` when this run was started by cargo
/// (a no-op when it is fresh) or when it is missing.
pub fn server_binary(explicit: Option<PathBuf>, build: bool) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| fail!("{} has no directory", exe.display()))?;
    let path = dir.join(format!("kenar-events{}", std::env::consts::EXE_SUFFIX));
    if build || !path.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--bin", "kenar-events", "--manifest-path"])
            .arg(&manifest);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        eprintln!("building the server: {cmd:?}");
        let status = cmd.status()?;
        if !status.success() {
            return Err(fail!("building kenar-events failed: {status}"));
        }
    }
    if !path.exists() {
        return Err(fail!("no server binary at {}", path.display()));
    }
    Ok(path)
}

#[path = "../../../tests/support/free_port.rs"]
mod port;

/// A port free on 127.0.0.1 at the time of asking, below the kernel's ephemeral range: the
/// backlog scenario leaves its sink's port unbound for seconds while the load generator opens
/// connections, whose local ports the kernel takes from that range.
pub fn free_port() -> Result<u16> {
    port::free_port().ok_or_else(|| fail!("no free port on 127.0.0.1 below 32768"))
}

/// A directory of its own under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Result<TempDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "kenar-bench-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh database for one server; gone on drop.
pub enum Database {
    Sqlite { dir: TempDir },
    Postgres { base: String, schema: String },
}

impl Database {
    /// `sqlite` for a temporary SQLite file, or a `postgres://` URL whose database gets a fresh
    /// schema.
    pub fn create(spec: &str) -> Result<Database> {
        if spec == "sqlite" {
            return Ok(Database::Sqlite {
                dir: TempDir::new("sqlite")?,
            });
        }
        if !spec.starts_with("postgres://") && !spec.starts_with("postgresql://") {
            return Err(fail!(
                "--database: `sqlite` or a postgres:// URL, not {spec:?}"
            ));
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let schema = format!(
            "kenar_bench_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        psql(spec, &format!("CREATE SCHEMA {schema}"))?;
        Ok(Database::Postgres {
            base: spec.to_owned(),
            schema,
        })
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    /// What the server's `--database` gets.
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite { dir } => dir.0.join("kenar.db").display().to_string(),
            Database::Postgres { base, schema } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options[search_path]={schema}")
            }
        }
    }

    /// Bytes the database takes on disk now: the SQLite files, or the schema's tables with their
    /// indexes and TOAST.
    pub fn disk_bytes(&self) -> Result<u64> {
        match self {
            Database::Sqlite { dir } => {
                let mut total = 0;
                for entry in std::fs::read_dir(&dir.0)? {
                    total += entry?.metadata()?.len();
                }
                Ok(total)
            }
            Database::Postgres { base, schema } => {
                let out = psql(
                    base,
                    &format!(
                        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c \
                         JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE n.nspname = '{schema}' AND c.relkind = 'r'"
                    ),
                )?;
                Ok(out.trim().parse()?)
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { base, schema } = self {
            if let Err(e) = psql(base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")) {
                eprintln!("warning: could not drop schema {schema}: {e}");
            }
        }
    }
}

/// Runs one statement with `psql` and returns its unaligned output.
fn psql(url: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail!("running psql (needed for PostgreSQL runs): {e}"))?;
    if !out.status.success() {
        return Err(fail!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A running `kenar-events serve`; killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// Its standard error, shown when something goes wrong.
    log: PathBuf,
    _logs: TempDir,
}

impl Server {
    /// Starts the server on `db` with the bench's tokens, private targets allowed, and `extra`
    /// flags; returns once `/readyz` answers.
    pub async fn start(binary: &Path, db: &Database, extra: &[&str]) -> Result<Server> {
        let port = free_port()?;
        let logs = TempDir::new("log")?;
        let log = logs.0.join("server.log");
        let child = Command::new(binary)
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--database", &db.url()])
            .arg("--allow-private-targets")
            .args(extra)
            .env("KENAR_ADMIN_TOKEN", ADMIN)
            .env("KENAR_PLATFORM_TOKEN", PLATFORM)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| fail!("starting {}: {e}", binary.display()))?;
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _logs: logs,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                return Err(fail!(
                    "the server exited at start ({status}):\n{}",
                    server.log_tail()
                ));
            }
            if server.ready().await {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(fail!(
                    "the server did not become ready:\n{}",
                    server.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ready(&self) -> bool {
        let Ok(mut conn) = crate::client::Conn::open(self.addr).await else {
            return false;
        };
        conn.request(hyper::Method::GET, "/readyz", &[], bytes::Bytes::new())
            .await
            .is_ok_and(|(status, _)| status.is_success())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (resident now, resident at its peak) in KiB, from `/proc/<pid>/status`.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// The last lines of the server's standard error.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Stops the server with SIGTERM (it drains gracefully), SIGKILL after 15 seconds.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) process `pid` has used so far, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks of 1/100 s to user space.
    Some(Duration::from_millis((utime + stime) * 10))
}
