//! What the administration API answers with.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::credentials::Kind;
use crate::domain::time::rfc3339;
use crate::store::{ApiKeyRecord, AppRecord, PostRecord, SubscriptionRecord, UserRecord};

#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    pub slug: String,
    pub name: String,
    pub webhook_url: Option<String>,
    /// Sent verbatim in the `Authorization` header of every webhook and dynamic-action call.
    pub identification_key: String,
    pub dynamic_action_url: Option<String>,
    /// Standard Webhooks secret (`whsec_...`); webhooks are signed when set.
    pub signing_secret: Option<String>,
    /// `TEST` or `PRODUCTION`.
    pub kind: String,
    /// Scope names a production app may ask users for.
    pub granted_scopes: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Since when deliveries have been failing without a success in between.
    pub webhook_failing_since: Option<String>,
    /// When the endpoint was disabled for failing too long; re-enable with
    /// `POST /admin/v1/apps/{slug}/webhook/enable`.
    pub webhook_disabled_at: Option<String>,
    /// OAuth redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Whether an OAuth client secret was issued (`POST /admin/v1/apps/{slug}/client-secret`).
    pub has_client_secret: bool,
    /// Public API calls per minute (`null`: the server's default).
    pub rate_limit_per_minute: Option<i64>,
    /// Public API calls per UTC day (`null`: the server's default).
    pub daily_quota: Option<i64>,
}

impl From<&AppRecord> for AppView {
    fn from(a: &AppRecord) -> Self {
        AppView {
            slug: a.slug.clone(),
            name: a.name.clone(),
            webhook_url: a.webhook_url.clone(),
            identification_key: a.identification_key.expose().to_owned(),
            dynamic_action_url: a.dynamic_action_url.clone(),
            signing_secret: a.signing_secret.as_ref().map(|s| s.expose().to_owned()),
            kind: a.kind.as_str().to_owned(),
            granted_scopes: a
                .granted_scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
            webhook_failing_since: a.webhook_failing_since.map(rfc3339),
            webhook_disabled_at: a.webhook_disabled_at.map(rfc3339),
            redirect_uris: a.redirect_uris.clone(),
            has_client_secret: a.client_secret_hash.is_some(),
            rate_limit_per_minute: a.rate_limit_per_minute,
            daily_quota: a.daily_quota,
        }
    }
}

/// A new OAuth client secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<AppView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: i64,
    pub name: String,
    /// The key's public beginning, to recognise it; the secret part is never shown again.
    pub prefix: String,
    pub permissions: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&ApiKeyRecord> for KeyView {
    fn from(k: &ApiKeyRecord) -> Self {
        KeyView {
            id: k.id,
            name: k.name.clone(),
            prefix: format!("{}{}", Kind::ApiKey.prefix(), k.lookup),
            permissions: k
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            created_at: rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreated {
    /// The API key itself, shown this once; only its hash is stored.
    pub key: String,
    #[serde(flatten)]
    pub view: KeyView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub display_name: String,
    pub created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id.clone(),
            display_name: u.display_name.clone(),
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostView {
    pub token: String,
    pub owner_id: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&PostRecord> for PostView {
    fn from(p: &PostRecord) -> Self {
        PostView {
            token: p.token.clone(),
            owner_id: p.owner_id.clone(),
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

/// A freshly minted access token, in the shape of an OAuth2 token response plus ids.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenMinted {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The user's id as this app sees it (a per-app pseudonym).
    pub user_id: String,
    pub grant_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: i64,
    /// The platform's id of the user.
    pub user_id: String,
    /// The same user as the app sees them.
    pub app_user_id: String,
    pub event_type: String,
    /// The post token, or empty for all of the user's posts.
    pub event_resource_id: String,
    pub metadata: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    /// When the registering token expires, and with it the subscription.
    pub expires_at: String,
    /// Whether webhooks are delivered for it now (token live, not revoked).
    pub active: bool,
}

impl SubscriptionView {
    pub fn new(s: &SubscriptionRecord, app_user_id: String, now: i64) -> Self {
        SubscriptionView {
            id: s.id,
            user_id: s.user_id.clone(),
            app_user_id,
            event_type: s.event_type.clone(),
            event_resource_id: s.resource.clone(),
            metadata: s
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
            expires_at: rfc3339(s.expires_at),
            active: !s.revoked && now < s.expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionView>,
}

/// An empty JSON object, for calls whose success carries no data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}
