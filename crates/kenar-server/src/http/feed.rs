//! Event feeds and button presses (contract 3.4): what a Divar client shows of the events apps
//! send, called by the platform (platform token) on behalf of its users.

use axum::extract::State;
use kenar_wire::events::{Action, DynamicActionRequest, DynamicActionResponse, RequestData};
use kenar_wire::status::{Code, Status};
use kenar_wire::FromJson;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult};
use super::extract::{Path, Query};
use super::ingest::Platform;
use super::state::AppState;
use crate::delivery::sender::check_target;
use crate::domain::time::{now_ms, rfc3339};
use crate::domain::UserId;
use crate::store::{Feed, FeedEventRecord};

/// What the server says a button press came from, in dynamic-action calls.
pub const TOUCHPOINT: &str = "EVENT_FEED";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedPage {
    /// At most this many events (1 to 100, default 20).
    pub page_size: Option<i64>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedApp {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEventView {
    /// `fe_<n>`.
    pub id: String,
    pub app: FeedApp,
    pub message: String,
    /// `USER` or `POST`.
    pub target_type: String,
    pub post_token: Option<String>,
    /// `{"items": [{title, action}]}`, as the app sent them.
    #[schema(value_type = Object)]
    pub buttons: Option<Value>,
    pub created_at: String,
    pub read: bool,
}

impl From<&FeedEventRecord> for FeedEventView {
    fn from(e: &FeedEventRecord) -> Self {
        FeedEventView {
            id: format!("fe_{}", e.id),
            app: FeedApp {
                slug: e.app_slug.clone(),
                name: e.app_name.clone(),
            },
            message: e.message.clone(),
            target_type: e.target_type.clone(),
            post_token: e.post_token.clone(),
            buttons: e
                .buttons
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .map(|items| serde_json::json!({ "items": items })),
            created_at: rfc3339(e.created_at),
            read: e.read_at.is_some(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedView {
    pub events: Vec<FeedEventView>,
    /// Pass as `page_token` for the next (older) page; absent on the last page.
    pub next_page_token: Option<String>,
}

async fn page(state: &AppState, feed: Feed<'_>, q: &FeedPage) -> ApiResult<FeedView> {
    let size = match q.page_size {
        None => 20,
        Some(n @ 1..=100) => n,
        Some(_) => return Err(ApiError::field("page_size", "must be between 1 and 100")),
    };
    let before = match q.page_token.as_deref() {
        None | Some("") => i64::MAX,
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| ApiError::field("page_token", "not a page token of this feed"))?,
    };
    let rows = state.store.feed(feed, before, size).await?;
    let next_page_token = (rows.len() as i64 == size)
        .then(|| rows.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(FeedView {
        events: rows.iter().map(FeedEventView::from).collect(),
        next_page_token,
    })
}

/// A user's feed, newest first: events sent to them and to their posts.
#[utoipa::path(get, path = "/v1/platform/users/{user_id}/feed", tag = "platform",
    params(("user_id" = String, Path, description = "The platform's id of the user"), FeedPage),
    security(("platform" = [])),
    responses((status = 200, body = FeedView), (status = 400, body = Status),
              (status = 401, body = Status)))]
pub async fn user_feed(
    State(state): State<AppState>,
    _: Platform,
    Path(user_id): Path<String>,
    Query(q): Query<FeedPage>,
) -> ApiResult<axum::Json<FeedView>> {
    Ok(axum::Json(page(&state, Feed::User(&user_id), &q).await?))
}

/// A post's feed, newest first.
#[utoipa::path(get, path = "/v1/platform/posts/{post_token}/feed", tag = "platform",
    params(("post_token" = String, Path), FeedPage), security(("platform" = [])),
    responses((status = 200, body = FeedView), (status = 400, body = Status),
              (status = 401, body = Status)))]
pub async fn post_feed(
    State(state): State<AppState>,
    _: Platform,
    Path(post): Path<String>,
    Query(q): Query<FeedPage>,
) -> ApiResult<axum::Json<FeedView>> {
    Ok(axum::Json(page(&state, Feed::Post(&post), &q).await?))
}

async fn event_or_404(state: &AppState, id: &str) -> ApiResult<FeedEventRecord> {
    let not_found = || ApiError::not_found(format!("event {id:?} not found"));
    let n: i64 = id
        .strip_prefix("fe_")
        .unwrap_or(id)
        .parse()
        .map_err(|_| not_found())?;
    state.store.feed_event(n).await?.ok_or_else(not_found)
}

/// Mark an event read.
#[utoipa::path(post, path = "/v1/platform/feed-events/{event_id}/read", tag = "platform",
    params(("event_id" = String, Path)), security(("platform" = [])),
    responses((status = 200, body = FeedEventView), (status = 404, body = Status)))]
