//! Test harness: a real server on a random port, on a fresh database of either backend.

use std::sync::Arc;

use kenar_server::config::Settings;
use kenar_server::domain::{ScopeSet, UserId};
use kenar_server::http::state::Context;
use kenar_server::store::DatabaseUrl;
use kenar_server::Application;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;

pub const ADMIN: &str = "test-admin-token";
pub const PLATFORM: &str = "test-platform-token";

/// Where the server under test keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// PostgreSQL of the dev and CI machines; `KENAR_TEST_POSTGRES_URL` points elsewhere.
pub fn postgres_url() -> String {
    std::env::var("KENAR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh database that disappears with the test.
pub enum Database {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { schema: String },
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { schema } = self {
            let schema = schema.clone();
            // Drop cannot await; a short-lived runtime on its own thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&postgres_url()).await {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .execute(&mut c)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The one number a `SELECT COUNT(*) ...` gives, read straight from the database at `url`.
pub async fn count_rows(url: &DatabaseUrl, sql: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url.as_str())
        .await
        .expect("connect");
    let row = sqlx::query(sql).fetch_one(&mut c).await.expect("query");
    sqlx::Row::try_get(&row, 0).expect("count")
}

pub async fn fresh_database(backend: Backend) -> (Database, DatabaseUrl) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("data").join("kenar.db");
            let url = path
                .to_str()
                .expect("utf-8 path")
                .parse()
                .expect("sqlite path");
            (Database::Sqlite(dir), url)
        }
        Backend::Postgres => {
            let schema = format!(
                "kenar_test_{}",
                kenar_server::domain::credentials::random_alphanumeric(12).to_lowercase()
            );
            let mut c = sqlx::PgConnection::connect(&postgres_url())
                .await
                .expect("PostgreSQL at 127.0.0.1:5432 (database test) must be running");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut c)
                .await
                .expect("create schema");
            let url = format!("{}?options[search_path]={schema}", postgres_url());
            (
                Database::Postgres { schema },
                url.parse().expect("postgres url"),
            )
        }
    }
}

