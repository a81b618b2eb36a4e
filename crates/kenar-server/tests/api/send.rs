//! Sending events to users (contract 1.2), feeds, reading, and button presses with a real
//! dynamic-action server (contract 3.4).

use std::sync::{Arc, Mutex};

use axum::routing::post;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_json, expect_status, Backend, TestApp, PLATFORM};

struct Setup {
    app: TestApp,
    key: String,
    token: String,
    /// The user as app-a knows them.
    user_id: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    app.create_app("app-a", Some("https://example.com/hook"))
        .await;
    app.create_user("u-1").await;
    app.create_user("u-2").await;
    app.create_post("gZd7omnS", "u-1").await;
    app.create_post("otherPst", "u-2").await;
    let key = app.create_key("app-a", &["EVENTS_SEND"]).await;
    let (token, user_id) = app.mint_token("app-a", "u-1", &["SEND_EVENT"]).await;
    Setup {
        app,
        key,
        token,
        user_id,
    }
}

impl Setup {
    /// The query form, as the official SDKs send it: no body, no Content-Type.
    async fn send_query(&self, token: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/experimental/open-platform/events/send"))
            .query(params)
            .header("X-API-Key", &self.key)
            .header("Connection", "close")
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    async fn send_body(&self, body: Value) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/experimental/open-platform/events/send"))
            .header("X-API-Key", &self.key)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    async fn platform_get(&self, path: &str) -> Value {
        let r = self
            .app
            .client
            .get(self.app.url(path))
            .bearer_auth(PLATFORM)
            .send()
            .await
            .expect("request");
        expect_json(r, StatusCode::OK).await
    }

    async fn platform_post(&self, path: &str) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(PLATFORM)
            .send()
            .await
            .expect("request")
    }
}

