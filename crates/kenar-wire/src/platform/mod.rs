//! Ingestion (contract §3.3): the body and answer of `POST /v1/platform/events`, through which the
//! platform (chat, posts, payments, OAuth) hands events to the server.
//!
//! Each item reuses a webhook payload object under its webhook field name, next to the routing
//! facts the platform knows. User ids here are the platform's internal ids, not the per-app
//! pseudonyms apps see.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::json::{deserialize_via_from_json, to_json, FromJson, Object, ReadError};
use crate::status::{Code, Detail, FieldViolation, Status};
use crate::webhook::{
    ChatMessage, ConversationType, PostUpdate, SerializedPayload, Transaction, WebhookType,
};

/// The body of `POST /v1/platform/events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestRequest {
    /// The events, each kept raw so that one bad item is rejected alone instead of failing the
    /// whole batch; read each with [`IngestEvent::from_value`].
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub events: Vec<Value>,
}

impl IngestRequest {
    /// Every item read as an event, in order.
    pub fn parsed(&self) -> impl Iterator<Item = Result<IngestEvent, Vec<FieldViolation>>> + '_ {
        self.events.iter().map(IngestEvent::from_value)
    }
}

impl FromJson for IngestRequest {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(IngestRequest {
            events: o.or_default("events")?,
        })
    }
}

/// One ingested event: a webhook payload and the routing facts the platform knows.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestEvent {
    /// `{"new_message": ChatMessage, "post_owner_id"?}`: a message in a `POST` conversation.
    NewMessage {
        /// The message; its conversation is of type `POST` and has a `post_token`.
        message: ChatMessage,
        /// The post's owner; may be omitted when known from the post's updates.
        post_owner_id: Option<String>,
    },
    /// `{"new_chatbot_message": ChatMessage, "app_slug", "user_id"}`: a message to a chatbot.
    NewChatbotMessage {
        /// The message; its conversation is of type `BOT`.
        message: ChatMessage,
        /// The app owning the chatbot.
        app_slug: String,
        /// The user talking to the chatbot.
        user_id: String,
    },
    /// `{"post_update": PostUpdate, "owner_id"?}`: a post changed.
    PostUpdate {
        /// The change.
        update: PostUpdate,
        /// The post's owner; may be omitted when already known.
        owner_id: Option<String>,
    },
    /// `{"payment_transaction": Transaction, "app_slug"}`: a payment of an app.
    PaymentTransaction {
        /// The transaction.
        transaction: Transaction,
        /// The app that owns it.
        app_slug: String,
    },
    /// `{"user_access_revocation": {}, "app_slug", "user_id"}`: a user revoked an app's access.
    UserAccessRevocation {
        /// The app whose access was revoked.
        app_slug: String,
        /// The user who revoked it.
        user_id: String,
    },
}

/// Violations gathered while reading independent fields, so that all of them are reported.
#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    fn take<T>(&mut self, result: Result<T, ReadError>) -> Option<T> {
        result.map_err(|e| self.0.push(e.into())).ok()
    }
}

impl IngestEvent {
    /// Reads one item of [`IngestRequest::events`]. Violations name the offending field by its
    /// path within the item (`new_message.sender.type`); an empty path is the item itself.
    pub fn from_value(value: &Value) -> Result<IngestEvent, Vec<FieldViolation>> {
        let o = Object::new(value).map_err(|e| vec![e.into()])?;
        let present: Vec<(WebhookType, &str, &Value)> = WebhookType::ALL
            .iter()
            .filter_map(|t| o.first_of(t.field_names()).map(|(name, v)| (*t, name, v)))
            .collect();
        let (kind, field, payload) = match present.as_slice() {
            [one] => *one,
            [] => {
                let names: Vec<&str> = WebhookType::ALL.iter().map(|t| t.field_name()).collect();
                let message = format!("exactly one of {} must be set", names.join(", "));
                return Err(vec![ReadError::new(message).into()]);
            }
            [(_, first, _), (_, second, _), ..] => {
                let message = format!("only one event may be set, found {first} and {second}");
                return Err(vec![ReadError::new(message).at(second).into()]);
            }
        };
        let mut violations = Violations::default();
        let event = match kind {
            WebhookType::NewMessage => {
                let message = violations.take(read_message(payload, ConversationType::Post, field));
                let post_owner_id = violations.take(optional_id(&o, "post_owner_id"));
                message
                    .zip(post_owner_id)
                    .map(|(message, post_owner_id)| IngestEvent::NewMessage {
                        message,
                        post_owner_id,
                    })
            }
            WebhookType::NewChatbotMessage => {
                let message = violations.take(read_message(payload, ConversationType::Bot, field));
                let app_slug = violations.take(required_id(&o, "app_slug"));
                let user_id = violations.take(required_id(&o, "user_id"));
                match (message, app_slug, user_id) {
                    (Some(message), Some(app_slug), Some(user_id)) => {
                        Some(IngestEvent::NewChatbotMessage {
                            message,
                            app_slug,
                            user_id,
                        })
                    }
                    _ => None,
                }
            }
            WebhookType::PostUpdate => {
                let update = violations.take(read_post_update(payload).map_err(|e| e.at(field)));
                let owner_id = violations.take(optional_id(&o, "owner_id"));
                update
                    .zip(owner_id)
                    .map(|(update, owner_id)| IngestEvent::PostUpdate { update, owner_id })
            }
            WebhookType::PaymentTransaction => {
                let transaction =
                    violations.take(read_transaction(payload).map_err(|e| e.at(field)));
                let app_slug = violations.take(required_id(&o, "app_slug"));
                transaction.zip(app_slug).map(|(transaction, app_slug)| {
                    IngestEvent::PaymentTransaction {
                        transaction,
                        app_slug,
                    }
                })
            }
            WebhookType::UserAccessRevocation => {
                // The payload carries nothing the routing facts do not already say.
                let payload = violations.take(Object::new(payload).map_err(|e| e.at(field)));
                let app_slug = violations.take(required_id(&o, "app_slug"));
                let user_id = violations.take(required_id(&o, "user_id"));
                match (payload, app_slug, user_id) {
                    (Some(_), Some(app_slug), Some(user_id)) => {
                        Some(IngestEvent::UserAccessRevocation { app_slug, user_id })
                    }
                    _ => None,
                }
            }
        };
        event.ok_or(violations.0)
    }

