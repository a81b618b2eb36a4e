//! The permission × credential × scope × resource matrix of subscription registration,
//! checked against the contract's table stated independently here.

use serde_json::json;

use crate::helpers::{expect_status, Backend, TestApp};

const EVENT_TYPES: [&str; 2] = ["NEW_MESSAGE_ON_POST", "POST_UPDATE"];

/// (label, scopes) of the tokens user `u-1` grants app `app-a`.
const SCOPE_SETS: [(&str, &[&str]); 7] = [
    ("no scope", &[]),
    (
        "post-bound read of own post",
        &["CHAT_POST_CONVERSATIONS_READ.ownPost1"],
    ),
    (
        "post-bound read of another's post",
        &["CHAT_POST_CONVERSATIONS_READ.otherPst"],
    ),
    (
        "all conversations",
        &["CHAT_SUPPLIER_ALL_CONVERSATIONS_READ"],
    ),
    ("posts get", &["USER_POSTS_GET"]),
    ("unrelated", &["SEND_EVENT", "USER_ID"]),
    (
        "everything",
        &[
            "CHAT_SUPPLIER_ALL_CONVERSATIONS_READ",
            "USER_POSTS_GET",
            "CHAT_POST_CONVERSATIONS_READ.ownPost1",
            "CHAT_POST_CONVERSATIONS_READ.otherPst",
            "CHAT_POST_CONVERSATIONS_READ.noSuchPo",
        ],
    ),
];

/// Resources: the user's own post, another user's post, an unknown post, all posts.
const RESOURCES: [&str; 4] = ["ownPost1", "otherPst", "noSuchPo", ""];

/// The contract's answer: (HTTP status, code).
fn expected(scopes: &[&str], event_type: &str, resource: &str) -> (u16, i64) {
    let has = |s: &str| scopes.contains(&s);
    let scope_ok = match (event_type, resource) {
        ("NEW_MESSAGE_ON_POST", "") => has("CHAT_SUPPLIER_ALL_CONVERSATIONS_READ"),
        ("NEW_MESSAGE_ON_POST", post) => {
            has(&format!("CHAT_POST_CONVERSATIONS_READ.{post}"))
                || has("CHAT_SUPPLIER_ALL_CONVERSATIONS_READ")
        }
        _ => has("USER_POSTS_GET"),
    };
    if !scope_ok {
        return (403, 7);
    }
    match resource {
        "" | "ownPost1" => (200, 0),
        "otherPst" => (403, 7),
        _ => (404, 5),
    }
}

async fn scope_and_resource_matrix_follows_the_contract_table(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_app("app-a", Some("https://example.com/hook"))
        .await;
    app.create_user("u-1").await;
    app.create_user("u-2").await;
    app.create_post("ownPost1", "u-1").await;
    app.create_post("otherPst", "u-2").await;
    let key = app
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;

    let mut cases = 0;
    for (label, scopes) in SCOPE_SETS {
        let (token, _) = app.mint_token("app-a", "u-1", scopes).await;
        for event_type in EVENT_TYPES {
            for resource in RESOURCES {
                let body = json!({"event_type": event_type, "event_resource_id": resource});
                let r = app.register(Some(&key), Some(&token), body).await;
                let (http, code) = expected(scopes, event_type, resource);
                let got = r.status().as_u16();
                let text = r.text().await.expect("body");
                assert_eq!(
                    got, http,
                    "{label} / {event_type} / {resource:?}: expected {http}, body {text}"
                );
                if http == 200 {
                    assert_eq!(text, "{}");
                } else {
                    let v: serde_json::Value = serde_json::from_str(&text).expect("status body");
                    assert_eq!(
                        v["code"],
                        json!(code),
                        "{label} / {event_type} / {resource:?}"
                    );
                }
                cases += 1;
            }
        }
    }
    assert_eq!(
        cases,
        SCOPE_SETS.len() * EVENT_TYPES.len() * RESOURCES.len()
    );
    app.stop().await;
}

/// (label, API key, access token, HTTP status, code)
type CredentialCase<'a> = (&'a str, Option<&'a str>, Option<&'a str>, u16, i64);

