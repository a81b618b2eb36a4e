//! Extractors: every rejection becomes the contract's error body.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use kenar_wire::json::kind_of;
use kenar_wire::status::{Code, Detail, QuotaViolation};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::state::AppState;
use crate::domain::credentials::{self, Kind};
use crate::domain::limits::{self, Limits};
use crate::domain::time::now_ms;
use crate::domain::Permission;
use crate::introspection::IntrospectionError;
use crate::store::{AccessTokenRecord, ApiKeyRecord, AppRecord};

/// Largest request body the API reads; larger ones are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body as a `Value`: size-limited, UTF-8, well-formed. An empty body reads as
/// `{}`, as the gRPC gateway reads it.
pub struct JsonBody(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> ApiResult<Self> {
        read_object(req, MAX_BODY_BYTES).await.map(JsonBody)
    }
}

/// Reads a body of at most `limit` bytes as a JSON object.
pub async fn read_object(req: Request, limit: usize) -> ApiResult<serde_json::Map<String, Value>> {
    let bytes = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::invalid_argument(format!("request body is larger than {limit} bytes"))
            } else {
                ApiError::invalid_argument(format!("could not read the request body: {e}"))
            }
        })?;
    parse_object(&bytes)
}

fn parse_object(bytes: &[u8]) -> ApiResult<serde_json::Map<String, Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ApiError::invalid_argument(format!("request body is not valid UTF-8: {e}")))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid_argument(format!(
            "request body must be a JSON object, not {}",
            kind_of(&other)
        ))),
        Err(e) => Err(ApiError::invalid_argument(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

/// A JSON body deserialized into `T`; type errors name the offending field.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let JsonBody(map) = JsonBody::from_request(req, state).await?;
        serde_path_to_error::deserialize(Value::Object(map))
            .map(Json)
            .map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." { String::new() } else { field };
                ApiError::field(&field, e.into_inner().to_string())
            })
    }
}

fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get("authorization")?;
    let value = value.to_str().map_err(|_| ());
    Some(value.and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ').ok_or(())?;
        if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
            Ok(token.trim())
        } else {
            Err(())
        }
    }))
}

/// The administrator, authenticated by `Authorization: Bearer <admin token>`.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match bearer(&parts.headers) {
            Some(Ok(token)) if credentials::secrets_equal(token, state.admin_token.expose()) => {
                Ok(Admin)
            }
            Some(_) => Err(ApiError::unauthenticated("invalid admin token")),
            None => Err(ApiError::unauthenticated(
                "missing admin token: send Authorization: Bearer <admin token>",
            )),
        }
    }
}

/// An authenticated call to the public API: the app (by its API key) and the user who granted
/// it access (by the access token). Authorization (permission, scope) is the handler's.
///
/// The records are the read cache's own, shared rather than copied on every call.
#[derive(Debug)]
pub struct AppCall {
    key_and_app: Arc<(ApiKeyRecord, AppRecord)>,
    pub token: Arc<AccessTokenRecord>,
}

impl AppCall {
    pub fn app(&self) -> &AppRecord {
        &self.key_and_app.1
    }

    pub fn key(&self) -> &ApiKeyRecord {
        &self.key_and_app.0
    }

    pub fn require_permission(&self, permission: Permission) -> ApiResult<()> {
        if self.key().permissions.contains(&permission) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(format!(
                "API key lacks permission {permission}"
            )))
        }
    }
}

impl FromRequestParts<AppState> for AppCall {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let now = now_ms();
        let key_and_app = authenticate_key(&parts.headers, state).await?;
        let app = &key_and_app.1;
        rate_limit(state, app, now).await?;
        let token = authenticate_token(&parts.headers, state, now).await?;
        if token.app_id != app.id {
            return Err(ApiError::unauthenticated(
                "access token was issued to another app",
            ));
        }
        Ok(AppCall { key_and_app, token })
    }
}

