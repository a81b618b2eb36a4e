//! Automatic retries: what is retried, how long the client waits, and what is never sent twice.

use std::time::{Duration, Instant};

use kenar_sdk::{Client, Code, Error, RegisterSubscription, RetryPolicy, SendEvent};
use serde_json::json;

use crate::support::{closed_port, json_response, status_response, HangUp, Stub};

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(2)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(20))
}

fn client(url: &str, policy: RetryPolicy) -> Client {
    Client::builder("key")
        .base_url(url)
        .access_token("token")
        .timeout(Duration::from_millis(500))
        .retry_policy(policy)
        .build()
        .expect("a client")
}

fn transport_error(result: Result<impl std::fmt::Debug, Error>) -> kenar_sdk::TransportError {
    match result {
        Err(Error::Transport(e)) => e,
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_the_server_asked_for() {
    let stub = Stub::start(|n, _| match n {
        0 => status_response(429, 8, "slow down", &[("retry-after", "1")]),
        _ => json_response(200, &json!({}), &[]),
    })
    .await;
    let started = Instant::now();
    client(&stub.url(), quick())
        .events()
        .send(SendEvent::to_user("u", "m"))
        .await
        .expect("the retry succeeds");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited only {:?}",
        started.elapsed()
    );
    assert_eq!(
        stub.requests().len(),
        2,
        "a 429 means not applied: sent again"
    );
}

#[tokio::test]
async fn a_503_is_retried_with_backoff_until_it_succeeds() {
    let stub = Stub::start(|n, _| match n {
        0 | 1 => status_response(503, 14, "busy", &[]),
        _ => json_response(200, &json!({}), &[]),
    })
    .await;
    client(&stub.url(), quick())
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await
        .expect("the third attempt succeeds");
    assert_eq!(stub.requests().len(), 3);
}

#[tokio::test]
async fn retries_stop_at_the_policys_limit_with_the_last_answer() {
    let stub = Stub::start(|_, _| status_response(503, 14, "down", &[])).await;
    let err = client(&stub.url(), quick())
        .events()
        .send(SendEvent::to_user("u", "m"))
        .await
        .expect_err("always down");
    let api = err.api().expect("an API error");
    assert_eq!((api.http_status(), api.code()), (503, Code::Unavailable));
    assert_eq!(api.attempts(), 3);
    assert_eq!(stub.requests().len(), 3);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_policy_accepts_ends_the_call_at_once() {
    let stub =
        Stub::start(|_, _| status_response(429, 8, "tomorrow", &[("retry-after", "3600")])).await;
    let started = Instant::now();
    let err = client(&stub.url(), quick())
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await
        .expect_err("rate limited");
    assert!(started.elapsed() < Duration::from_secs(5));
    let api = err.api().expect("an API error");
    assert_eq!(api.code(), Code::ResourceExhausted);
    assert_eq!(api.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn other_error_answers_are_never_retried() {
    for status in [400, 401, 403, 404, 500, 502] {
        let stub = Stub::start(move |_, _| status_response(status, 13, "no", &[])).await;
        let err = client(&stub.url(), quick())
            .events()
            .register_subscription(RegisterSubscription::post_updates())
            .await
            .expect_err("refused");
        assert_eq!(err.http_status(), Some(status));
        assert_eq!(stub.requests().len(), 1, "HTTP {status}");
    }
}

#[tokio::test]
async fn no_retries_with_the_none_policy() {
    let stub = Stub::start(|_, _| status_response(503, 14, "busy", &[])).await;
    let _ = client(&stub.url(), RetryPolicy::none())
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await;
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn a_failure_to_connect_is_retried_even_for_a_send() {
    let url = closed_port();
    let err = transport_error(
        client(&url, quick())
            .events()
            .send(SendEvent::to_user("u", "m"))
            .await,
    );
    assert!(err.is_connect(), "{err}");
    assert_eq!(err.attempts(), 3, "nothing was sent, so retrying is safe");
}

#[tokio::test]
async fn a_send_is_never_retried_once_the_server_may_have_received_it() {
    let server = HangUp::start(false).await;
    let err = transport_error(
        client(&server.url(), quick())
            .events()
            .send(SendEvent::to_user("u", "m"))
            .await,
    );
    assert!(!err.is_connect(), "{err}");
    assert_eq!(err.attempts(), 1);
    assert_eq!(server.connections(), 1, "sent once only");
}

#[tokio::test]
async fn a_send_that_times_out_is_not_retried() {
    let server = HangUp::start(true).await;
    let err = transport_error(
        client(&server.url(), quick())
            .events()
            .send(SendEvent::to_user("u", "m").link_button("a title", "https://example.com"))
            .await,
    );
    assert!(err.is_timeout(), "{err}");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_registration_is_retried_after_a_broken_connection_or_a_timeout() {
    for hold in [false, true] {
        let server = HangUp::start(hold).await;
        let err = transport_error(
            client(&server.url(), quick())
                .events()
                .register_subscription(RegisterSubscription::post_updates())
                .await,
        );
        assert_eq!(err.is_timeout(), hold, "{err}");
        assert_eq!(err.attempts(), 3, "registration is idempotent");
        assert_eq!(server.connections(), 3);
    }
}
