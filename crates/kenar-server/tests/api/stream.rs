//! The live delivery stream (SSE) that `kenar listen` reads.

use std::time::Duration;

use kenar_server::domain::signature::sign;
use kenar_server::domain::Secret;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_json, Backend, TestApp, ADMIN};
use crate::receiver::Receiver;
use crate::routing::chatbot;

/// Reads SSE events (`data:` lines of `delivery` events) until `n` arrived.
async fn read_events(r: &mut reqwest::Response, n: usize) -> Vec<Value> {
    let mut buf = String::new();
    let mut events = Vec::new();
    while events.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(15), r.chunk())
            .await
            .expect("an event within 15 s")
            .expect("stream")
            .expect("stream still open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if block.lines().any(|l| l == "event: delivery") {
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data line");
                events.push(serde_json::from_str(data).expect("JSON data"));
            }
        }
    }
    events
}

async fn the_stream_carries_each_new_delivery_with_its_signed_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rx = Receiver::start().await;
    let r = app
        .admin_post(
            "/admin/v1/apps",
            json!({"slug": "bot", "webhook_url": rx.url, "generate_signing_secret": true}),
        )
        .await;
    let view = expect_json(r, StatusCode::CREATED).await;
    app.ingest(json!([chatbot("bot", "before")])).await;
    let mut stream = app
        .client
        .get(app.url("/admin/v1/apps/bot/deliveries/stream"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    assert!(stream
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    app.ingest(json!([chatbot("bot", "live-1"), chatbot("bot", "live-2")]))
        .await;
    let events = read_events(&mut stream, 2).await;
    let ids: Vec<&str> = events
        .iter()
        .map(|e| {
            e["body"]["new_chatbot_message"]["id"]
                .as_str()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        ids,
        ["live-1", "live-2"],
        "only deliveries after the connection"
    );
    let e = &events[0];
    let headers = &e["headers"];
    assert_eq!(headers["authorization"], view["identification_key"]);
    assert_eq!(headers["webhook-id"], e["webhook_id"]);
    let secret = Secret::new(view["signing_secret"].as_str().expect("secret"));
    let timestamp: i64 = headers["webhook-timestamp"]
        .as_str()
        .expect("ts")
        .parse()
        .expect("number");
    let raw = e["raw_body"].as_str().expect("raw body");
    assert_eq!(
        headers["webhook-signature"].as_str(),
        sign(
            &secret,
            e["webhook_id"].as_str().expect("id"),
            timestamp,
            raw.as_bytes()
        )
        .as_deref()
    );
    drop(stream);

    // Resuming from an id replays what came after it.
    let first = events[0]["delivery_id"].as_i64().expect("id");
    let mut resumed = app
        .client
        .get(app.url(&format!(
            "/admin/v1/apps/bot/deliveries/stream?after={}",
            first - 1
        )))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("stream");
    let replay = read_events(&mut resumed, 2).await;
    assert_eq!(replay[0]["delivery_id"], json!(first));
    let r = app
        .client
        .get(app.url("/admin/v1/apps/bot/deliveries/stream"))
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 401);
    drop(resumed);
    app.stop().await;
}

crate::on_both_backends!(the_stream_carries_each_new_delivery_with_its_signed_headers);
