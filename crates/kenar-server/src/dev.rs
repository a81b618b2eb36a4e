//! `kenar-events dev`: a local Kenar for app developers. Sets up (or reuses) a test app, a user
//! owning a post, an API key and an access token, and says how to use them.

use serde::Serialize;

use crate::domain::credentials::random_token;
use crate::domain::time::now_ms;
use crate::domain::url::{PrivateTargets, TargetUrl};
use crate::domain::{AppKind, Permission, PostToken, Scope, ScopeName, ScopeSet, UserId};
use crate::http::state::AppState;
use crate::panel::{issue_api_key, mint_access_token};
use crate::store::{AppRecord, StoreError, StoreResult};

/// The dev user's platform id.
pub const DEV_USER: &str = "dev-user";
/// Lifetime of the dev access token: long enough for a working session of days.
pub const DEV_TOKEN_SECONDS: i64 = 30 * 24 * 3600;

/// What `dev` prints (`--json` prints exactly this, on one line).
#[derive(Debug, Serialize)]
pub struct DevInfo {
    pub base_url: String,
    pub admin_token: String,
    pub platform_token: String,
    pub app_slug: String,
    pub api_key: String,
    pub access_token: String,
    pub access_token_scopes: String,
    pub identification_key: String,
    pub webhook_url: String,
    pub user_id: String,
    pub platform_user_id: String,
    pub post_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("invalid --webhook-url: {0}")]
    WebhookUrl(String),
    #[error("invalid --app-slug: {0}")]
    Slug(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates what is missing and issues a fresh API key and access token (only hashes of earlier
/// ones were kept, so they cannot be shown again).
pub async fn bootstrap(
    state: &AppState,
    base_url: &str,
    admin_token: &str,
    slug: &str,
    webhook_url: &str,
) -> Result<DevInfo, DevError> {
    let webhook =
        TargetUrl::parse(webhook_url, PrivateTargets::Allow).map_err(DevError::WebhookUrl)?;
    crate::domain::AppSlug::parse(slug).map_err(|e| DevError::Slug(e.to_string()))?;
    let app = app(state, slug, webhook.as_str()).await?;
    let user = UserId::parse(DEV_USER).map_err(|e| DevError::Slug(e.to_string()))?;
    if state.store.user(user.as_str()).await?.is_none() {
        ignore_conflict(
            state
                .store
                .create_user(user.as_str(), "Dev User", now_ms())
                .await,
        )?;
    }
    let post = match state
        .store
        .posts_of(user.as_str())
        .await?
        .into_iter()
        .next()
    {
        Some(p) => p.token,
        None => {
            let token = PostToken::generate();
            state
                .store
                .create_post(token.as_str(), user.as_str(), now_ms())
                .await?;
            token.as_str().to_owned()
        }
    };
    let post_token = PostToken::parse(&post).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let (api_key, _) = issue_api_key(&state.store, &app, "dev", &Permission::ALL).await?;
    let scopes = ScopeSet::new(vec![
        Scope::on_post(ScopeName::ChatPostConversationsRead, post_token),
        Scope::global(ScopeName::ChatSupplierAllConversationsRead),
        Scope::global(ScopeName::UserPostsGet),
        Scope::global(ScopeName::SendEvent),
        Scope::global(ScopeName::UserId),
        Scope::global(ScopeName::NotificationAccessRevocation),
    ]);
    let minted = mint_access_token(
        &state.store,
        &state.pseudonyms,
        &app,
        &user,
        &scopes,
        DEV_TOKEN_SECONDS,
    )
    .await?;
    Ok(DevInfo {
        base_url: base_url.to_owned(),
        admin_token: admin_token.to_owned(),
        platform_token: state.platform_token.expose().to_owned(),
        app_slug: app.slug.clone(),
        api_key: api_key.expose().to_owned(),
        access_token: minted.access_token.expose().to_owned(),
        access_token_scopes: scopes.to_string(),
        identification_key: app.identification_key.expose().to_owned(),
        webhook_url: webhook.as_str().to_owned(),
        user_id: minted.app_user_id,
        platform_user_id: user.as_str().to_owned(),
        post_token: post,
    })
}

fn ignore_conflict<T>(r: StoreResult<T>) -> StoreResult<()> {
    match r {
        Ok(_) | Err(StoreError::Conflict) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The dev app, created on first run and pointed at `webhook_url` on every run.
async fn app(state: &AppState, slug: &str, webhook_url: &str) -> StoreResult<AppRecord> {
    if let Some(mut app) = state.store.app_by_slug(slug).await? {
        if app.webhook_url.as_deref() != Some(webhook_url) {
            app.webhook_url = Some(webhook_url.to_owned());
            app.updated_at = now_ms();
            state.store.update_app(&app).await?;
        }
        return Ok(app);
    }
    let now = now_ms();
    state
        .store
        .create_app(&AppRecord {
            id: 0,
            slug: slug.to_owned(),
            name: "Dev App".into(),
            webhook_url: Some(webhook_url.to_owned()),
            identification_key: random_token("kenar_id_"),
            dynamic_action_url: None,
            signing_secret: None,
            kind: AppKind::Test,
            granted_scopes: Vec::new(),
            created_at: now,
            updated_at: now,
            webhook_failing_since: None,
            webhook_disabled_at: None,
            redirect_uris: Vec::new(),
            client_secret_hash: None,
            rate_limit_per_minute: None,
            daily_quota: None,
        })
        .await
}

impl DevInfo {
    /// The human-readable form, with ready-to-paste commands.
    pub fn to_text(&self) -> String {
        let base = &self.base_url;
        format!(
            "kenar-events dev is running at {base}

  admin token         {admin}
  platform token      {platform}
  app                 {slug} (webhooks go to {webhook})
  identification key  {ident}   (the Authorization header of every webhook)
  API key             {key}
  access token        {token}
  token scopes        {scopes}
  user                {user} (platform id {puser})
  post                {post}

Register for new messages on the post:

  curl -sS -X POST {base}/v1/open-platform/events/subscriptions \\
    -H 'X-API-Key: {key}' \\
    -H 'Authorization: Bearer {token}' \\
    -H 'Content-Type: application/json' \\
    -d '{{\"event_type\": \"NEW_MESSAGE_ON_POST\", \"event_resource_id\": \"{post}\", \"metadata\": {{\"key\": \"value\"}}}}'

Register for updates of all the user's posts:

  curl -sS -X POST {base}/v1/open-platform/events/subscriptions \\
    -H 'X-API-Key: {key}' \\
    -H 'Authorization: Bearer {token}' \\
    -d '{{\"event_type\": \"POST_UPDATE\"}}'

See the app's subscriptions:

  curl -sS {base}/admin/v1/apps/{slug}/subscriptions -H 'Authorization: Bearer {admin}'

The API is described at {base}/openapi.json. Stop with Ctrl-C.
",
            admin = self.admin_token,
            platform = self.platform_token,
            slug = self.app_slug,
            webhook = self.webhook_url,
            ident = self.identification_key,
            key = self.api_key,
            token = self.access_token,
            scopes = self.access_token_scopes,
            user = self.user_id,
            puser = self.platform_user_id,
            post = self.post_token,
        )
    }
}
