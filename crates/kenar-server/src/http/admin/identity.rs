//! Users, posts and access tokens of the embedded identity store.

use axum::extract::State;
use axum::http::StatusCode;
use kenar_wire::status::{FieldViolation, Status};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{app_or_404, Empty, PostView, TokenMinted, UserView};
use crate::domain::credentials::{self, random_alphanumeric, Kind};
use crate::domain::oauth::refused_scope;
use crate::domain::time::now_ms;
use crate::domain::{PostToken, Scope, ScopeSet, UserId};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Admin, Json, Path};
use crate::http::state::AppState;
use crate::panel::mint_access_token;
use crate::store::StoreError;

/// Default lifetime of a minted access token.
pub const DEFAULT_TOKEN_SECONDS: i64 = 3600;
/// Longest lifetime a minted access token may have (one year).
pub const MAX_TOKEN_SECONDS: i64 = 365 * 24 * 3600;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUser {
    /// The platform's id of the user; generated (`u-...`) when absent.
    pub id: Option<String>,
    #[serde(default)]
    pub display_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreatePost {
    /// Generated (8 characters, like Divar's) when absent.
    pub token: Option<String>,
    /// The id of the user who owns the post.
    pub owner_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdatePost {
    pub owner_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MintToken {
    /// The platform's id of the user granting access.
    pub user_id: String,
    /// Scopes, global (`USER_POSTS_GET`) or resource-bound (`CHAT_POST_CONVERSATIONS_READ.<post>`).
    pub scopes: Vec<String>,
    /// Lifetime in seconds (default 3600, at most a year).
    pub expires_in: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeToken {
    /// The access token to revoke.
    pub token: String,
}

fn conflict(what: String) -> impl FnOnce(StoreError) -> ApiError {
    move |e| match e {
        StoreError::Conflict => ApiError::already_exists(format!("{what} already exists")),
        e => e.into(),
    }
}

async fn existing_user(state: &AppState, field: &str, id: &str) -> ApiResult<UserId> {
    let user = UserId::parse(id).map_err(|e| ApiError::field(field, e.to_string()))?;
    state
        .store
        .user(user.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {user} not found")))?;
    Ok(user)
}

/// Register a user.
#[utoipa::path(post, path = "/admin/v1/users", tag = "admin", request_body = CreateUser,
    security(("admin" = [])),
    responses((status = 201, body = UserView), (status = 400, body = Status),
              (status = 409, body = Status)))]
pub async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    Json(req): Json<CreateUser>,
) -> ApiResult<(StatusCode, axum::Json<UserView>)> {
    let id = match req.id {
        Some(id) => UserId::parse(&id).map_err(|e| ApiError::field("id", e.to_string()))?,
        None => {
            UserId::parse(&format!("u-{}", random_alphanumeric(12))).map_err(ApiError::internal)?
        }
    };
    if req.display_name.chars().count() > 200 {
        return Err(ApiError::field(
            "display_name",
            "must be at most 200 characters",
        ));
    }
    let user = state
        .store
        .create_user(id.as_str(), &req.display_name, now_ms())
        .await
        .map_err(conflict(format!("user {id}")))?;
    Ok((StatusCode::CREATED, axum::Json(UserView::from(&user))))
}

/// Show a user.
#[utoipa::path(get, path = "/admin/v1/users/{user_id}", tag = "admin",
    params(("user_id" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = UserView), (status = 404, body = Status)))]
pub async fn get_user(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<UserView>> {
    let user = state
        .store
        .user(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id:?} not found")))?;
    Ok(axum::Json(UserView::from(&user)))
}

/// Register a post with its owner.
#[utoipa::path(post, path = "/admin/v1/posts", tag = "admin", request_body = CreatePost,
    security(("admin" = [])),
    responses((status = 201, body = PostView), (status = 400, body = Status),
              (status = 404, body = Status), (status = 409, body = Status)))]
pub async fn create_post(
    State(state): State<AppState>,
    _: Admin,
    Json(req): Json<CreatePost>,
) -> ApiResult<(StatusCode, axum::Json<PostView>)> {
    let token = match req.token {
        Some(t) => PostToken::parse(&t).map_err(|e| ApiError::field("token", e.to_string()))?,
        None => PostToken::generate(),
    };
    let owner = existing_user(&state, "owner_id", &req.owner_id).await?;
    let post = state
        .store
        .create_post(token.as_str(), owner.as_str(), now_ms())
        .await
        .map_err(conflict(format!("post {token}")))?;
    Ok((StatusCode::CREATED, axum::Json(PostView::from(&post))))
}

