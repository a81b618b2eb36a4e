//! The public API keeps the credentials and post owners it read for a moment; a change this
//! process makes is obeyed by the very next call, cache or not.

use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};

crate::on_both_backends!(changes_are_obeyed_at_once_by_the_next_call);

/// Registers for messages on `ownPost1`: (HTTP status, `google.rpc` code; 0 when it worked).
async fn register(app: &TestApp, key: &str, token: &str) -> (u16, i64) {
    let body = json!({"event_type": "NEW_MESSAGE_ON_POST", "event_resource_id": "ownPost1"});
    let r = app.register(Some(key), Some(token), body).await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_i64().unwrap_or(0))
}

async fn give_post_to(app: &TestApp, owner: &str) {
    let results = app
        .ingest(
            json!([{"post_update": {"type": "PUBLISH", "post": {"token": "ownPost1"}},
                        "owner_id": owner}]),
        )
        .await;
    assert!(results[0]["event_id"].is_string(), "{results:?}");
}

async fn changes_are_obeyed_at_once_by_the_next_call(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_app("app-a", Some("http://127.0.0.1:9/hook"))
        .await;
    let key = app
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    app.create_user("u-1").await;
    app.create_user("u-2").await;
    app.create_post("ownPost1", "u-1").await;
    let scope = "CHAT_POST_CONVERSATIONS_READ.ownPost1";
    let (token, _) = app.mint_token("app-a", "u-1", &[scope]).await;

    // Read (and kept): the key, the token, the post.
    assert_eq!(register(&app, &key, &token).await, (200, 0));

    // The post changes hands through ingestion, and back.
    give_post_to(&app, "u-2").await;
    assert_eq!(register(&app, &key, &token).await, (403, 7));
    give_post_to(&app, "u-1").await;
    assert_eq!(register(&app, &key, &token).await, (200, 0));

    // The token is revoked.
    let r = app
        .admin_post("/admin/v1/tokens/revoke", json!({"token": token}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(register(&app, &key, &token).await, (401, 16));

    // A fresh token works; then the key is revoked.
    let (token, _) = app.mint_token("app-a", "u-1", &[scope]).await;
    assert_eq!(register(&app, &key, &token).await, (200, 0));
    let keys: Value = app
        .admin_get("/admin/v1/apps/app-a/keys")
        .await
        .json()
        .await
        .expect("keys");
    let key_id = keys["keys"][0]["id"].as_i64().expect("key id");
    let path = format!("/admin/v1/apps/app-a/keys/{key_id}");
    let r = app.admin(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(register(&app, &key, &token).await, (401, 16));
    app.stop().await;
}
