use serde_json::{json, Value};

use super::*;
use crate::webhook::WebhookPayload;

fn chat_message(conversation_type: &str) -> Value {
    let mut conversation = json!({"id": "c-1", "type": conversation_type});
    if conversation_type == "POST" {
        conversation["post_token"] = json!("gZd7omnS");
    }
    json!({
        "id": "m-1",
        "conversation": conversation,
        "sender": {"side": "BUYER", "type": "HUMAN"},
        "type": "TEXT",
        "sent_at": 1729429926140000_i64,
        "text": "سلام"
    })
}

fn transaction() -> Value {
    json!({
        "id": "t-1", "cost_rials": 100000, "extra_details": "",
        "state": "TRANSACTION_STATE_PENDING", "type": "TRANSACTION_TYPE_REORDER"
    })
}

fn every_kind() -> Vec<Value> {
    vec![
        json!({"new_message": chat_message("POST"), "post_owner_id": "u-123"}),
        json!({"new_message": chat_message("POST")}),
        json!({"new_chatbot_message": chat_message("BOT"), "app_slug": "my-app", "user_id": "u-456"}),
        json!({"post_update": {"type": "RETIRE", "post": {"token": "gZd7omnS"}}, "owner_id": "u-123"}),
        json!({"payment_transaction": transaction(), "app_slug": "my-app"}),
        json!({"user_access_revocation": {}, "app_slug": "my-app", "user_id": "u-123"}),
    ]
}

fn violations_of(value: Value) -> Vec<(String, String)> {
    IngestEvent::from_value(&value)
        .expect_err("the item is invalid")
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect()
}

#[test]
fn each_ingest_kind_round_trips() {
    for wire in every_kind() {
        let event = IngestEvent::from_value(&wire).expect("parses");
        assert_eq!(serde_json::to_value(&event).expect("serializes"), wire);
        let via_serde: IngestEvent = serde_json::from_value(wire.clone()).expect("parses");
        assert_eq!(via_serde, event);
    }
}

#[test]
fn serialized_once_each_kind_is_what_serializing_it_twice_writes() {
    let mut escaped = chat_message("POST");
    escaped["text"] = json!("quote \" backslash \\ newline \n tab \t and سلام");
    let mut kinds = every_kind();
    kinds.push(json!({"new_message": escaped, "post_owner_id": "u-\"1\""}));
    for wire in kinds {
        let event = IngestEvent::from_value(&wire).expect("parses");
        let once = event.serialize_once();
        assert_eq!(
            once.stored,
            serde_json::to_string(&event).expect("serializes"),
            "{wire}"
        );
        match (&event, once.payload) {
            (IngestEvent::UserAccessRevocation { .. }, payload) => assert!(payload.is_none()),
            (_, Some(payload)) => {
                let separately = match &event {
                    IngestEvent::NewMessage { message, .. } => {
                        WebhookPayload::NewMessage(message.clone())
                    }
                    IngestEvent::NewChatbotMessage { message, .. } => {
                        WebhookPayload::NewChatbotMessage(message.clone())
                    }
                    IngestEvent::PostUpdate { update, .. } => {
                        WebhookPayload::PostUpdate(update.clone())
                    }
                    IngestEvent::PaymentTransaction { transaction, .. } => {
                        WebhookPayload::PaymentTransaction(transaction.clone())
                    }
                    IngestEvent::UserAccessRevocation { .. } => unreachable!("matched above"),
                };
                let metadata = Some(r#"{"k":"v"}"#);
                assert_eq!(
                    payload.webhook(metadata),
                    SerializedPayload::new(&separately).webhook(metadata),
                    "{wire}"
                );
                let webhook: Value =
                    serde_json::from_str(&payload.webhook(None)).expect("webhook JSON");
                assert_eq!(
                    webhook[event.webhook_type().field_name()],
                    wire[event.webhook_type().field_name()]
                );
            }
            (_, None) => panic!("no payload for {wire}"),
        }
    }
}

#[test]
fn each_ingest_kind_names_its_webhook_type() {
    let kinds: Vec<WebhookType> = every_kind()
        .iter()
        .map(|wire| {
            IngestEvent::from_value(wire)
                .expect("parses")
                .webhook_type()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            WebhookType::NewMessage,
            WebhookType::NewMessage,
            WebhookType::NewChatbotMessage,
            WebhookType::PostUpdate,
            WebhookType::PaymentTransaction,
            WebhookType::UserAccessRevocation,
        ]
    );
}

#[test]
fn an_ingest_event_with_a_bad_field_gives_a_violation_naming_it() {
    let mut message = chat_message("POST");
    message["sender"]["type"] = json!("ALIEN");
    assert_eq!(
        violations_of(json!({"new_message": message})),
        [(
            "new_message.sender.type".to_owned(),
            r#"unknown value "ALIEN""#.to_owned()
        )]
    );
}

#[test]
fn independent_bad_fields_are_all_reported() {
    let mut message = chat_message("BOT");
    message["sent_at"] = json!("yesterday");
    let violations = violations_of(json!({"new_chatbot_message": message, "user_id": ""}));
    let fields: Vec<&str> = violations.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["new_chatbot_message.sent_at", "app_slug", "user_id"]
    );
}