    /// The type of the webhooks this event becomes.
    pub fn webhook_type(&self) -> WebhookType {
        match self {
            IngestEvent::NewMessage { .. } => WebhookType::NewMessage,
            IngestEvent::NewChatbotMessage { .. } => WebhookType::NewChatbotMessage,
            IngestEvent::PostUpdate { .. } => WebhookType::PostUpdate,
            IngestEvent::PaymentTransaction { .. } => WebhookType::PaymentTransaction,
            IngestEvent::UserAccessRevocation { .. } => WebhookType::UserAccessRevocation,
        }
    }
}

fn non_empty(value: &str) -> Result<(), ReadError> {
    if value.is_empty() {
        Err(ReadError::new("must not be empty"))
    } else {
        Ok(())
    }
}

fn required_id(o: &Object<'_>, name: &str) -> Result<String, ReadError> {
    o.required_with(name, |v| {
        let id = String::from_json(v)?;
        non_empty(&id)?;
        Ok(id)
    })
}

fn optional_id(o: &Object<'_>, name: &str) -> Result<Option<String>, ReadError> {
    let id: Option<String> = o.optional(name)?;
    if let Some(id) = &id {
        non_empty(id).map_err(|e| e.at(name))?;
    }
    Ok(id)
}

/// Reads a chat message that must be in a conversation of type `expected`; a `POST` one must
/// also name its post, which is what routes it to subscribers.
fn read_message(
    value: &Value,
    expected: ConversationType,
    field: &str,
) -> Result<ChatMessage, ReadError> {
    let at_conversation = |e: ReadError| e.at("conversation").at(field);
    let message = ChatMessage::from_json(value).map_err(|e| e.at(field))?;
    non_empty(&message.id).map_err(|e| e.at("id").at(field))?;
    if message.conversation.r#type != expected {
        let e = ReadError::new(format!("must be {expected} in {field}"));
        return Err(at_conversation(e.at("type")));
    }
    if expected == ConversationType::Post {
        match message.conversation.post_token.as_deref() {
            None => {
                return Err(at_conversation(
                    ReadError::new("missing field").at("post_token"),
                ))
            }
            Some(token) => non_empty(token).map_err(|e| at_conversation(e.at("post_token")))?,
        }
    }
    Ok(message)
}

fn read_post_update(value: &Value) -> Result<PostUpdate, ReadError> {
    let update = PostUpdate::from_json(value)?;
    non_empty(&update.post.token).map_err(|e| e.at("token").at("post"))?;
    Ok(update)
}

fn read_transaction(value: &Value) -> Result<Transaction, ReadError> {
    let transaction = Transaction::from_json(value)?;
    non_empty(&transaction.id).map_err(|e| e.at("id"))?;
    Ok(transaction)
}

impl Serialize for IngestEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let field = self.webhook_type().field_name();
        match self {
            IngestEvent::NewMessage { message, .. }
            | IngestEvent::NewChatbotMessage { message, .. } => {
                map.serialize_entry(field, message)?
            }
            IngestEvent::PostUpdate { update, .. } => map.serialize_entry(field, update)?,
            IngestEvent::PaymentTransaction { transaction, .. } => {
                map.serialize_entry(field, transaction)?
            }
            IngestEvent::UserAccessRevocation { .. } => map.serialize_entry(field, &Map::new())?,
        }
        for (name, value) in self.routing_facts().into_iter().flatten() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// An ingested event serialized once for everything that keeps or sends it.
