//! Apps, and the subscriptions registered for them.

use axum::extract::State;
use axum::http::StatusCode;
use kenar_wire::status::{FieldViolation, Status};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    app_or_404, present, AppList, AppView, ClientSecret, Page, SubscriptionList, SubscriptionView,
};
use crate::domain::credentials::{self, random_signing_secret, random_token};
use crate::domain::time::now_ms;
use crate::domain::url::TargetUrl;
use crate::domain::{AppKind, AppSlug, ScopeName, Secret, UserId};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Admin, Json, Path, Query};
use crate::http::state::AppState;
use crate::store::{AppRecord, StoreError};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApp {
    /// Lower-case letters, digits and `-`; also the app's OAuth `client_id`.
    pub slug: String,
    /// Defaults to the slug.
    pub name: Option<String>,
    pub webhook_url: Option<String>,
    /// Generated when absent.
    pub identification_key: Option<String>,
    pub dynamic_action_url: Option<String>,
    /// A Standard Webhooks secret (`whsec_` + base64).
    pub signing_secret: Option<String>,
    /// Generate a signing secret instead of giving one.
    #[serde(default)]
    pub generate_signing_secret: bool,
    /// `TEST` (default) or `PRODUCTION`.
    pub kind: Option<String>,
    #[serde(default)]
    pub granted_scopes: Vec<String>,
    /// Where the authorization server may send users back to (exact match).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Public API calls per minute; absent: the server's default.
    pub rate_limit_per_minute: Option<i64>,
    /// Public API calls per UTC day; absent: the server's default.
    pub daily_quota: Option<i64>,
}

/// Fields to change; an absent field stays, `null` clears an optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateApp {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Option<Option<String>>,
    pub identification_key: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub dynamic_action_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub signing_secret: Option<Option<String>>,
    #[serde(default)]
    pub generate_signing_secret: bool,
    pub kind: Option<String>,
    pub granted_scopes: Option<Vec<String>>,
    pub redirect_uris: Option<Vec<String>>,
    /// `null` returns to the server's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub rate_limit_per_minute: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub daily_quota: Option<Option<i64>>,
}

/// Collects every invalid field of an app's settings, so one answer lists them all.
struct Checker<'a> {
    state: &'a AppState,
    violations: Vec<FieldViolation>,
}

impl Checker<'_> {
    fn fail(&mut self, field: &str, description: impl Into<String>) {
        self.violations.push(FieldViolation {
            field: field.to_owned(),
            description: description.into(),
        });
    }

    fn name(&mut self, name: &str) -> String {
        if name.trim().is_empty() || name.chars().count() > 200 {
            self.fail("name", "must be 1 to 200 characters");
        }
        name.to_owned()
    }

    fn url(&mut self, field: &str, url: Option<String>) -> Option<String> {
        let url = url.filter(|u| !u.is_empty())?;
        match TargetUrl::parse(&url, self.state.private_targets) {
            Ok(u) => Some(u.as_str().to_owned()),
            Err(e) => {
                self.fail(field, e);
                None
            }
        }
    }

    fn identification_key(&mut self, key: Option<String>) -> Secret {
        match key {
            None => random_token("kenar_id_"),
            Some(k) => {
                // It travels as a header value, so it must be one.
                if k.is_empty() || k.len() > 512 || !k.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                    self.fail(
                        "identification_key",
                        "must be 1 to 512 printable ASCII characters without spaces",
                    );
                }
                Secret::new(k)
            }
        }
    }

    fn signing_secret(&mut self, given: Option<String>, generate: bool) -> Option<Secret> {
        match (given, generate) {
            (Some(_), true) => {
                self.fail(
                    "signing_secret",
                    "give a signing secret or generate_signing_secret, not both",
                );
                None
            }
            (None, true) => Some(random_signing_secret()),
            (None, false) => None,
            (Some(s), false) => {
                use base64::Engine;
                let valid = s
                    .strip_prefix("whsec_")
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .is_some_and(|bytes| (24..=64).contains(&bytes.len()));
                if !valid {
                    self.fail(
                        "signing_secret",
                        "must be whsec_ followed by base64 of 24 to 64 bytes",
                    );
                }
                Some(Secret::new(s))
            }
        }
    }

    fn kind(&mut self, kind: &str) -> AppKind {
        kind.parse().unwrap_or_else(|e: String| {
            self.fail("kind", e);
            AppKind::Test
        })
    }

    fn scopes(&mut self, names: &[String]) -> Vec<ScopeName> {
        let mut out = Vec::new();
        for (i, n) in names.iter().enumerate() {
            match n.parse::<ScopeName>() {
                Ok(s) => out.push(s),
                Err(e) => self.fail(&format!("granted_scopes[{i}]"), e.to_string()),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn redirect_uris(&mut self, uris: &[String]) -> Vec<String> {
        for (i, u) in uris.iter().enumerate() {
            let ok = url::Url::parse(u).is_ok_and(|p| {
                matches!(p.scheme(), "http" | "https") && p.fragment().is_none() && u.len() <= 2048
            });
            if !ok {
                self.fail(
                    &format!("redirect_uris[{i}]"),
                    "must be an absolute http(s) URL without a fragment",
                );
            }
        }
        uris.to_vec()
    }

    fn limit(&mut self, field: &str, value: Option<i64>) -> Option<i64> {
        if value.is_some_and(|n| n < 1) {
            self.fail(field, "must be at least 1");
        }
        value
    }

    fn finish(self) -> ApiResult<()> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_request(self.violations))
        }
    }
}

