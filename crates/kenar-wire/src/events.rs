//! The public Events API (contract Part 1): subscriptions, sent events and their buttons, and the
//! dynamic-action call an app answers when one of those buttons is pressed (contract §3.4).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json::{deserialize_via_from_json, wire_enum, FromJson, Object, ReadError};

wire_enum! {
    /// What a subscription listens to (`event_type`).
    pub enum EventType {
        /// Messages in conversations on the user's posts (`NEW_MESSAGE_ON_POST`).
        NewMessageOnPost = "NEW_MESSAGE_ON_POST",
        /// Publication and state changes of the user's posts (`POST_UPDATE`).
        PostUpdate = "POST_UPDATE",
    }
}

wire_enum! {
    /// Whose event feed a sent event lands in (`target_type`).
    pub enum TargetType {
        /// A user's feed; `target_resource_id` is that user's id (`USER`).
        User = "USER",
        /// A post's feed; `target_resource_id` is the post token (`POST`).
        Post = "POST",
    }
}

/// The body of `POST /v1/open-platform/events/subscriptions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterSubscriptionRequest {
    /// What to listen to.
    pub event_type: EventType,
    /// The post token to listen on; empty or absent means all of the user's posts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_resource_id: Option<String>,
    /// Opaque app data, echoed back in every webhook this subscription causes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<Map<String, Value>>,
}

impl RegisterSubscriptionRequest {
    /// The post token subscribed to, or `None` for all of the user's posts.
    pub fn resource(&self) -> Option<&str> {
        // The contract gives an empty id the same meaning as an absent one.
        self.event_resource_id
            .as_deref()
            .filter(|id| !id.is_empty())
    }
}

impl FromJson for RegisterSubscriptionRequest {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(RegisterSubscriptionRequest {
            event_type: o.required("event_type")?,
            event_resource_id: o.optional("event_resource_id")?,
            metadata: o.optional("metadata")?,
        })
    }
}

/// The answer to a successful subscription: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterSubscriptionResponse {}

/// The fields of `POST /experimental/open-platform/events/send` (query parameters or JSON body).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendEventRequest {
    /// The event's text; required and non-empty.
    pub message: String,
    /// Whether the event goes to a user's or a post's feed.
    pub target_type: TargetType,
    /// The user id (as the app sees it) or the post token.
    pub target_resource_id: String,
    /// Buttons shown with the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Buttons>,
}

impl FromJson for SendEventRequest {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(SendEventRequest {
            message: o.required("message")?,
            target_type: o.required("target_type")?,
            target_resource_id: o.required("target_resource_id")?,
            buttons: o.optional("buttons")?,
        })
    }
}

/// The `buttons` of a sent event.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Buttons {
    /// The buttons, in display order.
    pub items: Vec<Button>,
}

impl FromJson for Buttons {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(Buttons {
            items: o.or_default("items")?,
        })
    }
}

/// One button of a sent event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Button {
    /// The label, 5 to 50 characters.
    pub title: String,
    /// What pressing the button does.
    pub action: Action,
}

impl FromJson for Button {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(Button {
            title: o.required("title")?,
            action: o.required("action")?,
        })
    }
}

/// What a button does: an object holding exactly one of these fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `open_direct_link`: open this URL.
    OpenDirectLink(String),
    /// `open_server_link {data}`: open a link the app's server builds from `data`.
    OpenServerLink {
        /// Opaque app data.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        data: Map<String, Value>,
    },
    /// `get_dynamic_action {data}`: ask the app's dynamic-action URL what to do.
    GetDynamicAction {
        /// Opaque app data, sent as `extra_data`.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        data: Map<String, Value>,
    },
    /// `open_post_page {post_token}`: open a post.
    OpenPostPage {
        /// The post to open.
        post_token: String,
    },
    /// `open_post_manage_page {post_token}`: open a post's management page.
    OpenPostManagePage {
        /// The post to manage.
        post_token: String,
    },
}

impl Action {
    /// The wire field names of the variants, in declaration order.
    pub const FIELDS: [&'static str; 5] = [
        "open_direct_link",
        "open_server_link",
        "get_dynamic_action",
        "open_post_page",
        "open_post_manage_page",
    ];

    /// The wire field this action is carried in (`open_direct_link`, ...).
    pub fn field_name(&self) -> &'static str {
        let [direct, server, dynamic, post, manage] = Self::FIELDS;
        match self {
            Action::OpenDirectLink(_) => direct,
            Action::OpenServerLink { .. } => server,
            Action::GetDynamicAction { .. } => dynamic,
            Action::OpenPostPage { .. } => post,
            Action::OpenPostManagePage { .. } => manage,
        }
    }
}

