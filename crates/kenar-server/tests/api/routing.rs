//! Routing per the contract's table: who gets which webhook, with which metadata and user ids.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::receiver::Receiver;

pub fn message(post: &str, id: &str) -> Value {
    json!({"new_message": {
        "id": id,
        "conversation": {"id": "conv-1", "type": "POST", "post_token": post},
        "sender": {"side": "BUYER", "type": "HUMAN"},
        "type": "TEXT", "sent_at": 1729429926140000u64, "text": "سلام"
    }})
}

pub fn chatbot(app: &str, id: &str) -> Value {
    json!({"new_chatbot_message": {
        "id": id, "conversation": {"id": "bot-conv", "type": "BOT"},
        "sender": {"type": "HUMAN"}, "type": "TEXT", "sent_at": 1729429926140000u64,
        "text": "/start"
    }, "app_slug": app, "user_id": "u-1"})
}

fn post_update(post: &str, kind: &str, owner: Option<&str>) -> Value {
    let mut v = json!({"post_update": {"type": kind, "post": {"token": post}}});
    if let Some(owner) = owner {
        v["owner_id"] = json!(owner);
    }
    v
}

/// Webhooks a receiver got, as (type, identifying field) pairs.
fn seen(r: &Receiver) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = r
        .got()
        .iter()
        .map(|w| {
            let t = w.body["type"].as_str().unwrap_or("").to_owned();
            let id = match t.as_str() {
                "NEW_MESSAGE" => w.body["new_message"]["id"].clone(),
                "NEW_CHATBOT_MESSAGE" => w.body["new_chatbot_message"]["id"].clone(),
                "POST_UPDATE" => json!(format!(
                    "{}:{}",
                    w.body["post_update"]["type"].as_str().unwrap_or(""),
                    w.body["post_update"]["post"]["token"]
                        .as_str()
                        .unwrap_or("")
                )),
                "PAYMENT_TRANSACTION" => w.body["payment_transaction"]["id"].clone(),
                _ => w.body["user_access_revocation"]["user_id"].clone(),
            };
            (t, id.as_str().unwrap_or("").to_owned())
        })
        .collect();
    out.sort();
    out
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// Waits until the engine has no pending delivery, so that what did not arrive never will.
async fn settle(app: &TestApp) {
    for _ in 0..200 {
        if app.deliveries("status=PENDING").await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deliveries still pending");
}

struct World {
    app: TestApp,
    /// Receivers of apps a (post-bound subscription), b (all posts), c (u-2's posts),
    /// e (post updates only).
    a: Receiver,
    b: Receiver,
    c: Receiver,
    e: Receiver,
    a_user_id: String,
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let (a, b, c, e) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    app.create_user("u-1").await;
    app.create_user("u-2").await;
    app.create_post("postU1aa", "u-1").await;
    app.create_post("postU2aa", "u-2").await;
    let mut a_user_id = String::new();
    for (slug, rx, user, body, scopes) in [
        (
            "app-a",
            &a,
            "u-1",
            json!({"event_type": "NEW_MESSAGE_ON_POST", "event_resource_id": "postU1aa", "metadata": {"sub": "a"}}),
            vec![
                "CHAT_POST_CONVERSATIONS_READ.postU1aa",
                "NOTIFICATION_ACCESS_REVOCATION",
                "USER_ID",
            ],
        ),
        (
            "app-b",
            &b,
            "u-1",
            json!({"event_type": "NEW_MESSAGE_ON_POST", "metadata": {"sub": "b"}}),
            vec![
                "CHAT_SUPPLIER_ALL_CONVERSATIONS_READ",
                "NOTIFICATION_ACCESS_REVOCATION",
            ],
        ),
        (
            "app-c",
            &c,
            "u-2",
            json!({"event_type": "NEW_MESSAGE_ON_POST", "metadata": {"sub": "c"}}),
            vec!["CHAT_SUPPLIER_ALL_CONVERSATIONS_READ"],
        ),
        (
            "app-e",
            &e,
            "u-1",
            json!({"event_type": "POST_UPDATE", "metadata": {"sub": "e"}}),
            vec!["USER_POSTS_GET"],
        ),
    ] {
        app.create_app(slug, Some(&rx.url)).await;
        let key = app
            .create_key(slug, &["EVENTS_REGISTER_SUBSCRIPTION"])
            .await;
        let (token, user_id) = app.mint_token(slug, user, &scopes).await;
        if slug == "app-a" {
            a_user_id = user_id;
        }
        assert_eq!(
            app.register(Some(&key), Some(&token), body).await.status(),
            200
        );
    }
    World {
        app,
        a,
        b,
        c,
        e,
        a_user_id,
    }
}

async fn messages_reach_the_post_owners_subscribers_with_their_metadata(backend: Backend) {
    let w = world(backend).await;
    let results = w
        .app
        .ingest(json!([
            message("postU1aa", "m1"),
            message("postU2aa", "m2")
        ]))
        .await;
    assert!(
        results.iter().all(|r| r["event_id"].is_string()),
        "{results:?}"
    );
    let got_a = w.a.wait_for(1, Duration::from_secs(10)).await;
    w.b.wait_for(1, Duration::from_secs(10)).await;
    w.c.wait_for(1, Duration::from_secs(10)).await;
    settle(&w.app).await;
    assert_eq!(seen(&w.a), pairs(&[("NEW_MESSAGE", "m1")]));
    assert_eq!(seen(&w.b), pairs(&[("NEW_MESSAGE", "m1")]));
    assert_eq!(seen(&w.c), pairs(&[("NEW_MESSAGE", "m2")]));
    assert!(seen(&w.e).is_empty());
    assert_eq!(got_a[0].body["metadata"], json!({"sub": "a"}));
    assert_eq!(w.b.got()[0].body["metadata"], json!({"sub": "b"}));
    assert_eq!(got_a[0].body["new_message"]["text"], "سلام");
    w.app.stop().await;
}

async fn post_updates_follow_ownership_and_reach_all_posts_subscribers(backend: Backend) {
    let w = world(backend).await;
    // A post the server has never seen becomes u-1's through its PUBLISH update.
    let results = w
        .app
        .ingest(json!([
            post_update("newPost1", "PUBLISH", Some("u-1")),
            post_update("newPost1", "RETIRE", None),
            post_update("newPost1", "ARCHIVE", None),
            message("newPost1", "m-new"),
        ]))
        .await;
    assert!(
        results.iter().all(|r| r["event_id"].is_string()),
        "{results:?}"
    );
    w.e.wait_for(3, Duration::from_secs(10)).await;
    w.b.wait_for(1, Duration::from_secs(10)).await;
    settle(&w.app).await;
    assert_eq!(
        seen(&w.e),
        pairs(&[
            ("POST_UPDATE", "PUBLISH:newPost1"),
            ("POST_UPDATE", "RETIRE:newPost1"),
            ("POST_UPDATE", "ARCHIVE:newPost1")
        ])
    );
    assert_eq!(seen(&w.b), pairs(&[("NEW_MESSAGE", "m-new")]));
    assert!(seen(&w.a).is_empty(), "app-a subscribed to another post");

    // The post changes hands: its messages now reach the new owner's subscribers.
    w.app
        .ingest(json!([
            post_update("postU1aa", "ONGOING", Some("u-2")),
            message("postU1aa", "m-moved")
        ]))
        .await;
    w.c.wait_for(1, Duration::from_secs(10)).await;
    settle(&w.app).await;
    assert_eq!(seen(&w.c), pairs(&[("NEW_MESSAGE", "m-moved")]));
    assert_eq!(seen(&w.a), Vec::<(String, String)>::new());
    w.app.stop().await;
}

async fn chatbot_messages_and_payments_need_no_subscription(backend: Backend) {
    let w = world(backend).await;
    let results = w
        .app
        .ingest(json!([
            chatbot("app-c", "bot-1"),
            {"payment_transaction": {"id": "pay-1", "cost_rials": "100000", "extra_details": "x",
              "state": "TRANSACTION_STATE_COMPLETED", "type": "TRANSACTION_TYPE_REORDER"},
             "app_slug": "app-e"},
            chatbot("no-such-app", "bot-2"),
        ]))
        .await;
    assert!(results[0]["event_id"].is_string() && results[1]["event_id"].is_string());
    assert_eq!(results[2]["error"]["code"], 5, "{results:?}");
    let c = w.c.wait_for(1, Duration::from_secs(10)).await;
    let e = w.e.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(c[0].body["type"], "NEW_CHATBOT_MESSAGE");
    assert!(c[0].body.get("metadata").is_none());
    assert_eq!(e[0].body["type"], "PAYMENT_TRANSACTION");
    assert_eq!(e[0].body["payment_transaction"]["cost_rials"], 100000);
    w.app.stop().await;
}

async fn a_revocation_notifies_only_grants_that_asked_and_ends_their_subscriptions(
    backend: Backend,
) {
    let w = world(backend).await;
    let results = w
        .app
        .ingest(json!([
            {"user_access_revocation": {}, "app_slug": "app-a", "user_id": "u-1"},
            {"user_access_revocation": {}, "app_slug": "app-b", "user_id": "u-1"},
        ]))
        .await;
    assert!(
        results.iter().all(|r| r["event_id"].is_string()),
        "{results:?}"
    );
    let a = w.a.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(a[0].body["type"], "USER_ACCESS_REVOCATION");
    assert_eq!(
        a[0].body["user_access_revocation"]["user_id"],
        json!(w.a_user_id)
    );
    // The revoked apps' subscriptions are over: a message on u-1's post reaches nobody.
    w.app.ingest(json!([message("postU1aa", "m-after")])).await;
    settle(&w.app).await;
    assert_eq!(w.a.got().len(), 1);
    assert!(
        w.b.got().is_empty(),
        "app-b's grant lacked USER_ID: no revocation webhook"
    );
    let subs = w.app.subscriptions("app-a").await;
    assert_eq!(subs[0]["active"], false);
    w.app.stop().await;
}

async fn a_batch_keeps_its_valid_items_and_explains_the_invalid_ones(backend: Backend) {
    let w = world(backend).await;
    let results = w
        .app
        .ingest(json!([
            message("postU1aa", "ok-1"),
            {"new_message": {"id": "x"}},
            {"nothing": true},
            message("unknownP", "no-owner"),
            {"post_update": {"type": "EXPLODE", "post": {"token": "postU1aa"}}},
            message("postU1aa", "ok-2"),
        ]))
        .await;
    assert_eq!(results.len(), 6);
    assert!(results[0]["event_id"].is_string());
    assert_eq!(results[1]["error"]["code"], 3);
    assert_eq!(results[2]["error"]["code"], 3);
    assert_eq!(results[3]["error"]["code"], 9);
    assert_eq!(results[4]["error"]["code"], 3);
    assert!(results[4]["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("EXPLODE"));
    assert!(results[5]["event_id"].is_string());
    w.a.wait_for(2, Duration::from_secs(10)).await;
    settle(&w.app).await;
    assert_eq!(
        seen(&w.a),
        pairs(&[("NEW_MESSAGE", "ok-1"), ("NEW_MESSAGE", "ok-2")])
    );
    w.app.stop().await;
}

/// A batch with more deliveries than one statement takes (1,000 messages to five apps) is
/// written in several statements, and each delivery still belongs to its own item's event.
async fn a_batch_too_large_for_one_statement_keeps_each_delivery_with_its_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_user("u-1").await;
    app.create_post("postU1aa", "u-1").await;
    let mut receivers = Vec::new();
    for i in 0..5 {
        let rx = Receiver::start().await;
        let slug = format!("fan-{i}");
        app.create_app(&slug, Some(&rx.url)).await;
        let key = app
            .create_key(&slug, &["EVENTS_REGISTER_SUBSCRIPTION"])
            .await;
        let (token, _) = app
            .mint_token(&slug, "u-1", &["CHAT_SUPPLIER_ALL_CONVERSATIONS_READ"])
            .await;
        let body = json!({"event_type": "NEW_MESSAGE_ON_POST"});
        assert_eq!(
            app.register(Some(&key), Some(&token), body).await.status(),
            200
        );
        receivers.push(rx);
    }
    let items: Vec<Value> = (0..1000)
        .map(|i| message("postU1aa", &format!("m-{i}")))
        .collect();
    let results = app.ingest(json!(items)).await;
    assert_eq!(results.len(), 1000);

    let mut wanted: Vec<(String, String)> = (0..1000)
        .map(|i| ("NEW_MESSAGE".to_owned(), format!("m-{i}")))
        .collect();
    wanted.sort();
    for rx in &receivers {
        rx.wait_for(1000, Duration::from_secs(60)).await;
        assert_eq!(seen(rx), wanted);
    }
    settle(&app).await;
    let log = app.deliveries("app=fan-3&limit=1000").await;
    assert_eq!(log.len(), 1000);
    let webhooks = receivers[3].got();
    for (i, result) in results.iter().enumerate() {
        let id = format!("m-{i}");
        let webhook = webhooks
            .iter()
            .find(|w| w.body["new_message"]["id"] == id.as_str())
            .expect("webhook");
        let delivery = log
            .iter()
            .find(|d| d["webhook_id"] == webhook.header("webhook-id"))
            .expect("delivery");
        assert_eq!(delivery["event_id"], result["event_id"], "{id}");
    }
    app.stop().await;
}

/// Owners named by the items are looked up in chunks; one named past the first chunk (and
/// past the batch's only post) still finds its subscribers.
async fn an_owner_named_late_in_a_long_batch_finds_its_subscribers(backend: Backend) {
    let w = world(backend).await;
    let mut items: Vec<Value> = (0..600)
        .map(|i| {
            let mut m = message("postU1aa", &format!("m-{i}"));
            m["post_owner_id"] = json!(format!("nobody-{i}"));
            m
        })
        .collect();
    items[599]["post_owner_id"] = json!("u-1");
    let results = w.app.ingest(json!(items)).await;
    assert!(results.iter().all(|r| r["event_id"].is_string()));
    w.a.wait_for(1, Duration::from_secs(10)).await;
    w.b.wait_for(1, Duration::from_secs(10)).await;
    settle(&w.app).await;
    assert_eq!(seen(&w.a), pairs(&[("NEW_MESSAGE", "m-599")]));
    assert_eq!(seen(&w.b), pairs(&[("NEW_MESSAGE", "m-599")]));
    assert!(seen(&w.c).is_empty());
    w.app.stop().await;
}

crate::on_both_backends!(
    an_owner_named_late_in_a_long_batch_finds_its_subscribers,
    a_batch_too_large_for_one_statement_keeps_each_delivery_with_its_event,
    messages_reach_the_post_owners_subscribers_with_their_metadata,
    post_updates_follow_ownership_and_reach_all_posts_subscribers,
    chatbot_messages_and_payments_need_no_subscription,
    a_revocation_notifies_only_grants_that_asked_and_ends_their_subscriptions,
    a_batch_keeps_its_valid_items_and_explains_the_invalid_ones,
);

/// Two servers on one PostgreSQL database (two nodes) take post updates that move the same
/// posts between owners at once, each call naming the posts in its own order. An ingestion
/// records its posts' owners in one upsert, which locks their rows in the order it lists them.
/// PostgreSQL must never find a deadlock between two nodes' ingestions: every call is
/// answered 200 with every event accepted, and each post ends with one of the owners.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_moving_the_same_posts_at_once_accept_every_event() {
    const POSTS: usize = 48;
    const CALLERS: usize = 16;
    const ROUNDS: usize = 80;
    let one = TestApp::spawn(Backend::Postgres).await;
    let two = TestApp::spawn_on(one.database_url()).await;
    let posts: Vec<String> = (0..POSTS).map(|i| format!("pMoved{i:02}")).collect();

    let [one, two] =
        crate::helpers::call_two_nodes_at_once([one, two], 2 * CALLERS, |nodes, caller| {
            let posts = posts.clone();
            async move {
                let node = &nodes[caller % 2];
                let mut failures = Vec::new();
                for round in 0..ROUNDS {
                    // The first node's calls name the posts forwards, the second's backwards, each
                    // from its own offset (and an ingestion's own map reorders them again); the
                    // owner changes every round, so every upserted row is updated.
                    let owner = if (caller + round) % 2 == 0 {
                        "u-1"
                    } else {
                        "u-2"
                    };
                    let events: Vec<Value> = (0..POSTS)
                        .map(|k| {
                            let i = (caller + round + k) % POSTS;
                            let post = if caller % 2 == 0 {
                                &posts[i]
                            } else {
                                &posts[POSTS - 1 - i]
                            };
                            post_update(post, "PUBLISH", Some(owner))
                        })
                        .collect();
                    let r = node
                        .client
                        .post(node.url("/v1/platform/events"))
                        .bearer_auth(crate::helpers::PLATFORM)
                        .json(&json!({ "events": events }))
                        .send()
                        .await
                        .expect("request");
                    let status = r.status();
                    let body: Value = r.json().await.unwrap_or_default();
                    let accepted = body["results"]
                        .as_array()
                        .is_some_and(|rs| rs.iter().all(|r| r["event_id"].is_string()));
                    if status != 200 || !accepted {
                        let text: String = body.to_string().chars().take(300).collect();
                        failures.push(format!("{status}: {text}"));
                    }
                }
                failures
            }
        })
        .await;
    let owned = one
        .count_rows(
            "SELECT COUNT(*) FROM posts WHERE token LIKE 'pMoved%' \
             AND owner_id IN ('u-1', 'u-2')",
        )
        .await;
    assert_eq!(owned, POSTS as i64);
    two.stop().await;
    one.stop().await;
}