/// Create an app.
#[utoipa::path(post, path = "/admin/v1/apps", tag = "admin", request_body = CreateApp,
    security(("admin" = [])),
    responses((status = 201, body = AppView), (status = 400, body = Status),
              (status = 401, body = Status), (status = 409, body = Status)))]
pub async fn create_app(
    State(state): State<AppState>,
    _: Admin,
    Json(req): Json<CreateApp>,
) -> ApiResult<(StatusCode, axum::Json<AppView>)> {
    let mut c = Checker {
        state: &state,
        violations: Vec::new(),
    };
    if let Err(e) = AppSlug::parse(&req.slug) {
        c.fail("slug", e.to_string());
    }
    let now = now_ms();
    let app = AppRecord {
        id: 0,
        slug: req.slug.clone(),
        name: c.name(req.name.as_deref().unwrap_or(&req.slug)),
        webhook_url: c.url("webhook_url", req.webhook_url),
        identification_key: c.identification_key(req.identification_key),
        dynamic_action_url: c.url("dynamic_action_url", req.dynamic_action_url),
        signing_secret: c.signing_secret(req.signing_secret, req.generate_signing_secret),
        kind: c.kind(req.kind.as_deref().unwrap_or("TEST")),
        granted_scopes: c.scopes(&req.granted_scopes),
        created_at: now,
        updated_at: now,
        webhook_failing_since: None,
        webhook_disabled_at: None,
        redirect_uris: c.redirect_uris(&req.redirect_uris),
        client_secret_hash: None,
        rate_limit_per_minute: c.limit("rate_limit_per_minute", req.rate_limit_per_minute),
        daily_quota: c.limit("daily_quota", req.daily_quota),
    };
    c.finish()?;
    let app = state.store.create_app(&app).await.map_err(|e| match e {
        StoreError::Conflict => {
            ApiError::already_exists(format!("app {} already exists", req.slug))
        }
        e => e.into(),
    })?;
    Ok((StatusCode::CREATED, axum::Json(AppView::from(&app))))
}

/// List apps.
#[utoipa::path(get, path = "/admin/v1/apps", tag = "admin", params(Page),
    security(("admin" = [])),
    responses((status = 200, body = AppList), (status = 401, body = Status)))]
pub async fn list_apps(
    State(state): State<AppState>,
    _: Admin,
    Query(page): Query<Page>,
) -> ApiResult<axum::Json<AppList>> {
    let limit = page.limit()?;
    let apps = state.store.list_apps(page.after, limit).await?;
    let next_after = (apps.len() as i64 == limit)
        .then(|| apps.last().map(|a| a.id))
        .flatten();
    Ok(axum::Json(AppList {
        apps: apps.iter().map(AppView::from).collect(),
        next_after,
    }))
}

