//! Access tokens validated by an external authorization server (RFC 7662), here a small
//! introspection server inside the test.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use kenar_server::domain::Secret;
use kenar_server::introspection::IntrospectionConfig;
use serde_json::{json, Value};

use crate::helpers::{expect_status, Backend, TestApp};

#[derive(Default)]
struct Server {
    answers: Mutex<HashMap<String, Value>>,
    calls: AtomicUsize,
}

async fn introspection_server() -> (String, Arc<Server>) {
    let server = Arc::new(Server::default());
    let shared = Arc::clone(&server);
    let router = axum::Router::new().route(
        "/introspect",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let shared = Arc::clone(&shared);
            async move {
                shared.calls.fetch_add(1, Ordering::SeqCst);
                let expected = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("kenar-events:s3cret")
                );
                if headers.get("authorization").and_then(|v| v.to_str().ok())
                    != Some(expected.as_str())
                {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"error": "invalid_client"})),
                    );
                }
                let token = url::form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                let answer = shared
                    .answers
                    .lock()
                    .expect("lock")
                    .get(&token)
                    .cloned()
                    .unwrap_or(json!({"active": false}));
                (StatusCode::OK, axum::Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/introspect", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, server)
}

fn config(url: &str) -> IntrospectionConfig {
    IntrospectionConfig {
        url: url.to_owned(),
        client_id: "kenar-events".into(),
        client_secret: Secret::new("s3cret"),
        cache_ttl: Duration::from_secs(60),
    }
}

async fn external_tokens_are_introspected_cached_and_refused_when_inactive(backend: Backend) {
    let (url, server) = introspection_server().await;
    let app = TestApp::spawn_with(backend, |s| s.introspection = Some(config(&url))).await;
    app.create_app("app-a", Some("https://example.com/h")).await;
    app.create_app("app-b", Some("https://example.com/h")).await;
    app.create_user("u-1").await;
    let key = app
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let exp = (std::time::SystemTime::now() + Duration::from_secs(3600))
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    {
        let mut answers = server.answers.lock().expect("lock");
        answers.insert(
            "ext-good".into(),
            json!({"active": true, "client_id": "app-a", "sub": "u-1",
                   "scope": "USER_POSTS_GET SOMETHING_ELSE", "exp": exp, "token_type": "access_token"}),
        );
        answers.insert(
            "ext-other-app".into(),
            json!({"active": true, "client_id": "app-b", "sub": "u-1", "scope": "USER_POSTS_GET", "exp": exp}),
        );
        answers.insert(
            "ext-no-scope".into(),
            json!({"active": true, "client_id": "app-a", "sub": "u-1", "scope": "USER_ID", "exp": exp}),
        );
    }
    let body = json!({"event_type": "POST_UPDATE"});
    assert_eq!(
        app.register(Some(&key), Some("ext-good"), body.clone())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.register(Some(&key), Some("ext-good"), body.clone())
            .await
            .status(),
        200
    );
    assert_eq!(
        server.calls.load(Ordering::SeqCst),
        1,
        "the positive answer is cached"
    );
    let subs = app.subscriptions("app-a").await;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["active"], true);

    expect_status(
        app.register(Some(&key), Some("ext-unknown"), body.clone())
            .await,
        401,
        16,
    )
    .await;
    expect_status(
        app.register(Some(&key), Some("ext-other-app"), body.clone())
            .await,
        401,
        16,
    )
    .await;
    expect_status(
        app.register(Some(&key), Some("ext-no-scope"), body.clone())
            .await,
        403,
        7,
    )
    .await;
    // A token built in to this server means nothing when an external one is in charge.
    let (local, _) = app.mint_token("app-a", "u-1", &["USER_POSTS_GET"]).await;
    expect_status(app.register(Some(&key), Some(&local), body).await, 401, 16).await;
    app.stop().await;
}

async fn an_unreachable_authorization_server_is_unavailable_not_unauthenticated(backend: Backend) {
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/introspect", l.local_addr().expect("addr"))
    };
    let app = TestApp::spawn_with(backend, |s| s.introspection = Some(config(&down))).await;
    app.create_app("app-a", Some("https://example.com/h")).await;
    let key = app
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let r = app
        .register(
            Some(&key),
            Some("whatever"),
            json!({"event_type": "POST_UPDATE"}),
        )
        .await;
    expect_status(r, 503, 14).await;
    app.stop().await;
}

crate::on_both_backends!(
    external_tokens_are_introspected_cached_and_refused_when_inactive,
    an_unreachable_authorization_server_is_unavailable_not_unauthenticated,
);
