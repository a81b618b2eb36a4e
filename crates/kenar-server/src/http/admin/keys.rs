//! API keys: issued with chosen permissions, shown once, stored hashed, revocable.

use axum::extract::State;
use axum::http::StatusCode;
use kenar_wire::status::{FieldViolation, Status};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{app_or_404, KeyCreated, KeyList, KeyView};
use crate::domain::time::now_ms;
use crate::domain::Permission;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Admin, Json, Path};
use crate::http::state::AppState;
use crate::panel::issue_api_key;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateKey {
    /// A label for the operator.
    #[serde(default)]
    pub name: String,
    /// `EVENTS_REGISTER_SUBSCRIPTION`, `EVENTS_SEND`.
    pub permissions: Vec<String>,
}

/// Issue an API key.
#[utoipa::path(post, path = "/admin/v1/apps/{slug}/keys", tag = "admin", request_body = CreateKey,
    params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 201, body = KeyCreated), (status = 400, body = Status),
              (status = 404, body = Status)))]
pub async fn create_key(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    Json(req): Json<CreateKey>,
) -> ApiResult<(StatusCode, axum::Json<KeyCreated>)> {
    let app = app_or_404(&state, &slug).await?;
    let mut violations = Vec::new();
    let mut permissions = Vec::new();
    for (i, p) in req.permissions.iter().enumerate() {
        match p.parse::<Permission>() {
            Ok(p) => permissions.push(p),
            Err(e) => violations.push(FieldViolation {
                field: format!("permissions[{i}]"),
                description: e,
            }),
        }
    }
    if req.name.chars().count() > 200 {
        violations.push(FieldViolation {
            field: "name".into(),
            description: "must be at most 200 characters".into(),
        });
    }
    if !violations.is_empty() {
        return Err(ApiError::bad_request(violations));
    }
    permissions.sort();
    permissions.dedup();
    let (key, record) = issue_api_key(&state.store, &app, &req.name, &permissions).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(KeyCreated {
            key: key.expose().to_owned(),
            view: KeyView::from(&record),
        }),
    ))
}

/// List an app's API keys (never their secrets).
#[utoipa::path(get, path = "/admin/v1/apps/{slug}/keys", tag = "admin",
    params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = KeyList), (status = 404, body = Status)))]
pub async fn list_keys(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<KeyList>> {
    let app = app_or_404(&state, &slug).await?;
    let keys = state.store.list_api_keys(app.id).await?;
    Ok(axum::Json(KeyList {
        keys: keys.iter().map(KeyView::from).collect(),
    }))
}

/// Revoke an API key; calls with it fail from now on.
#[utoipa::path(delete, path = "/admin/v1/apps/{slug}/keys/{key_id}", tag = "admin",
    params(("slug" = String, Path), ("key_id" = i64, Path)), security(("admin" = [])),
    responses((status = 200, body = KeyView), (status = 404, body = Status)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    _: Admin,
    Path((slug, key_id)): Path<(String, String)>,
) -> ApiResult<axum::Json<KeyView>> {
    let app = app_or_404(&state, &slug).await?;
    let not_found = || ApiError::not_found(format!("key {key_id} not found"));
    let id: i64 = key_id.parse().map_err(|_| not_found())?;
    let key = state
        .store
        .revoke_api_key(app.id, id, now_ms())
        .await?
        .ok_or_else(not_found)?;
    Ok(axum::Json(KeyView::from(&key)))
}
