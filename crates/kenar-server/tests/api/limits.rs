//! Rate limits: per app, per minute and per day, shared by every server process.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{expect_status, Backend, TestApp};

/// Waits out the end of the current minute if it is near, so that a burst of calls falls in
/// one fixed window.
async fn away_from_a_minute_boundary() {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 60_000)
        .unwrap_or(0);
    if ms > 55_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - ms as u64) + 100)).await;
    }
}

async fn setup(app: &TestApp, per_minute: Option<i64>, per_day: Option<i64>) -> (String, String) {
    let r = app
        .admin_post(
            "/admin/v1/apps",
            json!({"slug": "app-a", "webhook_url": "https://example.com/h",
                   "rate_limit_per_minute": per_minute, "daily_quota": per_day}),
        )
        .await;
    assert_eq!(r.status(), 201);
    app.create_user("u-1").await;
    let key = app
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let (token, _) = app.mint_token("app-a", "u-1", &["USER_POSTS_GET"]).await;
    (key, token)
}

async fn the_per_minute_limit_answers_429_with_retry_after_and_quota_failure(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, token) = setup(&app, Some(3), None).await;
    away_from_a_minute_boundary().await;
    let body = json!({"event_type": "POST_UPDATE"});
    for _ in 0..3 {
        assert_eq!(
            app.register(Some(&key), Some(&token), body.clone())
                .await
                .status(),
            200
        );
    }
    let r = app.register(Some(&key), Some(&token), body.clone()).await;
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry_after));
    let v = expect_status(r, 429, 8).await;
    let detail = &v["details"][0];
    assert_eq!(
        detail["@type"],
        "type.googleapis.com/google.rpc.QuotaFailure"
    );
    assert_eq!(detail["violations"][0]["subject"], "app:app-a");
    assert!(detail["violations"][0]["description"]
        .as_str()
        .unwrap_or("")
        .contains("per-minute limit of 3"));

    // The operator raises the limit; calls go through again.
    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/apps/app-a",
            Some(json!({"rate_limit_per_minute": 100})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.register(Some(&key), Some(&token), body).await.status(),
        200
    );
    app.stop().await;
}

async fn the_daily_quota_answers_429_naming_the_daily_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, token) = setup(&app, None, Some(2)).await;
    let body = json!({"event_type": "POST_UPDATE"});
    for _ in 0..2 {
        assert_eq!(
            app.register(Some(&key), Some(&token), body.clone())
                .await
                .status(),
            200
        );
    }
    let r = app.register(Some(&key), Some(&token), body).await;
    let v = expect_status(r, 429, 8).await;
    assert!(v["details"][0]["violations"][0]["description"]
        .as_str()
        .unwrap_or("")
        .contains("daily limit of 2"));
    let r = app
        .admin_post("/admin/v1/apps", json!({"slug": "bad", "daily_quota": 0}))
        .await;
    expect_status(r, 400, 3).await;
    app.stop().await;
}

crate::on_both_backends!(
    the_per_minute_limit_answers_429_with_retry_after_and_quota_failure,
    the_daily_quota_answers_429_naming_the_daily_limit,
);

/// Two server instances with their own connection pools on one PostgreSQL database count
/// against the same limit.
#[tokio::test]
async fn limits_hold_across_servers_sharing_postgres() {
    let one = TestApp::spawn(Backend::Postgres).await;
    let two = TestApp::spawn_on(one.database_url()).await;
    let (key, token) = setup(&one, Some(4), None).await;
    away_from_a_minute_boundary().await;
    let body = json!({"event_type": "POST_UPDATE"});
    let mut statuses = Vec::new();
    for i in 0..6 {
        let app = if i % 2 == 0 { &one } else { &two };
        statuses.push(
            app.register(Some(&key), Some(&token), body.clone())
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    two.stop().await;
    one.stop().await;
}

/// Two nodes on one PostgreSQL database add their counted calls to the shared counters at
/// once, each batch naming the same apps in its own order, some with a minute that has just
/// ended beside the current one (two minute windows, one day window). PostgreSQL must never
/// find a deadlock between the two transactions, and no call is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_adding_their_counts_at_once_never_deadlock() {
    use kenar_server::store::{CallCount, Store};
    const APPS: i64 = 24;
    const ROUNDS: i64 = 20;
    let (_db, url) = crate::helpers::fresh_database(Backend::Postgres).await;
    let one = Store::open(&url).await.expect("open");
    let two = Store::open(&url).await.expect("open");
    let (day, ended, current) = (0, 60_000, 120_000);
    let batch = |backwards: bool| -> Vec<CallCount> {
        let mut apps: Vec<i64> = (1..=APPS).collect();
        if backwards {
            apps.reverse();
        }
        apps.iter()
            .flat_map(|&app_id| {
                let count = move |minute_start| CallCount {
                    app_id,
                    minute_start,
                    day_start: day,
                    calls: 1,
                };
                // Odd apps carry a minute that ended before this flush.
                (app_id % 2 == 1)
                    .then(|| count(ended))
                    .into_iter()
                    .chain([count(current)])
            })
            .collect()
    };
    let rounds = |store: Store, backwards: bool| {
        let batch = batch(backwards);
        tokio::spawn(async move {
            let mut failures = Vec::new();
            for _ in 0..ROUNDS {
                if let Err(e) = store.count_requests(&batch).await {
                    let cause = std::error::Error::source(&e).map(ToString::to_string);
                    failures.push(format!("{e}: {}", cause.unwrap_or_default()));
                }
            }
            failures
        })
    };
    let (a, b) = tokio::join!(rounds(one.clone(), false), rounds(two, true));
    let failures = [a.expect("task"), b.expect("task")].concat();
    assert!(
        failures.is_empty(),
        "{} flushes failed: {failures:?}",
        failures.len()
    );
    let totals = one
        .count_requests(&[CallCount {
            app_id: 1,
            minute_start: current,
            day_start: day,
            calls: 0,
        }])
        .await
        .expect("read");
    assert_eq!(totals, [(2 * ROUNDS, 4 * ROUNDS)]);
}