impl FromJson for Action {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        let set: Vec<&str> = Self::FIELDS
            .into_iter()
            .filter(|field| o.get(field).is_some())
            .collect();
        let field = match set.as_slice() {
            [field] => *field,
            [] => {
                return Err(ReadError::new(format!(
                    "exactly one of {} must be set",
                    Self::FIELDS.join(", ")
                )))
            }
            [first, second, ..] => {
                return Err(ReadError::new(format!(
                    "only one action may be set, found {first} and {second}"
                )))
            }
        };
        let data = |v: &Value| -> Result<Map<String, Value>, ReadError> {
            Object::new(v)?.or_default("data")
        };
        let post_token =
            |v: &Value| -> Result<String, ReadError> { Object::new(v)?.required("post_token") };
        Ok(match field {
            "open_direct_link" => Action::OpenDirectLink(o.required(field)?),
            "open_server_link" => Action::OpenServerLink {
                data: o.required_with(field, data)?,
            },
            "get_dynamic_action" => Action::GetDynamicAction {
                data: o.required_with(field, data)?,
            },
            "open_post_page" => Action::OpenPostPage {
                post_token: o.required_with(field, post_token)?,
            },
            _ => Action::OpenPostManagePage {
                post_token: o.required_with(field, post_token)?,
            },
        })
    }
}

/// The answer to a sent event: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendEventResponse {}

/// The body the server POSTs to an app's dynamic-action URL when a `get_dynamic_action` button
/// is pressed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DynamicActionRequest {
    /// Where the button was pressed (for example the event feed).
    pub touchpoint: String,
    /// The user who pressed it, as the app knows them.
    pub user_id: String,
    /// The post the event belongs to; empty for an event sent to a user.
    pub post_token: String,
    /// The button's `data`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub extra_data: Map<String, Value>,
    /// Facts about the press.
    pub request_data: RequestData,
}

impl FromJson for DynamicActionRequest {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(DynamicActionRequest {
            touchpoint: o.required("touchpoint")?,
            user_id: o.required("user_id")?,
            post_token: o.or_default("post_token")?,
            extra_data: o.or_default("extra_data")?,
            request_data: o.required("request_data")?,
        })
    }
}

/// The `request_data` of a dynamic-action call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestData {
    /// The sent event whose button was pressed.
    pub event_id: String,
}

impl FromJson for RequestData {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(RequestData {
            event_id: o.required("event_id")?,
        })
    }
}

/// An app's answer to a dynamic-action call: what to do next and/or a text to show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DynamicActionResponse {
    /// The action to perform, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// A text to show the user, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_message: Option<String>,
}

impl FromJson for DynamicActionResponse {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(DynamicActionResponse {
            action: o.optional("action")?,
            text_message: o.optional("text_message")?,
        })
    }
}

