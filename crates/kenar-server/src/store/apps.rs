//! Apps and their API keys.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{opt, Store, StoreError, StoreResult};
use crate::domain::{permission, AppKind, Permission, ScopeName, Secret};

/// An app as stored.
#[derive(Debug, Clone)]
pub struct AppRecord {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub webhook_url: Option<String>,
    pub identification_key: Secret,
    pub dynamic_action_url: Option<String>,
    pub signing_secret: Option<Secret>,
    pub kind: AppKind,
    /// For production apps: the scope names the operator allows it to ask users for.
    pub granted_scopes: Vec<ScopeName>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Since when deliveries to the webhook have been failing without a success in between.
    pub webhook_failing_since: Option<i64>,
    /// When the endpoint was disabled for failing too long; no delivery is attempted while set.
    pub webhook_disabled_at: Option<i64>,
    /// Where the authorization server may send users back to (exact match).
    pub redirect_uris: Vec<String>,
    /// SHA-256 (hex) of the OAuth client secret, if one was issued.
    pub client_secret_hash: Option<String>,
    /// Requests per minute on the public API; `None`: the server's default.
    pub rate_limit_per_minute: Option<i64>,
    /// Requests per UTC day on the public API; `None`: the server's default.
    pub daily_quota: Option<i64>,
}

/// An API key as stored: never its plaintext.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub app_id: i64,
    pub lookup: String,
    pub secret_hash: String,
    pub name: String,
    pub permissions: Vec<Permission>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

pub struct NewApiKey<'a> {
    pub app_id: i64,
    pub lookup: &'a str,
    pub secret_hash: &'a str,
    pub name: &'a str,
    pub permissions: &'a [Permission],
    pub now: i64,
}

const APP_COLUMNS: &str = "a.id, a.slug, a.name, a.webhook_url, a.identification_key, \
    a.dynamic_action_url, a.signing_secret, a.kind, a.granted_scopes, a.created_at, a.updated_at, \
    a.webhook_failing_since, a.webhook_disabled_at, a.redirect_uris, a.client_secret_hash, \
    a.rate_limit_per_minute, a.daily_quota";

const KEY_COLUMNS: &str =
    "k.id AS key_id, k.app_id, k.lookup, k.secret_hash, k.name AS key_name, k.permissions, \
     k.created_at AS key_created_at, k.revoked_at";

fn app_from_row(row: &AnyRow) -> StoreResult<AppRecord> {
    let kind: String = row.try_get("kind")?;
    let scopes: String = row.try_get("granted_scopes")?;
    Ok(AppRecord {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        webhook_url: opt(row, "webhook_url")?,
        identification_key: Secret::new(row.try_get::<String, _>("identification_key")?),
        dynamic_action_url: opt(row, "dynamic_action_url")?,
        signing_secret: opt::<String>(row, "signing_secret")?.map(Secret::new),
        kind: kind.parse().map_err(StoreError::Corrupt)?,
        granted_scopes: scopes
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        webhook_failing_since: opt(row, "webhook_failing_since")?,
        webhook_disabled_at: opt(row, "webhook_disabled_at")?,
        redirect_uris: row
            .try_get::<String, _>("redirect_uris")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        client_secret_hash: opt(row, "client_secret_hash")?,
        rate_limit_per_minute: opt(row, "rate_limit_per_minute")?,
        daily_quota: opt(row, "daily_quota")?,
    })
}

