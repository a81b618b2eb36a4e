//! A live stream of an app's deliveries (Server-Sent Events), for `kenar listen`: each new
//! delivery with the headers and the exact body its webhook carries.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use kenar_wire::status::Status;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use super::app_or_404;
use crate::domain::signature::sign;
use crate::domain::time::rfc3339;
use crate::http::error::ApiResult;
use crate::http::extract::{Admin, Path, Query};
use crate::http::state::AppState;
use crate::store::{AppRecord, StreamedDelivery};

/// How often the stream looks for new deliveries. Polling the store (not a local channel)
/// makes the stream see deliveries that any server process created.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this delivery id instead of now (to resume after a disconnect).
    pub after: Option<i64>,
}

fn event(app: &AppRecord, d: &StreamedDelivery) -> Event {
    let webhook_id = format!("msg_{}", d.id);
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_secs() as i64)
        .unwrap_or(0);
    let mut headers = json!({
        "content-type": "application/json",
        "authorization": app.identification_key.expose(),
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp.to_string(),
    });
    if let Some(signature) = app
        .signing_secret
        .as_ref()
        .and_then(|s| sign(s, &webhook_id, timestamp, d.body.as_bytes()))
    {
        headers["webhook-signature"] = Value::String(signature);
    }
    let data = json!({
        "delivery_id": d.id,
        "webhook_id": webhook_id,
        "event_id": format!("evt_{}", d.event_id),
        "event_type": d.event_type,
        "created_at": rfc3339(d.created_at),
        "headers": headers,
        "body": serde_json::from_str::<Value>(&d.body).unwrap_or(Value::Null),
        "raw_body": d.body,
    });
    Event::default()
        .event("delivery")
        .id(d.id.to_string())
        .data(data.to_string())
}

/// Stream an app's deliveries as they are created (`text/event-stream`). Each SSE event
/// (`event: delivery`, `id: <delivery id>`) carries the webhook's headers, its body, and
/// `raw_body`, the exact bytes the signature covers.
#[utoipa::path(get, path = "/admin/v1/apps/{slug}/deliveries/stream", tag = "admin",
    params(("slug" = String, Path), StreamQuery), security(("admin" = [])),
    responses((status = 200, description = "Server-Sent Events, one per delivery", content_type = "text/event-stream"),
              (status = 404, body = Status)))]
pub async fn stream_deliveries(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    Query(q): Query<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let app = app_or_404(&state, &slug).await?;
    let cursor = match q.after {
        Some(after) => after,
        None => state.store.last_delivery_id(app.id).await?,
    };
    let events = stream::unfold(
        (state, app, cursor, VecDeque::new()),
        |(state, app, mut cursor, mut pending)| async move {
            loop {
                if state.stopping.is_cancelled() {
                    return None;
                }
                if let Some(d) = pending.pop_front() {
                    let e = event(&app, &d);
                    return Some((Ok(e), (state, app, cursor, pending)));
                }
                match state.store.deliveries_after(app.id, cursor, 100).await {
                    Ok(rows) if !rows.is_empty() => {
                        cursor = rows.last().map(|d| d.id).unwrap_or(cursor);
                        pending.extend(rows);
                    }
                    Ok(_) => {
                        tokio::select! {
                            _ = tokio::time::sleep(POLL) => {}
                            _ = state.stopping.cancelled() => return None,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "delivery stream could not read the store");
                        tokio::time::sleep(POLL * 5).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    ))
}
