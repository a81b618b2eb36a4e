//! What apps receive at their webhook URL (contract Part 2).
//!
//! A webhook body is `{"type": T, "metadata": {...}, "<payload field>": {...}}`, with `metadata`
//! omitted when the subscription has none and exactly one payload field set.

mod message;
mod post;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::json::{deserialize_via_from_json, wire_enum, FromJson, Object, ReadError};

pub use message::{
    ChatMessage, ContactData, Conversation, ConversationType, FileData, ImageData, LocationData,
    MessageBody, MessageType, Sender, SenderSide, SenderType, VideoData, VoiceData,
};
pub use post::{Post, PostUpdate, PostUpdateType, Transaction, TransactionState, TransactionType};

wire_enum! {
    /// A webhook's `type`, which says which payload field is set.
    pub enum WebhookType {
        /// `NEW_MESSAGE`: a message on a subscribed post, in `new_message`.
        NewMessage = "NEW_MESSAGE",
        /// `NEW_CHATBOT_MESSAGE`: a message to the app's chatbot, in `new_chatbot_message`.
        NewChatbotMessage = "NEW_CHATBOT_MESSAGE",
        /// `USER_ACCESS_REVOCATION`: a user revoked the app's access, in `user_access_revocation`.
        UserAccessRevocation = "USER_ACCESS_REVOCATION",
        /// `POST_UPDATE`: a subscribed post changed, in `post_update`.
        PostUpdate = "POST_UPDATE",
        /// `PAYMENT_TRANSACTION`: a payment of the app, in `payment_transaction`.
        PaymentTransaction = "PAYMENT_TRANSACTION",
    }
}

impl WebhookType {
    /// The payload field a webhook of this type carries (the name we emit).
    pub const fn field_name(self) -> &'static str {
        match self.field_names() {
            [name, ..] => name,
            // Unreachable: every type has at least one name.
            [] => "",
        }
    }

    /// Every name the payload field is read under, the emitted one first.
    pub(crate) const fn field_names(self) -> &'static [&'static str] {
        match self {
            WebhookType::NewMessage => &["new_message"],
            WebhookType::NewChatbotMessage => &["new_chatbot_message"],
            WebhookType::UserAccessRevocation => &["user_access_revocation"],
            WebhookType::PostUpdate => &["post_update"],
            // Kenar's field table says `transaction` while its example says
            // `payment_transaction`.
            WebhookType::PaymentTransaction => &["payment_transaction", "transaction"],
        }
    }
}

/// One webhook delivery body.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// The metadata of the subscription that caused the delivery, if it has any.
    pub metadata: Option<Map<String, Value>>,
    /// What happened; it also fixes the webhook's `type`.
    pub payload: WebhookPayload,
}

impl Webhook {
    /// The webhook's wire `type`.
    pub fn webhook_type(&self) -> WebhookType {
        self.payload.webhook_type()
    }
}

impl Serialize for Webhook {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.webhook_type())?;
        if let Some(metadata) = &self.metadata {
            map.serialize_entry("metadata", metadata)?;
        }
        map.serialize_entry(self.payload.field_name(), &self.payload)?;
        map.end()
    }
}

impl FromJson for Webhook {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        let webhook_type: WebhookType = o.required("type")?;
        let (field, payload) = o
            .first_of(webhook_type.field_names())
            .ok_or_else(|| ReadError::new("missing field").at(webhook_type.field_name()))?;
        let payload =
            WebhookPayload::from_json_as(webhook_type, payload).map_err(|e| e.at(field))?;
        Ok(Webhook {
            metadata: o.optional("metadata")?,
            payload,
        })
    }
}

/// The payload of a webhook, one variant per webhook type.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookPayload {
    /// `new_message`.
    NewMessage(ChatMessage),
    /// `new_chatbot_message`.
    NewChatbotMessage(ChatMessage),
    /// `user_access_revocation`.
    UserAccessRevocation(UserAccessRevocation),
    /// `post_update`.
    PostUpdate(PostUpdate),
    /// `payment_transaction`.
    PaymentTransaction(Transaction),
}