deserialize_via_from_json!(
    RegisterSubscriptionRequest,
    SendEventRequest,
    Buttons,
    Button,
    Action,
    DynamicActionRequest,
    RequestData,
    DynamicActionResponse,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_types_round_trip_through_their_wire_names() {
        for event_type in EventType::ALL {
            assert_eq!(event_type.as_str().parse::<EventType>(), Ok(*event_type));
        }
        assert_eq!(
            "FOO".parse::<EventType>().map_err(|e| e.to_string()),
            Err(r#"unknown value "FOO""#.to_owned())
        );
    }

    #[test]
    fn an_unknown_event_type_is_an_error_naming_the_field_and_value() {
        let err =
            serde_json::from_value::<RegisterSubscriptionRequest>(json!({"event_type": "FOO"}))
                .expect_err("FOO is not an event type");
        assert_eq!(err.to_string(), r#"event_type: unknown value "FOO""#);
    }

    #[test]
    fn register_subscription_reads_camel_case_and_ignores_unknown_fields() {
        let request: RegisterSubscriptionRequest = serde_json::from_value(json!({
            "eventType": "POST_UPDATE", "eventResourceId": "gZd7omnS", "surprise": 1
        }))
        .expect("parses");
        assert_eq!(request.event_type, EventType::PostUpdate);
        assert_eq!(request.resource(), Some("gZd7omnS"));
        assert_eq!(
            serde_json::to_value(&request).expect("serializes"),
            json!({"event_type": "POST_UPDATE", "event_resource_id": "gZd7omnS"})
        );
    }

    #[test]
    fn null_and_empty_resource_ids_mean_all_posts() {
        let null: RegisterSubscriptionRequest = serde_json::from_value(
            json!({"event_type": "POST_UPDATE", "event_resource_id": null, "metadata": null}),
        )
        .expect("parses");
        assert_eq!(null.event_resource_id, None);
        assert_eq!(null.metadata, None);
        let empty: RegisterSubscriptionRequest =
            serde_json::from_value(json!({"event_type": "POST_UPDATE", "event_resource_id": ""}))
                .expect("parses");
        assert_eq!(empty.resource(), None);
    }

    #[test]
    fn empty_responses_serialize_to_an_empty_object() {
        let register = serde_json::to_value(RegisterSubscriptionResponse {}).expect("serializes");
        let send = serde_json::to_value(SendEventResponse {}).expect("serializes");
        assert_eq!(register, json!({}));
        assert_eq!(send, json!({}));
    }

    #[test]
    fn every_action_variant_round_trips() {
        let data = json!({"k": "v"});
        for wire in [
            json!({"open_direct_link": "https://example.com"}),
            json!({"open_server_link": {"data": data}}),
            json!({"get_dynamic_action": {"data": data}}),
            json!({"open_post_page": {"post_token": "gZd7omnS"}}),
            json!({"open_post_manage_page": {"post_token": "gZd7omnS"}}),
        ] {
            let action: Action = serde_json::from_value(wire.clone()).expect("parses");
            assert_eq!(serde_json::to_value(&action).expect("serializes"), wire);
            assert!(wire.get(action.field_name()).is_some());
        }
    }

    #[test]
    fn an_action_with_no_variant_is_rejected() {
        let err = serde_json::from_value::<Action>(json!({"open_direct_link": null, "x": 1}))
            .expect_err("nothing set");
        assert!(
            err.to_string()
                .starts_with("exactly one of open_direct_link,"),
            "{err}"
        );
    }

    #[test]
    fn an_action_with_two_variants_is_rejected_naming_both() {
        let err = serde_json::from_value::<Button>(json!({
            "title": "title",
            "action": {"open_direct_link": "https://a", "openPostPage": {"post_token": "p"}}
        }))
        .expect_err("two set");
        assert_eq!(
            err.to_string(),
            "action: only one action may be set, found open_direct_link and open_post_page"
        );
    }

    #[test]
    fn a_server_link_without_data_reads_as_empty_data() {
        let action: Action = serde_json::from_value(json!({"openServerLink": {}})).expect("parses");
        assert_eq!(action, Action::OpenServerLink { data: Map::new() });
    }

    #[test]
    fn errors_inside_buttons_name_the_item() {
        let err = SendEventRequest::from_json(&json!({
            "message": "m", "target_type": "USER", "target_resource_id": "u",
            "buttons": {"items": [{"title": "hello", "action": {"open_direct_link": "x"}},
                                  {"title": "hello", "action": {"open_post_page": {}}}]}
        }))
        .expect_err("second button lacks a post token");
        assert_eq!(
            err.path(),
            "buttons.items[1].action.open_post_page.post_token"
        );
        assert_eq!(err.message(), "missing field");
    }

    #[test]
    fn send_event_request_reads_camel_case() {
        let request: SendEventRequest = serde_json::from_value(json!({
            "message": "سلام", "targetType": "USER", "targetResourceId": "u-1"
        }))
        .expect("parses");
        assert_eq!(request.target_type, TargetType::User);
        assert_eq!(request.buttons, None);
    }

    #[test]
    fn dynamic_action_request_round_trips_and_reads_camel_case() {
        let wire = json!({
            "touchpoint": "EVENT_FEED", "user_id": "u", "post_token": "p",
            "extra_data": {"report_id": "1"}, "request_data": {"event_id": "e-1"}
        });
        let request: DynamicActionRequest = serde_json::from_value(wire.clone()).expect("parses");
        assert_eq!(serde_json::to_value(&request).expect("serializes"), wire);
        let camel: DynamicActionRequest = serde_json::from_value(json!({
            "touchpoint": "EVENT_FEED", "userId": "u", "postToken": "p",
            "extraData": {"report_id": "1"}, "requestData": {"eventId": "e-1"}
        }))
        .expect("parses");
        assert_eq!(camel, request);
    }

    #[test]
    fn dynamic_action_response_omits_absent_fields() {
        let response: DynamicActionResponse =
            serde_json::from_value(json!({"textMessage": "ok"})).expect("parses");
        assert_eq!(
            serde_json::to_value(&response).expect("serializes"),
            json!({"text_message": "ok"})
        );
    }
}
