//! Bad input never yields a panic or a 500: each gets a 4xx `google.rpc.Status` saying why.

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::helpers::{expect_status, Backend, TestApp};

struct Caller {
    app: TestApp,
    key: String,
    token: String,
}

impl Caller {
    async fn new(backend: Backend) -> Caller {
        let app = TestApp::spawn(backend).await;
        app.create_app("app-a", Some("https://example.com/hook"))
            .await;
        app.create_user("u-1").await;
        app.create_post("gZd7omnS", "u-1").await;
        let key = app
            .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
            .await;
        let (token, _) = app
            .mint_token(
                "app-a",
                "u-1",
                &["USER_POSTS_GET", "CHAT_SUPPLIER_ALL_CONVERSATIONS_READ"],
            )
            .await;
        Caller { app, key, token }
    }

    async fn raw(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/v1/open-platform/events/subscriptions"))
            .header("X-API-Key", &self.key)
            .bearer_auth(&self.token)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }
}

fn fields(v: &Value) -> Vec<String> {
    v["details"][0]["field_violations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn malformed_bodies_get_invalid_argument(backend: Backend) {
    let c = Caller::new(backend).await;
    for (label, body) in [
        ("not JSON", b"event_type=POST_UPDATE".to_vec()),
        ("truncated JSON", b"{\"event_type\": ".to_vec()),
        ("an array", b"[]".to_vec()),
        ("a string", b"\"POST_UPDATE\"".to_vec()),
        ("invalid UTF-8", b"{\"event_type\": \"POST_\xff\"}".to_vec()),
        (
            "deeply nested",
            format!("{{\"metadata\": {}{}}}", "[".repeat(500), "]".repeat(500)).into_bytes(),
        ),
    ] {
        let v = expect_status(c.raw(body).await, 400, 3).await;
        assert!(!v["message"].as_str().unwrap_or("").is_empty(), "{label}");
    }
    c.app.stop().await;
}

async fn oversized_bodies_are_refused_before_parsing(backend: Backend) {
    let c = Caller::new(backend).await;
    let big = format!(
        "{{\"event_type\": \"POST_UPDATE\", \"pad\": \"{}\"}}",
        "x".repeat(70_000)
    );
    let v = expect_status(c.raw(big).await, 400, 3).await;
    assert!(v["message"].as_str().unwrap_or("").contains("65536"), "{v}");
    c.app.stop().await;
}

async fn wrong_fields_are_each_listed_as_violations(backend: Backend) {
    let c = Caller::new(backend).await;
    let cases = [
        (json!({"event_type": "FOO"}), vec!["event_type"]),
        (json!({"event_type": 1}), vec!["event_type"]),
        (json!({}), vec!["event_type"]),
        (
            json!({"event_type": "POST_UPDATE", "event_resource_id": 42}),
            vec!["event_resource_id"],
        ),
        (
            json!({"event_type": "POST_UPDATE", "event_resource_id": "x".repeat(10_000)}),
            vec!["event_resource_id"],
        ),
        (
            json!({"event_type": "POST_UPDATE", "event_resource_id": "../../etc"}),
            vec!["event_resource_id"],
        ),
        (
            json!({"event_type": "POST_UPDATE", "metadata": "text"}),
            vec!["metadata"],
        ),
        (
            json!({"event_type": "POST_UPDATE", "metadata": [1, 2]}),
            vec!["metadata"],
        ),
        (
            json!({"event_type": "POST_UPDATE", "metadata": {"big": "y".repeat(5000)}}),
            vec!["metadata"],
        ),
        (
            json!({"event_type": "NOPE", "event_resource_id": false, "metadata": 3}),
            vec!["event_type", "event_resource_id", "metadata"],
        ),
    ];
    for (body, expected) in cases {
        let v = expect_status(c.raw(body.to_string()).await, 400, 3).await;
        assert_eq!(fields(&v), expected, "{body}");
        assert_eq!(
            v["details"][0]["@type"],
            "type.googleapis.com/google.rpc.BadRequest"
        );
    }
    c.app.stop().await;
}

async fn an_unknown_enum_matches_the_contract_error_vector(backend: Backend) {
    let c = Caller::new(backend).await;
    let vector: Value = serde_json::from_str(include_str!(
        "../../../../../shared/contract/vectors/error_invalid_argument.json"
    ))
    .expect("vector");
    let v = expect_status(c.raw(r#"{"event_type": "FOO"}"#).await, 400, 3).await;
    assert_eq!(v["details"], vector["details"]);
    c.app.stop().await;
}

async fn unknown_fields_are_ignored(backend: Backend) {
    let c = Caller::new(backend).await;
    let r = c
        .raw(r#"{"event_type": "POST_UPDATE", "future_field": {"x": 1}}"#)
        .await;
    assert_eq!(r.status(), 200);
    c.app.stop().await;
}

async fn unknown_paths_and_methods_get_status_bodies(backend: Backend) {
    let c = Caller::new(backend).await;
    let r = c
        .app
        .client
        .get(c.app.url("/v1/nope"))
        .send()
        .await
        .expect("request");
    expect_status(r, 404, 5).await;
    let r = c
        .app
        .client
        .get(c.app.url("/v1/open-platform/events/subscriptions"))
        .send()
        .await
        .expect("request");
    expect_status(r, 405, 12).await;
    let r = c
        .app
        .client
        .delete(c.app.url("/admin/v1/apps"))
        .send()
        .await
        .expect("request");
    expect_status(r, 405, 12).await;
    c.app.stop().await;
}

crate::on_both_backends!(
    malformed_bodies_get_invalid_argument,
    oversized_bodies_are_refused_before_parsing,
    wrong_fields_are_each_listed_as_violations,
    an_unknown_enum_matches_the_contract_error_vector,
    unknown_fields_are_ignored,
    unknown_paths_and_methods_get_status_bodies,
);
