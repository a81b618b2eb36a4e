//! Realistic sample events for `kenar trigger`, shaped as the ingestion API takes them
//! (contract 3.3), with the values of Kenar's published examples.

use clap::ValueEnum;
use serde_json::{json, Value};

/// A chat message's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageType {
    Text,
    Image,
    File,
    Voice,
    Location,
    Video,
    Contact,
}

impl MessageType {
    pub fn wire(self) -> &'static str {
        match self {
            MessageType::Text => "TEXT",
            MessageType::Image => "IMAGE",
            MessageType::File => "FILE",
            MessageType::Voice => "VOICE",
            MessageType::Location => "LOCATION",
            MessageType::Video => "VIDEO",
            MessageType::Contact => "CONTACT",
        }
    }

    /// The body field of this type and a sample of it; `text` is the body of a TEXT message.
    pub fn body(self, text: &str) -> (&'static str, Value) {
        match self {
            MessageType::Text => ("text", json!(text)),
            MessageType::Image => (
                "image_data",
                json!({"link": "https://example.com/images/image1.jpg", "size_bytes": 204800,
                       "height_px": 1080, "width_px": 1920}),
            ),
            MessageType::File => (
                "file_data",
                json!({"link": "https://example.com/files/document.pdf", "name": "document.pdf",
                       "size_bytes": 1048576}),
            ),
            MessageType::Voice => (
                "voice_data",
                json!({"link": "https://example.com/voice/message.ogg", "size_bytes": 512000}),
            ),
            MessageType::Location => (
                "location_data",
                json!({"latitude": 35.6892, "longitude": 51.389}),
            ),
            MessageType::Video => (
                "video_data",
                json!({"link": "https://example.com/videos/video.mp4",
                       "thumbnail_link": "https://example.com/videos/thumbnail.jpg",
                       "size_bytes": 20971520}),
            ),
            MessageType::Contact => (
                "contact_data",
                json!({"name": "Sample Name", "phone": "+989123456789"}),
            ),
        }
    }
}

/// Which side of a post's conversation sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Side {
    Buyer,
    Seller,
}

/// Whether a person or a bot sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SenderType {
    Human,
    Bot,
}

/// A post update's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdateType {
    Publish,
    Retire,
    Ongoing,
    Archive,
}

impl UpdateType {
    pub fn wire(self) -> &'static str {
        match self {
            UpdateType::Publish => "PUBLISH",
            UpdateType::Retire => "RETIRE",
            UpdateType::Ongoing => "ONGOING",
            UpdateType::Archive => "ARCHIVE",
        }
    }
}

/// A payment's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaymentState {
    Pending,
    Completed,
    Failed,
    Refunded,
}

impl PaymentState {
    pub fn wire(self) -> &'static str {
        match self {
            PaymentState::Pending => "TRANSACTION_STATE_PENDING",
            PaymentState::Completed => "TRANSACTION_STATE_COMPLETED",
            PaymentState::Failed => "TRANSACTION_STATE_FAILED",
            PaymentState::Refunded => "TRANSACTION_STATE_REFUNDED",
        }
    }
}

/// The fields of a chat message.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    /// `POST` (with the post token) or `BOT` (without).
    pub post: Option<String>,
    pub side: Option<Side>,
    pub sender_type: SenderType,
    pub message_type: MessageType,
    pub text: String,
    pub sent_at: i64,
}

impl Message {
    pub fn to_json(&self) -> Value {
        let mut sender = json!({"type": match self.sender_type {
            SenderType::Human => "HUMAN",
            SenderType::Bot => "BOT",
        }});
        if let Some(side) = self.side {
            sender["side"] = json!(match side {
                Side::Buyer => "BUYER",
                Side::Seller => "SELLER",
            });
        }
        let conversation = match &self.post {
            Some(post) => json!({"id": self.conversation_id, "type": "POST", "post_token": post}),
            None => json!({"id": self.conversation_id, "type": "BOT"}),
        };
        let (field, body) = self.message_type.body(&self.text);
        let mut m = json!({
            "id": self.id,
            "conversation": conversation,
            "sender": sender,
            "type": self.message_type.wire(),
            "sent_at": self.sent_at,
        });
        m[field] = body;
        m
    }
}

/// `{"new_message": ..., "post_owner_id"?}`.
pub fn new_message(message: &Message, owner: Option<&str>) -> Value {
    let mut item = json!({"new_message": message.to_json()});
    if let Some(owner) = owner {
        item["post_owner_id"] = json!(owner);
    }
    item
}

