//! Delivery: headers and signature, retries, final failure, replay, Retry-After, disabling,
//! isolation of slow endpoints, metrics.

use std::time::Duration;

use kenar_server::domain::signature::sign;
use kenar_server::domain::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_json, Backend, TestApp};
use crate::receiver::{Answer, Receiver};
use crate::routing::chatbot;

const WAIT: Duration = Duration::from_secs(15);

/// An app `bot` whose chatbot messages go to `rx`.
async fn bot_app(app: &TestApp, rx: &Receiver, slug: &str) -> Value {
    let r = app
        .admin_post(
            "/admin/v1/apps",
            json!({"slug": slug, "webhook_url": rx.url, "generate_signing_secret": true}),
        )
        .await;
    expect_json(r, StatusCode::CREATED).await
}

async fn the_contract_headers_and_a_valid_signature_are_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rx = Receiver::start().await;
    let view = bot_app(&app, &rx, "bot").await;
    let results = app.ingest(json!([chatbot("bot", "m-1")])).await;
    let event_id = results[0]["event_id"]
        .as_str()
        .expect("event id")
        .to_owned();
    let got = rx.wait_for(1, WAIT).await;
    let w = &got[0];
    assert_eq!(w.header("content-type"), "application/json");
    assert_eq!(
        w.header("authorization"),
        view["identification_key"].as_str().expect("key")
    );
    let webhook_id = w.header("webhook-id").to_owned();
    assert!(webhook_id.starts_with("msg_"));
    let timestamp: i64 = w.header("webhook-timestamp").parse().expect("timestamp");
    let secret = Secret::new(view["signing_secret"].as_str().expect("secret"));
    let expected = sign(&secret, &webhook_id, timestamp, &w.raw).expect("signature");
    assert_eq!(w.header("webhook-signature"), expected);
    assert_eq!(w.body["type"], "NEW_CHATBOT_MESSAGE");
    assert_eq!(w.body["new_chatbot_message"]["id"], "m-1");

    let list = app.deliveries("app=bot").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["event_id"], json!(event_id));
    assert_eq!(list[0]["webhook_id"], json!(webhook_id));
    app.stop().await;
}

/// In a batch, each webhook and each delivery belong to their own item's event, with invalid
/// and refused items between them (ids are assigned in batches).
async fn every_delivery_of_a_batch_belongs_to_its_own_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    let items = json!([
        chatbot("bot", "m-0"),
        {"not_an_event": {}},
        chatbot("bot", "m-1"),
        chatbot("nope", "m-x"),
        chatbot("bot", "m-2"),
    ]);
    let results = app.ingest(items).await;
    assert!(results[1]["error"].is_object() && results[3]["error"].is_object());
    let got = rx.wait_for(3, WAIT).await;
    let log = wait_status(&app, "app=bot", 3).await;
    for (message, index) in [("m-0", 0), ("m-1", 2), ("m-2", 4)] {
        let webhook = got
            .iter()
            .find(|w| w.body["new_chatbot_message"]["id"] == message)
            .expect("webhook");
        let delivery = log
            .iter()
            .find(|d| d["webhook_id"] == webhook.header("webhook-id"))
            .expect("delivery");
        assert_eq!(
            delivery["event_id"], results[index]["event_id"],
            "{message}"
        );
    }
    app.stop().await;
}

