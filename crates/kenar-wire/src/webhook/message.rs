//! `ChatMessage`, the payload of `NEW_MESSAGE` and `NEW_CHATBOT_MESSAGE` webhooks.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::json::{deserialize_via_from_json, wire_enum, FromJson, Object, ReadError};

/// One chat message.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// The message id.
    pub id: String,
    /// The conversation the message belongs to.
    pub conversation: Conversation,
    /// Who sent it.
    pub sender: Sender,
    /// When it was sent, in microseconds since the Unix epoch (`sent_at`).
    pub sent_at: i64,
    /// The content; on the wire, the `type` field plus the one matching body field.
    pub body: MessageBody,
}

impl ChatMessage {
    /// The wire `type` of this message.
    pub fn message_type(&self) -> MessageType {
        self.body.message_type()
    }
}

impl Serialize for ChatMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("conversation", &self.conversation)?;
        map.serialize_entry("sender", &self.sender)?;
        map.serialize_entry("type", &self.message_type())?;
        map.serialize_entry("sent_at", &self.sent_at)?;
        let field = self.message_type().body_field();
        match &self.body {
            MessageBody::Text(text) => map.serialize_entry(field, text)?,
            MessageBody::Image(data) => map.serialize_entry(field, data)?,
            MessageBody::File(data) => map.serialize_entry(field, data)?,
            MessageBody::Voice(data) => map.serialize_entry(field, data)?,
            MessageBody::Location(data) => map.serialize_entry(field, data)?,
            MessageBody::Video(data) => map.serialize_entry(field, data)?,
            MessageBody::Contact(data) => map.serialize_entry(field, data)?,
        }
        map.end()
    }
}

impl FromJson for ChatMessage {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        let message_type: MessageType = o.required("type")?;
        let field = message_type.body_field();
        let body = match message_type {
            MessageType::Text => MessageBody::Text(o.required(field)?),
            MessageType::Image => MessageBody::Image(o.required(field)?),
            MessageType::File => MessageBody::File(o.required(field)?),
            MessageType::Voice => MessageBody::Voice(o.required(field)?),
            MessageType::Location => MessageBody::Location(o.required(field)?),
            MessageType::Video => MessageBody::Video(o.required(field)?),
            MessageType::Contact => MessageBody::Contact(o.required(field)?),
        };
        Ok(ChatMessage {
            id: o.required("id")?,
            conversation: o.required("conversation")?,
            sender: o.required("sender")?,
            sent_at: o.required("sent_at")?,
            body,
        })
    }
}

wire_enum! {
    /// A chat message's `type`, which says which body field is set.
    pub enum MessageType {
        /// `TEXT`, body in `text`.
        Text = "TEXT",
        /// `IMAGE`, body in `image_data`.
        Image = "IMAGE",
        /// `FILE`, body in `file_data`.
        File = "FILE",
        /// `VOICE`, body in `voice_data`.
        Voice = "VOICE",
        /// `LOCATION`, body in `location_data`.
        Location = "LOCATION",
        /// `VIDEO`, body in `video_data`.
        Video = "VIDEO",
        /// `CONTACT`, body in `contact_data`.
        Contact = "CONTACT",
    }
}

impl MessageType {
    /// The field that carries the body of a message of this type.
    pub const fn body_field(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::Image => "image_data",
            MessageType::File => "file_data",
            MessageType::Voice => "voice_data",
            MessageType::Location => "location_data",
            MessageType::Video => "video_data",
            MessageType::Contact => "contact_data",
        }
    }
}

/// The content of a chat message: one variant per message type.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageBody {
    /// `text`.
    Text(String),
    /// `image_data`.
    Image(ImageData),
    /// `file_data`.
    File(FileData),
    /// `voice_data`.
    Voice(VoiceData),
    /// `location_data`.
    Location(LocationData),
    /// `video_data`.
    Video(VideoData),
    /// `contact_data`.
    Contact(ContactData),
}