/// Show an app.
#[utoipa::path(get, path = "/admin/v1/apps/{slug}", tag = "admin",
    params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = AppView), (status = 404, body = Status)))]
pub async fn get_app(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<AppView>> {
    Ok(axum::Json(AppView::from(&app_or_404(&state, &slug).await?)))
}

/// Change an app's settings.
#[utoipa::path(patch, path = "/admin/v1/apps/{slug}", tag = "admin", request_body = UpdateApp,
    params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = AppView), (status = 400, body = Status),
              (status = 404, body = Status)))]
pub async fn update_app(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
    Json(req): Json<UpdateApp>,
) -> ApiResult<axum::Json<AppView>> {
    let mut app = app_or_404(&state, &slug).await?;
    let mut c = Checker {
        state: &state,
        violations: Vec::new(),
    };
    if let Some(name) = req.name {
        app.name = c.name(&name);
    }
    if let Some(url) = req.webhook_url {
        app.webhook_url = c.url("webhook_url", url);
    }
    if let Some(key) = req.identification_key {
        app.identification_key = c.identification_key(Some(key));
    }
    if let Some(url) = req.dynamic_action_url {
        app.dynamic_action_url = c.url("dynamic_action_url", url);
    }
    match req.signing_secret {
        Some(given) => app.signing_secret = c.signing_secret(given, req.generate_signing_secret),
        None if req.generate_signing_secret => {
            app.signing_secret = c.signing_secret(None, true);
        }
        None => {}
    }
    if let Some(kind) = req.kind {
        app.kind = c.kind(&kind);
    }
    if let Some(scopes) = req.granted_scopes {
        app.granted_scopes = c.scopes(&scopes);
    }
    if let Some(uris) = req.redirect_uris {
        app.redirect_uris = c.redirect_uris(&uris);
    }
    if let Some(limit) = req.rate_limit_per_minute {
        app.rate_limit_per_minute = c.limit("rate_limit_per_minute", limit);
    }
    if let Some(quota) = req.daily_quota {
        app.daily_quota = c.limit("daily_quota", quota);
    }
    c.finish()?;
    app.updated_at = now_ms();
    state.store.update_app(&app).await?;
    Ok(axum::Json(AppView::from(&app)))
}

/// Issue a new OAuth client secret for the app (its `client_id` is its slug). The secret is
/// shown once; only its hash is kept, and the previous secret stops working.
#[utoipa::path(post, path = "/admin/v1/apps/{slug}/client-secret", tag = "admin",
    params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 201, body = ClientSecret), (status = 404, body = Status)))]
pub async fn rotate_client_secret(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<ClientSecret>)> {
    let app = app_or_404(&state, &slug).await?;
    let secret = random_token("kenar_cs_");
    state
        .store
        .set_client_secret_hash(app.id, &credentials::sha256_hex(secret.expose()), now_ms())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ClientSecret {
            client_id: app.slug,
            client_secret: secret.expose().to_owned(),
        }),
    ))
}

/// List an app's subscriptions.
#[utoipa::path(get, path = "/admin/v1/apps/{slug}/subscriptions", tag = "admin",
    params(("slug" = String, Path)), security(("admin" = [])),
    responses((status = 200, body = SubscriptionList), (status = 404, body = Status)))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    _: Admin,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<SubscriptionList>> {
    let app = app_or_404(&state, &slug).await?;
    let now = now_ms();
    let subscriptions = state
        .store
        .list_subscriptions(app.id)
        .await?
        .iter()
        .map(|s| {
            let app_user_id = UserId::parse(&s.user_id)
                .map(|u| state.pseudonyms.user_id_for_app(app.id, &u))
                .unwrap_or_default();
            SubscriptionView::new(s, app_user_id, now)
        })
        .collect();
    Ok(axum::Json(SubscriptionList { subscriptions }))
}
