//! `kenar listen --forward-to`: live deliveries forwarded to a local receiver, verifiably.

use kenar_sdk::webhook::{SigningSecret, Verifier};
use serde_json::Value;

use crate::support::{Dev, Receiver};

#[test]
fn listen_forwards_each_new_delivery_with_headers_that_verify() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let app = kenar.json(&["apps", "update", "--generate-signing-secret"]);
    let secret = app["signing_secret"].as_str().expect("a signing secret");
    let receiver = Receiver::start(200);

    let listen = kenar.spawn(&["listen", "--forward-to", &receiver.url]);
    listen.wait_stderr("Ready!");
    let published = kenar.json(&["trigger", "payment", "--amount", "777"]);
    let event_id = published["results"][0]["event_id"]
        .as_str()
        .expect("an event");

    let got = receiver.next();
    assert_eq!(got.path, "/webhook");
    let verifier = Verifier::new(dev.get("identification_key"))
        .signing_secret(SigningSecret::parse(secret).expect("a valid secret"));
    let event = verifier
        .verify(&got.headers, &got.body)
        .unwrap_or_else(|e| panic!("the forwarded webhook does not verify: {e}"));
    assert_eq!(event.type_name(), "PAYMENT_TRANSACTION");
    let body: Value = serde_json::from_slice(&got.body).expect("a JSON body");
    assert_eq!(body["payment_transaction"]["cost_rials"], 777);
    assert_eq!(got.headers["content-type"], "application/json");
    let webhook_id = got.headers["webhook-id"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let line = listen.next_line();
    assert!(line.contains("PAYMENT_TRANSACTION"), "{line}");
    assert!(line.contains(&webhook_id), "{line}");
    assert!(line.contains(event_id), "{line}");
    assert!(line.contains("[200]"), "{line}");
    assert!(!line.contains('\x1b'), "{line:?}");
}

#[test]
fn listen_replays_after_a_delivery_id_and_reports_a_failing_endpoint_as_json() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let first = kenar.json(&["trigger", "chatbot-message"]);
    kenar.json(&["trigger", "payment"]);
    let first_event = first["results"][0]["event_id"].as_str().expect("an event");
    let receiver = Receiver::start(503);

    let listen = kenar.spawn(&[
        "listen",
        "--forward-to",
        &receiver.url,
        "--after",
        "0",
        "--event-type",
        "new-chatbot-message",
        "--json",
    ]);
    let line: Value = serde_json::from_str(&listen.next_line()).expect("one JSON object a line");
    assert_eq!(line["event_type"], "NEW_CHATBOT_MESSAGE");
    assert_eq!(line["event_id"], first_event);
    assert_eq!(line["status"], 503);
    assert_eq!(line["forwarded_to"], receiver.url.as_str());
    assert_eq!(line["body"]["type"], "NEW_CHATBOT_MESSAGE");
    let got = receiver.next();
    assert_eq!(
        got.headers["authorization"],
        dev.get("identification_key").as_str()
    );
    assert!(
        got.headers.get("webhook-signature").is_none(),
        "the app has no secret"
    );

    // The payment was filtered out; a new chatbot message comes next.
    let next = kenar.json(&["trigger", "chatbot-message"]);
    let line: Value = serde_json::from_str(&listen.next_line()).expect("JSON");
    assert_eq!(line["event_id"], next["results"][0]["event_id"]);
}

#[test]
fn listen_fails_clearly_when_the_app_does_not_exist() {
    let dev = Dev::start();
    let run = dev.kenar().run(&["listen", "--app", "ghost"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("NOT_FOUND"), "{}", run.stderr);
}

#[test]
fn listen_reconnects_after_the_server_restarts_and_misses_nothing() {
    let mut dev = Dev::start_restartable();
    let kenar = dev.kenar();
    let receiver = Receiver::start(200);
    let listen = kenar.spawn(&["listen", "--forward-to", &receiver.url]);
    listen.wait_stderr("Ready!");
    kenar.ok(&["trigger", "payment", "--id", "before"]);
    let body: Value = serde_json::from_slice(&receiver.next().body).expect("JSON");
    assert_eq!(body["payment_transaction"]["id"], "before");

    dev.restart();
    listen.wait_stderr("stream lost");
    // Published while `listen` may still be disconnected: it resumes after the last delivery
    // it saw, so this one arrives either way.
    dev.kenar().ok(&["trigger", "payment", "--id", "after"]);
    listen.wait_stderr("Reconnected");
    let body: Value = serde_json::from_slice(&receiver.next().body).expect("JSON");
    assert_eq!(body["payment_transaction"]["id"], "after");
}
