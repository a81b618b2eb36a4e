//! What the tests run: the compiled `kenar` binary, as a user types it, against a real
//! `kenar-events dev` server in a temporary directory, and a small HTTP receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../../../../tests/support/free_port.rs"]
mod free_port;
use free_port::free_port;

/// How long anything a test waits for may take.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The server binary next to this test binary (`target/<profile>/deps/cli-<hash>`), built by
/// `cargo build -p kenar-server --bin kenar-events` or any workspace build.
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join(format!("kenar-events{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: these tests run the real server; build it first with \
         `cargo build -p kenar-server --bin kenar-events` (a workspace build such as \
         `cargo test --workspace` does it too)",
        path.display()
    );
    path
}

/// Starts `kenar-events dev --json` in `dir` and reads the line it prints. What it logs goes
/// to `server.log` there, and into the panic if it printed nothing.
fn spawn_server(dir: &std::path::Path, args: &[String]) -> (Child, Value) {
    let log_path = dir.join("server.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("the server's log file");
    let mut command = Command::new(server_binary());
    for (name, _) in std::env::vars() {
        if name.starts_with("KENAR_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(["dev", "--json", "--retry-schedule", ","])
        .args(args)
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("its standard output");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a line from the server");
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let logged = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!("dev --json printed {line:?}: {e}; its log:\n{logged}")
    });
    (child, info)
}

/// A `kenar-events dev` server, killed when dropped. Deliveries get one attempt (no retries),
/// so that a failed one is failed at once.
pub struct Dev {
    child: Child,
    /// The one JSON line `dev --json` printed.
    pub info: Value,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl Dev {
    pub fn start() -> Dev {
        Dev::start_with_webhook("http://127.0.0.1:9/hook")
    }

    pub fn start_with_webhook(webhook_url: &str) -> Dev {
        Dev::launch(
            tempfile::tempdir().expect("a temporary directory"),
            vec![
                "--listen".into(),
                "127.0.0.1:0".into(),
                "--webhook-url".into(),
                webhook_url.into(),
            ],
        )
    }

    /// A server that can be restarted at the same address with the same tokens.
    pub fn start_restartable() -> Dev {
        let port = free_port().expect("a free port below the ephemeral range");
        Dev::launch(
            tempfile::tempdir().expect("a temporary directory"),
            vec![
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--webhook-url".into(),
                "http://127.0.0.1:9/hook".into(),
                "--admin-token".into(),
                "admin-token-for-tests".into(),
                "--platform-token".into(),
                "platform-token-for-tests".into(),
            ],
        )
    }

    /// Kills the server (SIGKILL: connections drop at once) and starts it again on the same
    /// database and address.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, info) = spawn_server(self.dir.path(), &self.args);
        self.child = child;
        self.info = info;
    }

    fn launch(dir: tempfile::TempDir, args: Vec<String>) -> Dev {
        let (child, info) = spawn_server(dir.path(), &args);
        Dev {
            child,
            info,
            args,
            dir,
        }
    }

    /// A field of the dev setup (`base_url`, `admin_token`, `post_token`, ...).
    pub fn get(&self, field: &str) -> String {
        self.info[field]
            .as_str()
            .unwrap_or_else(|| panic!("dev --json has no {field}: {}", self.info))
            .to_owned()
    }

    /// `kenar` with every setting of the dev setup in its environment, as a developer who
    /// pasted `kenar-events dev`'s output into their shell has.
    pub fn kenar(&self) -> Kenar {
        Kenar::new()
            .env("KENAR_BASE_URL", &self.get("base_url"))
            .env("KENAR_ADMIN_TOKEN", &self.get("admin_token"))
            .env("KENAR_PLATFORM_TOKEN", &self.get("platform_token"))
            .env("KENAR_API_KEY", &self.get("api_key"))
            .env("KENAR_ACCESS_TOKEN", &self.get("access_token"))
            .env("KENAR_APP", &self.get("app_slug"))
            .env("KENAR_USER", &self.get("platform_user_id"))
            .env("KENAR_POST", &self.get("post_token"))
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `kenar` binary with a clean environment: nothing from the test runner's, and a home
/// directory of its own (so no user profile file is read).
pub struct Kenar {
    env: Vec<(String, String)>,
    home: tempfile::TempDir,
}

/// What one run printed and how it ended.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl Kenar {
    pub fn new() -> Kenar {
        Kenar {
            env: Vec::new(),
            home: tempfile::tempdir().expect("a home directory"),
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Kenar {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn without(mut self, name: &str) -> Kenar {
        self.env.retain(|(n, _)| n != name);
        self
    }

    /// The home directory of this user (profile files go under `.config/kenar/`).
    pub fn home(&self) -> &std::path::Path {
        self.home.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kenar"));
        c.env_clear()
            .env("HOME", self.home.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command(args).output().expect("kenar runs");
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs and asserts success; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(
            run.success(),
            "kenar {args:?} failed ({:?}):\n{}\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        run.stdout
    }

    /// Runs with `--json`, asserts success and that standard output is one JSON document.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let out = self.ok(&with_json);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kenar {args:?} printed {out:?}: {e}"))
    }

    /// Starts a long-running command (`listen`), its output read line by line.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kenar starts");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        Running {
            child,
            stdout,
            stderr,
        }
    }
}

fn lines(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A running `kenar` process, killed when dropped.
pub struct Running {
    child: Child,
    pub stdout: mpsc::Receiver<String>,
    pub stderr: mpsc::Receiver<String>,
}

impl Running {
    /// Waits for a line of standard error containing `needle`; returns the lines seen.
    pub fn wait_stderr(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no {needle:?} on standard error; saw {seen:?}");
    }

    /// The next line of standard output.
    pub fn next_line(&self) -> String {
        self.stdout
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no line on standard output"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request the receiver got.
pub struct Received {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// A minimal HTTP/1.1 server on a free local port that records each request and answers
/// every one with the same status.
pub struct Receiver {
    pub url: String,
    got: mpsc::Receiver<Received>,
}

impl Receiver {
    pub fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!(
            "http://{}/webhook",
            listener.local_addr().expect("its address")
        );
        let (tx, got) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Some(r) = serve(stream, status) {
                    if tx.send(r).is_err() {
                        break;
                    }
                }
            }
        });
        Receiver { url, got }
    }

    /// The next request, waiting for it.
    pub fn next(&self) -> Received {
        self.got
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("the receiver got nothing"))
    }
}

/// Reads one request (head and `Content-Length` body) and answers it.
fn serve(stream: TcpStream, status: u16) -> Option<Received> {
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_owned();
    let mut headers = http::HeaderMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            http::HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
    );
    Some(Received {
        path,
        headers,
        body,
    })
}

/// Waits until `check` gives a value, asking again every 50 ms.
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The deliveries `kenar deliveries list --json` shows for these filters.
pub fn deliveries(kenar: &Kenar, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["deliveries", "list"];
    args.extend_from_slice(filters);
    kenar.json(&args)["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