impl WebhookPayload {
    /// The `type` of a webhook carrying this payload.
    pub fn webhook_type(&self) -> WebhookType {
        match self {
            WebhookPayload::NewMessage(_) => WebhookType::NewMessage,
            WebhookPayload::NewChatbotMessage(_) => WebhookType::NewChatbotMessage,
            WebhookPayload::UserAccessRevocation(_) => WebhookType::UserAccessRevocation,
            WebhookPayload::PostUpdate(_) => WebhookType::PostUpdate,
            WebhookPayload::PaymentTransaction(_) => WebhookType::PaymentTransaction,
        }
    }

    /// The wire `type` name (`NEW_MESSAGE`, ...).
    pub fn type_name(&self) -> &'static str {
        self.webhook_type().as_str()
    }

    /// The field this payload is carried in (`new_message`, ...).
    pub fn field_name(&self) -> &'static str {
        self.webhook_type().field_name()
    }

    /// Reads the payload object of a webhook of the given type.
    pub fn from_json_as(webhook_type: WebhookType, value: &Value) -> Result<Self, ReadError> {
        Ok(match webhook_type {
            WebhookType::NewMessage => WebhookPayload::NewMessage(FromJson::from_json(value)?),
            WebhookType::NewChatbotMessage => {
                WebhookPayload::NewChatbotMessage(FromJson::from_json(value)?)
            }
            WebhookType::UserAccessRevocation => {
                WebhookPayload::UserAccessRevocation(FromJson::from_json(value)?)
            }
            WebhookType::PostUpdate => WebhookPayload::PostUpdate(FromJson::from_json(value)?),
            WebhookType::PaymentTransaction => {
                WebhookPayload::PaymentTransaction(FromJson::from_json(value)?)
            }
        })
    }
}

/// Serializes the payload object alone, without its field name.
impl Serialize for WebhookPayload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            WebhookPayload::NewMessage(message) => message.serialize(serializer),
            WebhookPayload::NewChatbotMessage(message) => message.serialize(serializer),
            WebhookPayload::UserAccessRevocation(revocation) => revocation.serialize(serializer),
            WebhookPayload::PostUpdate(update) => update.serialize(serializer),
            WebhookPayload::PaymentTransaction(transaction) => transaction.serialize(serializer),
        }
    }
}

/// A user revoked the app's access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserAccessRevocation {
    /// The user, as the app knows them.
    pub user_id: String,
}

impl FromJson for UserAccessRevocation {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(UserAccessRevocation {
            user_id: o.required("user_id")?,
        })
    }
}

/// A payload serialized once, to be sent in several webhooks that differ only in their
/// metadata (one per subscription it matched): each webhook costs a string join, not a copy
/// and a serialization of the payload and a parse of the metadata.
#[derive(Debug, Clone)]
pub struct SerializedPayload {
    type_name: &'static str,
    field_name: &'static str,
    json: String,
}

impl SerializedPayload {
    /// Serializes `payload` for the webhooks that carry it.
    pub fn new(payload: &WebhookPayload) -> Self {
        Self::from_json(payload.webhook_type(), crate::json::to_json(payload))
    }

    /// A payload of `webhook_type` already serialized (`json`, as serializing it writes it).
    pub(crate) fn from_json(webhook_type: WebhookType, json: String) -> Self {
        SerializedPayload {
            type_name: webhook_type.as_str(),
            field_name: webhook_type.field_name(),
            json,
        }
    }

    /// The webhook's JSON text, exactly as serializing [`Webhook`] writes it; `metadata` is
    /// the JSON text of an object, as stored.
    pub fn webhook(&self, metadata: Option<&str>) -> String {
        let metadata_len = metadata.map_or(0, |m| m.len() + 12);
        let mut out = String::with_capacity(self.json.len() + metadata_len + 48);
        // Type and field names are plain ASCII identifiers: nothing to escape.
        out.push_str("{\"type\":\"");
        out.push_str(self.type_name);
        out.push('"');
        if let Some(metadata) = metadata {
            out.push_str(",\"metadata\":");
            out.push_str(metadata);
        }
        out.push_str(",\"");
        out.push_str(self.field_name);
        out.push_str("\":");
        out.push_str(&self.json);
        out.push('}');
        out
    }
}

