//! The administration API: apps, keys, users, posts, tokens; and its own authentication.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_json, expect_status, Backend, TestApp};

async fn the_admin_api_requires_the_admin_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .client
        .get(app.url("/admin/v1/apps"))
        .send()
        .await
        .expect("request");
    expect_status(r, 401, 16).await;
    let r = app
        .client
        .get(app.url("/admin/v1/apps"))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("request");
    expect_status(r, 401, 16).await;
    expect_json(app.admin_get("/admin/v1/apps").await, StatusCode::OK).await;
    app.stop().await;
}

async fn apps_are_created_read_listed_and_updated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .admin_post(
            "/admin/v1/apps",
            json!({"slug": "my-app", "name": "My App", "webhook_url": "https://example.com/h",
                   "dynamic_action_url": "https://example.com/da", "generate_signing_secret": true,
                   "kind": "PRODUCTION", "granted_scopes": ["USER_POSTS_GET"]}),
        )
        .await;
    let created = expect_json(r, StatusCode::CREATED).await;
    assert_eq!(created["slug"], "my-app");
    assert_eq!(created["kind"], "PRODUCTION");
    assert!(created["identification_key"]
        .as_str()
        .is_some_and(|k| k.len() > 20));
    assert!(created["signing_secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_")));
    assert_eq!(created["granted_scopes"], json!(["USER_POSTS_GET"]));

    let dup = app
        .admin_post("/admin/v1/apps", json!({"slug": "my-app"}))
        .await;
    expect_status(dup, 409, 6).await;

    let got = expect_json(app.admin_get("/admin/v1/apps/my-app").await, StatusCode::OK).await;
    assert_eq!(got, created);
    expect_status(app.admin_get("/admin/v1/apps/none").await, 404, 5).await;

    let r = app
        .admin(
            Method::PATCH,
            "/admin/v1/apps/my-app",
            Some(json!({"webhook_url": null, "name": "Renamed", "identification_key": "my-key-1"})),
        )
        .await;
    let updated = expect_json(r, StatusCode::OK).await;
    assert_eq!(updated["webhook_url"], Value::Null);
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["identification_key"], "my-key-1");
    assert_eq!(updated["dynamic_action_url"], "https://example.com/da");
    let got = expect_json(app.admin_get("/admin/v1/apps/my-app").await, StatusCode::OK).await;
    assert_eq!(got, updated);

    for i in 0..3 {
        app.create_app(&format!("app-{i}"), None).await;
    }
    let page = expect_json(
        app.admin_get("/admin/v1/apps?limit=2").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["apps"].as_array().map(Vec::len), Some(2));
    let next = page["next_after"].as_i64().expect("next page");
    let rest = expect_json(
        app.admin_get(&format!("/admin/v1/apps?limit=2&after={next}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rest["apps"].as_array().map(Vec::len), Some(2));
    expect_status(app.admin_get("/admin/v1/apps?limit=0").await, 400, 3).await;
    expect_status(app.admin_get("/admin/v1/apps?limit=abc").await, 400, 3).await;
    app.stop().await;
}

async fn invalid_app_settings_are_all_reported(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .admin_post(
            "/admin/v1/apps",
            json!({"slug": "Bad Slug", "webhook_url": "ftp://x", "dynamic_action_url": "nope",
                   "signing_secret": "plain", "kind": "STAGING", "granted_scopes": ["ROOT"],
                   "identification_key": "has space"}),
        )
        .await;
    let v = expect_status(r, 400, 3).await;
    let fields: Vec<&str> = v["details"][0]["field_violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    for f in [
        "slug",
        "webhook_url",
        "dynamic_action_url",
        "signing_secret",
        "kind",
        "granted_scopes[0]",
        "identification_key",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let r = app.admin_post("/admin/v1/apps", json!({"slug": 5})).await;
    let v = expect_status(r, 400, 3).await;
    assert_eq!(v["details"][0]["field_violations"][0]["field"], "slug");
    app.stop().await;
}

async fn api_keys_are_shown_once_listed_without_secret_and_revocable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_app("app-a", Some("https://example.com/h")).await;
    let r = app
        .admin_post(
            "/admin/v1/apps/app-a/keys",
            json!({"name": "ci", "permissions": ["EVENTS_SEND", "EVENTS_REGISTER_SUBSCRIPTION"]}),
        )
        .await;
    let created = expect_json(r, StatusCode::CREATED).await;
    let key = created["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("kenar_ak_"));
    assert_eq!(
        created["permissions"],
        json!(["EVENTS_REGISTER_SUBSCRIPTION", "EVENTS_SEND"])
    );
    let list = expect_json(
        app.admin_get("/admin/v1/apps/app-a/keys").await,
        StatusCode::OK,
    )
    .await;
    let listed = list.to_string();
    assert!(
        !listed.contains(&key[key.len() - 20..]),
        "the secret leaked into the listing"
    );
    assert_eq!(list["keys"][0]["revoked_at"], Value::Null);
    assert!(key.starts_with(list["keys"][0]["prefix"].as_str().expect("prefix")));

    let bad = app
        .admin_post(
            "/admin/v1/apps/app-a/keys",
            json!({"permissions": ["ADMIN"]}),
        )
        .await;
    let v = expect_status(bad, 400, 3).await;
    assert_eq!(
        v["details"][0]["field_violations"][0]["field"],
        "permissions[0]"
    );

    let id = created["id"].as_i64().expect("id");
    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/apps/app-a/keys/{id}"),
            None,
        )
        .await;
    let revoked = expect_json(r, StatusCode::OK).await;
    assert!(revoked["revoked_at"].is_string());
    let r = app
        .admin(Method::DELETE, "/admin/v1/apps/app-a/keys/99999", None)
        .await;
    expect_status(r, 404, 5).await;
    let r = app
        .admin(Method::DELETE, "/admin/v1/apps/app-a/keys/abc", None)
        .await;
    expect_status(r, 404, 5).await;
    app.stop().await;
}

async fn users_posts_and_tokens_are_managed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_app("app-a", Some("https://example.com/h")).await;
    app.create_app("app-b", Some("https://example.com/h")).await;
    let r = app
        .admin_post("/admin/v1/users", json!({"display_name": "Sara"}))
        .await;
    let user = expect_json(r, StatusCode::CREATED).await;
    let uid = user["id"].as_str().expect("id").to_owned();
    assert!(uid.starts_with("u-"));
    expect_status(
        app.admin_post("/admin/v1/users", json!({"id": uid})).await,
        409,
        6,
    )
    .await;
    expect_json(
        app.admin_get(&format!("/admin/v1/users/{uid}")).await,
        StatusCode::OK,
    )
    .await;

    let r = app
        .admin_post("/admin/v1/posts", json!({"owner_id": uid}))
        .await;
    let post = expect_json(r, StatusCode::CREATED).await;
    assert_eq!(post["token"].as_str().map(str::len), Some(8));
    let r = app
        .admin_post("/admin/v1/posts", json!({"owner_id": "u-nobody"}))
        .await;
    expect_status(r, 404, 5).await;
    let r = app
        .admin_post(
            "/admin/v1/posts",
            json!({"token": "bad token", "owner_id": uid}),
        )
        .await;
    expect_status(r, 400, 3).await;

    let r = app
        .admin_post(
            "/admin/v1/apps/app-a/tokens",
            json!({"user_id": uid, "scopes": ["USER_POSTS_GET", "offline_access"], "expires_in": 60}),
        )
        .await;
    let minted = expect_json(r, StatusCode::CREATED).await;
    assert!(minted["access_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("kenar_at_")));
    assert_eq!(minted["token_type"], "bearer");
    assert_eq!(minted["expires_in"], 60);
    assert_eq!(minted["scope"], "USER_POSTS_GET offline_access");
    let a_user_id = minted["user_id"].as_str().expect("pseudonym").to_owned();
    assert_eq!(a_user_id.len(), 44);
    assert_ne!(a_user_id, uid);
    let (_, again) = app.mint_token("app-a", &uid, &["USER_ID"]).await;
    assert_eq!(
        again, a_user_id,
        "an app always sees the same id for a user"
    );
    let (_, in_b) = app.mint_token("app-b", &uid, &["USER_ID"]).await;
    assert_ne!(in_b, a_user_id, "two apps never see the same id for a user");

    for (body, field) in [
        (json!({"user_id": uid, "scopes": ["NOPE"]}), "scopes[0]"),
        (
            json!({"user_id": uid, "scopes": ["CHAT_POST_CONVERSATIONS_READ"]}),
            "scopes[0]",
        ),
        (
            json!({"user_id": uid, "scopes": [], "expires_in": 0}),
            "expires_in",
        ),
    ] {
        let v = expect_status(
            app.admin_post("/admin/v1/apps/app-a/tokens", body).await,
            400,
            3,
        )
        .await;
        assert_eq!(v["details"][0]["field_violations"][0]["field"], field);
    }
    let r = app
        .admin_post(
            "/admin/v1/apps/app-a/tokens",
            json!({"user_id": "u-nobody", "scopes": []}),
        )
        .await;
    expect_status(r, 404, 5).await;
    app.stop().await;
}

async fn production_apps_get_only_granted_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .admin_post(
            "/admin/v1/apps",
            json!({"slug": "prod", "kind": "PRODUCTION",
                   "granted_scopes": ["USER_POSTS_GET", "CHAT_POST_CONVERSATIONS_READ"]}),
        )
        .await;
    expect_json(r, StatusCode::CREATED).await;
    app.create_user("u-1").await;
    app.mint_token(
        "prod",
        "u-1",
        &["USER_POSTS_GET", "CHAT_POST_CONVERSATIONS_READ.gZd7omnS"],
    )
    .await;
    let r = app
        .admin_post(
            "/admin/v1/apps/prod/tokens",
            json!({"user_id": "u-1", "scopes": ["USER_POSTS_GET", "SEND_EVENT"]}),
        )
        .await;
    let v = expect_status(r, 400, 9).await;
    assert!(v["message"].as_str().unwrap_or("").contains("SEND_EVENT"));
    app.stop().await;
}

crate::on_both_backends!(
    the_admin_api_requires_the_admin_token,
    apps_are_created_read_listed_and_updated,
    invalid_app_settings_are_all_reported,
    api_keys_are_shown_once_listed_without_secret_and_revocable,
    users_posts_and_tokens_are_managed,
    production_apps_get_only_granted_scopes,
);