async fn authenticate_key(
    headers: &HeaderMap,
    state: &AppState,
) -> ApiResult<Arc<(ApiKeyRecord, AppRecord)>> {
    let raw = headers
        .get("x-api-key")
        .ok_or_else(|| ApiError::unauthenticated("missing API key: send the X-API-Key header"))?;
    let invalid = || ApiError::unauthenticated("invalid API key");
    let presented = raw
        .to_str()
        .ok()
        .and_then(|v| credentials::parse(Kind::ApiKey, v.trim()))
        .ok_or_else(invalid)?;
    let key_and_app = state
        .store
        .api_key_with_app_cached(&presented.lookup)
        .await?
        .ok_or_else(invalid)?;
    let key = &key_and_app.0;
    if !presented.matches(&key.secret_hash) {
        return Err(invalid());
    }
    if key.revoked_at.is_some() {
        return Err(ApiError::unauthenticated("API key was revoked"));
    }
    Ok(key_and_app)
}

/// Counts the call against the app's limits; 429 / code 8 with `Retry-After` and a
/// `QuotaFailure` naming the limit when over.
async fn rate_limit(state: &AppState, app: &AppRecord, now: i64) -> ApiResult<()> {
    let limits = Limits {
        per_minute: app
            .rate_limit_per_minute
            .unwrap_or(state.default_limits.per_minute),
        per_day: app.daily_quota.unwrap_or(state.default_limits.per_day),
    };
    let (minute, day) = state.rates.count(app.id, limits, now).await?;
    limits::check(limits, now, minute, day).map_err(|e| {
        let description = format!("{} limit of {} requests exceeded", e.limit, e.allowed);
        ApiError::new(
            Code::ResourceExhausted,
            format!("rate limit: {description}"),
        )
        .with_detail(Detail::QuotaFailure {
            violations: vec![QuotaViolation {
                subject: format!("app:{}", app.slug),
                description,
            }],
        })
        .with_retry_after(e.retry_after)
    })
}

async fn authenticate_token(
    headers: &HeaderMap,
    state: &AppState,
    now: i64,
) -> ApiResult<Arc<AccessTokenRecord>> {
    // Older official clients send the token bare in `x-access-token`.
    let raw = match bearer(headers) {
        Some(Ok(token)) => token,
        Some(Err(())) => {
            return Err(ApiError::unauthenticated(
                "malformed Authorization header: expected Bearer <access token>",
            ))
        }
        None => headers
            .get("x-access-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "missing access token: send Authorization: Bearer <access token>",
                )
            })?,
    };
    let invalid = || ApiError::unauthenticated("invalid access token");
    if let Some(introspector) = &state.introspector {
        return introspector
            .authenticate(&state.store, raw, now)
            .await
            .map(Arc::new)
            .map_err(|e| match e {
                IntrospectionError::Inactive => {
                    ApiError::unauthenticated("access token is not active")
                }
                IntrospectionError::Unavailable(why) => {
                    tracing::warn!(error = %why, "token introspection failed");
                    ApiError::new(Code::Unavailable, "the authorization server is unavailable")
                }
                IntrospectionError::Store(e) => ApiError::from(e),
            });
    }
    let presented = credentials::parse(Kind::AccessToken, raw).ok_or_else(invalid)?;
    let token = state
        .store
        .access_token_cached(&presented.lookup)
        .await?
        .ok_or_else(invalid)?;
    if !presented.matches(&token.secret_hash) {
        return Err(invalid());
    }
    if token.revoked_at.is_some() {
        return Err(ApiError::unauthenticated("access token was revoked"));
    }
    if now >= token.expires_at {
        return Err(ApiError::unauthenticated("access token expired"));
    }
    Ok(token)
}

/// Path parameters; a bad one gets the contract's error.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::invalid_argument(format!("invalid path: {}", e.body_text())))
    }
}

/// Query parameters; a bad one gets the contract's error.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::invalid_argument(e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_to_objects_or_clear_errors() {
        assert!(parse_object(b"").expect("empty is {}").is_empty());
        assert!(parse_object(b"{\"a\":1}").is_ok());
        assert_eq!(
            parse_object(b"[1]").err().map(|e| e.code()),
            Some(kenar_wire::status::Code::InvalidArgument)
        );
        assert!(parse_object(b"{\"a\":").is_err());
        assert!(parse_object(b"{\"a\":\"\xff\"}").is_err());
    }
}
