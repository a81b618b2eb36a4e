//! The platform's ingestion API (contract 3.3).

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::Json;
use kenar_wire::platform::{IngestRequest, IngestResponse, IngestResult};
use kenar_wire::status::Status;
use kenar_wire::FromJson;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::read_object;
use super::state::AppState;
use crate::domain::credentials;
use crate::ingest::MAX_BATCH;

/// Largest ingestion body: a full batch of large events.
pub const MAX_INGEST_BYTES: usize = 16 * 1024 * 1024;

/// The platform, authenticated by `Authorization: Bearer <platform token>`.
pub struct Platform;

impl FromRequestParts<AppState> for Platform {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match token {
            Some(t) if credentials::secrets_equal(t, state.platform_token.expose()) => Ok(Platform),
            Some(_) => Err(ApiError::unauthenticated("invalid platform token")),
            None => Err(ApiError::unauthenticated(
                "missing platform token: send Authorization: Bearer <platform token>",
            )),
        }
    }
}

/// The ingestion body, read with its own (larger) size limit.
pub struct IngestBody(Vec<Value>);

impl<S: Send + Sync> FromRequest<S> for IngestBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> ApiResult<Self> {
        let mut body = read_object(req, MAX_INGEST_BYTES).await?;
        // The items are moved out, not read into copies (a batch may be megabytes); what is
        // left is read as the contract says, to the same answers.
        let events = match body.remove("events") {
            Some(Value::Array(items)) => items,
            other => {
                if let Some(value) = other {
                    body.insert("events".to_owned(), value);
                }
                IngestRequest::from_json(&Value::Object(body))
                    .map_err(|e| ApiError::field(e.path(), e.message().to_string()))?
                    .events
            }
        };
        if events.len() > MAX_BATCH {
            return Err(ApiError::field(
                "events",
                format!("at most {MAX_BATCH} events per call, got {}", events.len()),
            ));
        }
        Ok(IngestBody(events))
    }
}

/// Publish platform events.
///
/// Each item carries one payload object of the contract (`new_message`, `new_chatbot_message`,
/// `post_update`, `payment_transaction`, `user_access_revocation`) with its routing facts. The
/// answer has one result per item, in order: `{"event_id"}` or `{"error": Status}`. The call
/// returns once the accepted events and their deliveries are durable.
#[utoipa::path(
    post,
    path = "/v1/platform/events",
    tag = "platform",
    request_body = IngestRequest,
    security(("platform" = [])),
    responses(
        (status = 200, description = "One result per item", body = IngestResponse),
        (status = 400, description = "Not a batch, or more than 1000 items", body = Status),
        (status = 401, description = "Missing or invalid platform token", body = Status),
    )
)]
pub async fn publish(
    State(state): State<AppState>,
    _: Platform,
    IngestBody(items): IngestBody,
) -> ApiResult<Json<IngestResponse>> {
    let results = state.ingest.ingest(items).await?;
    let accepted: Vec<&str> = results
        .iter()
        .filter_map(|r| match r {
            IngestResult::Accepted { event_id } => Some(event_id.as_str()),
            IngestResult::Rejected { .. } => None,
        })
        .collect();
    tracing::info!(
        accepted = accepted.len(),
        rejected = results.len() - accepted.len(),
        first_event_id = accepted.first().copied().unwrap_or(""),
        last_event_id = accepted.last().copied().unwrap_or(""),
        "events ingested"
    );
    Ok(Json(IngestResponse { results }))
}
