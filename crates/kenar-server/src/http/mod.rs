//! The HTTP surface: routers, extractors, and the one error mapping.

pub mod admin;
pub mod error;
pub mod events;
pub mod extract;
pub mod feed;
pub mod ingest;
pub mod internal_errors;
pub mod oauth;
mod openapi;
pub mod send;
pub mod state;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::trace::{HttpMakeClassifier, Trace};

use error::ApiError;
use internal_errors::LogInternalErrors;
use state::AppState;

pub use openapi::ApiDoc;

/// Path of the OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/open-platform/events/subscriptions",
            post(events::register_subscription),
        )
        .route(
            "/experimental/open-platform/events/send",
            post(send::send_event),
        )
        .route("/v1/platform/events", post(ingest::publish))
        .route("/v1/platform/users/{user_id}/feed", get(feed::user_feed))
        .route("/v1/platform/posts/{post_token}/feed", get(feed::post_feed))
        .route(
            "/v1/platform/feed-events/{event_id}/read",
            post(feed::mark_read),
        )
        .route(
            "/v1/platform/feed-events/{event_id}/buttons/{index}/press",
            post(feed::press),
        )
        .merge(admin::router())
        .merge(oauth::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(OPENAPI_PATH, get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// What the server serves: the router inside request tracing, inside the log of internal
/// errors. The layers wrap the router once, not each route (see [`internal_errors`]).
pub fn app(state: AppState) -> App {
    LogInternalErrors::new(Trace::new_for_http(router(state)))
}

pub type App = LogInternalErrors<Trace<Router, HttpMakeClassifier>>;

async fn not_found() -> ApiError {
    ApiError::not_found("Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}`"),
              (status = 503, description = "The database does not answer (code 14)",
               body = kenar_wire::status::Status)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::new(
                kenar_wire::status::Code::Unavailable,
                "database unavailable",
            )
            .into_response()
        }
    }
}

/// Prometheus metrics; the database gauges are read at scrape time.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.store.queue_gauges().await {
        Ok((pending, disabled)) => {
            state.metrics.queue_depth.set(pending);
            state.metrics.disabled_endpoints.set(disabled);
        }
        Err(e) => tracing::warn!(error = %e, "could not read queue gauges"),
    }
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