async fn failures_are_retried_with_the_same_webhook_id_and_every_attempt_is_logged(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    rx.script([Answer::Status(500), Answer::Status(404)]);
    app.ingest(json!([chatbot("bot", "m-1")])).await;
    let got = rx.wait_for(3, WAIT).await;
    let ids: Vec<&str> = got.iter().map(|w| w.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let delivery_id = app.deliveries("app=bot").await[0]["id"]
        .as_i64()
        .expect("id");
    let mut detail = app.delivery(delivery_id).await;
    for _ in 0..100 {
        if detail["status"] == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        detail = app.delivery(delivery_id).await;
    }
    assert_eq!(detail["status"], "SUCCEEDED");
    assert_eq!(detail["attempts"], 3);
    let log = detail["attempt_log"].as_array().expect("log");
    let statuses: Vec<i64> = log
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(statuses, [500, 404, 200]);
    assert_eq!(log[0]["response_body"], "answer body");
    assert_eq!(detail["body"]["new_chatbot_message"]["id"], "m-1");
    // The first attempt came from ingestion's hand-over, the two retries from claims.
    let text = app.metrics().await;
    for needle in [
        "kenar_deliveries_started_total{via=\"handoff\"} 1",
        "kenar_deliveries_started_total{via=\"claim\"} 2",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    app.stop().await;
}

async fn wait_status(app: &TestApp, query: &str, n: usize) -> Vec<Value> {
    for _ in 0..250 {
        let list = app.deliveries(query).await;
        if list.len() >= n {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} deliveries match {query}");
}

async fn an_exhausted_schedule_fails_and_the_operator_can_replay(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    rx.answer_by_default(Answer::Status(503));
    app.ingest(json!([chatbot("bot", "m-1"), chatbot("bot", "m-2")]))
        .await;
    // The test schedule allows four attempts.
    let failed = wait_status(&app, "app=bot&status=FAILED", 2).await;
    assert_eq!(rx.got().len(), 8);
    assert!(failed
        .iter()
        .all(|d| d["attempts"] == 4 && d["last_status"] == 503));
    assert!(app
        .deliveries("status=FAILED&event_type=POST_UPDATE")
        .await
        .is_empty());

    rx.answer_by_default(Answer::Status(200));
    let one = failed[0]["id"].as_i64().expect("id");
    let r = app
        .admin_post(&format!("/admin/v1/deliveries/{one}/redeliver"), json!({}))
        .await;
    let v = expect_json(r, StatusCode::OK).await;
    assert_eq!(v["status"], "PENDING");
    wait_status(&app, "app=bot&status=SUCCEEDED", 1).await;

    let r = app
        .admin_post(
            "/admin/v1/apps/bot/redeliver-failed",
            json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(expect_json(r, StatusCode::OK).await["queued"], 1);
    wait_status(&app, "app=bot&status=SUCCEEDED", 2).await;
    let ids: std::collections::HashSet<String> = rx
        .got()
        .iter()
        .map(|w| w.header("webhook-id").to_owned())
        .collect();
    assert_eq!(ids.len(), 2, "replays keep their webhook-id");

    let r = app
        .admin_post(
            "/admin/v1/apps/bot/redeliver-failed",
            json!({"since": "yesterday"}),
        )
        .await;
    crate::helpers::expect_status(r, 400, 3).await;
    app.stop().await;
}

async fn retry_after_is_honoured(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    rx.script([Answer::RetryAfter(429, "1".into())]);
    app.ingest(json!([chatbot("bot", "m-1")])).await;
    let got = rx.wait_for(2, WAIT).await;
    let gap = got[1].at - got[0].at;
    // The schedule alone would retry after about 100 ms.
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    app.stop().await;
}

async fn an_endpoint_failing_too_long_is_disabled_visibly_and_can_be_re_enabled(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.delivery.disable_after = Duration::ZERO).await;
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    rx.answer_by_default(Answer::Status(500));
    app.ingest(json!([chatbot("bot", "m-1")])).await;
    let mut view = Value::Null;
    for _ in 0..250 {
        view = expect_json(app.admin_get("/admin/v1/apps/bot").await, StatusCode::OK).await;
        if view["webhook_disabled_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(view["webhook_disabled_at"].is_string(), "{view}");
    let text = app.metrics().await;
    assert!(text.contains("kenar_disabled_endpoints 1"), "{text}");
    let attempts_when_disabled = rx.got().len();
    // Nothing is attempted while disabled, though events keep coming.
    app.ingest(json!([chatbot("bot", "m-2")])).await;
    let pending = wait_status(&app, "app=bot&status=PENDING", 2).await;
    assert_eq!(pending.len(), 2);
    assert_eq!(rx.got().len(), attempts_when_disabled);

    rx.answer_by_default(Answer::Status(200));
    let r = app
        .admin_post("/admin/v1/apps/bot/webhook/enable", json!({}))
        .await;
    let view = expect_json(r, StatusCode::OK).await;
    assert_eq!(view["webhook_disabled_at"], Value::Null);
    wait_status(&app, "app=bot&status=SUCCEEDED", 2).await;
    app.stop().await;
}

/// An app with more fresh deliveries than its engine takes at once is backlogged; once its
/// endpoint is disabled, none of them is attempted, by claim or by hand-over.
async fn a_disabled_endpoint_gets_nothing_from_its_backlog(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.delivery.disable_after = Duration::ZERO;
        s.delivery.endpoint_concurrency = 1;
        s.delivery.max_in_flight = 2;
    })
    .await;
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    rx.answer_by_default(Answer::Status(500));
    // Far more than can be sent (one at a time) while the first failure is being recorded.
    let events: Vec<Value> = (0..300)
        .map(|i| chatbot("bot", &format!("m-{i}")))
        .collect();
    app.ingest(Value::Array(events)).await;
    wait_disabled(&app, "bot").await;
    // What was already on its way when the endpoint was disabled may still go out.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempts = rx.got().len();
    assert!(attempts < 300, "{attempts} attempts");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(rx.got().len(), attempts, "attempted while disabled");
    app.stop().await;
}

/// A claim leases no more than the engine has room for, however long the backlog: the room is
/// counted in the store, where every process can see it.
async fn a_claim_leases_only_what_the_engine_has_room_for(backend: Backend) {
    let mut room = 0;
    let app = TestApp::spawn_with(backend, |s| {
        s.delivery.disable_after = Duration::ZERO;
        s.delivery.endpoint_concurrency = 1;
        s.delivery.max_in_flight = 2;
        s.delivery.request_timeout = Duration::from_secs(60);
        room = s.delivery.max_claimed().min(s.delivery.claim_high_water());
    })
    .await;
    assert!(
        room < 300,
        "the test needs a backlog beyond the room: {room}"
    );
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    // A first failure disables the endpoint, so the backlog builds up in the store, unleased.
    rx.answer_by_default(Answer::Status(500));
    app.ingest(json!([chatbot("bot", "m-0")])).await;
    rx.wait_for(1, WAIT).await;
    wait_disabled(&app, "bot").await;
    let events: Vec<Value> = (1..=300)
        .map(|i| chatbot("bot", &format!("m-{i}")))
        .collect();
    app.ingest(Value::Array(events)).await;

    // Enabled again with nothing answered, the engine claims once and holds what it claimed.
    rx.answer_by_default(Answer::Hold);
    app.admin_post("/admin/v1/apps/bot/webhook/enable", json!({}))
        .await;
    rx.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let leased = app
        .count_rows("SELECT COUNT(*) FROM delivery_state WHERE lease_owner IS NOT NULL")
        .await;
    assert!(
        (1..=room as i64).contains(&leased),
        "{leased} deliveries leased, room for {room}"
    );
    // Every delivery, handed over or queued in the store, has its state row, of its own app.
    let paired = app
        .count_rows(
            "SELECT COUNT(*) FROM deliveries d JOIN delivery_state s \
             ON s.id = d.id AND s.app_id = d.app_id",
        )
        .await;
    let deliveries = app.count_rows("SELECT COUNT(*) FROM deliveries").await;
    let states = app.count_rows("SELECT COUNT(*) FROM delivery_state").await;
    assert_eq!((deliveries, states, paired), (301, 301, 301));
    rx.release();
    app.stop().await;
}

/// Waits until the app's endpoint is disabled.
async fn wait_disabled(app: &TestApp, slug: &str) {
    for _ in 0..250 {
        let view = expect_json(
            app.admin_get(&format!("/admin/v1/apps/{slug}")).await,
            StatusCode::OK,
        )
        .await;
        if view["webhook_disabled_at"].is_string() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the endpoint of {slug} was not disabled");
}

async fn a_slow_endpoint_never_holds_up_a_healthy_one(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.delivery.endpoint_concurrency = 4;
        s.delivery.max_in_flight = 16;
        // Held requests must not time out while the test looks at them.
        s.delivery.request_timeout = Duration::from_secs(60);
    })
    .await;
    let slow = Receiver::start().await;
    let healthy = Receiver::start().await;
    bot_app(&app, &slow, "slow").await;
    bot_app(&app, &healthy, "healthy").await;
    slow.answer_by_default(Answer::Hold);
    let slow_events: Vec<Value> = (0..40).map(|i| chatbot("slow", &format!("s{i}"))).collect();
    app.ingest(Value::Array(slow_events)).await;
    slow.wait_for(4, WAIT).await;
    let healthy_events: Vec<Value> = (0..60)
        .map(|i| chatbot("healthy", &format!("h{i}")))
        .collect();
    app.ingest(Value::Array(healthy_events)).await;
    // Every healthy delivery arrives while the slow endpoint still holds its requests.
    healthy.wait_for(60, WAIT).await;
    assert_eq!(slow.max_in_flight(), 4, "the per-endpoint limit holds");
    slow.release();
    slow.wait_for(40, WAIT).await;
    app.stop().await;
}

async fn operations_endpoints_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    app.ingest(json!([chatbot("bot", "m-1")])).await;
    rx.wait_for(1, WAIT).await;
    wait_status(&app, "status=SUCCEEDED", 1).await;
    for path in ["/healthz", "/readyz"] {
        let r = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(expect_json(r, StatusCode::OK).await["status"], "ok");
    }
    let text = app.metrics().await;
    for needle in [
        "kenar_ingested_events_total{type=\"NEW_CHATBOT_MESSAGE\"} 1",
        "kenar_delivery_attempts_total{outcome=\"succeeded\"} 1",
        "kenar_deliveries_started_total{via=\"handoff\"} 1",
        "kenar_delivery_latency_seconds_count 1",
        "kenar_queue_depth 0",
        "kenar_disabled_endpoints 0",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    app.stop().await;
}

async fn ingestion_checks_its_credential_and_its_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let post = |auth: Option<&str>, body: Value| {
        let mut r = app.client.post(app.url("/v1/platform/events")).json(&body);
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        r.send()
    };
    let r = post(None, json!({"events": []})).await.expect("request");
    crate::helpers::expect_status(r, 401, 16).await;
    let r = post(Some("wrong"), json!({"events": []}))
        .await
        .expect("request");
    crate::helpers::expect_status(r, 401, 16).await;
    let r = post(Some(crate::helpers::ADMIN), json!({"events": []}))
        .await
        .expect("request");
    crate::helpers::expect_status(r, 401, 16).await;
    let too_many: Vec<Value> = (0..1001).map(|i| chatbot("x", &i.to_string())).collect();
    let r = post(Some(crate::helpers::PLATFORM), json!({"events": too_many}))
        .await
        .expect("request");
    let v = crate::helpers::expect_status(r, 400, 3).await;
    assert!(v["message"].as_str().unwrap_or("").contains("1000"));
    let r = post(Some(crate::helpers::PLATFORM), json!({"events": "all"}))
        .await
        .expect("request");
    crate::helpers::expect_status(r, 400, 3).await;
    let r = app
        .client
        .request(Method::GET, app.url("/v1/platform/events"))
        .send()
        .await
        .expect("request");
    crate::helpers::expect_status(r, 405, 12).await;
    assert!(app.ingest(json!([])).await.is_empty());
    app.stop().await;
}

crate::on_both_backends!(
    the_contract_headers_and_a_valid_signature_are_sent,
    every_delivery_of_a_batch_belongs_to_its_own_event,
    failures_are_retried_with_the_same_webhook_id_and_every_attempt_is_logged,
    an_exhausted_schedule_fails_and_the_operator_can_replay,
    retry_after_is_honoured,
    an_endpoint_failing_too_long_is_disabled_visibly_and_can_be_re_enabled,
    a_disabled_endpoint_gets_nothing_from_its_backlog,
    a_claim_leases_only_what_the_engine_has_room_for,
    a_slow_endpoint_never_holds_up_a_healthy_one,
    operations_endpoints_answer,
    ingestion_checks_its_credential_and_its_batch,
    a_failure_from_before_a_re_enable_does_not_disable_again,
);

/// An attempt that failed before the operator re-enabled the endpoint, recorded after, must
/// not disable it again.
async fn a_failure_from_before_a_re_enable_does_not_disable_again(backend: Backend) {
    use kenar_server::domain::time::now_ms;
    use kenar_server::store::{Attempt, Next, Outcome};
    let app = TestApp::spawn_with(backend, |s| s.deliver = false).await;
    let rx = Receiver::start().await;
    bot_app(&app, &rx, "bot").await;
    app.ingest(json!([chatbot("bot", "m-1"), chatbot("bot", "m-2")]))
        .await;
    let store = &app.state.store;
    let app_id = store
        .app_by_slug("bot")
        .await
        .expect("store")
        .expect("app")
        .id;
    let now = now_ms();
    let claimed = store
        .claim_due("test-worker", &[(app_id, 10)], now, now + 60_000)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    store.enable_endpoint(app_id, now).await.expect("enable");
    let failed = |id: i64, attempted_at: i64| Outcome {
        delivery_id: id,
        app_id,
        attempt: Attempt {
            attempted_at,
            status_code: Some(500),
            latency_ms: 1,
            response_body: None,
            error: None,
        },
        next: Next::Retry { at: now + 1000 },
    };
    let disabled = store
        .record_outcomes("test-worker", &[failed(claimed[0].id, now - 5_000)], now, 0)
        .await
        .expect("record");
    assert!(disabled.is_empty(), "a stale failure disabled the endpoint");
    let view = expect_json(app.admin_get("/admin/v1/apps/bot").await, StatusCode::OK).await;
    assert_eq!(view["webhook_disabled_at"], Value::Null);
    // A failure after the re-enable counts as usual.
    let disabled = store
        .record_outcomes("test-worker", &[failed(claimed[1].id, now + 1)], now + 2, 0)
        .await
        .expect("record");
    assert_eq!(disabled, [app_id]);
    app.stop().await;
}