/// Show a post.
#[utoipa::path(get, path = "/admin/v1/posts/{token}", tag = "admin",
    params(("token" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = PostView), (status = 404, body = Status)))]
pub async fn get_post(
    State(state): State<AppState>,
    _: Admin,
    Path(token): Path<String>,
) -> ApiResult<axum::Json<PostView>> {
    let post = state
        .store
        .post(&token)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("post {token:?} not found")))?;
    Ok(axum::Json(PostView::from(&post)))
}

/// Give a post to another owner.
#[utoipa::path(patch, path = "/admin/v1/posts/{token}", tag = "admin", request_body = UpdatePost,
    params(("token" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = PostView), (status = 404, body = Status)))]
pub async fn update_post(
    State(state): State<AppState>,
    _: Admin,
    Path(token): Path<String>,
    Json(req): Json<UpdatePost>,
) -> ApiResult<axum::Json<PostView>> {
    let owner = existing_user(&state, "owner_id", &req.owner_id).await?;
    let post = state
        .store
        .set_post_owner(&token, owner.as_str(), now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("post {token:?} not found")))?;
    Ok(axum::Json(PostView::from(&post)))
}

/// Mint an access token for (app, user, scopes, lifetime), as if the user had granted it.
///
/// A production app gets only scopes whose names the operator granted it.
#[utoipa::path(post, path = "/admin/v1/apps/{slug}/tokens", tag = "admin", request_body = MintToken,
    params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 201, body = TokenMinted), (status = 400, body = Status),
              (status = 404, body = Status)))]
pub async fn mint_token(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    Json(req): Json<MintToken>,
) -> ApiResult<(StatusCode, axum::Json<TokenMinted>)> {
    let app = app_or_404(&state, &slug).await?;
    let mut violations = Vec::new();
    let mut scopes = Vec::new();
    for (i, s) in req.scopes.iter().enumerate() {
        match Scope::parse(s) {
            Ok(s) => scopes.push(s),
            Err(e) => violations.push(FieldViolation {
                field: format!("scopes[{i}]"),
                description: e.to_string(),
            }),
        }
    }
    let seconds = req.expires_in.unwrap_or(DEFAULT_TOKEN_SECONDS);
    if !(1..=MAX_TOKEN_SECONDS).contains(&seconds) {
        violations.push(FieldViolation {
            field: "expires_in".into(),
            description: format!("must be between 1 and {MAX_TOKEN_SECONDS} seconds"),
        });
    }
    if !violations.is_empty() {
        return Err(ApiError::bad_request(violations));
    }
    let scopes = ScopeSet::new(scopes);
    if let Some(s) = refused_scope(app.kind, &app.granted_scopes, &scopes) {
        return Err(ApiError::failed_precondition(format!(
            "scope {s} is not granted to production app {}",
            app.slug
        )));
    }
    let user = existing_user(&state, "user_id", &req.user_id).await?;
    let minted = mint_access_token(
        &state.store,
        &state.pseudonyms,
        &app,
        &user,
        &scopes,
        seconds,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenMinted {
            access_token: minted.access_token.expose().to_owned(),
            token_type: "bearer".into(),
            expires_in: seconds,
            scope: scopes.to_string(),
            user_id: minted.app_user_id,
            grant_id: minted.grant_id,
        }),
    ))
}

/// Revoke an access token. As in RFC 7009, an unknown or already revoked token is not an
/// error.
#[utoipa::path(post, path = "/admin/v1/tokens/revoke", tag = "admin", request_body = RevokeToken,
    security(("admin" = [])), responses((status = 200, body = Empty)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    _: Admin,
    Json(req): Json<RevokeToken>,
) -> ApiResult<axum::Json<Empty>> {
    if let Some(presented) = credentials::parse(Kind::AccessToken, req.token.trim()) {
        if let Some(token) = state.store.access_token(&presented.lookup).await? {
            if presented.matches(&token.secret_hash) {
                state.store.revoke_access_token(token.id, now_ms()).await?;
            }
        }
    }
    Ok(axum::Json(Empty {}))
}
