//! The receiving side: webhooks Kenar POSTs to the app (contract Part 2).
//!
//! A webhook is authenticated by its `Authorization` header, which carries the app's
//! identification key as set in its settings, and, when the app has a signing secret, by a
//! [Standard Webhooks](https://www.standardwebhooks.com/) signature. [`Verifier`] checks both
//! (in constant time) and parses the body into an [`Event`]:
//!
//! ```
//! use kenar_sdk::webhook::{sign, Event, SigningSecret, Verifier};
//!
//! let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let verifier = Verifier::new("the identification key").signing_secret(secret.clone());
//!
//! // What an incoming request carries.
//! let body = br#"{"type": "USER_ACCESS_REVOCATION", "user_access_revocation": {"user_id": "u-1"}}"#;
//! let now = std::time::SystemTime::now();
//! let timestamp = now.duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
//! let mut headers = http::HeaderMap::new();
//! headers.insert("authorization", "the identification key".parse()?);
//! headers.insert("webhook-id", "msg_1".parse()?);
//! headers.insert("webhook-timestamp", timestamp.to_string().parse()?);
//! headers.insert("webhook-signature", sign(&secret, "msg_1", timestamp, body).parse()?);
//!
//! match verifier.verify(&headers, body)? {
//!     Event::UserAccessRevocation { revocation, .. } => println!("{} left", revocation.user_id),
//!     other => println!("{}", other.type_name()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `axum` feature, `KenarWebhook` does the same as an extractor and answers `401` to
//! requests that fail authentication.
//!
//! Parsing is lenient as the contract asks: snake_case or lowerCamelCase field names, unknown
//! fields ignored, `null` read as absent, 64-bit integers as numbers or strings, `USER` read as
//! `HUMAN`, the payment payload under `payment_transaction` or `transaction`. A webhook whose
//! `type` this SDK does not know yet parses as [`Event::Unknown`] rather than failing, so a
//! receiver can acknowledge it.

#[cfg(feature = "axum")]
mod axum;
mod verify;

use serde_json::{Map, Value};

use kenar_wire::json::{FromJson, ReadError};
use kenar_wire::webhook::{Webhook, WebhookPayload, WebhookType};

#[cfg(feature = "axum")]
pub use self::axum::{KenarWebhook, WebhookRejection};
pub use verify::{
    sign, verify_identification_key, InvalidSigningSecret, SigningSecret, Verifier, WebhookError,
    WebhookHeaders, DEFAULT_TOLERANCE,
};

/// The header map [`Verifier::verify`] reads (the `http` crate's, as axum, hyper and reqwest use).
pub use http::HeaderMap;
pub use kenar_wire::webhook::{
    ChatMessage, ContactData, Conversation, ConversationType, FileData, ImageData, LocationData,
    MessageBody, MessageType, Post, PostUpdate, PostUpdateType, Sender, SenderSide, SenderType,
    Transaction, TransactionState, TransactionType, UserAccessRevocation, VideoData, VoiceData,
};

/// A subscription's metadata, as the app gave it when registering.
pub type Metadata = Map<String, Value>;

/// One webhook: what happened, and the metadata of the subscription that caused it (`None` when
/// it has none, and for events that need no subscription).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `NEW_MESSAGE`: a message in a conversation on a subscribed post.
    NewMessage {
        /// The message.
        message: ChatMessage,
        /// The subscription's metadata.
        metadata: Option<Metadata>,
    },
    /// `NEW_CHATBOT_MESSAGE`: a message to the app's chatbot.
    NewChatbotMessage {
        /// The message (`conversation.type` is `BOT`).
        message: ChatMessage,
        /// Metadata, if any.
        metadata: Option<Metadata>,
    },
    /// `USER_ACCESS_REVOCATION`: a user revoked the app's access; their tokens and
    /// subscriptions are gone.
    UserAccessRevocation {
        /// Who revoked it.
        revocation: UserAccessRevocation,
        /// Metadata, if any.
        metadata: Option<Metadata>,
    },
    /// `POST_UPDATE`: a subscribed post was published, changed, retired or archived.
    PostUpdate {
        /// The change.
        update: PostUpdate,
        /// The subscription's metadata.
        metadata: Option<Metadata>,
    },
    /// `PAYMENT_TRANSACTION`: a payment to the app changed state.
    PaymentTransaction {
        /// The transaction.
        transaction: Transaction,
        /// Metadata, if any.
        metadata: Option<Metadata>,
    },
    /// A webhook `type` this SDK does not know (a newer Kenar); kept whole.
    Unknown {
        /// The `type` it came with.
        type_name: String,
        /// Its `metadata`, if that was an object.
        metadata: Option<Metadata>,
        /// The whole body.
        body: Value,
    },
}