pub async fn mark_read(
    State(state): State<AppState>,
    _: Platform,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<FeedEventView>> {
    let event = event_or_404(&state, &id).await?;
    state.store.mark_feed_event_read(event.id, now_ms()).await?;
    let event = event_or_404(&state, &id).await?;
    Ok(axum::Json(FeedEventView::from(&event)))
}

/// Press a button of an event: its action, resolved. For `get_dynamic_action` the app's
/// dynamic-action URL is asked (with the identification key) and its answer returned.
#[utoipa::path(post, path = "/v1/platform/feed-events/{event_id}/buttons/{index}/press",
    tag = "platform",
    params(("event_id" = String, Path), ("index" = usize, Path, description = "The button's position, from 0")),
    security(("platform" = [])),
    responses((status = 200, body = DynamicActionResponse), (status = 404, body = Status),
              (status = 400, description = "The app has no dynamic-action URL (code 9)", body = Status),
              (status = 503, description = "The app did not answer, or answered garbage (code 14)", body = Status)))]
pub async fn press(
    State(state): State<AppState>,
    _: Platform,
    Path((id, index)): Path<(String, String)>,
) -> ApiResult<axum::Json<DynamicActionResponse>> {
    let event = event_or_404(&state, &id).await?;
    let buttons: Vec<Value> = event
        .buttons
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    let button = index
        .parse::<usize>()
        .ok()
        .and_then(|i| buttons.get(i))
        .ok_or_else(|| ApiError::not_found(format!("event {id} has no button {index}")))?;
    let action = button
        .get("action")
        .ok_or_else(|| ApiError::internal(std::io::Error::other("stored button without action")))
        .and_then(|a| {
            Action::from_json(a)
                .map_err(|e| ApiError::internal(std::io::Error::other(e.to_string())))
        })?;
    let Action::GetDynamicAction { data } = action else {
        return Ok(axum::Json(DynamicActionResponse {
            action: Some(action),
            text_message: None,
        }));
    };
    let app = state
        .store
        .app_by_slug(&event.app_slug)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("app {} not found", event.app_slug)))?;
    let url = app.dynamic_action_url.as_deref().ok_or_else(|| {
        ApiError::failed_precondition(format!("app {} has no dynamic-action URL", app.slug))
    })?;
    let url = check_target(url, state.private_targets).map_err(ApiError::failed_precondition)?;
    let user = UserId::parse(&event.user_id).map_err(ApiError::internal)?;
    let body = DynamicActionRequest {
        touchpoint: TOUCHPOINT.into(),
        user_id: state.pseudonyms.user_id_for_app(app.id, &user),
        post_token: event.post_token.clone().unwrap_or_default(),
        extra_data: data,
        request_data: RequestData {
            event_id: format!("fe_{}", event.id),
        },
    };
    let unavailable = |why: String| ApiError::new(Code::Unavailable, why);
    let response = state
        .outbound
        .post(url)
        .header("authorization", app.identification_key.expose())
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            let kind = if e.is_timeout() {
                "did not answer in time"
            } else {
                "could not be reached"
            };
            unavailable(format!("the app's dynamic-action endpoint {kind}"))
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(unavailable(format!(
            "the app's dynamic-action endpoint answered HTTP {}",
            status.as_u16()
        )));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|_| unavailable("the app's dynamic-action answer could not be read".into()))?;
    let answer = serde_json::from_slice::<Value>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|v| DynamicActionResponse::from_json(&v).map_err(|e| e.to_string()))
        .map_err(|e| {
            unavailable(format!(
                "the app's dynamic-action endpoint answered something that is not a dynamic-action response: {e}"
            ))
        })?;
    Ok(axum::Json(answer))
}
