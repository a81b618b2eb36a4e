//! The delivery log: list with filters, show, redeliver, redeliver-failed.

use crate::support::{deliveries, eventually, Dev};

/// Publishes a payment (delivered to port 9, so it fails at its only attempt) and returns its
/// delivery once failed.
fn failed_payment(kenar: &crate::support::Kenar) -> serde_json::Value {
    let answer = kenar.json(&["trigger", "payment"]);
    let event_id = answer["results"][0]["event_id"]
        .as_str()
        .expect("an event id")
        .to_owned();
    eventually("the delivery to fail", || {
        deliveries(kenar, &["--status", "failed"])
            .into_iter()
            .find(|d| d["event_id"] == event_id.as_str())
    })
}

#[test]
fn deliveries_are_listed_with_filters_and_shown_with_their_attempts() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let failed = failed_payment(&kenar);
    kenar.ok(&["trigger", "chatbot-message"]);
    let id = failed["id"].as_i64().expect("an id").to_string();

    assert_eq!(deliveries(&kenar, &[]).len(), 2);
    assert_eq!(
        deliveries(&kenar, &["--event-type", "PAYMENT_TRANSACTION"]).len(),
        1
    );
    assert_eq!(deliveries(&kenar, &["--since", "1h"]).len(), 2);
    assert_eq!(deliveries(&kenar, &["--until", "1h"]).len(), 0);
    assert_eq!(
        deliveries(&kenar, &["--app", "dev-app", "--limit", "1"]).len(),
        1
    );
    let all = kenar.json(&["deliveries", "list", "--limit", "1", "--all"]);
    assert_eq!(all["deliveries"].as_array().map(Vec::len), Some(2));
    let run = kenar.run(&["deliveries", "list", "--since", "yesterday"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);

    let table = kenar.ok(&["deliveries", "list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("PAYMENT_TRANSACTION") && table.contains("FAILED"),
        "{table}"
    );

    let shown = kenar.json(&["deliveries", "show", &id]);
    assert_eq!(shown["webhook_id"], failed["webhook_id"]);
    assert_eq!(shown["body"]["type"], "PAYMENT_TRANSACTION");
    let attempts = shown["attempt_log"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert!(attempts[0]["error"].is_string(), "{shown}");
    let human = kenar.ok(&[
        "deliveries",
        "show",
        failed["webhook_id"].as_str().expect("id"),
    ]);
    assert!(human.contains("payment_transaction"), "{human}");
    assert!(human.contains("ATTEMPTED"), "{human}");

    let run = kenar.run(&["deliveries", "show", "msg_999"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("NOT_FOUND"), "{}", run.stderr);
}

#[test]
fn a_delivery_is_redelivered_and_failed_ones_are_queued_again() {
    let dev = Dev::start();
    let kenar = dev.kenar();
    let first = failed_payment(&kenar);
    let second = failed_payment(&kenar);
    let id = first["webhook_id"].as_str().expect("id").to_owned();

    let again = kenar.json(&["deliveries", "redeliver", &id]);
    assert_eq!(again["webhook_id"], id.as_str(), "the same webhook-id");
    // Its new attempt may already have been made (and failed) when the answer was read.
    assert!(
        again["status"] == "PENDING" || again["attempts"] == 2,
        "{again}"
    );
    eventually("the second attempt", || {
        let d = kenar.json(&["deliveries", "show", &id]);
        (d["attempts"] == 2 && d["status"] == "FAILED").then_some(())
    });

    let human = kenar.ok(&["deliveries", "redeliver-failed", "--since", "1h"]);
    assert!(
        human.contains("Queued 2 failed deliveries of dev-app"),
        "{human}"
    );
    let queued = kenar.json(&["deliveries", "redeliver-failed"]);
    assert!(queued["queued"].is_u64(), "{queued}");
    eventually("no pending delivery", || {
        deliveries(&kenar, &["--status", "pending"])
            .is_empty()
            .then_some(())
    });
    let second_id = second["webhook_id"].as_str().expect("id").to_owned();
    let d = kenar.json(&["deliveries", "show", &second_id]);
    assert!(d["attempts"].as_i64() >= Some(2), "{d}");

    let both = kenar.json(&["deliveries", "redeliver", &id, &second_id]);
    assert_eq!(both["deliveries"].as_array().map(Vec::len), Some(2));
}