impl Event {
    /// Parses a webhook body.
    pub fn parse(body: &[u8]) -> Result<Event, ParseError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| ParseError {
            path: String::new(),
            message: format!("not JSON: {e}"),
        })?;
        Event::from_value(&value)
    }

    /// Reads an already parsed webhook body.
    pub fn from_value(value: &Value) -> Result<Event, ParseError> {
        let Some(object) = value.as_object() else {
            return Err(ReadError::new(format!(
                "expected an object, got {}",
                kenar_wire::json::kind_of(value)
            ))
            .into());
        };
        if let Some(Value::String(type_name)) = object.get("type") {
            if type_name.parse::<WebhookType>().is_err() {
                return Ok(Event::Unknown {
                    type_name: type_name.clone(),
                    metadata: object.get("metadata").and_then(Value::as_object).cloned(),
                    body: value.clone(),
                });
            }
        }
        Ok(Webhook::from_json(value)?.into())
    }

    /// The wire `type` (`NEW_MESSAGE`, ...; for [`Event::Unknown`] the one it came with).
    pub fn type_name(&self) -> &str {
        match self {
            Event::NewMessage { .. } => WebhookType::NewMessage.as_str(),
            Event::NewChatbotMessage { .. } => WebhookType::NewChatbotMessage.as_str(),
            Event::UserAccessRevocation { .. } => WebhookType::UserAccessRevocation.as_str(),
            Event::PostUpdate { .. } => WebhookType::PostUpdate.as_str(),
            Event::PaymentTransaction { .. } => WebhookType::PaymentTransaction.as_str(),
            Event::Unknown { type_name, .. } => type_name,
        }
    }

    /// The metadata of the subscription that caused the webhook, if any.
    pub fn metadata(&self) -> Option<&Metadata> {
        match self {
            Event::NewMessage { metadata, .. }
            | Event::NewChatbotMessage { metadata, .. }
            | Event::UserAccessRevocation { metadata, .. }
            | Event::PostUpdate { metadata, .. }
            | Event::PaymentTransaction { metadata, .. }
            | Event::Unknown { metadata, .. } => metadata.as_ref(),
        }
    }

    /// The wire form of a known event type (`None` for [`Event::Unknown`]); it serializes to
    /// the contract's JSON.
    pub fn into_webhook(self) -> Option<Webhook> {
        let (payload, metadata) = match self {
            Event::NewMessage { message, metadata } => {
                (WebhookPayload::NewMessage(message), metadata)
            }
            Event::NewChatbotMessage { message, metadata } => {
                (WebhookPayload::NewChatbotMessage(message), metadata)
            }
            Event::UserAccessRevocation {
                revocation,
                metadata,
            } => (WebhookPayload::UserAccessRevocation(revocation), metadata),
            Event::PostUpdate { update, metadata } => {
                (WebhookPayload::PostUpdate(update), metadata)
            }
            Event::PaymentTransaction {
                transaction,
                metadata,
            } => (WebhookPayload::PaymentTransaction(transaction), metadata),
            Event::Unknown { .. } => return None,
        };
        Some(Webhook { metadata, payload })
    }
}

impl From<Webhook> for Event {
    fn from(webhook: Webhook) -> Self {
        let metadata = webhook.metadata;
        match webhook.payload {
            WebhookPayload::NewMessage(message) => Event::NewMessage { message, metadata },
            WebhookPayload::NewChatbotMessage(message) => {
                Event::NewChatbotMessage { message, metadata }
            }
            WebhookPayload::UserAccessRevocation(revocation) => Event::UserAccessRevocation {
                revocation,
                metadata,
            },
            WebhookPayload::PostUpdate(update) => Event::PostUpdate { update, metadata },
            WebhookPayload::PaymentTransaction(transaction) => Event::PaymentTransaction {
                transaction,
                metadata,
            },
        }
    }
}

/// A webhook body that is not one: not JSON, or a known `type` with a payload that does not
/// match the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{message}", .path, if .path.is_empty() { "" } else { ": " })]
pub struct ParseError {
    path: String,
    message: String,
}

impl ParseError {
    /// The offending field as a path (`new_message.sender.type`); empty for the body itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<ReadError> for ParseError {
    fn from(e: ReadError) -> Self {
        ParseError {
            path: e.path().to_owned(),
            message: e.message().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_type_is_kept_rather_than_refused() {
        let event =
            Event::parse(br#"{"type": "NEW_THING", "metadata": {"a": 1}, "new_thing": {}}"#)
                .expect("parses");
        assert_eq!(event.type_name(), "NEW_THING");
        assert_eq!(event.metadata(), json!({"a": 1}).as_object());
        assert!(event.into_webhook().is_none());
    }

    #[test]
    fn a_known_type_with_a_bad_payload_names_the_field() {
        let err =
            Event::parse(br#"{"type": "USER_ACCESS_REVOCATION", "user_access_revocation": {}}"#)
                .expect_err("no user id");
        assert_eq!(err.path(), "user_access_revocation.user_id");
        assert_eq!(
            err.to_string(),
            "user_access_revocation.user_id: missing field"
        );
        assert!(Event::parse(b"[1]").is_err());
        assert!(Event::parse(b"not json").is_err());
        assert!(Event::parse(br#"{"metadata": {}}"#).is_err(), "no type");
    }

    #[test]
    fn metadata_comes_through_and_the_event_converts_back() {
        let body = json!({"type": "POST_UPDATE", "metadata": {"shop": 7},
                          "post_update": {"type": "RETIRE", "post": {"token": "gZd7omnS"}}});
        let event = Event::from_value(&body).expect("parses");
        let Event::PostUpdate { update, metadata } = &event else {
            panic!("{event:?}")
        };
        assert_eq!(update.r#type, PostUpdateType::Retire);
        assert_eq!(
            metadata.as_ref().and_then(|m| m.get("shop")),
            Some(&json!(7))
        );
        let back = serde_json::to_value(event.into_webhook().expect("known")).expect("serializes");
        assert_eq!(back, body);
    }
}