fn key_from_row(row: &AnyRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.try_get("key_id")?,
        app_id: row.try_get("app_id")?,
        lookup: row.try_get("lookup")?,
        secret_hash: row.try_get("secret_hash")?,
        name: row.try_get("key_name")?,
        permissions: permission::split(&row.try_get::<String, _>("permissions")?),
        created_at: row.try_get("key_created_at")?,
        revoked_at: opt(row, "revoked_at")?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds $1..$11: the settings an operator can change, and the time of the change.
fn bind_settings<'q>(query: AnyQuery<'q>, app: &'q AppRecord) -> AnyQuery<'q> {
    query
        .bind(&app.name)
        .bind(app.webhook_url.as_deref())
        .bind(app.identification_key.expose())
        .bind(app.dynamic_action_url.as_deref())
        .bind(app.signing_secret.as_ref().map(Secret::expose))
        .bind(app.kind.as_str())
        .bind(join_scopes(&app.granted_scopes))
        .bind(app.updated_at)
        .bind(app.redirect_uris.join(" "))
        .bind(app.rate_limit_per_minute)
        .bind(app.daily_quota)
}

fn join_scopes(scopes: &[ScopeName]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Store {
    /// Inserts `app` (its `id` is ignored) and returns it as stored.
    pub async fn create_app(&self, app: &AppRecord) -> StoreResult<AppRecord> {
        let query = sqlx::query(
            "INSERT INTO apps (name, webhook_url, identification_key, dynamic_action_url, \
             signing_secret, kind, granted_scopes, updated_at, redirect_uris, \
             rate_limit_per_minute, daily_quota, slug, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $8) RETURNING id",
        );
        let row = bind_settings(query, app)
            .bind(&app.slug)
            .fetch_one(&self.write)
            .await?;
        Ok(AppRecord {
            id: row.try_get("id")?,
            updated_at: app.created_at,
            ..app.clone()
        })
    }

    /// Writes every field of `app` but its id, slug and creation time.
    pub async fn update_app(&self, app: &AppRecord) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE apps SET name = $1, webhook_url = $2, identification_key = $3, \
             dynamic_action_url = $4, signing_secret = $5, kind = $6, granted_scopes = $7, \
             updated_at = $8, redirect_uris = $9, rate_limit_per_minute = $10, \
             daily_quota = $11 WHERE id = $12",
        );
        bind_settings(query, app)
            .bind(app.id)
            .execute(&self.write)
            .await?;
        self.cache.invalidate_credentials();
        Ok(())
    }

    /// Stores the hash of a new OAuth client secret (the old one stops working).
    pub async fn set_client_secret_hash(
        &self,
        app_id: i64,
        hash: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE apps SET client_secret_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(app_id)
            .bind(hash)
            .bind(now)
            .execute(&self.write)
            .await?;
        self.cache.invalidate_credentials();
        Ok(())
    }

    pub async fn app_by_slug(&self, slug: &str) -> StoreResult<Option<AppRecord>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps a WHERE a.slug = $1");
        let row = sqlx::query(&sql)
            .bind(slug)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(app_from_row).transpose()
    }

    /// Apps in creation order, `limit` of them after id `after`.
    pub async fn list_apps(&self, after: i64, limit: i64) -> StoreResult<Vec<AppRecord>> {
        let sql =
            format!("SELECT {APP_COLUMNS} FROM apps a WHERE a.id > $1 ORDER BY a.id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(app_from_row).collect()
    }

    pub async fn create_api_key(&self, key: NewApiKey<'_>) -> StoreResult<ApiKeyRecord> {
        let row = sqlx::query(
            "INSERT INTO api_keys (app_id, lookup, secret_hash, name, permissions, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(key.app_id)
        .bind(key.lookup)
        .bind(key.secret_hash)
        .bind(key.name)
        .bind(permission::join(key.permissions))
        .bind(key.now)
        .fetch_one(&self.write)
        .await?;
        Ok(ApiKeyRecord {
            id: row.try_get("id")?,
            app_id: key.app_id,
            lookup: key.lookup.to_owned(),
            secret_hash: key.secret_hash.to_owned(),
            name: key.name.to_owned(),
            permissions: key.permissions.to_vec(),
            created_at: key.now,
            revoked_at: None,
        })
    }

    pub async fn list_api_keys(&self, app_id: i64) -> StoreResult<Vec<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.app_id = $1 ORDER BY k.id");
        let rows = sqlx::query(&sql).bind(app_id).fetch_all(&self.read).await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Marks a key revoked (idempotent); `None` when the app has no such key.
    pub async fn revoke_api_key(
        &self,
        app_id: i64,
        key_id: i64,
        now: i64,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 \
             WHERE app_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(app_id)
        .bind(key_id)
        .bind(now)
        .execute(&self.write)
        .await?;
        self.cache.invalidate_credentials();
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.app_id = $1 AND k.id = $2");
        let row = sqlx::query(&sql)
            .bind(app_id)
            .bind(key_id)
            .fetch_optional(&self.write)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// [`Store::api_key_with_app`], served from the credential cache when it can be.
    pub async fn api_key_with_app_cached(
        &self,
        lookup: &str,
    ) -> StoreResult<Option<Arc<(ApiKeyRecord, AppRecord)>>> {
        self.cache
            .keys
            .get_or_read(lookup, self.api_key_with_app(lookup))
            .await
    }

    /// The key with this lookup id and the app that holds it, in one round trip: this runs on
    /// every public API call.
    pub async fn api_key_with_app(
        &self,
        lookup: &str,
    ) -> StoreResult<Option<(ApiKeyRecord, AppRecord)>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS}, {APP_COLUMNS} FROM api_keys k JOIN apps a ON a.id = k.app_id \
             WHERE k.lookup = $1"
        );
        let row = sqlx::query(&sql)
            .bind(lookup)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((key_from_row(&r)?, app_from_row(&r)?)))
            .transpose()
    }
}
