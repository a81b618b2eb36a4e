//! The OpenAPI schemas (feature `openapi`) describe the wire shape of the types.
#![cfg(feature = "openapi")]

use kenar_wire::events::{
    Action, DynamicActionRequest, DynamicActionResponse, EventType, RegisterSubscriptionRequest,
    RegisterSubscriptionResponse, SendEventRequest, SendEventResponse, TargetType,
};
use kenar_wire::platform::{IngestRequest, IngestResponse};
use kenar_wire::Status;
use serde_json::{json, Value};
use utoipa::{OpenApi, PartialSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    RegisterSubscriptionRequest,
    RegisterSubscriptionResponse,
    SendEventRequest,
    SendEventResponse,
    DynamicActionRequest,
    DynamicActionResponse,
    IngestRequest,
    IngestResponse,
    Status
)))]
struct Document;

fn schema_of<T: PartialSchema>() -> Value {
    serde_json::to_value(T::schema()).expect("a schema serializes")
}

fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[test]
fn every_schema_reference_in_a_document_resolves() {
    let document = serde_json::to_value(Document::openapi()).expect("the document serializes");
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(found.iter().any(|r| r.ends_with("/EventType")));
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{name} is referenced but not defined"
        );
    }
}

#[test]
fn wire_enums_are_string_enums_of_their_wire_names() {
    assert_eq!(
        schema_of::<EventType>(),
        json!({"type": "string", "enum": ["NEW_MESSAGE_ON_POST", "POST_UPDATE"]})
    );
    assert_eq!(
        schema_of::<TargetType>(),
        json!({"type": "string", "enum": ["USER", "POST"]})
    );
}

#[test]
fn the_action_schema_is_one_of_the_five_wire_fields() {
    let schema = schema_of::<Action>();
    let fields: Vec<&str> = schema["oneOf"]
        .as_array()
        .expect("a oneOf")
        .iter()
        .map(|variant| variant["required"][0].as_str().expect("one required field"))
        .collect();
    assert_eq!(fields, Action::FIELDS);
}

#[test]
fn request_schemas_use_snake_case_and_require_only_required_fields() {
    let schema = schema_of::<RegisterSubscriptionRequest>();
    assert_eq!(schema["required"], json!(["event_type"]));
    let mut properties: Vec<&String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    properties.sort();
    assert_eq!(properties, ["event_resource_id", "event_type", "metadata"]);
    assert_eq!(
        schema_of::<SendEventRequest>()["required"],
        json!(["message", "target_type", "target_resource_id"])
    );
}
