//! The programs in `examples/`, compiled by cargo for this test run, against a dev server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output};

use reqwest::Method;
use serde_json::json;

use crate::support::{example_binary, DevServer};

/// Runs an example with the dev server's settings in its environment.
fn run_example(name: &str, server: &DevServer, extra: &[(&str, &str)]) -> Output {
    let mut command = Command::new(example_binary(name));
    for (name, _) in std::env::vars() {
        if name.starts_with("KENAR_") {
            command.env_remove(name);
        }
    }
    command
        .env("KENAR_BASE_URL", server.get("base_url"))
        .env("KENAR_API_KEY", server.get("api_key"))
        .env("KENAR_ACCESS_TOKEN", server.get("access_token"))
        .env("KENAR_POST_TOKEN", server.get("post_token"));
    for (k, v) in extra {
        command.env(k, v);
    }
    command.output().expect("the example runs")
}

fn assert_success(name: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_subscribe_example_registers_a_subscription_on_the_post() {
    let server = DevServer::start();
    let out = run_example("subscribe_post_messages", &server, &[]);
    let stdout = assert_success("subscribe_post_messages", &out);
    assert!(stdout.contains("subscribed"), "{stdout}");
    let listed = server
        .admin(
            Method::GET,
            "/admin/v1/apps/dev-app/subscriptions",
            json!({}),
        )
        .await;
    let subscription = &listed["subscriptions"][0];
    assert_eq!(subscription["event_type"], "NEW_MESSAGE_ON_POST");
    assert_eq!(subscription["event_resource_id"], server.get("post_token"));
    assert_eq!(
        subscription["metadata"],
        json!({"source": "subscribe_post_messages example"})
    );
}

#[tokio::test]
async fn the_subscribe_example_fails_clearly_without_its_settings() {
    let server = DevServer::start();
    let out = run_example(
        "subscribe_post_messages",
        &server,
        &[("KENAR_API_KEY", "bogus")],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP 401 UNAUTHENTICATED"), "{stderr}");
}

#[tokio::test]
async fn the_send_example_sends_an_event_with_buttons() {
    let server = DevServer::start();
    let out = run_example("send_event_with_buttons", &server, &[]);
    let stdout = assert_success("send_event_with_buttons", &out);
    assert!(stdout.contains("sent"), "{stdout}");
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_webhook_receiver_example_prints_a_delivered_message() {
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::Duration;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let server = DevServer::start();
    let mut receiver = Command::new(example_binary("webhook_receiver"))
        .env("KENAR_IDENTIFICATION_KEY", server.get("identification_key"))
        .env("KENAR_SIGNING_SECRET", SECRET)
        .env("KENAR_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the receiver starts");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = receiver.stdout.take().expect("its output");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || lines.recv_timeout(Duration::from_secs(30));
    let first = next_line().expect("the receiver says where it listens");
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();

    server
        .admin(
            Method::PATCH,
            "/admin/v1/apps/dev-app",
            json!({"webhook_url": url, "signing_secret": SECRET}),
        )
        .await;
    let post = server.get("post_token");
    server
        .client()
        .events()
        .register_subscription(
            kenar_sdk::RegisterSubscription::new_messages_on_post(&post)
                .metadata(json!({"chat": "support"})),
        )
        .await
        .expect("subscribed");
    let published: serde_json::Value = server
        .http
        .post(format!("{}/v1/platform/events", server.get("base_url")))
        .bearer_auth(server.get("platform_token"))
        .json(&json!({"events": [{"new_message": {
            "id": "m-1", "conversation": {"id": "c-1", "type": "POST", "post_token": post},
            "sender": {"side": "BUYER", "type": "HUMAN"}, "type": "TEXT",
            "sent_at": 1729429926140000_i64, "text": "سلام"}}]}))
        .send()
        .await
        .expect("published")
        .json()
        .await
        .expect("JSON");
    assert!(
        published["results"][0]["event_id"].is_string(),
        "{published}"
    );

    let line = next_line().expect("the receiver prints the event");
    let _ = receiver.kill();
    let _ = receiver.wait();
    assert!(
        line.starts_with("NEW_MESSAGE id=m-1 conversation=c-1"),
        "{line}"
    );
    assert!(line.contains("سلام"), "{line}");
    assert!(line.contains(r#"metadata={"chat":"support"}"#), "{line}");
}