deserialize_via_from_json!(Webhook, UserAccessRevocation);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn transaction_wire() -> Value {
        json!({
            "id": "t-1", "cost_rials": 100000, "extra_details": "x",
            "state": "TRANSACTION_STATE_COMPLETED", "type": "TRANSACTION_TYPE_REORDER"
        })
    }

    #[test]
    fn a_serialized_payload_makes_the_same_webhook_as_serializing_it() {
        let payload =
            WebhookPayload::from_json_as(WebhookType::PaymentTransaction, &transaction_wire())
                .expect("payload");
        let serialized = SerializedPayload::new(&payload);
        let metadata = json!({"key": "value", "n": [1, 2]});
        for metadata in [None, Some(metadata)] {
            let text = metadata.as_ref().map(|m| m.to_string());
            let webhook = Webhook {
                metadata: metadata.and_then(|m| m.as_object().cloned()),
                payload: payload.clone(),
            };
            assert_eq!(
                serialized.webhook(text.as_deref()),
                serde_json::to_string(&webhook).expect("serializes")
            );
        }
    }

    #[test]
    fn payment_transaction_is_also_read_from_transaction() {
        let webhook: Webhook = serde_json::from_value(json!({
            "type": "PAYMENT_TRANSACTION", "transaction": transaction_wire()
        }))
        .expect("parses");
        assert_eq!(webhook.webhook_type(), WebhookType::PaymentTransaction);
        assert_eq!(
            serde_json::to_value(&webhook).expect("serializes"),
            json!({"type": "PAYMENT_TRANSACTION", "payment_transaction": transaction_wire()})
        );
    }

    #[test]
    fn payload_fields_are_read_in_camel_case() {
        let webhook: Webhook = serde_json::from_value(json!({
            "type": "PAYMENT_TRANSACTION", "paymentTransaction": transaction_wire()
        }))
        .expect("parses");
        assert_eq!(webhook.payload.type_name(), "PAYMENT_TRANSACTION");
        let revocation: Webhook = serde_json::from_value(json!({
            "type": "USER_ACCESS_REVOCATION", "userAccessRevocation": {"userId": "u"}
        }))
        .expect("parses");
        assert_eq!(
            revocation.payload,
            WebhookPayload::UserAccessRevocation(UserAccessRevocation {
                user_id: "u".into()
            })
        );
    }

    #[test]
    fn metadata_is_omitted_when_absent_and_null_reads_as_absent() {
        let webhook: Webhook = serde_json::from_value(json!({
            "type": "USER_ACCESS_REVOCATION", "metadata": null,
            "user_access_revocation": {"user_id": "u"}
        }))
        .expect("parses");
        assert_eq!(webhook.metadata, None);
        assert_eq!(
            serde_json::to_value(&webhook).expect("serializes"),
            json!({"type": "USER_ACCESS_REVOCATION", "user_access_revocation": {"user_id": "u"}})
        );
    }

    #[test]
    fn a_webhook_without_the_payload_its_type_names_is_an_error() {
        let err = Webhook::from_json(&json!({
            "type": "POST_UPDATE", "user_access_revocation": {"user_id": "u"}
        }))
        .expect_err("post_update is missing");
        assert_eq!(err.to_string(), "post_update: missing field");
    }

    #[test]
    fn an_unknown_webhook_type_is_an_error_naming_the_value() {
        let err = Webhook::from_json(&json!({"type": "NEW_THING"})).expect_err("unknown");
        assert_eq!(err.to_string(), r#"type: unknown value "NEW_THING""#);
    }

    #[test]
    fn errors_inside_the_payload_carry_the_full_path() {
        let err = Webhook::from_json(&json!({
            "type": "PAYMENT_TRANSACTION",
            "transaction": {"id": "t", "cost_rials": "lots", "state": "TRANSACTION_STATE_PENDING",
                            "type": "TRANSACTION_TYPE_REORDER"}
        }))
        .expect_err("cost is not a number");
        assert_eq!(err.path(), "transaction.cost_rials");
    }

    #[test]
    fn every_webhook_type_names_a_distinct_payload_field() {
        let mut names: Vec<&str> = WebhookType::ALL.iter().map(|t| t.field_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WebhookType::ALL.len());
        assert!(!names.contains(&""));
    }
}
