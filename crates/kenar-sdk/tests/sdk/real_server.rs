//! The SDK against the real `kenar-events` binary: every call, and every kind of error it
//! answers with.

use std::time::Duration;

use kenar_sdk::{Code, Error, EventType, RegisterSubscription, RetryPolicy, SendEvent};
use reqwest::Method;
use serde_json::json;

use crate::support::DevServer;

fn api_error(result: Result<impl std::fmt::Debug, Error>) -> kenar_sdk::ApiError {
    match result {
        Err(Error::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The API error `client` gets registering `request`.
async fn refused(client: &kenar_sdk::Client, request: RegisterSubscription) -> kenar_sdk::ApiError {
    api_error(client.events().register_subscription(request).await)
}

#[tokio::test]
async fn registers_every_kind_of_subscription_and_renews_one() {
    let server = DevServer::start();
    let events = server.client();
    let post = server.get("post_token");
    for request in [
        RegisterSubscription::new_messages_on_post(&post).metadata(json!({"shop": 1})),
        RegisterSubscription::new_messages_on_all_posts(),
        RegisterSubscription::post_updates(),
        RegisterSubscription::post_updates().post(&post),
        // Registering again renews the subscription and replaces its metadata.
        RegisterSubscription::new_messages_on_post(&post).metadata(json!({"shop": 2})),
    ] {
        events
            .events()
            .register_subscription(request.clone())
            .await
            .unwrap_or_else(|e| panic!("{request:?}: {e}"));
    }
    let listed = server
        .admin(
            Method::GET,
            "/admin/v1/apps/dev-app/subscriptions",
            json!({}),
        )
        .await;
    let subscriptions = listed["subscriptions"].as_array().expect("a list");
    assert_eq!(subscriptions.len(), 4, "{listed}");
    let on_post = subscriptions
        .iter()
        .find(|s| {
            s["event_type"] == "NEW_MESSAGE_ON_POST" && s["event_resource_id"] == post.as_str()
        })
        .expect("the post's subscription");
    assert_eq!(on_post["metadata"], json!({"shop": 2}));
}

#[tokio::test]
async fn a_per_call_access_token_overrides_the_clients() {
    let server = DevServer::start();
    let client = kenar_sdk::Client::builder(server.get("api_key"))
        .base_url(server.get("base_url"))
        .access_token("not-a-valid-token")
        .build()
        .expect("a client");
    let err = refused(&client, RegisterSubscription::post_updates()).await;
    assert_eq!(err.code(), Code::Unauthenticated);
    client
        .events()
        .register_subscription(
            RegisterSubscription::post_updates().access_token(server.get("access_token")),
        )
        .await
        .expect("the per-call token is used");
    client
        .with_access_token(server.get("access_token"))
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await
        .expect("with_access_token is used");
}

#[tokio::test]
async fn unknown_credentials_are_unauthenticated_401() {
    let server = DevServer::start();
    let bad_key = kenar_sdk::Client::builder("kenar_key_unknown")
        .base_url(server.get("base_url"))
        .access_token(server.get("access_token"))
        .build()
        .expect("a client");
    let err = refused(&bad_key, RegisterSubscription::post_updates()).await;
    assert_eq!(
        (err.http_status(), err.code()),
        (401, Code::Unauthenticated)
    );
    assert!(!err.message().is_empty());

    let bad_token = server.client().with_access_token("kenar_at_unknown");
    let err = refused(&bad_token, RegisterSubscription::post_updates()).await;
    assert_eq!(
        (err.http_status(), err.code()),
        (401, Code::Unauthenticated)
    );
}

#[tokio::test]
async fn a_key_without_the_permission_and_a_token_without_the_scope_are_denied_403() {
    let server = DevServer::start();
    let send_only_key = server.api_key("dev-app", &["EVENTS_SEND"]).await;
    let client = server.client();
    let without_permission = kenar_sdk::Client::builder(send_only_key)
        .base_url(server.get("base_url"))
        .access_token(server.get("access_token"))
        .build()
        .expect("a client");
    let err = refused(&without_permission, RegisterSubscription::post_updates()).await;
    assert_eq!(
        (err.http_status(), err.code()),
        (403, Code::PermissionDenied)
    );

    let posts_only = server.access_token("dev-app", &["USER_POSTS_GET"]).await;
    let err = refused(
        &client,
        RegisterSubscription::new_messages_on_post(server.get("post_token"))
            .access_token(posts_only),
    )
    .await;
    assert_eq!(
        (err.http_status(), err.code()),
        (403, Code::PermissionDenied)
    );
}

#[tokio::test]
async fn an_invalid_request_is_400_with_its_field_violations() {
    let server = DevServer::start();
    let err = refused(
        &server.client(),
        RegisterSubscription::post_updates().post("not a token!"),
    )
    .await;
    assert_eq!(
        (err.http_status(), err.code()),
        (400, Code::InvalidArgument)
    );
    let fields: Vec<&str> = err
        .field_violations()
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["event_resource_id"], "{err}");
    assert!(err.to_string().contains("event_resource_id"), "{err}");

    let huge = "x".repeat(5000);
    let err = refused(
        &server.client(),
        RegisterSubscription::post_updates().metadata(json!({"a": huge})),
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.field_violations()[0].field, "metadata");
}

#[tokio::test]
async fn an_unknown_post_is_404() {
    let server = DevServer::start();
    let err = refused(
        &server.client(),
        RegisterSubscription::new(EventType::PostUpdate).post("Unknown1"),
    )
    .await;
    assert_eq!((err.http_status(), err.code()), (404, Code::NotFound));
}

#[tokio::test]
async fn an_app_without_a_webhook_url_fails_the_precondition_400() {
    let server = DevServer::start();
    server
        .admin(Method::POST, "/admin/v1/apps", json!({"slug": "no-hook"}))
        .await;
    let key = server
        .api_key("no-hook", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let token = server.access_token("no-hook", &["USER_POSTS_GET"]).await;
    let client = kenar_sdk::Client::builder(key)
        .base_url(server.get("base_url"))
        .access_token(token)
        .build()
        .expect("a client");
    let err = refused(&client, RegisterSubscription::post_updates()).await;
    assert_eq!(
        (err.http_status(), err.code()),
        (400, Code::FailedPrecondition)
    );
}

#[tokio::test]
async fn sends_events_in_the_query_form_and_with_buttons_in_the_body_form() {
    let server = DevServer::start();
    let client = server.client();
    let post = server.get("post_token");
    client
        .events()
        .send(SendEvent::to_user(
            server.get("user_id"),
            "سلام، گزارش آماده است",
        ))
        .await
        .expect("the query form is accepted");
    client
        .events()
        .send(
            SendEvent::to_post(&post, "گزارش بازدید")
                .link_button("مشاهده گزارش", "https://example.com/r/1")
                .post_page_button("دیدن آگهی", &post),
        )
        .await
        .expect("the body form is accepted");

    let err = api_error(
        client
            .events()
            .send(SendEvent::to_post(&post, "m").link_button("abc", "https://example.com"))
            .await,
    );
    assert_eq!(
        (err.http_status(), err.code()),
        (400, Code::InvalidArgument)
    );
    assert!(
        err.field_violations()
            .iter()
            .any(|v| v.field.starts_with("buttons.items[0].title")),
        "{err}"
    );
    let err = api_error(
        client
            .events()
            .send(SendEvent::to_user("someone-else", "m"))
            .await,
    );
    assert_eq!(err.http_status() / 100, 4, "{err}");
}

#[tokio::test]
async fn a_rate_limited_call_is_429_with_its_retry_after() {
    let server = DevServer::start();
    server
        .admin(
            Method::PATCH,
            "/admin/v1/apps/dev-app",
            json!({"rate_limit_per_minute": 1}),
        )
        .await;
    let client = server.client();
    client
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await
        .expect("the first call is within the limit");
    // Retries allowed, but not for as long as the server asks: the error comes at once.
    let impatient = server
        .client_builder()
        .retry_policy(RetryPolicy::default().max_retry_after(Duration::ZERO))
        .build()
        .expect("a client");
    let err = refused(&impatient, RegisterSubscription::post_updates()).await;
    assert_eq!(
        (err.http_status(), err.code()),
        (429, Code::ResourceExhausted)
    );
    let wait = err.retry_after().expect("a Retry-After");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(err.attempts(), 1);
}

#[tokio::test]
async fn a_rate_limited_call_is_retried_after_the_servers_retry_after() {
    let server = DevServer::start();
    server
        .admin(
            Method::PATCH,
            "/admin/v1/apps/dev-app",
            json!({"rate_limit_per_minute": 1}),
        )
        .await;
    let client = server
        .client_builder()
        .retry_policy(RetryPolicy::default().max_retries(2))
        .build()
        .expect("a client");
    // The server counts in fixed UTC minutes: start three seconds before one ends, so that
    // the Retry-After the second call gets is short.
    let into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() % 60_000)
        .unwrap_or(0) as u64;
    let wait = if into_minute < 57_000 {
        57_000 - into_minute
    } else if into_minute > 58_500 {
        // Too close to the boundary: the two calls could fall in different minutes.
        60_000 - into_minute + 57_000
    } else {
        0
    };
    tokio::time::sleep(Duration::from_millis(wait)).await;
    client
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await
        .expect("the first call is within the limit");
    let started = std::time::Instant::now();
    client
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await
        .expect("retried once the window ended");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}
