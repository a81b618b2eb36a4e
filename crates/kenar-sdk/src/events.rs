//! The Events API (contract Part 1): registering subscriptions and sending events to users.

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::Serialize;
use serde_json::{Map, Value};

use kenar_wire::events::{
    Action, Button, Buttons, EventType, RegisterSubscriptionRequest, RegisterSubscriptionResponse,
    SendEventRequest, SendEventResponse, TargetType,
};

use crate::client::Client;
use crate::error::{ApiError, Error};
use crate::secret::AccessToken;
use crate::transport::{Answer, Idempotency};

/// Path of the subscription registration call.
pub const REGISTER_SUBSCRIPTION_PATH: &str = "/v1/open-platform/events/subscriptions";
/// Path of the (experimental) send-event call.
pub const SEND_EVENT_PATH: &str = "/experimental/open-platform/events/send";

/// The Events API calls of a [`Client`]; made by [`Client::events`].
#[derive(Debug, Clone, Copy)]
pub struct Events<'a> {
    client: &'a Client,
}

impl<'a> Events<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Events { client }
    }

    /// Registers (or renews) a subscription: `POST /v1/open-platform/events/subscriptions`.
    ///
    /// Registering the same subscription again is harmless (it extends it and replaces its
    /// metadata), so this call is retried on any failure the [`RetryPolicy`] covers.
    ///
    /// [`RetryPolicy`]: crate::RetryPolicy
    ///
    /// ```no_run
    /// # async fn run(client: kenar_sdk::Client) -> Result<(), kenar_sdk::Error> {
    /// use kenar_sdk::RegisterSubscription;
    ///
    /// client
    ///     .events()
    ///     .register_subscription(
    ///         RegisterSubscription::new_messages_on_post("gZd7omnS")
    ///             .metadata(serde_json::json!({"shop_id": 42})),
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn register_subscription(
        &self,
        request: RegisterSubscription,
    ) -> Result<RegisterSubscriptionResponse, Error> {
        let headers = self.client.auth_headers(request.access_token.as_ref())?;
        let body = serde_json::to_vec(&request.into_wire()?)
            .map_err(|e| Error::InvalidRequest(format!("cannot serialize the request: {e}")))?;
        let url = self.client.url(REGISTER_SUBSCRIPTION_PATH);
        let answer = self
            .client
            .transport()
            .execute(Idempotency::Idempotent, |http| {
                http.post(&url)
                    .headers(headers.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        empty_answer(answer).map(|()| RegisterSubscriptionResponse {})
    }

    /// Sends an event to a user's or a post's feed:
    /// `POST /experimental/open-platform/events/send`.
    ///
    /// Without buttons the fields travel as query parameters with no body, as Kenar's official
    /// SDKs send them; with buttons (or [`SendEvent::body_form`]) as a JSON body. Sending is not
    /// idempotent: the call is retried only when the server cannot have applied it (a 429 or
    /// 503 answer, or a failure to connect).
    pub async fn send(&self, request: SendEvent) -> Result<SendEventResponse, Error> {
        let headers = self.client.auth_headers(request.access_token.as_ref())?;
        let form = request.wire_form();
        let wire = request.into_wire()?;
        let url = self.client.url(SEND_EVENT_PATH);
        let answer = match form {
            WireForm::Query => {
                let query = [
                    ("message", wire.message.as_str()),
                    ("target_type", wire.target_type.as_str()),
                    ("target_resource_id", wire.target_resource_id.as_str()),
                ];
                self.execute_send(|http| {
                    http.post(&url)
                        .headers(headers.clone())
                        .query(&query)
                        .header(CONTENT_LENGTH, "0")
                })
                .await?
            }
            WireForm::Body => {
                let body = serde_json::to_vec(&wire).map_err(|e| {
                    Error::InvalidRequest(format!("cannot serialize the request: {e}"))
                })?;
                self.execute_send(|http| {
                    http.post(&url)
                        .headers(headers.clone())
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone())
                })
                .await?
            }
        };
        empty_answer(answer).map(|()| SendEventResponse {})
    }

    async fn execute_send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, Error> {
        self.client
            .transport()
            .execute(Idempotency::NotIdempotent, build)
            .await
    }
}

/// Reads an answer whose success body is `{}`.
fn empty_answer(answer: Answer) -> Result<(), Error> {
    if !answer.is_success() {
        return Err(ApiError::from_response(
            answer.status,
            answer.retry_after,
            &answer.body,
            answer.attempts,
        )
        .into());
    }
    let body = String::from_utf8_lossy(&answer.body);
    if body.trim().is_empty() {
        return Ok(());
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(Error::UnexpectedResponse {
            http_status: answer.status,
            reason: "the body is not a JSON object".to_owned(),
        }),
    }
}

/// Serializes app data that must be a JSON object (metadata, button data).
fn json_object(what: &str, value: impl Serialize) -> Result<Map<String, Value>, String> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "{what} must be a JSON object, not {}",
            kenar_wire::json::kind_of(&other)
        )),
        Err(e) => Err(format!("{what} cannot be serialized: {e}")),
    }
}

