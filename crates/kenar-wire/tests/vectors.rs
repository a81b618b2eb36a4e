//! Every JSON example of the contract (`shared/contract/vectors/`) parses as its type and is
//! re-emitted unchanged.

use std::fs;
use std::path::Path;

use kenar_wire::events::{DynamicActionResponse, RegisterSubscriptionRequest, SendEventRequest};
use kenar_wire::status::Status;
use kenar_wire::webhook::Webhook;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/contract/vectors"
);

/// Parses a vector's text as some wire type and serializes it back.
type RoundTrip = fn(&str) -> Result<Value, serde_json::Error>;

/// Parses `text` as `T` and serializes it back.
fn round_trip<T: DeserializeOwned + Serialize>(text: &str) -> Result<Value, serde_json::Error> {
    let parsed: T = serde_json::from_str(text)?;
    serde_json::to_value(&parsed)
}

/// The round trip for a vector, chosen by its file name.
fn rule_for(name: &str) -> Option<RoundTrip> {
    if name.starts_with("webhook_") {
        Some(round_trip::<Webhook>)
    } else if name.starts_with("error_") {
        Some(round_trip::<Status>)
    } else if name.starts_with("register_subscription_request") {
        Some(round_trip::<RegisterSubscriptionRequest>)
    } else if name.starts_with("send_event_request_body") {
        Some(round_trip::<SendEventRequest>)
    } else if name.starts_with("dynamic_action_response") {
        Some(round_trip::<DynamicActionResponse>)
    } else {
        None
    }
}

#[test]
fn every_contract_vector_parses_and_is_re_emitted_unchanged() {
    let mut entries: Vec<_> = fs::read_dir(Path::new(VECTORS))
        .expect("the vectors directory is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "no vectors in {VECTORS}");

    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a UTF-8 file name")
            .to_owned();
        let round_trip = rule_for(&name).unwrap_or_else(|| panic!("no rule covers vector {name}"));
        let text = fs::read_to_string(&path).expect("the vector is readable");
        let original: Value = serde_json::from_str(&text).expect("the vector is JSON");
        let emitted = round_trip(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        assert_eq!(emitted, original, "{name} changed in the round trip");
    }
}

#[test]
fn the_camel_case_spelling_of_a_vector_reads_the_same() {
    let text = fs::read_to_string(Path::new(VECTORS).join("webhook_new_message_image.json"))
        .expect("the vector is readable");
    let camel = text
        .replace("new_message", "newMessage")
        .replace("post_token", "postToken")
        .replace("sent_at", "sentAt")
        .replace("image_data", "imageData")
        .replace("size_bytes", "sizeBytes")
        .replace("height_px", "heightPx")
        .replace("width_px", "widthPx");
    assert_ne!(camel, text);
    let snake = round_trip::<Webhook>(&text).expect("the snake_case vector parses");
    let from_camel = round_trip::<Webhook>(&camel).expect("the camelCase spelling parses");
    assert_eq!(from_camel, snake);
}
