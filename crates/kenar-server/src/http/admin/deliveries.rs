//! The delivery log and replay.

use axum::extract::State;
use kenar_wire::status::Status;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{app_or_404, AppView};
use crate::domain::time::{now_ms, rfc3339};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Admin, Json, Path, Query};
use crate::http::state::AppState;
use crate::store::{Attempt, DeliveryFilter, DeliveryRecord};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only this app's deliveries (slug).
    pub app: Option<String>,
    /// `PENDING`, `SUCCEEDED` or `FAILED`.
    pub status: Option<String>,
    /// The webhook type (`NEW_MESSAGE`, `POST_UPDATE`, ...).
    pub event_type: Option<String>,
    /// Created at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Created before this time (RFC 3339).
    pub until: Option<String>,
    /// Only deliveries older than this id (the `next_before` of the previous page).
    pub before: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    /// The `webhook-id` header of every attempt of this delivery.
    pub webhook_id: String,
    pub event_id: String,
    pub app: String,
    pub event_type: String,
    /// `PENDING`, `SUCCEEDED` or `FAILED`.
    pub status: String,
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&DeliveryRecord> for DeliveryView {
    fn from(d: &DeliveryRecord) -> Self {
        DeliveryView {
            id: d.id,
            webhook_id: format!("msg_{}", d.id),
            event_id: format!("evt_{}", d.event_id),
            app: d.app_slug.clone(),
            event_type: d.event_type.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            next_attempt_at: (d.status == "PENDING").then(|| rfc3339(d.next_attempt_at)),
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempted_at: String,
    /// The HTTP status the endpoint answered, if it answered.
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// The start of the response body (at most 1024 characters).
    pub response_body: Option<String>,
    pub error: Option<String>,
}

impl From<&Attempt> for AttemptView {
    fn from(a: &Attempt) -> Self {
        AttemptView {
            attempted_at: rfc3339(a.attempted_at),
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_body: a.response_body.clone(),
            error: a.error.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    /// The webhook body, as sent.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    pub attempt_log: Vec<AttemptView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RedeliverFailed {
    /// Failed deliveries created at or after this time (RFC 3339) are queued again.
    pub since: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    /// How many deliveries were queued.
    pub queued: u64,
}

fn time_param(field: &str, value: &str) -> ApiResult<i64> {
    humantime::parse_rfc3339_weak(value)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| ApiError::field(field, format!("not an RFC 3339 time: {value:?}")))
}

fn parse_status(status: &str) -> ApiResult<String> {
    match status {
        "PENDING" | "SUCCEEDED" | "FAILED" => Ok(status.to_owned()),
        other => Err(ApiError::field(
            "status",
            format!("unknown value {other:?} (expected PENDING, SUCCEEDED or FAILED)"),
        )),
    }
}

/// List deliveries, newest first.
#[utoipa::path(get, path = "/admin/v1/deliveries", tag = "admin", params(DeliveryQuery),
    security(("admin" = [])),
    responses((status = 200, body = DeliveryList), (status = 400, body = Status),
              (status = 404, body = Status)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    _: Admin,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<axum::Json<DeliveryList>> {
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(_) => return Err(ApiError::field("limit", "must be between 1 and 1000")),
    };
    let app_id = match &q.app {
        Some(slug) => Some(app_or_404(&state, slug).await?.id),
        None => None,
    };
    let filter = DeliveryFilter {
        app_id,
        status: q.status.as_deref().map(parse_status).transpose()?,
        event_type: q.event_type.clone(),
        since: q
            .since
            .as_deref()
            .map(|v| time_param("since", v))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|v| time_param("until", v))
            .transpose()?,
        before: q.before,
        limit,
    };
    let rows = state.store.list_deliveries(&filter).await?;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|d| d.id))
        .flatten();
    Ok(axum::Json(DeliveryList {
        deliveries: rows.iter().map(DeliveryView::from).collect(),
        next_before,
    }))
}

async fn delivery_or_404(state: &AppState, id: &str) -> ApiResult<DeliveryRecord> {
    let not_found = || ApiError::not_found(format!("delivery {id:?} not found"));
    let id: i64 = id
        .strip_prefix("msg_")
        .unwrap_or(id)
        .parse()
        .map_err(|_| not_found())?;
    state.store.delivery(id).await?.ok_or_else(not_found)
}

/// Show a delivery with its body and every attempt.
#[utoipa::path(get, path = "/admin/v1/deliveries/{id}", tag = "admin",
    params(("id" = String, Path, description = "The delivery id or its webhook-id")),
    security(("admin" = [])),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = Status)))]
pub async fn get_delivery(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DeliveryDetail>> {
    let d = delivery_or_404(&state, &id).await?;
    let attempts = state.store.attempts(d.id).await?;
    Ok(axum::Json(DeliveryDetail {
        body: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
        delivery: DeliveryView::from(&d),
        attempt_log: attempts.iter().map(AttemptView::from).collect(),
    }))
}

/// Deliver again now, with a fresh retry schedule (same `webhook-id`).
#[utoipa::path(post, path = "/admin/v1/deliveries/{id}/redeliver", tag = "admin",
    params(("id" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = DeliveryView), (status = 400, body = Status),
              (status = 404, body = Status)))]
pub async fn redeliver(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DeliveryView>> {
    let d = delivery_or_404(&state, &id).await?;
    if !state.store.redeliver(d.id, now_ms()).await? {
        return Err(ApiError::failed_precondition(
            "the delivery is being attempted right now",
        ));
    }
    // Read back before the engine is woken: the answer is the delivery as queued, not as it
    // may already be a moment later, delivered.
    let d = delivery_or_404(&state, &d.id.to_string()).await?;
    state.wake.notify();
    Ok(axum::Json(DeliveryView::from(&d)))
}

/// Queue again every failed delivery of an app since a time.
#[utoipa::path(post, path = "/admin/v1/apps/{slug}/redeliver-failed", tag = "admin",
    request_body = RedeliverFailed, params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = Queued), (status = 400, body = Status),
              (status = 404, body = Status)))]
pub async fn redeliver_failed(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    Json(req): Json<RedeliverFailed>,
) -> ApiResult<axum::Json<Queued>> {
    let app = app_or_404(&state, &slug).await?;
    let since = time_param("since", &req.since)?;
    let queued = state
        .store
        .redeliver_failed(app.id, since, now_ms())
        .await?;
    state.wake.notify();
    Ok(axum::Json(Queued { queued }))
}

/// Re-enable an app's endpoint that was disabled for failing too long; its pending deliveries
/// resume.
#[utoipa::path(post, path = "/admin/v1/apps/{slug}/webhook/enable", tag = "admin",
    params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = AppView), (status = 404, body = Status)))]
pub async fn enable_webhook(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<AppView>> {
    let app = app_or_404(&state, &slug).await?;
    state.store.enable_endpoint(app.id, now_ms()).await?;
    state.wake.notify();
    Ok(axum::Json(AppView::from(&app_or_404(&state, &slug).await?)))
}