async fn every_credential_failure_gets_its_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_app("app-a", Some("https://example.com/hook"))
        .await;
    app.create_app("app-b", Some("https://example.com/hook-b"))
        .await;
    app.create_user("u-1").await;
    let good_key = app
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let send_only = app.create_key("app-a", &["EVENTS_SEND"]).await;
    let no_perms = app.create_key("app-a", &[]).await;
    let b_key = app
        .create_key("app-b", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let (token, _) = app.mint_token("app-a", "u-1", &["USER_POSTS_GET"]).await;
    let (b_token, _) = app.mint_token("app-b", "u-1", &["USER_POSTS_GET"]).await;
    let expired = app
        .mint_expired_token("app-a", "u-1", "USER_POSTS_GET")
        .await;
    let (revoked, _) = app.mint_token("app-a", "u-1", &["USER_POSTS_GET"]).await;
    let r = app
        .admin_post("/admin/v1/tokens/revoke", json!({"token": revoked}))
        .await;
    assert_eq!(r.status(), 200);
    let revoked_key = app
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let keys = crate::helpers::expect_json(
        app.admin_get("/admin/v1/apps/app-a/keys").await,
        reqwest::StatusCode::OK,
    )
    .await;
    let revoked_key_id = keys["keys"]
        .as_array()
        .expect("keys")
        .last()
        .expect("a key")["id"]
        .as_i64()
        .expect("id");
    let r = app
        .admin(
            reqwest::Method::DELETE,
            &format!("/admin/v1/apps/app-a/keys/{revoked_key_id}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);

    let body = || json!({"event_type": "POST_UPDATE"});
    let tampered_key = format!("{}x", &good_key[..good_key.len() - 1]);
    let cases: Vec<CredentialCase> = vec![
        ("both good", Some(&good_key), Some(&token), 200, 0),
        ("no key", None, Some(&token), 401, 16),
        (
            "unknown key",
            Some("kenar_ak_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            Some(&token),
            401,
            16,
        ),
        ("garbage key", Some("hello"), Some(&token), 401, 16),
        ("tampered key", Some(&tampered_key), Some(&token), 401, 16),
        ("revoked key", Some(&revoked_key), Some(&token), 401, 16),
        (
            "key without permissions",
            Some(&no_perms),
            Some(&token),
            403,
            7,
        ),
        (
            "key with only EVENTS_SEND",
            Some(&send_only),
            Some(&token),
            403,
            7,
        ),
        ("no token", Some(&good_key), None, 401, 16),
        ("garbage token", Some(&good_key), Some("nope"), 401, 16),
        ("expired token", Some(&good_key), Some(&expired), 401, 16),
        ("revoked token", Some(&good_key), Some(&revoked), 401, 16),
        (
            "another app's token",
            Some(&good_key),
            Some(&b_token),
            401,
            16,
        ),
        (
            "another app's key with this app's token",
            Some(&b_key),
            Some(&token),
            401,
            16,
        ),
    ];
    for (label, key, tok, http, code) in cases {
        let r = app.register(key, tok, body()).await;
        if http == 200 {
            assert_eq!(r.status(), 200, "{label}");
        } else {
            let v = expect_status(r, http, code).await;
            let message = v["message"].as_str().unwrap_or_default();
            for secret in [&good_key, &token, &expired, &revoked] {
                assert!(
                    !message.contains(secret.as_str()),
                    "{label}: message echoes a secret"
                );
            }
        }
    }

    // Older official clients send the token in x-access-token.
    let r = app
        .client
        .post(app.url("/v1/open-platform/events/subscriptions"))
        .header("x-api-key", &good_key)
        .header("x-access-token", &token)
        .json(&body())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);

    // A malformed Authorization header is refused, not ignored.
    let r = app
        .client
        .post(app.url("/v1/open-platform/events/subscriptions"))
        .header("X-API-KEY", &good_key)
        .header("Authorization", format!("Basic {token}"))
        .json(&body())
        .send()
        .await
        .expect("request");
    expect_status(r, 401, 16).await;
    app.stop().await;
}

async fn an_app_without_webhook_url_gets_failed_precondition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_app("no-hook", None).await;
    app.create_user("u-1").await;
    let key = app
        .create_key("no-hook", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let (token, _) = app.mint_token("no-hook", "u-1", &["USER_POSTS_GET"]).await;
    let r = app
        .register(
            Some(&key),
            Some(&token),
            json!({"event_type": "POST_UPDATE"}),
        )
        .await;
    expect_status(r, 400, 9).await;
    app.stop().await;
}

crate::on_both_backends!(
    scope_and_resource_matrix_follows_the_contract_table,
    every_credential_failure_gets_its_code,
    an_app_without_webhook_url_gets_failed_precondition,
);