/// `{"new_chatbot_message": ..., "app_slug", "user_id"}`.
pub fn chatbot_message(message: &Message, app: &str, user: &str) -> Value {
    json!({"new_chatbot_message": message.to_json(), "app_slug": app, "user_id": user})
}

/// The post of a post update.
#[derive(Debug, Clone)]
pub struct Post {
    pub token: String,
    pub category: String,
    pub city: String,
    pub district: String,
    pub title: String,
    pub price: i64,
    pub first_published_at: String,
}

/// `{"post_update": {"type", "post"}, "owner_id"?}`; RETIRE and ARCHIVE carry only the token.
pub fn post_update(kind: UpdateType, post: &Post, owner: Option<&str>) -> Value {
    let post_json = match kind {
        UpdateType::Retire | UpdateType::Archive => json!({"token": post.token}),
        UpdateType::Publish | UpdateType::Ongoing => json!({
            "token": post.token,
            "category": post.category,
            "city": post.city,
            "district": post.district,
            "is_phone_hidden": true,
            "supplier_chat_assistant_enabled": false,
            "chat_enabled": true,
            "first_published_at": post.first_published_at,
            "data": {"title": post.title, "price": post.price},
        }),
    };
    let mut item = json!({"post_update": {"type": kind.wire(), "post": post_json}});
    if let Some(owner) = owner {
        item["owner_id"] = json!(owner);
    }
    item
}

/// `{"payment_transaction": ..., "app_slug"}`.
pub fn payment(id: &str, cost_rials: i64, state: PaymentState, details: &str, app: &str) -> Value {
    json!({"payment_transaction": {
        "id": id,
        "cost_rials": cost_rials,
        "extra_details": details,
        "state": state.wire(),
        "type": "TRANSACTION_TYPE_REORDER",
    }, "app_slug": app})
}

/// `{"user_access_revocation": {}, "app_slug", "user_id"}`.
pub fn revocation(app: &str, user: &str) -> Value {
    json!({"user_access_revocation": {}, "app_slug": app, "user_id": user})
}

/// Applies a JSON merge patch (RFC 7396): objects merge, `null` removes, the rest replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A random UUID (version 4), for message and transaction ids.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No randomness: fall back to the clock, still unique enough for sample ids.
        let now = crate::time::now_micros().to_be_bytes();
        b[..8].copy_from_slice(&now);
        b[8..].copy_from_slice(&std::process::id().to_be_bytes().repeat(2));
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kenar_wire::platform::IngestEvent;

    fn message(message_type: MessageType, post: Option<&str>) -> Message {
        Message {
            id: uuid(),
            conversation_id: uuid(),
            post: post.map(str::to_owned),
            side: post.map(|_| Side::Buyer),
            sender_type: SenderType::Human,
            message_type,
            text: "سلام".into(),
            sent_at: 1729429926140000,
        }
    }

    #[test]
    fn every_sample_is_a_valid_ingestion_item() {
        let post = Post {
            token: "gZd7omnS".into(),
            category: "light".into(),
            city: "tehran".into(),
            district: "vanak".into(),
            title: "دوچرخه".into(),
            price: 1,
            first_published_at: "2024-10-20T12:32:06Z".into(),
        };
        let mut items = Vec::new();
        for t in MessageType::value_variants() {
            items.push(new_message(&message(*t, Some("gZd7omnS")), Some("u-1")));
            items.push(chatbot_message(&message(*t, None), "app", "u-1"));
        }
        for t in UpdateType::value_variants() {
            items.push(post_update(*t, &post, Some("u-1")));
        }
        for s in PaymentState::value_variants() {
            items.push(payment(&uuid(), 100000, *s, "x", "app"));
        }
        items.push(revocation("app", "u-1"));
        for item in &items {
            if let Err(v) = IngestEvent::from_value(item) {
                panic!("{item} is not a valid item: {v:?}");
            }
        }
    }

    #[test]
    fn a_merge_patch_merges_objects_and_removes_nulls() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": 3});
        merge_patch(&mut v, &json!({"a": {"b": 9, "c": null}, "e": [1]}));
        assert_eq!(v, json!({"a": {"b": 9}, "d": 3, "e": [1]}));
    }

    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (uuid(), uuid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
