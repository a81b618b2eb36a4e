//! Subscription semantics: idempotent re-registration, metadata, lifetime tied to the token.

use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};

async fn setup(app: &TestApp) -> String {
    app.create_app("app-a", Some("https://example.com/hook"))
        .await;
    app.create_user("u-1").await;
    app.create_post("gZd7omnS", "u-1").await;
    app.create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await
}

const READ: &[&str] = &["CHAT_POST_CONVERSATIONS_READ.gZd7omnS", "USER_POSTS_GET"];

async fn the_contract_vector_registers_and_keeps_its_metadata(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = setup(&app).await;
    let (token, app_user_id) = app.mint_token("app-a", "u-1", READ).await;
    let vector: Value = serde_json::from_str(include_str!(
        "../../../../../shared/contract/vectors/register_subscription_request.json"
    ))
    .expect("vector");
    let r = app.register(Some(&key), Some(&token), vector).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "{}");
    let subs = app.subscriptions("app-a").await;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["event_type"], "NEW_MESSAGE_ON_POST");
    assert_eq!(subs[0]["event_resource_id"], "gZd7omnS");
    assert_eq!(subs[0]["metadata"], json!({"key": "value"}));
    assert_eq!(subs[0]["user_id"], "u-1");
    assert_eq!(subs[0]["app_user_id"], json!(app_user_id));
    assert_eq!(subs[0]["active"], true);
    app.stop().await;
}