/// A subscription to register with [`Events::register_subscription`].
///
/// Mistakes the builder can see (metadata that is not a JSON object) are reported when the call
/// is made, as [`Error::InvalidRequest`]; everything else is the server's to check.
#[derive(Debug, Clone)]
pub struct RegisterSubscription {
    event_type: EventType,
    resource: Option<String>,
    metadata: Option<Result<Map<String, Value>, String>>,
    access_token: Option<AccessToken>,
}

impl RegisterSubscription {
    /// A subscription to `event_type` on all of the user's posts.
    pub fn new(event_type: EventType) -> Self {
        RegisterSubscription {
            event_type,
            resource: None,
            metadata: None,
            access_token: None,
        }
    }

    /// New chat messages on one post (`NEW_MESSAGE_ON_POST` with the post token); needs the
    /// scope `CHAT_POST_CONVERSATIONS_READ.<post>` or `CHAT_SUPPLIER_ALL_CONVERSATIONS_READ`.
    pub fn new_messages_on_post(post_token: impl Into<String>) -> Self {
        RegisterSubscription::new(EventType::NewMessageOnPost).post(post_token)
    }

    /// New chat messages on all of the user's posts; needs
    /// `CHAT_SUPPLIER_ALL_CONVERSATIONS_READ`.
    pub fn new_messages_on_all_posts() -> Self {
        RegisterSubscription::new(EventType::NewMessageOnPost)
    }

    /// Updates of the user's posts (`POST_UPDATE`); needs `USER_POSTS_GET`. Narrow it to one
    /// post with [`post`](Self::post).
    pub fn post_updates() -> Self {
        RegisterSubscription::new(EventType::PostUpdate)
    }

    /// Listens on this post only (`event_resource_id`).
    pub fn post(mut self, post_token: impl Into<String>) -> Self {
        self.resource = Some(post_token.into());
        self
    }

    /// App data echoed back in every webhook the subscription causes; anything that
    /// serializes to a JSON object (a `serde_json::json!({...})`, a struct, a map).
    pub fn metadata(mut self, metadata: impl Serialize) -> Self {
        self.metadata = Some(json_object("metadata", metadata));
        self
    }

    /// Uses this access token for this call instead of the client's.
    pub fn access_token(mut self, token: impl Into<AccessToken>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// The request body this builder stands for.
    pub fn into_wire(self) -> Result<RegisterSubscriptionRequest, Error> {
        Ok(RegisterSubscriptionRequest {
            event_type: self.event_type,
            event_resource_id: self.resource,
            metadata: self.metadata.transpose().map_err(Error::InvalidRequest)?,
        })
    }
}

/// How a [`SendEvent`] travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireForm {
    /// Query parameters, no body, no `Content-Type`, `Content-Length: 0` (what Kenar's official
    /// SDKs send).
    Query,
    /// A JSON body with every field (needed for buttons).
    Body,
}

/// An event to send with [`Events::send`].
///
/// ```
/// use kenar_sdk::SendEvent;
///
/// let event = SendEvent::to_post("gZd7omnS", "گزارش بازدید آگهی شما آماده است")
///     .link_button("مشاهده گزارش", "https://example.com/r/1")
///     .dynamic_action_button("تمدید اشتراک", serde_json::json!({"plan": "gold"}));
/// assert_eq!(event.wire_form(), kenar_sdk::WireForm::Body);
/// ```
#[derive(Debug, Clone)]
pub struct SendEvent {
    message: String,
    target_type: TargetType,
    target_resource_id: String,
    buttons: Vec<Button>,
    /// The first mistake a builder method saw, reported when the call is made.
    error: Option<String>,
    force_body: bool,
    access_token: Option<AccessToken>,
}

impl SendEvent {
    /// An event for the feed of `target_resource_id` (a user id as the app knows it, or a post
    /// token).
    pub fn new(
        target_type: TargetType,
        target_resource_id: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        SendEvent {
            message: message.into(),
            target_type,
            target_resource_id: target_resource_id.into(),
            buttons: Vec::new(),
            error: None,
            force_body: false,
            access_token: None,
        }
    }

    /// An event for a user's feed; `user_id` is the id the app knows the user by (the token's
    /// user).
    pub fn to_user(user_id: impl Into<String>, message: impl Into<String>) -> Self {
        SendEvent::new(TargetType::User, user_id, message)
    }

    /// An event for a post's feed; the post must belong to the token's user.
    pub fn to_post(post_token: impl Into<String>, message: impl Into<String>) -> Self {
        SendEvent::new(TargetType::Post, post_token, message)
    }

    /// Adds a button (its title 5 to 50 characters) doing `action`.
    pub fn button(mut self, title: impl Into<String>, action: Action) -> Self {
        self.buttons.push(Button {
            title: title.into(),
            action,
        });
        self
    }

    /// Adds a button opening `url` (`open_direct_link`).
    pub fn link_button(self, title: impl Into<String>, url: impl Into<String>) -> Self {
        self.button(title, Action::OpenDirectLink(url.into()))
    }