#[test]
fn an_ingest_event_reads_camel_case_and_the_transaction_alias() {
    let camel = json!({"newMessage": chat_message("POST"), "postOwnerId": "u-1"});
    let event = IngestEvent::from_value(&camel).expect("parses");
    assert!(matches!(
        &event,
        IngestEvent::NewMessage { post_owner_id: Some(id), .. } if id == "u-1"
    ));
    let alias = json!({"transaction": transaction(), "appSlug": "my-app"});
    let event = IngestEvent::from_value(&alias).expect("parses");
    assert_eq!(
        serde_json::to_value(&event).expect("serializes"),
        json!({"payment_transaction": transaction(), "app_slug": "my-app"})
    );
}

#[test]
fn an_ingest_event_needs_exactly_one_payload() {
    let none = violations_of(json!({"app_slug": "my-app"}));
    assert_eq!(none.len(), 1);
    assert_eq!(none[0].0, "");
    assert!(
        none[0].1.starts_with("exactly one of new_message,"),
        "{}",
        none[0].1
    );

    let two = violations_of(json!({
        "new_message": chat_message("POST"), "post_update": {}, "app_slug": "a"
    }));
    assert_eq!(
        two,
        [(
            "post_update".to_owned(),
            "only one event may be set, found new_message and post_update".to_owned()
        )]
    );
}

#[test]
fn a_new_message_must_be_in_a_post_conversation_that_names_its_post() {
    let bot = violations_of(json!({"new_message": chat_message("BOT")}));
    assert_eq!(bot[0].0, "new_message.conversation.type");
    assert_eq!(bot[0].1, "must be POST in new_message");

    let mut untokened = chat_message("POST");
    untokened["conversation"]["post_token"] = Value::Null;
    let missing = violations_of(json!({"new_message": untokened}));
    assert_eq!(missing[0].0, "new_message.conversation.post_token");
}

#[test]
fn a_chatbot_message_must_be_in_a_bot_conversation() {
    let violations = violations_of(json!({
        "new_chatbot_message": chat_message("POST"), "app_slug": "a", "user_id": "u"
    }));
    assert_eq!(violations[0].0, "new_chatbot_message.conversation.type");
}

#[test]
fn a_bad_item_does_not_spoil_the_good_ones() {
    let request: IngestRequest = serde_json::from_value(json!({"events": [
        {"user_access_revocation": {}, "app_slug": "a", "user_id": "u"},
        {"user_access_revocation": "nope", "app_slug": "a", "user_id": "u"},
        42
    ]}))
    .expect("parses");
    let outcomes: Vec<bool> = request.parsed().map(|r| r.is_ok()).collect();
    assert_eq!(outcomes, [true, false, false]);
}

#[test]
fn ingest_results_have_the_contract_shape() {
    let response = IngestResponse {
        results: vec![
            IngestResult::Accepted {
                event_id: "e-1".into(),
            },
            IngestResult::invalid(vec![FieldViolation {
                field: "app_slug".into(),
                description: "missing field".into(),
            }]),
        ],
    };
    let wire = serde_json::to_value(&response).expect("serializes");
    assert_eq!(
        wire,
        json!({"results": [
            {"event_id": "e-1"},
            {"error": {"code": 3, "message": "app_slug: missing field", "details": [{
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "field_violations": [{"field": "app_slug", "description": "missing field"}]
            }]}}
        ]})
    );
    let parsed: IngestResponse = serde_json::from_value(wire).expect("parses");
    assert_eq!(parsed, response);
}

#[test]
fn an_ingest_result_reads_camel_case() {
    let result: IngestResult = serde_json::from_value(json!({"eventId": "e-1"})).expect("parses");
    assert_eq!(
        result,
        IngestResult::Accepted {
            event_id: "e-1".into()
        }
    );
}
