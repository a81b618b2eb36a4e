//! The administration API ("the panel", contract 3.1 and 3.2), behind the admin token.

mod apps;
mod deliveries;
mod identity;
mod keys;
mod stream;
mod views;

use axum::routing::{delete, get, post};
use axum::Router;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::state::AppState;
use crate::domain::AppSlug;
use crate::store::AppRecord;

pub use apps::*;
pub use deliveries::*;
pub use identity::*;
pub use keys::*;
pub use stream::*;
pub use views::*;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/apps", get(list_apps).post(create_app))
        .route("/admin/v1/apps/{slug}", get(get_app).patch(update_app))
        .route(
            "/admin/v1/apps/{slug}/keys",
            get(list_keys).post(create_key),
        )
        .route("/admin/v1/apps/{slug}/keys/{key_id}", delete(revoke_key))
        .route("/admin/v1/apps/{slug}/tokens", post(mint_token))
        .route(
            "/admin/v1/apps/{slug}/subscriptions",
            get(list_subscriptions),
        )
        .route("/admin/v1/users", post(create_user))
        .route("/admin/v1/users/{user_id}", get(get_user))
        .route("/admin/v1/posts", post(create_post))
        .route("/admin/v1/posts/{token}", get(get_post).patch(update_post))
        .route("/admin/v1/tokens/revoke", post(revoke_token))
        .route("/admin/v1/deliveries", get(list_deliveries))
        .route("/admin/v1/deliveries/{id}", get(get_delivery))
        .route("/admin/v1/deliveries/{id}/redeliver", post(redeliver))
        .route(
            "/admin/v1/apps/{slug}/redeliver-failed",
            post(redeliver_failed),
        )
        .route("/admin/v1/apps/{slug}/webhook/enable", post(enable_webhook))
        .route(
            "/admin/v1/apps/{slug}/client-secret",
            post(rotate_client_secret),
        )
        .route(
            "/admin/v1/apps/{slug}/deliveries/stream",
            get(stream_deliveries),
        )
}

/// Pagination of list endpoints: `limit` items after the item with id `after`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Return items after this id (the `next_after` of the previous page).
    #[serde(default)]
    pub after: i64,
    /// At most this many items (1 to 1000, default 100).
    pub limit: Option<i64>,
}

impl Page {
    fn limit(&self) -> ApiResult<i64> {
        match self.limit {
            None => Ok(100),
            Some(n @ 1..=1000) => Ok(n),
            Some(_) => Err(ApiError::field("limit", "must be between 1 and 1000")),
        }
    }
}

async fn app_or_404(state: &AppState, slug: &str) -> ApiResult<AppRecord> {
    // A slug that could never exist is simply not found.
    let slug =
        AppSlug::parse(slug).map_err(|_| ApiError::not_found(format!("app {slug:?} not found")))?;
    state
        .store
        .app_by_slug(slug.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("app {slug} not found")))
}

/// `Some(value)` for a present field, so that `Option<Option<T>>` tells "absent" (`None`) from
/// "null" (`Some(None)`) in a PATCH body.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}
