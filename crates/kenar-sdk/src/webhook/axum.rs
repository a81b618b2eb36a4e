//! An `axum` extractor for webhooks (the `axum` feature).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{Event, Verifier, WebhookError, WebhookHeaders};

/// An authenticated, parsed webhook.
///
/// The handler's state must provide a [`Verifier`] (`Verifier: FromRef<S>`; a `Verifier` as the
/// whole state works). Requests failing authentication get `401 Unauthorized` before their body
/// is read; authenticated requests whose body is not a webhook get `400 Bad Request`.
///
/// ```no_run
/// use axum::{routing::post, Router};
/// use kenar_sdk::webhook::{Event, KenarWebhook, Verifier};
///
/// async fn receive(KenarWebhook(event): KenarWebhook) {
///     if let Event::NewMessage { message, metadata } = event {
///         println!("message {} ({metadata:?})", message.id);
///     }
/// }
///
/// # async fn run() -> std::io::Result<()> {
/// let app = Router::new()
///     .route("/webhook", post(receive))
///     .with_state(Verifier::new("the identification key"));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct KenarWebhook(pub Event);

impl<S> FromRequest<S> for KenarWebhook
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Verifier::from_ref(state);
        let headers = req.headers().clone();
        let parts = WebhookHeaders::from_header_map(&headers);
        // The cheap check first: an unauthenticated body is never read.
        verifier
            .check_identification_key(parts.authorization)
            .map_err(WebhookRejection::Webhook)?;
        let body = Bytes::from_request(req, state)
            .await
            .map_err(WebhookRejection::Body)?;
        verifier
            .verify_at(parts, &body, std::time::SystemTime::now())
            .map(KenarWebhook)
            .map_err(WebhookRejection::Webhook)
    }
}

/// Why [`KenarWebhook`] refused a request; answers `401` for failed authentication, `400` for
/// a bad body, and the body extractor's own status when the body could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// Authentication failed, or the body is not a webhook.
    Webhook(WebhookError),
    /// The body could not be read (too large, say).
    Body(BytesRejection),
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        match self {
            WebhookRejection::Webhook(e) if e.is_unauthenticated() => {
                (StatusCode::UNAUTHORIZED, e.to_string()).into_response()
            }
            WebhookRejection::Webhook(e) => {
                (StatusCode::BAD_REQUEST, e.to_string()).into_response()
            }
            WebhookRejection::Body(e) => e.into_response(),
        }
    }
}
