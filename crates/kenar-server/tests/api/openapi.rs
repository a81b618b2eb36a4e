//! The OpenAPI document describes every endpoint the server serves.

use reqwest::StatusCode;

use crate::helpers::{expect_json, Backend, TestApp};

async fn the_openapi_document_lists_every_served_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = expect_json(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .expect("request"),
        StatusCode::OK,
    )
    .await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/v1/open-platform/events/subscriptions", "post"),
        ("/admin/v1/apps", "post"),
        ("/admin/v1/apps", "get"),
        ("/admin/v1/apps/{slug}", "get"),
        ("/admin/v1/apps/{slug}", "patch"),
        ("/admin/v1/apps/{slug}/keys", "post"),
        ("/admin/v1/apps/{slug}/keys", "get"),
        ("/admin/v1/apps/{slug}/keys/{key_id}", "delete"),
        ("/admin/v1/apps/{slug}/tokens", "post"),
        ("/admin/v1/apps/{slug}/subscriptions", "get"),
        ("/admin/v1/users", "post"),
        ("/admin/v1/users/{user_id}", "get"),
        ("/admin/v1/posts", "post"),
        ("/admin/v1/posts/{token}", "get"),
        ("/admin/v1/posts/{token}", "patch"),
        ("/admin/v1/tokens/revoke", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // Every documented operation is really served: none answers with the router's 404/405.
    for (path, ops) in paths {
        let concrete = path
            .replace("{slug}", "none")
            .replace("{key_id}", "1")
            .replace("{user_id}", "none")
            .replace("{token}", "none");
        for method in ops.as_object().expect("operations").keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let r = app
                .client
                .request(m, app.url(&concrete))
                .send()
                .await
                .expect("request");
            let body = r.text().await.expect("body");
            assert!(
                !body.contains("\"Not Found\"") && !body.contains("Method Not Allowed"),
                "{method} {path} is documented but not served: {body}"
            );
        }
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for s in ["RegisterSubscriptionRequest", "Status", "AppView"] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    app.stop().await;
}

crate::on_both_backends!(the_openapi_document_lists_every_served_endpoint);
