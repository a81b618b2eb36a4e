//! Rust SDK for [Kenar](https://kenar.divar.ir) apps: Divar's Events API, the webhooks it
//! sends, and the OAuth flow that gets an app its access tokens.
//!
//! It works against Kenar itself (the default base URL, [`DEFAULT_BASE_URL`]) and against
//! kenar-events, which serves the same API (`kenar-events dev` prints ready-made credentials).
//!
//! # Quick start
//!
//! Subscribe to the messages of a post, then send an event with a button to its feed:
//!
//! ```no_run
//! use kenar_sdk::{Client, RegisterSubscription, SendEvent};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), kenar_sdk::Error> {
//!     let client = Client::builder(std::env::var("KENAR_API_KEY").unwrap_or_default())
//!         .base_url("http://127.0.0.1:8080") // omit for Kenar's production API
//!         .access_token(std::env::var("KENAR_ACCESS_TOKEN").unwrap_or_default())
//!         .build()?;
//!
//!     client
//!         .events()
//!         .register_subscription(
//!             RegisterSubscription::new_messages_on_post("gZd7omnS")
//!                 .metadata(serde_json::json!({"shop_id": 42})),
//!         )
//!         .await?;
//!
//!     client
//!         .events()
//!         .send(
//!             SendEvent::to_post("gZd7omnS", "Your report is ready")
//!                 .link_button("Open the report", "https://example.com/r/1"),
//!         )
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! Errors say what the server said: the gRPC [`Code`], the message, the offending fields, and
//! the HTTP status.
//!
//! ```no_run
//! # async fn run(client: kenar_sdk::Client) {
//! use kenar_sdk::{Code, Error, RegisterSubscription};
//!
//! match client.events().register_subscription(RegisterSubscription::post_updates()).await {
//!     Ok(_) => {}
//!     Err(Error::Api(e)) if e.code() == Code::PermissionDenied => {
//!         eprintln!("ask the user for USER_POSTS_GET: {}", e.message())
//!     }
//!     Err(Error::Api(e)) => {
//!         for v in e.field_violations() {
//!             eprintln!("{}: {}", v.field, v.description);
//!         }
//!     }
//!     Err(e) => eprintln!("no answer: {e}"),
//! }
//! # }
//! ```
//!
//! # What is where
//!
//! - [`Client`] and [`Client::events`]: the Events API ([`RegisterSubscription`],
//!   [`SendEvent`]), with typed [`Error`]s and automatic, safe retries ([`RetryPolicy`]).
//! - [`webhook`]: [`webhook::Verifier`] checks the identification key and Standard Webhooks
//!   signatures, and parses bodies into a [`webhook::Event`]; with the `axum` feature,
//!   `webhook::KenarWebhook` is an extractor that does both.
//! - [`oauth`]: authorization URLs (scopes, state, PKCE), code exchange and refresh.
//! - `blocking` (the `blocking` feature): the same calls without async.
//!
//! # Retries
//!
//! Calls are retried on `429` and `503` answers (honouring `Retry-After`) and on failures to
//! connect, with exponential backoff. A failure after the request was sent is retried only for
//! calls that are safe to repeat (registration), never for sending an event. See [`retry`].
//!
//! # Features
//!
//! - `axum`: the `webhook::KenarWebhook` extractor.
//! - `blocking`: `kenar_sdk::blocking`, a client that blocks instead of returning futures.
//!
//! # Examples
//!
//! `examples/` holds runnable programs that read their settings from the environment
//! (`KENAR_BASE_URL`, `KENAR_API_KEY`, `KENAR_ACCESS_TOKEN`, ...): `subscribe_post_messages`,
//! `send_event_with_buttons`, and `webhook_receiver` (needs `--features axum`).

#![warn(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
mod client;
mod error;
mod events;
pub mod oauth;
pub mod retry;
mod secret;
mod transport;
pub mod webhook;

pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use error::{ApiError, Error, TransportError};
pub use events::{
    Events, RegisterSubscription, SendEvent, WireForm, REGISTER_SUBSCRIPTION_PATH, SEND_EVENT_PATH,
};
pub use retry::RetryPolicy;
pub use secret::{AccessToken, ApiKey, ClientSecret, RefreshToken};
pub use transport::DEFAULT_USER_AGENT;

pub use kenar_wire::events::{
    Action, Button, Buttons, EventType, RegisterSubscriptionRequest, RegisterSubscriptionResponse,
    SendEventRequest, SendEventResponse, TargetType,
};
pub use kenar_wire::status::{Code, Detail, FieldViolation, Status};

/// The contract's wire types, for what this crate does not re-export.
pub use kenar_wire as wire;