async fn re_registering_replaces_metadata_and_never_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = setup(&app).await;
    let (token, _) = app.mint_token("app-a", "u-1", READ).await;
    for i in 0..3 {
        let body = json!({"eventType": "NEW_MESSAGE_ON_POST", "eventResourceId": "gZd7omnS",
                          "metadata": {"round": i}});
        let r = app.register(Some(&key), Some(&token), body).await;
        assert_eq!(r.status(), 200);
    }
    // Absent metadata replaces it too.
    let r = app
        .register(
            Some(&key),
            Some(&token),
            json!({"event_type": "NEW_MESSAGE_ON_POST",
                                                    "event_resource_id": "gZd7omnS"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .register(
            Some(&key),
            Some(&token),
            json!({"event_type": "POST_UPDATE",
                                                    "metadata": {"all": true}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let subs = app.subscriptions("app-a").await;
    assert_eq!(subs.len(), 2, "{subs:?}");
    assert_eq!(subs[0]["metadata"], Value::Null);
    assert_eq!(subs[1]["event_type"], "POST_UPDATE");
    assert_eq!(subs[1]["event_resource_id"], "");
    assert_eq!(subs[1]["metadata"], json!({"all": true}));
    app.stop().await;
}

async fn a_subscription_lives_as_long_as_its_token_and_re_registering_extends_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = setup(&app).await;
    let body = json!({"event_type": "POST_UPDATE"});
    let (short, _) = app.mint_token_for("app-a", "u-1", READ, 600).await;
    assert_eq!(
        app.register(Some(&key), Some(&short), body.clone())
            .await
            .status(),
        200
    );
    let first_expiry = app.subscriptions("app-a").await[0]["expires_at"].clone();

    // A refreshed, longer-lived token extends the subscription.
    let (long, _) = app.mint_token_for("app-a", "u-1", READ, 7200).await;
    assert_eq!(
        app.register(Some(&key), Some(&long), body.clone())
            .await
            .status(),
        200
    );
    let subs = app.subscriptions("app-a").await;
    assert_eq!(subs.len(), 1);
    let extended = subs[0]["expires_at"].as_str().expect("time").to_owned();
    assert!(extended.as_str() > first_expiry.as_str().expect("time"));

    // A shorter-lived token never shortens it.
    assert_eq!(
        app.register(Some(&key), Some(&short), body.clone())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.subscriptions("app-a").await[0]["expires_at"],
        json!(extended)
    );

    // Revoking the token that holds it ends it.
    let r = app
        .admin_post("/admin/v1/tokens/revoke", json!({"token": long}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.subscriptions("app-a").await[0]["active"], false);

    // Registering again with a live token revives it.
    assert_eq!(
        app.register(Some(&key), Some(&short), body).await.status(),
        200
    );
    let subs = app.subscriptions("app-a").await;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["active"], true);
    assert_eq!(subs[0]["expires_at"], first_expiry);
    app.stop().await;
}

async fn post_ownership_follows_the_panel(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = setup(&app).await;
    app.create_user("u-2").await;
    let (token, _) = app.mint_token("app-a", "u-1", READ).await;
    let body = json!({"event_type": "NEW_MESSAGE_ON_POST", "event_resource_id": "gZd7omnS"});
    assert_eq!(
        app.register(Some(&key), Some(&token), body.clone())
            .await
            .status(),
        200
    );
    let r = app
        .admin(
            reqwest::Method::PATCH,
            "/admin/v1/posts/gZd7omnS",
            Some(json!({"owner_id": "u-2"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    crate::helpers::expect_status(app.register(Some(&key), Some(&token), body).await, 403, 7).await;
    app.stop().await;
}

crate::on_both_backends!(
    the_contract_vector_registers_and_keeps_its_metadata,
    re_registering_replaces_metadata_and_never_duplicates,
    a_subscription_lives_as_long_as_its_token_and_re_registering_extends_it,
    post_ownership_follows_the_panel,
);

/// Two servers on one PostgreSQL database (two nodes) renew the same subscriptions at once.
/// Each writes its callers' registrations in groups, one upsert per group, and the rows of a
/// group come in whatever order its callers arrived. PostgreSQL must never find a deadlock
/// between two nodes' upserts: every call is answered 200, and each subscription exists once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_renewing_the_same_subscriptions_at_once_answer_every_call() {
    const POSTS: usize = 12;
    const CALLERS: usize = 32;
    const ROUNDS: usize = 40;
    let one = TestApp::spawn(Backend::Postgres).await;
    let two = TestApp::spawn_on(one.database_url()).await;
    one.create_app("app-a", Some("https://example.com/hook"))
        .await;
    one.create_user("u-1").await;
    let posts: Vec<String> = (0..POSTS).map(|i| format!("pDeadlk{i:02}")).collect();
    let mut scopes = vec!["USER_POSTS_GET".to_owned()];
    for post in &posts {
        one.create_post(post, "u-1").await;
        scopes.push(format!("CHAT_POST_CONVERSATIONS_READ.{post}"));
    }
    let key = one
        .create_key("app-a", &["EVENTS_REGISTER_SUBSCRIPTION"])
        .await;
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let (token, _) = one.mint_token("app-a", "u-1", &scopes).await;

    let [one, two] =
        crate::helpers::call_two_nodes_at_once([one, two], 2 * CALLERS, |nodes, caller| {
            // Callers on the first node walk the posts forwards, on the second backwards, each
            // from its own offset, so the two nodes' groups hold the same rows in opposite orders.
            let (key, token, posts) = (key.clone(), token.clone(), posts.clone());
            async move {
                let node = &nodes[caller % 2];
                let mut failures = Vec::new();
                for round in 0..ROUNDS {
                    let i = (caller + round) % POSTS;
                    let post = if caller % 2 == 0 {
                        &posts[i]
                    } else {
                        &posts[POSTS - 1 - i]
                    };
                    let body = json!({"event_type": "NEW_MESSAGE_ON_POST",
                                      "event_resource_id": post,
                                      "metadata": {"caller": caller, "round": round}});
                    let r = node.register(Some(&key), Some(&token), body).await;
                    if r.status() != 200 {
                        failures.push(format!(
                            "{}: {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ));
                    }
                }
                failures
            }
        })
        .await;
    assert_eq!(one.subscriptions("app-a").await.len(), POSTS);
    two.stop().await;
    one.stop().await;
}