/// Runs `callers` tasks at once against two servers (`nodes`, on one database): caller `c`
/// calls `nodes[c % 2]` through `call`, which returns what failed. Asserts that nothing did,
/// and hands the nodes back.
pub async fn call_two_nodes_at_once<F, Fut>(
    nodes: [TestApp; 2],
    callers: usize,
    call: F,
) -> [TestApp; 2]
where
    F: Fn(Arc<[TestApp; 2]>, usize) -> Fut,
    Fut: std::future::Future<Output = Vec<String>> + Send + 'static,
{
    let nodes = Arc::new(nodes);
    let tasks: Vec<_> = (0..callers)
        .map(|caller| tokio::spawn(call(Arc::clone(&nodes), caller)))
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        failures.extend(task.await.expect("caller"));
    }
    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    Arc::into_inner(nodes).expect("every caller is done")
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub state: Arc<Context>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    url: DatabaseUrl,
    /// The database this instance created (and drops); `None` when it shares another's.
    _db: Option<Database>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings adjusted by `adjust`.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let (db, url) = fresh_database(backend).await;
        Self::start(Some(db), url, adjust).await
    }

    /// A second server on the database of another.
    pub async fn spawn_on(url: DatabaseUrl) -> TestApp {
        Self::start(None, url, |_| {}).await
    }

    pub fn database_url(&self) -> DatabaseUrl {
        self.url.clone()
    }

    /// The one number a `SELECT COUNT(*) ...` gives, read straight from the database.
    pub async fn count_rows(&self, sql: &str) -> i64 {
        count_rows(&self.url, sql).await
    }

    async fn start(
        db: Option<Database>,
        url: DatabaseUrl,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = Settings::for_tests(url.clone());
        adjust(&mut settings);
        let app = Application::build(&settings).await.expect("server starts");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            client: Client::new(),
            state,
            stop: Some(stop),
            server: Some(server),
            url,
            _db: db,
        }
    }

    /// Stops the server gracefully and checks that it stopped cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(ADMIN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Response {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn admin_get(&self, path: &str) -> Response {
        self.admin(reqwest::Method::GET, path, None).await
    }

    /// Creates an app and returns its view.
    pub async fn create_app(&self, slug: &str, webhook: Option<&str>) -> Value {
        let r = self
            .admin_post(
                "/admin/v1/apps",
                json!({"slug": slug, "name": slug, "webhook_url": webhook}),
            )
            .await;
        expect_json(r, StatusCode::CREATED).await
    }

    pub async fn create_key(&self, slug: &str, permissions: &[&str]) -> String {
        let r = self
            .admin_post(
                &format!("/admin/v1/apps/{slug}/keys"),
                json!({"permissions": permissions}),
            )
            .await;
        let v = expect_json(r, StatusCode::CREATED).await;
        v["key"].as_str().expect("key").to_owned()
    }

    pub async fn create_user(&self, id: &str) {
        let r = self.admin_post("/admin/v1/users", json!({"id": id})).await;
        expect_json(r, StatusCode::CREATED).await;
    }

    pub async fn create_post(&self, token: &str, owner: &str) {
        let r = self
            .admin_post(
                "/admin/v1/posts",
                json!({"token": token, "owner_id": owner}),
            )
            .await;
        expect_json(r, StatusCode::CREATED).await;
    }

    /// Mints an access token through the admin API; returns (token, app's id of the user).
    pub async fn mint_token(&self, slug: &str, user: &str, scopes: &[&str]) -> (String, String) {
        self.mint_token_for(slug, user, scopes, 3600).await
    }

    pub async fn mint_token_for(
        &self,
        slug: &str,
        user: &str,
        scopes: &[&str],
        seconds: i64,
    ) -> (String, String) {
        let r = self
            .admin_post(
                &format!("/admin/v1/apps/{slug}/tokens"),
                json!({"user_id": user, "scopes": scopes, "expires_in": seconds}),
            )
            .await;
        let v = expect_json(r, StatusCode::CREATED).await;
        (
            v["access_token"].as_str().expect("token").to_owned(),
            v["user_id"].as_str().expect("user id").to_owned(),
        )
    }

    /// A token that expired a minute ago: minted below the API, which refuses such lifetimes.
    pub async fn mint_expired_token(&self, slug: &str, user: &str, scopes: &str) -> String {
        let app = self
            .state
            .store
            .app_by_slug(slug)
            .await
            .expect("store")
            .expect("app");
        let minted = kenar_server::panel::mint_access_token(
            &self.state.store,
            &self.state.pseudonyms,
            &app,
            &UserId::parse(user).expect("user id"),
            &ScopeSet::parse(scopes).expect("scopes"),
            -60,
        )
        .await
        .expect("mint");
        minted.access_token.expose().to_owned()
    }

    /// POSTs a subscription registration with the given credentials.
    pub async fn register(&self, key: Option<&str>, token: Option<&str>, body: Value) -> Response {
        let mut req = self
            .client
            .post(self.url("/v1/open-platform/events/subscriptions"))
            .json(&body);
        if let Some(key) = key {
            req = req.header("X-API-Key", key);
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request")
    }

    /// Publishes events through the ingestion API; returns the per-item results.
    pub async fn ingest(&self, events: Value) -> Vec<Value> {
        let r = self
            .client
            .post(self.url("/v1/platform/events"))
            .bearer_auth(PLATFORM)
            .json(&json!({ "events": events }))
            .send()
            .await
            .expect("request");
        let v = expect_json(r, StatusCode::OK).await;
        v["results"].as_array().expect("results").clone()
    }

    /// A delivery with its attempt log, by id.
    pub async fn delivery(&self, id: i64) -> Value {
        expect_json(
            self.admin_get(&format!("/admin/v1/deliveries/{id}")).await,
            StatusCode::OK,
        )
        .await
    }

    /// Deliveries matching a query string, newest first.
    pub async fn deliveries(&self, query: &str) -> Vec<Value> {
        let v = expect_json(
            self.admin_get(&format!("/admin/v1/deliveries?{query}"))
                .await,
            StatusCode::OK,
        )
        .await;
        v["deliveries"].as_array().expect("deliveries").clone()
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let r = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.expect("text")
    }

    pub async fn subscriptions(&self, slug: &str) -> Vec<Value> {
        let r = self
            .admin_get(&format!("/admin/v1/apps/{slug}/subscriptions"))
            .await;
        let v = expect_json(r, StatusCode::OK).await;
        v["subscriptions"].as_array().expect("array").clone()
    }
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(r: Response, status: StatusCode) -> Value {
    let got = r.status();
    let text = r.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Asserts a `google.rpc.Status` answer with this HTTP status and code; returns the body.
pub async fn expect_status(r: Response, http: u16, code: i64) -> Value {
    let got = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = r.text().await.expect("body");
    assert_eq!(got, http, "unexpected HTTP status; body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    let v: Value = serde_json::from_str(&text).expect("JSON error body");
    assert_eq!(v["code"], json!(code), "unexpected code; body: {text}");
    assert!(v["message"].is_string(), "message missing: {text}");
    assert!(v["details"].is_array(), "details missing: {text}");
    v
}

/// Generates one `#[tokio::test]` per backend for each listed `async fn name(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