    /// Adds a button opening a link the app's server builds from `data` (`open_server_link`).
    pub fn server_link_button(self, title: impl Into<String>, data: impl Serialize) -> Self {
        self.button_with_data(title, data, |data| Action::OpenServerLink { data })
    }

    /// Adds a button that asks the app's dynamic-action URL what to do, passing `data`
    /// (`get_dynamic_action`).
    pub fn dynamic_action_button(self, title: impl Into<String>, data: impl Serialize) -> Self {
        self.button_with_data(title, data, |data| Action::GetDynamicAction { data })
    }

    /// Adds a button opening a post (`open_post_page`).
    pub fn post_page_button(self, title: impl Into<String>, post_token: impl Into<String>) -> Self {
        self.button(
            title,
            Action::OpenPostPage {
                post_token: post_token.into(),
            },
        )
    }

    /// Adds a button opening a post's management page (`open_post_manage_page`).
    pub fn post_manage_page_button(
        self,
        title: impl Into<String>,
        post_token: impl Into<String>,
    ) -> Self {
        self.button(
            title,
            Action::OpenPostManagePage {
                post_token: post_token.into(),
            },
        )
    }

    fn button_with_data(
        mut self,
        title: impl Into<String>,
        data: impl Serialize,
        action: impl FnOnce(Map<String, Value>) -> Action,
    ) -> Self {
        match json_object("button data", data) {
            Ok(data) => self.button(title, action(data)),
            Err(e) => {
                self.error.get_or_insert(e);
                self
            }
        }
    }

    /// Sends the fields as a JSON body even without buttons.
    pub fn body_form(mut self) -> Self {
        self.force_body = true;
        self
    }

    /// Uses this access token for this call instead of the client's.
    pub fn access_token(mut self, token: impl Into<AccessToken>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// How the event will travel: a JSON body if it has buttons or [`body_form`](Self::body_form)
    /// was asked for, query parameters otherwise.
    pub fn wire_form(&self) -> WireForm {
        if self.force_body || !self.buttons.is_empty() {
            WireForm::Body
        } else {
            WireForm::Query
        }
    }

    /// The request fields this builder stands for.
    pub fn into_wire(self) -> Result<SendEventRequest, Error> {
        if let Some(e) = self.error {
            return Err(Error::InvalidRequest(e));
        }
        Ok(SendEventRequest {
            message: self.message,
            target_type: self.target_type,
            target_resource_id: self.target_resource_id,
            buttons: (!self.buttons.is_empty()).then_some(Buttons {
                items: self.buttons,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_subscription_builder_makes_the_contract_body() {
        let wire = RegisterSubscription::new_messages_on_post("gZd7omnS")
            .metadata(json!({"shop": 1}))
            .into_wire()
            .expect("valid");
        assert_eq!(
            serde_json::to_value(&wire).expect("serializes"),
            json!({"event_type": "NEW_MESSAGE_ON_POST", "event_resource_id": "gZd7omnS",
                   "metadata": {"shop": 1}})
        );
        let all = RegisterSubscription::post_updates()
            .into_wire()
            .expect("valid");
        assert_eq!(
            serde_json::to_value(&all).expect("serializes"),
            json!({"event_type": "POST_UPDATE"})
        );
    }

    #[test]
    fn metadata_that_is_not_an_object_is_refused_when_the_call_is_made() {
        let err = RegisterSubscription::post_updates()
            .metadata(json!([1, 2]))
            .into_wire()
            .expect_err("an array");
        assert_eq!(
            err.to_string(),
            "invalid request: metadata must be a JSON object, not an array"
        );
    }

    #[test]
    fn buttons_switch_a_send_to_the_body_form() {
        let plain = SendEvent::to_user("u-1", "hello");
        assert_eq!(plain.wire_form(), WireForm::Query);
        assert_eq!(plain.clone().body_form().wire_form(), WireForm::Body);
        let wire = plain
            .link_button("open it", "https://example.com")
            .server_link_button("server", json!({"a": 1}))
            .dynamic_action_button("dynamic", json!({"b": 2}))
            .post_page_button("the post", "gZd7omnS")
            .post_manage_page_button("manage it", "gZd7omnS")
            .into_wire()
            .expect("valid");
        assert_eq!(
            serde_json::to_value(&wire).expect("serializes"),
            json!({"message": "hello", "target_type": "USER", "target_resource_id": "u-1",
            "buttons": {"items": [
                {"title": "open it", "action": {"open_direct_link": "https://example.com"}},
                {"title": "server", "action": {"open_server_link": {"data": {"a": 1}}}},
                {"title": "dynamic", "action": {"get_dynamic_action": {"data": {"b": 2}}}},
                {"title": "the post", "action": {"open_post_page": {"post_token": "gZd7omnS"}}},
                {"title": "manage it", "action": {"open_post_manage_page": {"post_token": "gZd7omnS"}}}
            ]}})
        );
    }

    #[test]
    fn button_data_that_is_not_an_object_is_refused() {
        let err = SendEvent::to_user("u", "m")
            .server_link_button("title", "just text")
            .into_wire()
            .expect_err("a string");
        assert!(err
            .to_string()
            .contains("button data must be a JSON object"));
    }
}