async fn the_query_form_sends_to_the_user_and_lands_in_their_feed(backend: Backend) {
    let s = setup(backend).await;
    let message = "گزارش کارشناسی خودرو آماده است & more";
    let r = s
        .send_query(
            &s.token,
            &[
                ("message", message),
                ("target_type", "USER"),
                ("target_resource_id", &s.user_id),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "{}");
    let feed = s.platform_get("/v1/platform/users/u-1/feed").await;
    let events = feed["events"].as_array().expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["message"], message);
    assert_eq!(events[0]["app"]["slug"], "app-a");
    assert_eq!(events[0]["target_type"], "USER");
    assert_eq!(events[0]["read"], false);
    assert!(
        s.platform_get("/v1/platform/users/u-2/feed").await["events"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    let id = events[0]["id"].as_str().expect("id");
    let r = s
        .platform_post(&format!("/v1/platform/feed-events/{id}/read"))
        .await;
    assert_eq!(expect_json(r, StatusCode::OK).await["read"], true);
    s.app.stop().await;
}

async fn the_body_form_with_buttons_sends_to_a_post(backend: Backend) {
    let s = setup(backend).await;
    let vector: Value = serde_json::from_str(include_str!(
        "../../../../../shared/contract/vectors/send_event_request_body.json"
    ))
    .expect("vector");
    let r = s.send_body(vector.clone()).await;
    assert_eq!(r.status(), 200);
    let feed = s.platform_get("/v1/platform/posts/gZd7omnS/feed").await;
    let event = &feed["events"][0];
    assert_eq!(event["target_type"], "POST");
    assert_eq!(event["post_token"], "gZd7omnS");
    assert_eq!(event["buttons"], vector["buttons"]);
    // The post's owner sees it in their feed too.
    let mine = s.platform_get("/v1/platform/users/u-1/feed").await;
    assert_eq!(mine["events"].as_array().map(Vec::len), Some(1));
    s.app.stop().await;
}

async fn every_denial_gets_the_contracts_error(backend: Backend) {
    let s = setup(backend).await;
    let no_scope = s.app.mint_token("app-a", "u-1", &["USER_ID"]).await.0;
    let (_, other_user) = s.app.mint_token("app-a", "u-2", &["SEND_EVENT"]).await;
    let register_only = s
        .app
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let user = s.user_id.clone();
    let ok = [
        ("message", "hi"),
        ("target_type", "USER"),
        ("target_resource_id", user.as_str()),
    ];

    expect_status(s.send_query(&no_scope, &ok).await, 403, 7).await;
    let r = s
        .send_query(
            &s.token,
            &[
                ("message", "hi"),
                ("target_type", "USER"),
                ("target_resource_id", &other_user),
            ],
        )
        .await;
    expect_status(r, 403, 7).await;
    let r = s
        .send_query(
            &s.token,
            &[
                ("message", "hi"),
                ("target_type", "POST"),
                ("target_resource_id", "otherPst"),
            ],
        )
        .await;
    expect_status(r, 403, 7).await;
    let r = s
        .send_query(
            &s.token,
            &[
                ("message", "hi"),
                ("target_type", "POST"),
                ("target_resource_id", "noSuchPo"),
            ],
        )
        .await;
    expect_status(r, 404, 5).await;
    let r = s
        .app
        .client
        .post(s.app.url("/experimental/open-platform/events/send"))
        .query(&ok)
        .header("X-API-Key", &register_only)
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("request");
    expect_status(r, 403, 7).await;
    let r = s
        .app
        .client
        .post(s.app.url("/experimental/open-platform/events/send"))
        .query(&ok)
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("request");
    expect_status(r, 401, 16).await;

    let fields = |v: &Value| -> Vec<String> {
        v["details"][0]["field_violations"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let v = expect_status(s.send_query(&s.token, &[]).await, 400, 3).await;
    assert_eq!(fields(&v), ["message", "target_type", "target_resource_id"]);
    let long = "x".repeat(1001);
    let v = expect_status(
        s.send_query(
            &s.token,
            &[
                ("message", &long),
                ("target_type", "USER"),
                ("target_resource_id", &user),
            ],
        )
        .await,
        400,
        3,
    )
    .await;
    assert_eq!(fields(&v), ["message"]);
    let v = expect_status(
        s.send_body(
            json!({"message": "m", "target_type": "USER", "target_resource_id": user,
            "buttons": {"items": [
                {"title": "خیلی", "action": {"open_direct_link": "https://e.com"}},
                {"title": "مشاهده گزارش", "action": {}},
                {"title": "مشاهده گزارش", "action": {"open_direct_link": "javascript:alert(1)"}},
            ]}}),
        )
        .await,
        400,
        3,
    )
    .await;
    assert_eq!(
        fields(&v),
        [
            "buttons.items[0].title",
            "buttons.items[1].action",
            "buttons.items[2].action.open_direct_link"
        ]
    );
    let six: Vec<Value> = (0..6)
        .map(|_| json!({"title": "a title", "action": {"open_post_page": {"post_token": "gZd7omnS"}}}))
        .collect();
    let v = expect_status(
        s.send_body(
            json!({"message": "m", "target_type": "USER", "target_resource_id": user,
                           "buttons": {"items": six}}),
        )
        .await,
        400,
        3,
    )
    .await;
    assert_eq!(fields(&v), ["buttons.items"]);
    assert!(
        s.platform_get("/v1/platform/users/u-1/feed").await["events"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    s.app.stop().await;
}

/// A small app server answering dynamic actions; records what it was asked.
async fn dynamic_action_server(
    answer: Value,
    status: u16,
) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let recorded = Arc::clone(&seen);
    let router = axum::Router::new().route(
        "/action",
        post(
            move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let recorded = Arc::clone(&recorded);
                let answer = answer.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    recorded.lock().expect("lock").push((auth, body.0));
                    (
                        axum::http::StatusCode::from_u16(status).expect("status"),
                        axum::Json(answer),
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/action", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, seen)
}

async fn pressing_buttons_resolves_static_and_dynamic_actions(backend: Backend) {
    let s = setup(backend).await;
    let (url, seen) = dynamic_action_server(
        serde_json::from_str(include_str!(
            "../../../../../shared/contract/vectors/dynamic_action_response.json"
        ))
        .expect("vector"),
        200,
    )
    .await;
    let r = s
        .app
        .admin(
            reqwest::Method::PATCH,
            "/admin/v1/apps/app-a",
            Some(json!({"dynamic_action_url": url})),
        )
        .await;
    let app_view = expect_json(r, StatusCode::OK).await;
    let vector: Value = serde_json::from_str(include_str!(
        "../../../../../shared/contract/vectors/send_event_request_body.json"
    ))
    .expect("vector");
    assert_eq!(s.send_body(vector).await.status(), 200);
    let feed = s.platform_get("/v1/platform/posts/gZd7omnS/feed").await;
    let id = feed["events"][0]["id"].as_str().expect("id").to_owned();

    let r = s
        .platform_post(&format!("/v1/platform/feed-events/{id}/buttons/0/press"))
        .await;
    let v = expect_json(r, StatusCode::OK).await;
    assert_eq!(
        v["action"]["open_direct_link"],
        "https://example.com/report/1"
    );
    assert!(
        seen.lock().expect("lock").is_empty(),
        "a static action needs no call"
    );

    let r = s
        .platform_post(&format!("/v1/platform/feed-events/{id}/buttons/1/press"))
        .await;
    let v = expect_json(r, StatusCode::OK).await;
    assert_eq!(v["text_message"], "اطلاعات با موفقیت ثبت شد");
    assert_eq!(
        v["action"]["open_direct_link"],
        "https://your-domain.com/direct-link"
    );
    let calls = seen.lock().expect("lock").clone();
    assert_eq!(calls.len(), 1);
    let (auth, body) = &calls[0];
    assert_eq!(auth, app_view["identification_key"].as_str().expect("key"));
    assert_eq!(body["user_id"], json!(s.user_id));
    assert_eq!(body["post_token"], "gZd7omnS");
    assert_eq!(body["extra_data"], json!({"report_id": "1"}));
    assert_eq!(body["request_data"]["event_id"], json!(id));
    assert!(body["touchpoint"].is_string());

    let r = s
        .platform_post(&format!("/v1/platform/feed-events/{id}/buttons/7/press"))
        .await;
    expect_status(r, 404, 5).await;
    s.app.stop().await;
}

async fn an_app_that_is_down_or_answers_garbage_gets_a_clear_error(backend: Backend) {
    let s = setup(backend).await;
    let body = json!({"message": "m", "target_type": "USER", "target_resource_id": s.user_id,
        "buttons": {"items": [{"title": "press me", "action": {"get_dynamic_action": {"data": {}}}}]}});
    assert_eq!(s.send_body(body).await.status(), 200);
    let feed = s.platform_get("/v1/platform/users/u-1/feed").await;
    let id = feed["events"][0]["id"].as_str().expect("id").to_owned();
    let press = format!("/v1/platform/feed-events/{id}/buttons/0/press");
    // No dynamic-action URL configured.
    expect_status(s.platform_post(&press).await, 400, 9).await;

    let (garbage, _) = dynamic_action_server(json!({"action": {"open_nothing": 1}}), 200).await;
    let (failing, _) = dynamic_action_server(json!({}), 500).await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/action", l.local_addr().expect("addr"))
    };
    for (url, needle) in [
        (garbage, "not a dynamic-action response"),
        (failing, "HTTP 500"),
        (down, "could not be reached"),
    ] {
        let r = s
            .app
            .admin(
                reqwest::Method::PATCH,
                "/admin/v1/apps/app-a",
                Some(json!({"dynamic_action_url": url})),
            )
            .await;
        assert_eq!(r.status(), 200);
        let v = expect_status(s.platform_post(&press).await, 503, 14).await;
        assert!(v["message"].as_str().unwrap_or("").contains(needle), "{v}");
    }
    s.app.stop().await;
}

async fn feeds_are_paginated_newest_first(backend: Backend) {
    let s = setup(backend).await;
    for i in 0..5 {
        let m = format!("event {i}");
        let r = s
            .send_query(
                &s.token,
                &[
                    ("message", &m),
                    ("target_type", "USER"),
                    ("target_resource_id", &s.user_id),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    let first = s
        .platform_get("/v1/platform/users/u-1/feed?page_size=2")
        .await;
    let messages = |v: &Value| -> Vec<String> {
        v["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["message"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(messages(&first), ["event 4", "event 3"]);
    let token = first["next_page_token"].as_str().expect("more");
    let second = s
        .platform_get(&format!(
            "/v1/platform/users/u-1/feed?page_size=2&page_token={token}"
        ))
        .await;
    assert_eq!(messages(&second), ["event 2", "event 1"]);
    let r = s
        .app
        .client
        .get(s.app.url("/v1/platform/users/u-1/feed"))
        .send()
        .await
        .expect("request");
    expect_status(r, 401, 16).await;
    s.app.stop().await;
}

crate::on_both_backends!(
    the_query_form_sends_to_the_user_and_lands_in_their_feed,
    the_body_form_with_buttons_sends_to_a_post,
    every_denial_gets_the_contracts_error,
    pressing_buttons_resolves_static_and_dynamic_actions,
    an_app_that_is_down_or_answers_garbage_gets_a_clear_error,
    feeds_are_paginated_newest_first,
);
