//! Signed-in users: the dev login, the session cookie, CSRF tokens, and the user's list of
//! connected apps with revocation.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kenar_wire::platform::IngestResult;
use serde_json::json;

use super::pages;
use super::{ms, params};
use crate::domain::credentials::{self, Kind};
use crate::domain::time::now_ms;
use crate::domain::UserId;
use crate::http::extract::{Path, Query};
use crate::http::state::AppState;
use crate::store::{NewSecret, StoreError};

const COOKIE: &str = "kenar_session";

/// The signed-in user, and the session's CSRF token.
pub struct Session {
    pub user_id: String,
    pub csrf: String,
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The CSRF token of a session: derived from the cookie, so only its holder knows it.
fn csrf_of(cookie: &str) -> String {
    credentials::sha256_hex(&format!("csrf:{cookie}"))
}

pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
    let Some(value) = cookie(headers) else {
        return Ok(None);
    };
    let Some(presented) = credentials::parse(Kind::Session, value) else {
        return Ok(None);
    };
    let Some(session) = state.store.session(&presented.lookup).await? else {
        return Ok(None);
    };
    if !presented.matches(&session.secret_hash) || now_ms() >= session.expires_at {
        return Ok(None);
    }
    Ok(Some(Session {
        user_id: session.user_id,
        csrf: csrf_of(value),
    }))
}

pub fn csrf_ok(session: &Session, presented: Option<&String>) -> bool {
    presented.is_some_and(|p| credentials::secrets_equal(p, &session.csrf))
}

/// Where to go after signing in: only back into the authorization server, never elsewhere.
fn safe_next(next: Option<&String>) -> String {
    match next {
        Some(n) if n.starts_with("/oauth2/") && !n.starts_with("//") => n.clone(),
        _ => "/oauth2/apps".into(),
    }
}

pub fn login_redirect(next: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    Redirect::to(&format!("/oauth2/login?{query}")).into_response()
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The dev login form.
#[utoipa::path(get, path = "/oauth2/login", tag = "oauth",
    params(("next" = Option<String>, Query, description = "Where to go after signing in (within /oauth2/)")),
    responses((status = 200, description = "The dev login form", content_type = "text/html")))]
pub async fn login_form(Query(q): Query<LoginQuery>) -> Response {
    pages::login(&safe_next(q.next.as_ref())).into_response()
}

/// Signs a user in by id (creating them if needed) and sets the session cookie.
#[utoipa::path(post, path = "/oauth2/login", tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "user_id, next"),
    responses((status = 303, description = "Signed in (session cookie set); on to next")))]
pub async fn login_submit(State(state): State<AppState>, body: Bytes) -> Response {
    let form = match params(&String::from_utf8_lossy(&body)) {
        Ok(f) => f,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, "Bad request", &e),
    };
    let user = match form.get("user_id").map(|u| UserId::parse(u.trim())) {
        Some(Ok(u)) => u,
        Some(Err(e)) => {
            return pages::error(StatusCode::BAD_REQUEST, "Bad user id", &e.to_string())
        }
        None => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "user_id is required",
            )
        }
    };
    let now = now_ms();
    let created = state
        .store
        .create_user(user.as_str(), user.as_str(), now)
        .await;
    if let Err(e) = created {
        if !matches!(e, StoreError::Conflict) {
            return internal(e);
        }
    }
    let issued = credentials::issue(Kind::Session);
    let secret = NewSecret {
        lookup: &issued.lookup,
        hash: &issued.hash,
        expires_at: now + ms(state.oauth.session_ttl),
    };
    if let Err(e) = state.store.create_session(user.as_str(), secret, now).await {
        return internal(e);
    }
    let mut response = Redirect::to(&safe_next(form.get("next"))).into_response();
    let cookie = format!(
        "{COOKIE}={}; Path=/oauth2; HttpOnly; SameSite=Lax; Max-Age={}",
        issued.plaintext.expose(),
        state.oauth.session_ttl.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert("set-cookie", v);
    }
    response
}

pub fn internal(e: impl std::error::Error) -> Response {
    tracing::error!(error = %e, "authorization server failed");
    pages::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Please try again.",
    )
}

/// The apps the signed-in user gave access to.
#[utoipa::path(get, path = "/oauth2/apps", tag = "oauth",
    responses((status = 200, description = "The signed-in user's connected apps", content_type = "text/html"),
              (status = 303, description = "To the dev login")))]
pub async fn connected_apps(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match current(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return login_redirect("/oauth2/apps"),
        Err(e) => return internal(e),
    };
    let grants = match state.store.grants_of(&session.user_id).await {
        Ok(g) => g,
        Err(e) => return internal(e),
    };
    let mut apps: Vec<(String, String, String)> = Vec::new();
    for g in grants {
        if !apps.iter().any(|(slug, _, _)| *slug == g.app_slug) {
            apps.push((g.app_slug, g.app_name, g.scopes));
        }
    }
    pages::connected_apps(&session.user_id, &apps, &session.csrf).into_response()
}

/// The user revokes an app: its grants end (tokens, subscriptions), and the app is told with
/// `USER_ACCESS_REVOCATION` when the grant held `NOTIFICATION_ACCESS_REVOCATION` and `USER_ID`.
#[utoipa::path(post, path = "/oauth2/apps/{slug}/revoke", tag = "oauth",
    params(("slug" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf"),
    responses((status = 303, description = "Revoked; back to /oauth2/apps"), (status = 403, description = "Bad CSRF token")))]
pub async fn revoke_app(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let session = match current(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return login_redirect("/oauth2/apps"),
        Err(e) => return internal(e),
    };
    let form = params(&String::from_utf8_lossy(&body)).unwrap_or_default();
    if !csrf_ok(&session, form.get("csrf")) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The form has expired; reload the page.",
        );
    }
    let item = json!({"user_access_revocation": {}, "app_slug": slug, "user_id": session.user_id});
    match state.ingest.ingest(vec![item]).await {
        Ok(results) => {
            if let Some(IngestResult::Rejected { error }) = results.first() {
                return pages::error(StatusCode::NOT_FOUND, "Not found", &error.message);
            }
            state.wake.notify();
            Redirect::to("/oauth2/apps").into_response()
        }
        Err(e) => internal(e),
    }
}