impl MessageBody {
    /// The wire `type` a message with this body has.
    pub fn message_type(&self) -> MessageType {
        match self {
            MessageBody::Text(_) => MessageType::Text,
            MessageBody::Image(_) => MessageType::Image,
            MessageBody::File(_) => MessageType::File,
            MessageBody::Voice(_) => MessageType::Voice,
            MessageBody::Location(_) => MessageType::Location,
            MessageBody::Video(_) => MessageType::Video,
            MessageBody::Contact(_) => MessageType::Contact,
        }
    }
}

/// `image_data` of an `IMAGE` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageData {
    /// Where to download the image.
    pub link: String,
    /// Its size in bytes (an int64).
    pub size_bytes: i64,
    /// Its height in pixels.
    pub height_px: i32,
    /// Its width in pixels.
    pub width_px: i32,
}

impl FromJson for ImageData {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(ImageData {
            link: o.required("link")?,
            size_bytes: o.required("size_bytes")?,
            height_px: o.required("height_px")?,
            width_px: o.required("width_px")?,
        })
    }
}

/// `file_data` of a `FILE` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileData {
    /// Where to download the file.
    pub link: String,
    /// The file's name.
    pub name: String,
    /// Its size in bytes (an int64).
    pub size_bytes: i64,
}

impl FromJson for FileData {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(FileData {
            link: o.required("link")?,
            name: o.required("name")?,
            size_bytes: o.required("size_bytes")?,
        })
    }
}

/// `voice_data` of a `VOICE` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoiceData {
    /// Where to download the recording.
    pub link: String,
    /// Its size in bytes (an int64).
    pub size_bytes: i64,
}

impl FromJson for VoiceData {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(VoiceData {
            link: o.required("link")?,
            size_bytes: o.required("size_bytes")?,
        })
    }
}

/// `location_data` of a `LOCATION` message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationData {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
}

impl FromJson for LocationData {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(LocationData {
            latitude: o.required("latitude")?,
            longitude: o.required("longitude")?,
        })
    }
}

/// `video_data` of a `VIDEO` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoData {
    /// Where to download the video.
    pub link: String,
    /// Where to download its thumbnail.
    pub thumbnail_link: String,
    /// Its size in bytes (an int64).
    pub size_bytes: i64,
}

impl FromJson for VideoData {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(VideoData {
            link: o.required("link")?,
            thumbnail_link: o.required("thumbnail_link")?,
            size_bytes: o.required("size_bytes")?,
        })
    }
}

/// `contact_data` of a `CONTACT` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactData {
    /// The contact's name, when shared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The contact's phone number.
    pub phone: String,
}

impl FromJson for ContactData {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(ContactData {
            name: o.optional("name")?,
            phone: o.required("phone")?,
        })
    }
}

/// The conversation a message belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    /// The conversation id.
    pub id: String,
    /// A conversation on a post, or with a chatbot.
    pub r#type: ConversationType,
    /// The post the conversation is about (for `POST` conversations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_token: Option<String>,
}

impl FromJson for Conversation {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(Conversation {
            id: o.required("id")?,
            r#type: o.required("type")?,
            post_token: o.optional("post_token")?,
        })
    }
}

wire_enum! {
    /// A conversation's `type`.
    pub enum ConversationType {
        /// A conversation between a buyer and a post's seller (`POST`).
        Post = "POST",
        /// A conversation with an app's chatbot (`BOT`).
        Bot = "BOT",
    }
}

/// Who sent a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sender {
    /// The sender's side of a post conversation; absent in chatbot conversations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<SenderSide>,
    /// A person or a bot.
    pub r#type: SenderType,
}

impl FromJson for Sender {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(Sender {
            side: o.optional("side")?,
            r#type: o.required("type")?,
        })
    }
}

wire_enum! {
    /// A sender's `side` in a post conversation.
    pub enum SenderSide {
        /// The post's owner (`SELLER`).
        Seller = "SELLER",
        /// The other party (`BUYER`).
        Buyer = "BUYER",
    }
}

