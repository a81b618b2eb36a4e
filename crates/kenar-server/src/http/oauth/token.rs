//! The token endpoint (RFC 6749 §3.2: authorization_code and refresh_token grants) and token
//! revocation (RFC 7009). Answers are JSON; errors are RFC 6749 §5.2 `{error,
//! error_description}`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::json;

use super::{ms, params};
use crate::domain::credentials::{self, Issued, Kind};
use crate::domain::oauth::{refused_scope, s256, valid_verifier};
use crate::domain::time::now_ms;
use crate::domain::{ScopeName, ScopeSet};
use crate::http::state::AppState;
use crate::store::{AppRecord, NewSecret};

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

fn err(code: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError {
        status: if code == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        },
        code,
        description: description.into(),
    }
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    response
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(json!({"error": self.code, "error_description": self.description})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Basic realm=\"kenar-events\""),
            );
        }
        no_store(response)
    }
}

fn internal(e: impl std::error::Error) -> OAuthError {
    tracing::error!(error = %e, "token endpoint failed");
    OAuthError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "server_error",
        description: "internal error".into(),
    }
}

/// Authenticates the client by HTTP Basic or by `client_id` and `client_secret` in the form
/// (RFC 6749 §2.3.1); the secret is compared by its hash, in constant time.
async fn client(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<AppRecord, OAuthError> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let decode = |x: &str| {
                url::form_urlencoded::parse(format!("x={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let (id, secret) = match (basic, form.get("client_id"), form.get("client_secret")) {
        (Some(pair), _, None) => pair,
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        (Some(_), _, Some(_)) => {
            return Err(err(
                "invalid_request",
                "use one client authentication method, not two",
            ))
        }
        _ => return Err(err("invalid_client", "client authentication is missing")),
    };
    let app = state
        .store
        .app_by_slug(&id)
        .await
        .map_err(internal)?
        .ok_or_else(|| err("invalid_client", "unknown client or wrong secret"))?;
    match &app.client_secret_hash {
        Some(hash) if credentials::matches_hash(&secret, hash) => Ok(app),
        _ => Err(err("invalid_client", "unknown client or wrong secret")),
    }
}

fn secret<'a>(issued: &'a Issued, expires_at: i64) -> NewSecret<'a> {
    NewSecret {
        lookup: &issued.lookup,
        hash: &issued.hash,
        expires_at,
    }
}

/// `POST /oauth2/token`.
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "grant_type=authorization_code (code, redirect_uri, code_verifier) or refresh_token (refresh_token, scope?); client_id and client_secret in the form or HTTP Basic"),
    responses(
        (status = 200, description = "{access_token, token_type: bearer, expires_in, scope, refresh_token?}"),
        (status = 400, description = "RFC 6749 error: invalid_request, invalid_grant, invalid_scope, unsupported_grant_type"),
        (status = 401, description = "invalid_client"),
    ))]
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match exchange(&state, &headers, &body).await {
        Ok(r) => no_store(axum::Json(r).into_response()),
        Err(e) => e.into_response(),
    }
}

async fn exchange(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let form = params(&String::from_utf8_lossy(body)).map_err(|e| err("invalid_request", e))?;
    let app = client(state, headers, &form).await?;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => authorization_code(state, &app, &form).await,
        Some("refresh_token") => refresh(state, &app, &form).await,
        Some(other) => Err(err(
            "unsupported_grant_type",
            format!("grant_type {other:?} is not supported"),
        )),
        None => Err(err("invalid_request", "grant_type is missing")),
    }
}

fn response(
    state: &AppState,
    access: &Issued,
    refresh: Option<&Issued>,
    scopes: &ScopeSet,
) -> TokenResponse {
    TokenResponse {
        access_token: access.plaintext.expose().to_owned(),
        token_type: "bearer",
        expires_in: state.oauth.access_token_ttl.as_secs() as i64,
        scope: scopes.to_string(),
        refresh_token: refresh.map(|r| r.plaintext.expose().to_owned()),
    }
}

