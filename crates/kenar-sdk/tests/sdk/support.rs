//! What the tests run against: the real `kenar-events` binary in `dev` mode, small axum stubs
//! that record what they receive, and the compiled examples.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

/// `target/debug` (or whichever profile directory holds this test binary).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/sdk-<hash>
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// The server binary, built by `cargo build -p kenar-server --bin kenar-events` (or any
/// workspace build such as `cargo test --workspace`).
pub fn server_binary() -> PathBuf {
    let path = target_dir().join(format!("kenar-events{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: these tests run the real server; build it first with \
         `cargo build -p kenar-server --bin kenar-events` (a workspace build such as \
         `cargo test --workspace` does it too)",
        path.display()
    );
    path
}

/// A compiled example of this crate (cargo builds them for `cargo test`).
pub fn example_binary(name: &str) -> PathBuf {
    let path = target_dir()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: cargo builds the examples during `cargo test -p kenar-sdk` (the \
         `webhook_receiver` one needs `--features axum`)",
        path.display()
    );
    path
}

/// A `kenar-events dev` process in a temporary directory, stopped with SIGTERM when dropped.
pub struct DevServer {
    child: Option<Child>,
    /// The one JSON line `dev --json` printed.
    pub info: Value,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl DevServer {
    /// Starts a dev server whose app delivers webhooks to `webhook_url`.
    pub fn start_with_webhook(webhook_url: &str) -> DevServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut command = Command::new(server_binary());
        for (name, _) in std::env::vars() {
            if name.starts_with("KENAR_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(["dev", "--json", "--listen", "127.0.0.1:0"])
            .args(["--webhook-url", webhook_url])
            .env("RUST_LOG", "warn")
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("its standard output");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("a line from the server");
        let info: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("dev --json printed {line:?}: {e}"));
        DevServer {
            child: Some(child),
            info,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A dev server whose webhooks go nowhere (port 9 discards).
    pub fn start() -> DevServer {
        DevServer::start_with_webhook("http://127.0.0.1:9/hook")
    }

    /// A field of the dev setup (`base_url`, `api_key`, `access_token`, `post_token`, ...).
    pub fn get(&self, field: &str) -> String {
        self.info[field]
            .as_str()
            .unwrap_or_else(|| panic!("dev --json has no {field}: {}", self.info))
            .to_owned()
    }

    /// An SDK client with the dev app's API key and access token.
    pub fn client(&self) -> kenar_sdk::Client {
        self.client_builder().build().expect("a client")
    }

    pub fn client_builder(&self) -> kenar_sdk::ClientBuilder {
        kenar_sdk::Client::builder(self.get("api_key"))
            .base_url(self.get("base_url"))
            .access_token(self.get("access_token"))
            .retry_policy(kenar_sdk::RetryPolicy::none())
    }

    /// Calls the administration API and returns its JSON answer, which must be a success.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.get("base_url")))
            .bearer_auth(self.get("admin_token"))
            .json(&body)
            .send()
            .await
            .expect("the admin API answers");
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path} {body}: {status} {answer}");
        answer
    }

    /// Issues an API key of the dev app with these permissions.
    pub async fn api_key(&self, app: &str, permissions: &[&str]) -> String {
        let answer = self
            .admin(
                reqwest::Method::POST,
                &format!("/admin/v1/apps/{app}/keys"),
                serde_json::json!({"name": "test", "permissions": permissions}),
            )
            .await;
        answer["key"].as_str().expect("a key").to_owned()
    }

    /// Mints an access token for the dev user with these scopes.
    pub async fn access_token(&self, app: &str, scopes: &[&str]) -> String {
        let answer = self
            .admin(
                reqwest::Method::POST,
                &format!("/admin/v1/apps/{app}/tokens"),
                serde_json::json!({"user_id": self.get("platform_user_id"), "scopes": scopes,
                                   "expires_in": 3600}),
            )
            .await;
        answer["access_token"].as_str().expect("a token").to_owned()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// One request a stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query parameters, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What a stub answers to its `n`th request (from 0).
pub type Responder = Arc<dyn Fn(usize, &Recorded) -> Response + Send + Sync>;

/// An HTTP server that records every request and answers as told.
pub struct Stub {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Recorded>>>,
}

impl Stub {
    pub async fn start(
        respond: impl Fn(usize, &Recorded) -> Response + Send + Sync + 'static,
    ) -> Stub {
        let received: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let respond: Responder = Arc::new(respond);
        let log = Arc::clone(&received);
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let log = Arc::clone(&log);
                let respond = Arc::clone(&respond);
                async move {
                    let request = Recorded {
                        method,
                        path: uri.path().to_owned(),
                        query: uri.query().map(str::to_owned),
                        headers,
                        body: body.to_vec(),
                    };
                    let n = {
                        let mut log = log.lock().expect("the log");
                        log.push(request.clone());
                        log.len() - 1
                    };
                    respond(n, &request)
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub { addr, received }
    }

    /// A stub answering every request with `status` and this JSON body.
    pub async fn always(status: u16, body: Value) -> Stub {
        Stub::start(move |_, _| json_response(status, &body, &[])).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.received.lock().expect("the log").clone()
    }
}

/// A JSON answer with extra headers.
pub fn json_response(status: u16, body: &Value, headers: &[(&'static str, &str)]) -> Response {
    let status = StatusCode::from_u16(status).expect("a status");
    let mut response = (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response();
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(*name, value.parse().expect("a header value"));
    }
    response
}

/// A `google.rpc.Status` answer.
pub fn status_response(
    status: u16,
    code: i32,
    message: &str,
    headers: &[(&'static str, &str)],
) -> Response {
    json_response(
        status,
        &serde_json::json!({"code": code, "message": message, "details": []}),
        headers,
    )
}

/// A TCP server that reads each request's head and never answers: it hangs up, or with `hold`
/// keeps the connection open in silence. Counts the connections it accepted.
pub struct HangUp {
    pub addr: SocketAddr,
    pub connections: Arc<Mutex<usize>>,
}

impl HangUp {
    pub async fn start(hold: bool) -> HangUp {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let connections: Arc<Mutex<usize>> = Arc::default();
        let count = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                *count.lock().expect("the count") += 1;
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0_u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    if hold {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    // Dropping the socket closes the connection with no answer.
                });
            }
        });
        HangUp { addr, connections }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().expect("the count")
    }
}

/// An address nothing listens on: port 9 (discard), which no test listens on and the kernel
/// never hands out on its own. A port bound and freed here instead could be handed to the
/// listener of a test running alongside.
pub fn closed_port() -> String {
    "http://127.0.0.1:9".into()
}