wire_enum! {
    /// A sender's `type`.
    pub enum SenderType {
        /// A person (`HUMAN`); Kenar's examples also spell it `USER`, which reads as this.
        Human = "HUMAN" | "USER",
        /// A bot (`BOT`).
        Bot = "BOT",
    }
}

deserialize_via_from_json!(
    ChatMessage,
    ImageData,
    FileData,
    VoiceData,
    LocationData,
    VideoData,
    ContactData,
    Conversation,
    Sender,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message_with(message_type: &str, field: &str, body: Value) -> Value {
        let mut wire = json!({
            "id": "m-1",
            "conversation": {"id": "c-1", "type": "POST", "post_token": "gZd7omnS"},
            "sender": {"side": "BUYER", "type": "HUMAN"},
            "type": message_type,
            "sent_at": 1729429926140000_i64,
        });
        wire[field] = body;
        wire
    }

    #[test]
    fn sender_type_user_reads_as_human() {
        let sender: Sender = serde_json::from_value(json!({"type": "USER"})).expect("parses");
        assert_eq!(sender.r#type, SenderType::Human);
        assert_eq!(
            serde_json::to_value(&sender).expect("serializes"),
            json!({"type": "HUMAN"})
        );
    }

    #[test]
    fn every_message_type_names_its_body_field_and_round_trips() {
        let bodies = [
            json!("hi"),
            json!({"link": "l", "size_bytes": 1, "height_px": 2, "width_px": 3}),
            json!({"link": "l", "name": "n", "size_bytes": 1}),
            json!({"link": "l", "size_bytes": 1}),
            json!({"latitude": 35.5, "longitude": 51.25}),
            json!({"link": "l", "thumbnail_link": "t", "size_bytes": 1}),
            json!({"phone": "+98912"}),
        ];
        for (message_type, body) in MessageType::ALL.iter().zip(bodies) {
            let wire = message_with(message_type.as_str(), message_type.body_field(), body);
            let message: ChatMessage = serde_json::from_value(wire.clone()).expect("parses");
            assert_eq!(message.message_type(), *message_type);
            assert_eq!(serde_json::to_value(&message).expect("serializes"), wire);
        }
    }

    #[test]
    fn a_message_reads_camel_case_and_int64_strings() {
        let message: ChatMessage = serde_json::from_value(json!({
            "id": "m-1",
            "conversation": {"id": "c-1", "type": "POST", "postToken": "gZd7omnS"},
            "sender": {"side": "SELLER", "type": "HUMAN"},
            "type": "IMAGE",
            "sentAt": "1729429926140000",
            "imageData": {"link": "l", "sizeBytes": "204800", "heightPx": 1080, "widthPx": "1920"},
            "somethingNew": true
        }))
        .expect("parses");
        assert_eq!(message.sent_at, 1_729_429_926_140_000);
        assert_eq!(message.conversation.post_token.as_deref(), Some("gZd7omnS"));
        assert_eq!(
            message.body,
            MessageBody::Image(ImageData {
                link: "l".into(),
                size_bytes: 204_800,
                height_px: 1080,
                width_px: 1920,
            })
        );
    }

    #[test]
    fn a_message_without_its_body_field_is_an_error_naming_it() {
        let mut wire = message_with("VOICE", "text", json!("wrong body"));
        wire["sent_at"] = json!(1);
        let err = ChatMessage::from_json(&wire).expect_err("voice_data is missing");
        assert_eq!(err.to_string(), "voice_data: missing field");
    }

    #[test]
    fn an_unknown_message_type_is_an_error_naming_the_value() {
        let wire = message_with("STICKER", "text", json!("x"));
        let err = ChatMessage::from_json(&wire).expect_err("no such type");
        assert_eq!(err.to_string(), r#"type: unknown value "STICKER""#);
    }
}