#[derive(Debug, Clone)]
pub struct SerializedEvent {
    /// The event's stored form: exactly what serializing the [`IngestEvent`] writes.
    pub stored: String,
    /// The payload its webhooks carry; none for a revocation, whose webhook names the user as
    /// each app knows them.
    pub payload: Option<SerializedPayload>,
}

impl IngestEvent {
    /// Serializes the event's payload once and writes the stored form around it, instead of
    /// serializing it twice (ingestion does this for every event it takes).
    pub fn serialize_once(&self) -> SerializedEvent {
        let webhook_type = self.webhook_type();
        let inner = match self {
            IngestEvent::NewMessage { message, .. }
            | IngestEvent::NewChatbotMessage { message, .. } => to_json(message),
            IngestEvent::PostUpdate { update, .. } => to_json(update),
            IngestEvent::PaymentTransaction { transaction, .. } => to_json(transaction),
            IngestEvent::UserAccessRevocation { .. } => "{}".to_owned(),
        };
        // As serde_json's compact map writes the event (see its `Serialize`): the field names
        // are plain identifiers, the values strings it escapes.
        let field = webhook_type.field_name();
        let mut stored = String::with_capacity(inner.len() + field.len() + 64);
        stored.push_str("{\"");
        stored.push_str(field);
        stored.push_str("\":");
        stored.push_str(&inner);
        for (name, value) in self.routing_facts().into_iter().flatten() {
            stored.push_str(",\"");
            stored.push_str(name);
            stored.push_str("\":");
            stored.push_str(&to_json(value));
        }
        stored.push('}');
        let payload = match self {
            IngestEvent::UserAccessRevocation { .. } => None,
            _ => Some(SerializedPayload::from_json(webhook_type, inner)),
        };
        SerializedEvent { stored, payload }
    }

    /// The fields beside the payload, in the order they are written: what the platform says
    /// about where the event goes.
    fn routing_facts(&self) -> [Option<(&'static str, &str)>; 2] {
        match self {
            IngestEvent::NewMessage { post_owner_id, .. } => [
                post_owner_id.as_deref().map(|id| ("post_owner_id", id)),
                None,
            ],
            IngestEvent::PostUpdate { owner_id, .. } => {
                [owner_id.as_deref().map(|id| ("owner_id", id)), None]
            }
            IngestEvent::PaymentTransaction { app_slug, .. } => {
                [Some(("app_slug", app_slug.as_str())), None]
            }
            IngestEvent::NewChatbotMessage {
                app_slug, user_id, ..
            }
            | IngestEvent::UserAccessRevocation { app_slug, user_id } => [
                Some(("app_slug", app_slug.as_str())),
                Some(("user_id", user_id.as_str())),
            ],
        }
    }
}

impl<'de> Deserialize<'de> for IngestEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        IngestEvent::from_value(&value).map_err(|violations| {
            let described: Vec<String> = violations.iter().map(describe).collect();
            serde::de::Error::custom(described.join("; "))
        })
    }
}

/// `field: description`, or the description alone for the item itself.
fn describe(violation: &FieldViolation) -> String {
    if violation.field.is_empty() {
        violation.description.clone()
    } else {
        format!("{}: {}", violation.field, violation.description)
    }
}

/// The outcome of one ingested item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum IngestResult {
    /// `{"event_id": "..."}`: the event is stored.
    Accepted {
        /// The id the server gave the event.
        event_id: String,
    },
    /// `{"error": Status}`: the item was rejected.
    Rejected {
        /// Why.
        error: Status,
    },
}

impl IngestResult {
    /// The rejection of an item that [`IngestEvent::from_value`] refused: code 3
    /// (`INVALID_ARGUMENT`) with a `BadRequest` detail listing the violations.
    pub fn invalid(violations: Vec<FieldViolation>) -> IngestResult {
        let mut message = violations
            .first()
            .map(describe)
            .unwrap_or_else(|| "invalid event".to_owned());
        if violations.len() > 1 {
            message.push_str(&format!(" (and {} more)", violations.len() - 1));
        }
        IngestResult::Rejected {
            error: Status::new(Code::InvalidArgument, message).with_detail(Detail::BadRequest {
                field_violations: violations,
            }),
        }
    }
}

impl FromJson for IngestResult {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        match o.optional("error")? {
            Some(error) => Ok(IngestResult::Rejected { error }),
            None => Ok(IngestResult::Accepted {
                event_id: o.required("event_id")?,
            }),
        }
    }
}

/// The answer to `POST /v1/platform/events`: one result per item, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestResponse {
    /// The results, in the order of the request's items.
    pub results: Vec<IngestResult>,
}

impl FromJson for IngestResponse {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(IngestResponse {
            results: o.or_default("results")?,
        })
    }
}

deserialize_via_from_json!(IngestRequest, IngestResult, IngestResponse);

#[cfg(test)]
mod tests;
