//! The exact requests the SDK sends, as a stub server receives them.

use kenar_sdk::{Client, Code, Error, RegisterSubscription, RetryPolicy, SendEvent};
use serde_json::json;

use crate::support::{json_response, status_response, Stub};

fn client(stub: &Stub) -> Client {
    Client::builder("key-1")
        .base_url(format!("{}/", stub.url()))
        .access_token("token-1")
        .user_agent("sdk-tests/1")
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("a client")
}

#[tokio::test]
async fn a_send_without_buttons_travels_as_query_parameters_with_no_body() {
    let stub = Stub::always(200, json!({})).await;
    client(&stub)
        .events()
        .send(SendEvent::to_user("u-1", "سلام & welcome = 100%"))
        .await
        .expect("sent");
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/experimental/open-platform/events/send");
    assert_eq!(
        r.query_pairs(),
        [
            ("message".to_owned(), "سلام & welcome = 100%".to_owned()),
            ("target_type".to_owned(), "USER".to_owned()),
            ("target_resource_id".to_owned(), "u-1".to_owned()),
        ]
    );
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-type"), None);
    assert_eq!(r.header("content-length"), Some("0"));
    assert_eq!(r.header("x-api-key"), Some("key-1"));
    assert_eq!(r.header("authorization"), Some("Bearer token-1"));
    assert_eq!(r.header("user-agent"), Some("sdk-tests/1"));
}

#[tokio::test]
async fn a_send_with_buttons_travels_as_a_json_body() {
    let stub = Stub::always(200, json!({})).await;
    client(&stub)
        .events()
        .send(
            SendEvent::to_post("gZd7omnS", "گزارش")
                .link_button("مشاهده گزارش", "https://example.com/r/1")
                .server_link_button("server link", json!({"k": "v"}))
                .dynamic_action_button("dynamic action", json!({"plan": "gold"}))
                .post_page_button("the post page", "gZd7omnS")
                .post_manage_page_button("manage the post", "gZd7omnS")
                .access_token("per-call"),
        )
        .await
        .expect("sent");
    let r = &stub.requests()[0];
    assert_eq!(r.path, "/experimental/open-platform/events/send");
    assert_eq!(r.query, None);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), Some("Bearer per-call"));
    assert_eq!(
        r.json(),
        json!({"message": "گزارش", "target_type": "POST", "target_resource_id": "gZd7omnS",
        "buttons": {"items": [
            {"title": "مشاهده گزارش", "action": {"open_direct_link": "https://example.com/r/1"}},
            {"title": "server link", "action": {"open_server_link": {"data": {"k": "v"}}}},
            {"title": "dynamic action", "action": {"get_dynamic_action": {"data": {"plan": "gold"}}}},
            {"title": "the post page", "action": {"open_post_page": {"post_token": "gZd7omnS"}}},
            {"title": "manage the post", "action": {"open_post_manage_page": {"post_token": "gZd7omnS"}}}
        ]}})
    );
}

#[tokio::test]
async fn the_body_form_can_be_asked_for_without_buttons() {
    let stub = Stub::always(200, json!({})).await;
    client(&stub)
        .events()
        .send(SendEvent::to_user("u-1", "hello").body_form())
        .await
        .expect("sent");
    let r = &stub.requests()[0];
    assert_eq!(
        r.json(),
        json!({"message": "hello", "target_type": "USER", "target_resource_id": "u-1"})
    );
}

#[tokio::test]
async fn a_registration_is_a_json_body_with_both_credentials() {
    let stub = Stub::always(200, json!({})).await;
    client(&stub)
        .events()
        .register_subscription(
            RegisterSubscription::new_messages_on_post("gZd7omnS").metadata(json!({"chat": 7})),
        )
        .await
        .expect("registered");
    let r = &stub.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/open-platform/events/subscriptions");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-api-key"), Some("key-1"));
    assert_eq!(r.header("authorization"), Some("Bearer token-1"));
    assert_eq!(
        r.json(),
        json!({"event_type": "NEW_MESSAGE_ON_POST", "event_resource_id": "gZd7omnS",
               "metadata": {"chat": 7}})
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_is_kept() {
    let stub = Stub::always(200, json!({})).await;
    Client::builder("k")
        .base_url(format!("{}/kenar", stub.url()))
        .access_token("t")
        .build()
        .expect("a client")
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await
        .expect("registered");
    assert_eq!(
        stub.requests()[0].path,
        "/kenar/v1/open-platform/events/subscriptions"
    );
}

#[tokio::test]
async fn an_error_answer_becomes_a_typed_error_with_every_detail() {
    let stub = Stub::start(|_, _| {
        json_response(
            400,
            &json!({"code": 3, "message": "invalid request", "details": [
                {"@type": "type.googleapis.com/google.rpc.BadRequest",
                 "field_violations": [{"field": "message", "description": "required"},
                                      {"field": "buttons.items[0].title", "description": "5 to 50 characters"}]}]}),
            &[],
        )
    })
    .await;
    let err = client(&stub)
        .events()
        .send(SendEvent::to_user("u", ""))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    assert_eq!(err.http_status(), Some(400));
    let api = err.api().expect("an API error");
    assert_eq!(api.message(), "invalid request");
    assert_eq!(api.field_violations().len(), 2);
    assert_eq!(api.field_violations()[1].field, "buttons.items[0].title");
}

#[tokio::test]
async fn every_status_code_of_the_contract_maps_to_its_code() {
    for (http, code, expected) in [
        (400, 3, Code::InvalidArgument),
        (400, 9, Code::FailedPrecondition),
        (401, 16, Code::Unauthenticated),
        (403, 7, Code::PermissionDenied),
        (404, 5, Code::NotFound),
        (409, 6, Code::AlreadyExists),
        (429, 8, Code::ResourceExhausted),
        (500, 13, Code::Internal),
        (503, 14, Code::Unavailable),
    ] {
        let stub = Stub::start(move |_, _| status_response(http, code, "no", &[])).await;
        let err = client(&stub)
            .events()
            .register_subscription(RegisterSubscription::post_updates())
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Some(expected), "{err}");
        assert_eq!(err.http_status(), Some(http));
    }
}

#[tokio::test]
async fn a_success_that_is_not_json_is_an_unexpected_response() {
    let stub = Stub::start(|_, _| axum::response::IntoResponse::into_response("<html>")).await;
    let err = client(&stub)
        .events()
        .register_subscription(RegisterSubscription::post_updates())
        .await
        .expect_err("not JSON");
    assert!(
        matches!(
            err,
            Error::UnexpectedResponse {
                http_status: 200,
                ..
            }
        ),
        "{err:?}"
    );
}
