//! `PostUpdate` and `Transaction`, the payloads of `POST_UPDATE` and `PAYMENT_TRANSACTION`
//! webhooks.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::json::{deserialize_via_from_json, wire_enum, FromJson, Object, ReadError};

/// A change to a post.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostUpdate {
    /// What happened to the post.
    pub r#type: PostUpdateType,
    /// The post; for `RETIRE` and `ARCHIVE` only its token.
    pub post: Post,
}

impl FromJson for PostUpdate {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(PostUpdate {
            r#type: o.required("type")?,
            post: o.required("post")?,
        })
    }
}

wire_enum! {
    /// A post update's `type`.
    pub enum PostUpdateType {
        /// The post was published or edited (`PUBLISH`).
        Publish = "PUBLISH",
        /// The post was taken down (`RETIRE`).
        Retire = "RETIRE",
        /// The post is live and changed state (`ONGOING`).
        Ongoing = "ONGOING",
        /// The post was archived (`ARCHIVE`).
        Archive = "ARCHIVE",
    }
}

/// A post as a post update carries it; every field but `token` may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Post {
    /// The post token.
    pub token: String,
    /// The category slug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The city slug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// The district slug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// Whether the seller hides their phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_phone_hidden: Option<bool>,
    /// Whether the seller's chat assistant is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier_chat_assistant_enabled: Option<bool>,
    /// Whether buyers may chat about the post.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_enabled: Option<bool>,
    /// When the post was first published, as an RFC 3339 timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_published_at: Option<String>,
    /// The category-specific fields (title, price, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

impl FromJson for Post {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(Post {
            token: o.required("token")?,
            category: o.optional("category")?,
            city: o.optional("city")?,
            district: o.optional("district")?,
            is_phone_hidden: o.optional("is_phone_hidden")?,
            supplier_chat_assistant_enabled: o.optional("supplier_chat_assistant_enabled")?,
            chat_enabled: o.optional("chat_enabled")?,
            first_published_at: o.optional("first_published_at")?,
            data: o.optional("data")?,
        })
    }
}

/// A payment transaction of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transaction {
    /// The transaction id.
    pub id: String,
    /// The amount in rials (an int64).
    pub cost_rials: i64,
    /// Free text describing what was paid for; empty when absent.
    pub extra_details: String,
    /// Where the payment stands.
    pub state: TransactionState,
    /// What kind of purchase it is.
    pub r#type: TransactionType,
}

impl FromJson for Transaction {
    fn from_json(value: &Value) -> Result<Self, ReadError> {
        let o = Object::new(value)?;
        Ok(Transaction {
            id: o.required("id")?,
            cost_rials: o.required("cost_rials")?,
            extra_details: o.or_default("extra_details")?,
            state: o.required("state")?,
            r#type: o.required("type")?,
        })
    }
}

wire_enum! {
    /// A transaction's `state`.
    pub enum TransactionState {
        /// `TRANSACTION_STATE_PENDING`.
        Pending = "TRANSACTION_STATE_PENDING",
        /// `TRANSACTION_STATE_COMPLETED`.
        Completed = "TRANSACTION_STATE_COMPLETED",
        /// `TRANSACTION_STATE_FAILED`.
        Failed = "TRANSACTION_STATE_FAILED",
        /// `TRANSACTION_STATE_REFUNDED`.
        Refunded = "TRANSACTION_STATE_REFUNDED",
    }
}

wire_enum! {
    /// A transaction's `type`.
    pub enum TransactionType {
        /// A paid re-publication of a post (`TRANSACTION_TYPE_REORDER`).
        Reorder = "TRANSACTION_TYPE_REORDER",
    }
}

deserialize_via_from_json!(PostUpdate, Post, Transaction);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_retired_post_carries_only_its_token() {
        let update = PostUpdate {
            r#type: PostUpdateType::Retire,
            post: Post {
                token: "gZd7omnS".into(),
                ..Post::default()
            },
        };
        assert_eq!(
            serde_json::to_value(&update).expect("serializes"),
            json!({"type": "RETIRE", "post": {"token": "gZd7omnS"}})
        );
    }

    #[test]
    fn a_post_reads_camel_case_and_null_as_absent() {
        let post: Post = serde_json::from_value(json!({
            "token": "t", "isPhoneHidden": true, "supplierChatAssistantEnabled": false,
            "chatEnabled": null, "firstPublishedAt": "2024-10-20T12:32:06Z"
        }))
        .expect("parses");
        assert_eq!(post.is_phone_hidden, Some(true));
        assert_eq!(post.supplier_chat_assistant_enabled, Some(false));
        assert_eq!(post.chat_enabled, None);
        assert_eq!(
            post.first_published_at.as_deref(),
            Some("2024-10-20T12:32:06Z")
        );
    }

    #[test]
    fn a_transaction_reads_cost_as_a_string_and_camel_case() {
        let transaction: Transaction = serde_json::from_value(json!({
            "id": "t-1", "costRials": "100000", "extraDetails": "x",
            "state": "TRANSACTION_STATE_REFUNDED", "type": "TRANSACTION_TYPE_REORDER"
        }))
        .expect("parses");
        assert_eq!(transaction.cost_rials, 100_000);
        assert_eq!(transaction.state, TransactionState::Refunded);
    }

    #[test]
    fn an_unknown_transaction_state_is_an_error_naming_the_value() {
        let err = serde_json::from_value::<Transaction>(json!({
            "id": "t-1", "cost_rials": 1, "state": "TRANSACTION_STATE_LOST",
            "type": "TRANSACTION_TYPE_REORDER"
        }))
        .expect_err("no such state");
        assert_eq!(
            err.to_string(),
            r#"state: unknown value "TRANSACTION_STATE_LOST""#
        );
    }
}