async fn authorization_code(
    state: &AppState,
    app: &AppRecord,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let invalid = || {
        err(
            "invalid_grant",
            "the code is invalid, expired, used, or was issued to another client",
        )
    };
    let raw = form
        .get("code")
        .ok_or_else(|| err("invalid_request", "code is missing"))?;
    let presented = credentials::parse(Kind::Code, raw).ok_or_else(invalid)?;
    let code = state
        .store
        .code(&presented.lookup)
        .await
        .map_err(internal)?
        .filter(|c| presented.matches(&c.secret_hash) && c.app_id == app.id)
        .ok_or_else(invalid)?;
    let now = now_ms();
    if let Some(grant) = code.grant_id.filter(|_| code.used_at.is_some()) {
        // A code used twice may have been stolen: what it bought is revoked (RFC 6749 §4.1.2).
        state
            .store
            .revoke_grant(grant, now)
            .await
            .map_err(internal)?;
        return Err(invalid());
    }
    if code.used_at.is_some() || now >= code.expires_at {
        return Err(invalid());
    }
    if form.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(err(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !valid_verifier(verifier) || !credentials::secrets_equal(&s256(verifier), challenge)
            {
                return Err(err(
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => return Err(err("invalid_request", "code_verifier is missing")),
        (None, Some(_)) => {
            return Err(err(
                "invalid_request",
                "code_verifier given but no code_challenge was",
            ))
        }
        (None, None) => {}
    }
    let access = credentials::issue(Kind::AccessToken);
    let refresh = code
        .scopes
        .has_global(ScopeName::OfflineAccess)
        .then(|| credentials::issue(Kind::RefreshToken));
    let exchanged = state
        .store
        .exchange_code(
            &code,
            secret(&access, now + ms(state.oauth.access_token_ttl)),
            refresh
                .as_ref()
                .map(|r| secret(r, now + ms(state.oauth.refresh_token_ttl))),
            now,
        )
        .await
        .map_err(internal)?;
    if exchanged.is_none() {
        return Err(invalid());
    }
    Ok(response(state, &access, refresh.as_ref(), &code.scopes))
}

async fn refresh(
    state: &AppState,
    app: &AppRecord,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let invalid = || {
        err(
            "invalid_grant",
            "the refresh token is invalid, expired, revoked or used",
        )
    };
    let raw = form
        .get("refresh_token")
        .ok_or_else(|| err("invalid_request", "refresh_token is missing"))?;
    let presented = credentials::parse(Kind::RefreshToken, raw).ok_or_else(invalid)?;
    let old = state
        .store
        .refresh_token(&presented.lookup)
        .await
        .map_err(internal)?
        .filter(|r| presented.matches(&r.secret_hash) && r.app_id == app.id)
        .ok_or_else(invalid)?;
    let now = now_ms();
    if old.used_at.is_some() {
        // A rotated refresh token used again: someone holds a copy. End the grant.
        state
            .store
            .revoke_grant(old.grant_id, now)
            .await
            .map_err(internal)?;
        return Err(invalid());
    }
    if old.revoked_at.is_some() || now >= old.expires_at {
        return Err(invalid());
    }
    // A narrower scope may be asked for (RFC 6749 §6), never a wider one.
    let scopes = match form.get("scope") {
        None => old.scopes.clone(),
        Some(s) => {
            let asked = ScopeSet::parse(s).map_err(|e| err("invalid_scope", e.to_string()))?;
            if let Some(extra) = asked.iter().find(|s| !old.scopes.iter().any(|o| o == *s)) {
                return Err(err(
                    "invalid_scope",
                    format!("scope {extra} was not granted"),
                ));
            }
            asked
        }
    };
    if let Some(s) = refused_scope(app.kind, &app.granted_scopes, &scopes) {
        return Err(err(
            "invalid_scope",
            format!("scope {s} is no longer granted to this app"),
        ));
    }
    let access = credentials::issue(Kind::AccessToken);
    let refresh = credentials::issue(Kind::RefreshToken);
    let rotated = state
        .store
        .rotate_refresh(
            &old,
            &scopes,
            secret(&access, now + ms(state.oauth.access_token_ttl)),
            secret(&refresh, now + ms(state.oauth.refresh_token_ttl)),
            now + ms(state.oauth.refresh_grace),
            now,
        )
        .await
        .map_err(internal)?;
    if !rotated {
        return Err(invalid());
    }
    Ok(response(state, &access, Some(&refresh), &scopes))
}

/// `POST /oauth2/revoke` (RFC 7009): revokes an access token, or a refresh token and with it
/// its grant. Unknown tokens, and tokens of other clients, are answered 200 and left alone.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "token, token_type_hint?; client authentication as for the token endpoint"),
    responses((status = 200, description = "Revoked (or unknown)"), (status = 401, description = "invalid_client")))]
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match params(&String::from_utf8_lossy(&body)) {
        Ok(f) => f,
        Err(e) => return err("invalid_request", e).into_response(),
    };
    let app = match client(&state, &headers, &form).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let Some(token) = form.get("token") else {
        return err("invalid_request", "token is missing").into_response();
    };
    let now = now_ms();
    let result = async {
        if let Some(p) = credentials::parse(Kind::AccessToken, token) {
            if let Some(t) = state.store.access_token(&p.lookup).await? {
                if p.matches(&t.secret_hash) && t.app_id == app.id {
                    state.store.revoke_access_token(t.id, now).await?;
                }
            }
        } else if let Some(p) = credentials::parse(Kind::RefreshToken, token) {
            if let Some(r) = state.store.refresh_token(&p.lookup).await? {
                if p.matches(&r.secret_hash) && r.app_id == app.id {
                    state.store.revoke_grant(r.grant_id, now).await?;
                }
            }
        }
        Ok::<_, crate::store::StoreError>(())
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => internal(e).into_response(),
    }
}
