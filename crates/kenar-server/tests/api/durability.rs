//! At least once, proven with real processes: SIGKILL mid-stream, a receiver that is down for a
//! while, two server processes sharing PostgreSQL, PostgreSQL ending the server's sessions, and
//! SQLite's write lock held elsewhere past the busy timeout.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use sqlx::Connection;

use crate::helpers::{
    count_rows, expect_json, expect_status, fresh_database, postgres_url, Backend, Database,
    TestApp, ADMIN, PLATFORM,
};
use crate::receiver::{Answer, Received, Receiver};
use crate::routing::chatbot;

#[path = "../../../../tests/support/free_port.rs"]
mod free_port;
use free_port::free_port;

/// Flags that make retries and leases short enough for a test to wait them out.
const FAST: &[&str] = &[
    "--allow-private-targets",
    "--retry-schedule",
    "200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s",
    "--poll-interval",
    "100ms",
    "--webhook-timeout",
    "500ms",
    "--endpoint-concurrency",
    "64",
    "--max-in-flight",
    "64",
];

/// A `kenar-events serve` process.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(database: &str) -> Server {
        Self::start_with(database, FAST).await
    }

    /// Starts with these `flags` instead of [`FAST`].
    async fn start_with(database: &str, flags: &[&str]) -> Server {
        let port = free_port().expect("a free port below the ephemeral range");
        let child = Command::new(env!("CARGO_BIN_EXE_kenar-events"))
            .arg("serve")
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database",
                database,
            ])
            .args(flags)
            .env("KENAR_ADMIN_TOKEN", ADMIN)
            .env("KENAR_PLATFORM_TOKEN", PLATFORM)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await {
                if r.status() == StatusCode::OK {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the server exited before it was ready: {status}");
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn create_bot_app(client: &reqwest::Client, base: &str, webhook: &str) {
    let r = client
        .post(format!("{base}/admin/v1/apps"))
        .bearer_auth(ADMIN)
        .json(&json!({"slug": "bot", "webhook_url": webhook}))
        .send()
        .await
        .expect("request");
    expect_json(r, StatusCode::CREATED).await;
}

/// Publishes chatbot messages `ids` in one call; returns the ids accepted, or `None` if the
/// call failed (the server died under it: nothing of it counts as accepted).
async fn publish(client: &reqwest::Client, base: &str, ids: &[String]) -> Option<Vec<String>> {
    let events: Vec<Value> = ids.iter().map(|id| chatbot("bot", id)).collect();
    let r = client
        .post(format!("{base}/v1/platform/events"))
        .bearer_auth(PLATFORM)
        .json(&json!({ "events": events }))
        .send()
        .await
        .ok()?;
    if r.status() != StatusCode::OK {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    let results = v["results"].as_array()?;
    Some(
        ids.iter()
            .zip(results)
            .filter(|(_, r)| r["event_id"].is_string())
            .map(|(id, _)| id.clone())
            .collect(),
    )
}

/// Waits until every id in `accepted` reached the receiver; returns (deliveries received,
/// distinct webhook-ids).
async fn all_arrived(
    rx: &Receiver,
    accepted: &HashSet<String>,
    within: Duration,
) -> (usize, usize) {
    let deadline = Instant::now() + within;
    loop {
        let got = rx.got();
        let seen = message_ids(&got);
        let missing = accepted.difference(&seen).count();
        if missing == 0 {
            // One webhook-id per event, however often it was delivered.
            let mut ids: HashMap<String, String> = HashMap::new();
            for w in &got {
                let message = w.body["new_chatbot_message"]["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                let webhook_id = w.header("webhook-id").to_owned();
                let first = ids
                    .entry(message.clone())
                    .or_insert_with(|| webhook_id.clone());
                assert_eq!(
                    *first, webhook_id,
                    "event {message} came with two webhook-ids"
                );
            }
            let distinct: HashSet<&str> = got.iter().map(|w| w.header("webhook-id")).collect();
            return (got.len(), distinct.len());
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} accepted events never arrived",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The chatbot message ids these webhooks carried.
fn message_ids(webhooks: &[Received]) -> HashSet<String> {
    webhooks
        .iter()
        .filter_map(|w| {
            w.body["new_chatbot_message"]["id"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn batch_ids(prefix: &str, batch: usize, size: usize) -> Vec<String> {
    (0..size).map(|i| format!("{prefix}-{batch}-{i}")).collect()
}

async fn sigkill_mid_stream_loses_no_accepted_event(backend: Backend) {
    let (_db, url) = fresh_database(backend).await;
    let rx = Receiver::start().await;
    let client = reqwest::Client::new();
    let server = Server::start(url.as_str()).await;
    create_bot_app(&client, &server.base, &rx.url).await;

    // Publish from a task so that the kill lands while calls and deliveries are in flight.
    let base = server.base.clone();
    let publisher = tokio::spawn({
        let client = client.clone();
        async move {
            let mut accepted = Vec::new();
            for batch in 0..60 {
                match publish(&client, &base, &batch_ids("k", batch, 50)).await {
                    Some(ids) => accepted.extend(ids),
                    None => break,
                }
            }
            accepted
        }
    });
    rx.wait_for(600, Duration::from_secs(60)).await;
    server.kill9();
    let mut accepted: HashSet<String> = publisher.await.expect("publisher").into_iter().collect();
    let before_restart = accepted.len();
    // 600 delivered means at least 600 committed; the answer of at most one batch was lost.
    assert!(
        before_restart >= 550,
        "only {before_restart} accepted before the kill"
    );

    let server = Server::start(url.as_str()).await;
    for batch in 100..110 {
        let ids = publish(&client, &server.base, &batch_ids("k", batch, 50))
            .await
            .expect("publish after restart");
        accepted.extend(ids);
    }
    let (received, distinct) = all_arrived(&rx, &accepted, Duration::from_secs(90)).await;
    println!(
        "{backend:?}: {} events accepted ({before_restart} before SIGKILL), {received} deliveries, \
         {} duplicates caused by the kill",
        accepted.len(),
        received - distinct
    );
    drop(server);
}

async fn a_receiver_down_for_a_while_gets_everything_when_it_returns(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.delivery.schedule = "200ms,400ms,800ms,1s,1s,1s,1s,1s"
            .parse()
            .expect("schedule");
    })
    .await;
    let port = free_port().expect("a free port below the ephemeral range");
    create_bot_app(
        &app.client,
        &app.base,
        &format!("http://127.0.0.1:{port}/webhook"),
    )
    .await;
    let ids: Vec<String> = (0..200).map(|i| format!("down-{i}")).collect();
    let accepted: HashSet<String> = publish(&app.client, &app.base, &ids)
        .await
        .expect("publish")
        .into_iter()
        .collect();
    assert_eq!(accepted.len(), 200);
    // Every delivery fails at least once while nothing listens.
    let mut all_failed_once = false;
    for _ in 0..1000 {
        let list = app.deliveries("app=bot&limit=1000").await;
        if list.len() == 200 && list.iter().all(|d| d["attempts"].as_i64() >= Some(1)) {
            all_failed_once = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        all_failed_once,
        "deliveries were not attempted while the receiver was down"
    );
    let rx = Receiver::start_on(port).await;
    let (received, distinct) = all_arrived(&rx, &accepted, Duration::from_secs(30)).await;
    assert_eq!(received, distinct, "no duplicates without a crash");
    let mut done = Vec::new();
    for _ in 0..500 {
        done = app.deliveries("app=bot&status=SUCCEEDED&limit=1000").await;
        if done.len() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(done.len(), 200);
    assert!(
        done.iter().all(|d| d["attempts"].as_i64() >= Some(2)),
        "every delivery failed while the receiver was down, then succeeded"
    );
    app.stop().await;
}

crate::on_both_backends!(
    sigkill_mid_stream_loses_no_accepted_event,
    a_receiver_down_for_a_while_gets_everything_when_it_returns,
);

/// Two processes share ingestion and delivery on PostgreSQL: no double delivery in steady
/// state, and killing one loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_share_the_work_without_double_delivery() {
    let (_db, url) = fresh_database(Backend::Postgres).await;
    let rx = Receiver::start().await;
    let client = reqwest::Client::new();
    let one = Server::start(url.as_str()).await;
    let two = Server::start(url.as_str()).await;
    create_bot_app(&client, &one.base, &rx.url).await;

    let mut accepted = HashSet::new();
    for batch in 0..20 {
        let base = if batch % 2 == 0 { &one.base } else { &two.base };
        accepted.extend(
            publish(&client, base, &batch_ids("s", batch, 50))
                .await
                .expect("publish"),
        );
    }
    let (received, distinct) = all_arrived(&rx, &accepted, Duration::from_secs(60)).await;
    assert_eq!(
        received, distinct,
        "steady state: every event delivered exactly once"
    );
    let metrics = |base: String| {
        let client = client.clone();
        async move {
            let text = client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            text.lines()
                .find(|l| l.starts_with("kenar_delivery_attempts_total{outcome=\"succeeded\"}"))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(0.0)
        }
    };
    let (a, b) = (
        metrics(one.base.clone()).await,
        metrics(two.base.clone()).await,
    );
    assert!(a > 0.0 && b > 0.0, "both processes delivered: {a} and {b}");

    // Kill one mid-stream; the survivor takes over its leased work once the leases expire.
    let base_two = two.base.clone();
    let publisher = tokio::spawn({
        let client = client.clone();
        async move {
            let mut ids = Vec::new();
            for batch in 100..130 {
                ids.extend(
                    publish(&client, &base_two, &batch_ids("s", batch, 50))
                        .await
                        .expect("publish"),
                );
            }
            ids
        }
    });
    rx.wait_for(received + 300, Duration::from_secs(60)).await;
    one.kill9();
    accepted.extend(publisher.await.expect("publisher"));
    let (received, distinct) = all_arrived(&rx, &accepted, Duration::from_secs(90)).await;
    println!(
        "scale-out: {} events accepted, {received} deliveries, {} duplicates caused by the kill",
        accepted.len(),
        received - distinct
    );
    drop(two);
}

/// PostgreSQL ends every session of a running server (as a restart or a failover does): calls
/// in the moment after are answered 200 or 503 UNAVAILABLE with a `Retry-After`, never 500;
/// the server opens new connections by itself, and every event it accepted, before and after,
/// is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_ended_under_the_server_are_replaced_and_nothing_accepted_is_lost() {
    let (_db, url, schema) = named_postgres().await;
    let rx = Receiver::start().await;
    let client = reqwest::Client::new();
    let server = Server::start(&url).await;
    create_bot_app(&client, &server.base, &rx.url).await;
    let mut accepted: HashSet<String> = publish(&client, &server.base, &batch_ids("c", 0, 50))
        .await
        .expect("publish")
        .into_iter()
        .collect();
    all_arrived(&rx, &accepted, Duration::from_secs(30)).await;

    let mut admin = sqlx::PgConnection::connect(&postgres_url())
        .await
        .expect("connect");
    let ended = end_sessions(&mut admin, &schema).await;

    let mut unavailable = 0;
    for batch in 1..=10 {
        let ids = batch_ids("c", batch, 50);
        let events: Vec<Value> = ids.iter().map(|id| chatbot("bot", id)).collect();
        let mut tries = 0;
        loop {
            let r = client
                .post(format!("{}/v1/platform/events", server.base))
                .bearer_auth(PLATFORM)
                .json(&json!({ "events": events }))
                .send()
                .await
                .expect("the server answers");
            if r.status() == StatusCode::OK {
                let v: Value = r.json().await.expect("json");
                let results = v["results"].as_array().expect("results");
                assert!(results.iter().all(|r| r["event_id"].is_string()), "{v}");
                accepted.extend(ids);
                break;
            }
            let retry_after = r.headers().get("retry-after").cloned();
            // Anything else, a 500 above all, fails here with the body shown.
            expect_status(r, 503, 14).await;
            assert_eq!(retry_after.as_ref().map(|v| v.as_bytes()), Some(&b"1"[..]));
            unavailable += 1;
            tries += 1;
            assert!(tries < 50, "the server did not recover its connections");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let (received, distinct) = all_arrived(&rx, &accepted, Duration::from_secs(60)).await;
    println!(
        "{ended} sessions ended; {unavailable} calls answered UNAVAILABLE; {} events accepted, \
         {received} deliveries, {distinct} distinct",
        accepted.len()
    );
    drop(server);
}

/// A connection that sat idle for over a second is checked before use: sessions PostgreSQL
/// ended while the server was idle cost no call an error. (API only: the delivery engine's
/// polls would otherwise use, and so discard, the dead connections first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_ended_while_the_server_is_idle_are_noticed_before_use() {
    let (_db, url, schema) = named_postgres().await;
    let client = reqwest::Client::new();
    let server = Server::start_with(&url, &[FAST, &["--no-delivery"]].concat()).await;
    create_bot_app(&client, &server.base, "http://127.0.0.1:9/hook").await;
    publish(&client, &server.base, &batch_ids("i", 0, 10))
        .await
        .expect("publish");

    let mut admin = sqlx::PgConnection::connect(&postgres_url())
        .await
        .expect("connect");
    end_sessions(&mut admin, &schema).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let accepted = publish(&client, &server.base, &batch_ids("i", 1, 10))
        .await
        .expect("accepted at the first try after an idle second");
    assert_eq!(accepted.len(), 10);
    drop(server);
}

/// A fresh PostgreSQL schema, and a URL whose sessions carry the schema's name, so that a test
/// can end its server's sessions and no other test's.
async fn named_postgres() -> (Database, String, String) {
    let (db, url) = fresh_database(Backend::Postgres).await;
    let Database::Postgres { schema } = &db else {
        unreachable!("a PostgreSQL database");
    };
    let schema = schema.clone();
    let url = format!("{}&application_name={schema}", url.as_str());
    (db, url, schema)
}

/// Ends every PostgreSQL session named `application_name`; returns how many there were.
async fn end_sessions(admin: &mut sqlx::PgConnection, application_name: &str) -> i64 {
    let ended: i64 = sqlx::query_scalar(
        // The sessions are picked first: in one WHERE, PostgreSQL may end a session before
        // it has compared its name.
        "WITH ours AS MATERIALIZED (SELECT pid FROM pg_stat_activity \
         WHERE application_name = $1) \
         SELECT count(*) FROM ours WHERE pg_terminate_backend(pid)",
    )
    .bind(application_name)
    .fetch_one(admin)
    .await
    .expect("terminate");
    assert!(ended > 0, "the server had no session to end");
    ended
}

/// SQLite serves one process: a second server on the same database file is refused at start,
/// with an error that says why, and the first keeps serving.
#[tokio::test]
async fn a_second_server_on_the_same_sqlite_database_is_refused() {
    let (_db, url) = fresh_database(Backend::Sqlite).await;
    let first = Server::start(url.as_str()).await;
    let second = Command::new(env!("CARGO_BIN_EXE_kenar-events"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            url.as_str(),
        ])
        .env("KENAR_ADMIN_TOKEN", ADMIN)
        .env("KENAR_PLATFORM_TOKEN", PLATFORM)
        .output()
        .expect("run a second server");
    assert!(!second.status.success(), "the second server started");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("in use by another kenar-events process"),
        "{stderr}"
    );
    let r = reqwest::get(format!("{}/readyz", first.base))
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
}

/// Timeouts as long as in production, so that a lease (here about 13 minutes) outlasts a test
/// many times, with a short poll interval.
const LONG_LEASES: &[&str] = &[
    "--allow-private-targets",
    "--webhook-timeout",
    "30s",
    "--poll-interval",
    "100ms",
];

/// Ten webhooks published through `server`, all held on the wire by `rx` when this returns.
async fn ten_held(client: &reqwest::Client, server: &Server, rx: &Receiver) -> HashSet<String> {
    rx.answer_by_default(Answer::Hold);
    create_bot_app(client, &server.base, &rx.url).await;
    let accepted: HashSet<String> = publish(client, &server.base, &batch_ids("f", 0, 10))
        .await
        .expect("publish")
        .into_iter()
        .collect();
    assert_eq!(accepted.len(), 10);
    rx.wait_for(10, Duration::from_secs(30)).await;
    accepted
}

/// Waits until every webhook of `accepted` arrived at `rx` again, past its first `before`
/// requests, within `within`.
async fn all_sent_again(
    rx: &Receiver,
    before: usize,
    accepted: &HashSet<String>,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let again = message_ids(&rx.got()[before..]);
        if again == *accepted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} sent again within {within:?}",
            again.len(),
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After a SIGKILL, the deliveries the dead server had in flight are sent again as soon as it
/// is back on SQLite, not when their leases run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_in_flight_at_a_sigkill_are_sent_again_at_restart_on_sqlite() {
    let (_db, url) = fresh_database(Backend::Sqlite).await;
    let rx = Receiver::start().await;
    let client = reqwest::Client::new();
    let server = Server::start_with(url.as_str(), LONG_LEASES).await;
    let accepted = ten_held(&client, &server, &rx).await;
    server.kill9();
    rx.release();

    let before = rx.got().len();
    let server = Server::start_with(url.as_str(), LONG_LEASES).await;
    all_sent_again(&rx, before, &accepted, Duration::from_secs(20)).await;
    drop(server);
}

/// On PostgreSQL, when one of two servers dies with deliveries in flight, the other sends them
/// within seconds of the dead one falling silent, not when their leases run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_a_dead_server_held_are_taken_over_by_another_on_postgres() {
    let (_db, url) = fresh_database(Backend::Postgres).await;
    let rx = Receiver::start().await;
    let client = reqwest::Client::new();
    let one = Server::start_with(url.as_str(), LONG_LEASES).await;
    let two = Server::start_with(url.as_str(), LONG_LEASES).await;
    let accepted = ten_held(&client, &one, &rx).await;
    let before = rx.got().len();
    one.kill9();
    rx.release();

    // Silent for ten polls (one second here), then taken over at the next poll.
    all_sent_again(&rx, before, &accepted, Duration::from_secs(20)).await;
    // The dead worker is forgotten by the statement after the one that let go of its leases.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let workers = count_rows(&url, "SELECT COUNT(*) FROM workers").await;
        if workers == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{workers} workers known, not only the live server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(two);
}

/// SQLite's write lock held elsewhere past the busy timeout (10 s): a connection of this test,
/// as another process's would, takes the lock before the calls. The calls that must write
/// answer 503 with UNAVAILABLE (code 14) and write nothing; reads go on meanwhile; once the
/// lock is let go the same calls succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_locked_past_the_busy_timeout_answers_unavailable_and_recovers() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_app("locked", Some("http://127.0.0.1:9/hook"))
        .await;
    let key = app
        .create_key("locked", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    app.create_user("u-1").await;
    app.create_post("lockedPost1", "u-1").await;
    let (token, _) = app
        .mint_token(
            "locked",
            "u-1",
            &["CHAT_POST_CONVERSATIONS_READ.lockedPost1"],
        )
        .await;
    let registration = json!({"event_type": "NEW_MESSAGE_ON_POST",
        "event_resource_id": "lockedPost1"});
    let publish = || async {
        app.client
            .post(app.url("/v1/platform/events"))
            .bearer_auth(PLATFORM)
            .json(&json!({"events": [chatbot("locked", "m-locked")]}))
            .send()
            .await
            .expect("request")
    };

    sqlx::any::install_default_drivers();
    let mut holder = sqlx::AnyConnection::connect(app.database_url().as_str())
        .await
        .expect("connect");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("take the write lock");
    let (registered, published, read) = tokio::join!(
        app.register(Some(&key), Some(&token), registration.clone()),
        publish(),
        async {
            // Well inside the busy timeout: the writes are waiting, reads are not.
            tokio::time::sleep(Duration::from_secs(2)).await;
            app.admin_get("/admin/v1/apps/locked/subscriptions").await
        },
    );
    expect_status(registered, 503, 14).await;
    expect_status(published, 503, 14).await;
    expect_json(read, StatusCode::OK).await;
    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("let go of the lock");
    drop(holder);

    assert_eq!(app.count_rows("SELECT COUNT(*) FROM events").await, 0);
    assert_eq!(
        app.count_rows("SELECT COUNT(*) FROM subscriptions").await,
        0
    );
    expect_json(
        app.register(Some(&key), Some(&token), registration).await,
        StatusCode::OK,
    )
    .await;
    let v = expect_json(publish().await, StatusCode::OK).await;
    assert!(v["results"][0]["event_id"].is_string(), "{v}");
    assert_eq!(app.subscriptions("locked").await.len(), 1);
    assert_eq!(app.count_rows("SELECT COUNT(*) FROM events").await, 1);
}
