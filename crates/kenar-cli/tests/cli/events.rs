//! The public API (`subscribe`, `send`) and publishing sample events (`trigger`).

use serde_json::json;

use crate::support::{deliveries, Dev};

#[test]
fn subscribe_and_send_call_the_public_api_as_the_app() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let post = dev.get("post_token");
    let said = kenar.ok(&[
        "subscribe",
        "NEW_MESSAGE_ON_POST",
        "--post",
        &post,
        "--metadata",
        r#"{"shop_id": 42}"#,
    ]);
    assert!(
        said.contains("NEW_MESSAGE_ON_POST") && said.contains(&post),
        "{said}"
    );
    assert_eq!(kenar.json(&["subscribe", "post-update"]), json!({}));
    let subs = kenar.json(&["apps", "subscriptions"]);
    let subs = subs["subscriptions"].as_array().expect("subscriptions");
    assert_eq!(subs.len(), 2);
    assert!(subs.iter().any(|s| s["metadata"] == json!({"shop_id": 42})));

    // To the post setting's feed (query form), to a user's with buttons (body form).
    assert!(kenar.ok(&["send", "hello"]).contains(&post));
    let user = dev.get("user_id");
    assert_eq!(
        kenar.json(&[
            "send",
            "--user",
            &user,
            "گزارش شما آماده است",
            "--link",
            "مشاهده گزارش=https://example.com/r/1",
            "--dynamic-action",
            r#"renew plan={"plan": "gold"}"#,
        ]),
        json!({})
    );

    let run = kenar.run(&["send", "--user", "someone-else", "hi"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("HTTP 403 PERMISSION_DENIED"),
        "{}",
        run.stderr
    );
    let run = kenar.run(&["subscribe", "post-update", "--metadata", "[1]"]);
    assert_eq!(run.code, Some(2), "a usage error: {}", run.stderr);
}

#[test]
fn every_trigger_kind_publishes_an_event_that_is_delivered() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    kenar.ok(&["subscribe", "new-message-on-post"]);
    kenar.ok(&["subscribe", "post-update"]);
    let kinds = [
        (vec!["new-message", "--text", "سلام"], "NEW_MESSAGE"),
        (
            vec![
                "new-message",
                "--message-type",
                "location",
                "--side",
                "seller",
            ],
            "NEW_MESSAGE",
        ),
        (vec!["chatbot-message"], "NEW_CHATBOT_MESSAGE"),
        (
            vec!["post-update", "--update-type", "retire"],
            "POST_UPDATE",
        ),
        (vec!["payment", "--amount", "250000"], "PAYMENT_TRANSACTION"),
        // Last: a revocation ends the dev user's grant, and with it the subscriptions.
        (vec!["revocation"], "USER_ACCESS_REVOCATION"),
    ];
    for (args, webhook_type) in kinds {
        let mut argv = vec!["trigger"];
        argv.extend(&args);
        let answer = kenar.json(&argv);
        let event_id = answer["results"][0]["event_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{argv:?} answered {answer}"))
            .to_owned();
        let found = deliveries(&kenar, &["--event-type", webhook_type]);
        let delivery = found
            .iter()
            .find(|d| d["event_id"] == event_id.as_str())
            .unwrap_or_else(|| panic!("no delivery of {event_id} ({webhook_type}): {found:?}"));
        let shown = kenar.json(&[
            "deliveries",
            "show",
            delivery["webhook_id"].as_str().expect("id"),
        ]);
        assert_eq!(shown["body"]["type"], webhook_type);
        match webhook_type {
            "NEW_MESSAGE" if args.contains(&"location") => {
                assert_eq!(shown["body"]["new_message"]["type"], "LOCATION");
                assert_eq!(shown["body"]["new_message"]["sender"]["side"], "SELLER");
                assert!(shown["body"]["new_message"]["location_data"]["latitude"].is_number());
            }
            "NEW_MESSAGE" => assert_eq!(shown["body"]["new_message"]["text"], "سلام"),
            "POST_UPDATE" => assert_eq!(shown["body"]["post_update"]["type"], "RETIRE"),
            "PAYMENT_TRANSACTION" => {
                assert_eq!(shown["body"]["payment_transaction"]["cost_rials"], 250000)
            }
            "USER_ACCESS_REVOCATION" => assert_eq!(
                shown["body"]["user_access_revocation"]["user_id"],
                dev.get("user_id").as_str()
            ),
            _ => {}
        }
    }
}

#[test]
fn trigger_publishes_many_events_in_batches_and_prints_them_on_a_dry_run() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let answer = kenar.json(&["trigger", "payment", "--count", "5", "--batch-size", "2"]);
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 5);
    assert!(
        results.iter().all(|r| r["event_id"].is_string()),
        "{answer}"
    );
    assert_eq!(
        deliveries(&kenar, &["--event-type", "payment-transaction"]).len(),
        5
    );

    // A dry run needs no platform token and shows the items, patch applied.
    let dry = dev.kenar().without("KENAR_PLATFORM_TOKEN").json(&[
        "trigger",
        "new-message",
        "--dry-run",
        "--id",
        "m-1",
        "--patch",
        r#"{"new_message": {"sender": {"type": "BOT"}}, "post_owner_id": "u-9"}"#,
    ]);
    let item = &dry["events"][0];
    assert_eq!(item["new_message"]["id"], "m-1");
    assert_eq!(item["new_message"]["sender"]["type"], "BOT");
    assert_eq!(
        item["new_message"]["conversation"]["post_token"],
        dev.get("post_token").as_str()
    );
    assert_eq!(item["post_owner_id"], "u-9");
}

#[test]
fn a_refused_event_is_reported_and_fails_the_command() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let run = kenar.run(&["trigger", "payment", "--app", "no-such-app"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("refused"), "{}", run.stdout);
    assert!(run.stdout.contains("no-such-app"), "{}", run.stdout);
    assert!(
        run.stderr.contains("1 of 1 events were refused"),
        "{}",
        run.stderr
    );

    let run = kenar.run(&[
        "trigger",
        "new-message",
        "--message-type",
        "image",
        "--text",
        "x",
    ]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--text"), "{}", run.stderr);
}
