//! Users, posts, grants and access tokens: the identity side the embedded default keeps.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::oauth::{insert_grant, insert_tokens};
use super::{opt, NewSecret, Store, StoreError, StoreResult};
use crate::domain::ScopeSet;

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: String,
    pub display_name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct PostRecord {
    pub token: String,
    pub owner_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An access token as stored, joined with its grant: what authentication needs.
#[derive(Debug, Clone)]
pub struct AccessTokenRecord {
    pub id: i64,
    pub secret_hash: String,
    pub grant_id: i64,
    pub app_id: i64,
    pub user_id: String,
    pub scopes: ScopeSet,
    pub expires_at: i64,
    /// When the token itself, or the grant it descends from, was revoked.
    pub revoked_at: Option<i64>,
}

impl AccessTokenRecord {
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

pub struct NewAccessToken<'a> {
    pub app_id: i64,
    pub user_id: &'a str,
    pub scopes: &'a ScopeSet,
    pub lookup: &'a str,
    pub secret_hash: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

fn post_from_row(row: &AnyRow) -> StoreResult<PostRecord> {
    Ok(PostRecord {
        token: row.try_get("token")?,
        owner_id: row.try_get("owner_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn create_user(
        &self,
        id: &str,
        display_name: &str,
        now: i64,
    ) -> StoreResult<UserRecord> {
        sqlx::query("INSERT INTO users (id, display_name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(display_name)
            .bind(now)
            .execute(&self.write)
            .await?;
        Ok(UserRecord {
            id: id.to_owned(),
            display_name: display_name.to_owned(),
            created_at: now,
        })
    }

    pub async fn user(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT id, display_name, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            Ok(UserRecord {
                id: r.try_get("id")?,
                display_name: r.try_get("display_name")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    pub async fn create_post(
        &self,
        token: &str,
        owner_id: &str,
        now: i64,
    ) -> StoreResult<PostRecord> {
        sqlx::query(
            "INSERT INTO posts (token, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $3)",
        )
        .bind(token)
        .bind(owner_id)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(PostRecord {
            token: token.to_owned(),
            owner_id: owner_id.to_owned(),
            created_at: now,
            updated_at: now,
        })
    }

    /// Sets a post's owner; `None` when there is no such post.
    pub async fn set_post_owner(
        &self,
        token: &str,
        owner_id: &str,
        now: i64,
    ) -> StoreResult<Option<PostRecord>> {
        let row = sqlx::query(
            "UPDATE posts SET owner_id = $2, updated_at = $3 WHERE token = $1 \
             RETURNING token, owner_id, created_at, updated_at",
        )
        .bind(token)
        .bind(owner_id)
        .bind(now)
        .fetch_optional(&self.write)
        .await?;
        self.cache.posts.invalidate();
        row.as_ref().map(post_from_row).transpose()
    }

    /// [`Store::post`], served from the read cache when it can be.
    pub async fn post_cached(&self, token: &str) -> StoreResult<Option<Arc<PostRecord>>> {
        self.cache.posts.get_or_read(token, self.post(token)).await
    }

    pub async fn post(&self, token: &str) -> StoreResult<Option<PostRecord>> {
        let row = sqlx::query(
            "SELECT token, owner_id, created_at, updated_at FROM posts WHERE token = $1",
        )
        .bind(token)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(post_from_row).transpose()
    }

    /// The posts a user owns, oldest first.
    pub async fn posts_of(&self, owner_id: &str) -> StoreResult<Vec<PostRecord>> {
        let rows = sqlx::query(
            "SELECT token, owner_id, created_at, updated_at FROM posts WHERE owner_id = $1 \
             ORDER BY created_at, token",
        )
        .bind(owner_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(post_from_row).collect()
    }

    /// Creates a grant and its first access token in one transaction; returns the grant's id.
    pub async fn create_grant_with_token(&self, t: NewAccessToken<'_>) -> StoreResult<i64> {
        let mut tx = self.write.begin().await?;
        let grant_id = insert_grant(&mut tx, t.app_id, t.user_id, t.scopes, t.now).await?;
        let access = NewSecret {
            lookup: t.lookup,
            hash: t.secret_hash,
            expires_at: t.expires_at,
        };
        insert_tokens(&mut tx, grant_id, t.scopes, access, None, t.now).await?;
        tx.commit().await?;
        Ok(grant_id)
    }

    /// [`Store::access_token`], served from the credential cache when it can be.
    pub async fn access_token_cached(
        &self,
        lookup: &str,
    ) -> StoreResult<Option<Arc<AccessTokenRecord>>> {
        self.cache
            .tokens
            .get_or_read(lookup, self.access_token(lookup))
            .await
    }

    /// The access token with this lookup id, joined with its grant.
    pub async fn access_token(&self, lookup: &str) -> StoreResult<Option<AccessTokenRecord>> {
        let row = sqlx::query(
            "SELECT t.id, t.secret_hash, t.grant_id, g.app_id, g.user_id, t.scopes, t.expires_at, \
             COALESCE(t.revoked_at, g.revoked_at) AS revoked_at \
             FROM access_tokens t JOIN grants g ON g.id = t.grant_id WHERE t.lookup = $1",
        )
        .bind(lookup)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            let scopes: String = r.try_get("scopes")?;
            Ok(AccessTokenRecord {
                id: r.try_get("id")?,
                secret_hash: r.try_get("secret_hash")?,
                grant_id: r.try_get("grant_id")?,
                app_id: r.try_get("app_id")?,
                user_id: r.try_get("user_id")?,
                scopes: ScopeSet::parse(&scopes)
                    .map_err(|e| StoreError::Corrupt(format!("access_tokens.scopes: {e}")))?,
                expires_at: r.try_get("expires_at")?,
                revoked_at: opt(&r, "revoked_at")?,
            })
        })
        .transpose()
    }

    /// Revokes one access token (idempotent).
    pub async fn revoke_access_token(&self, id: i64, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&self.write)
        .await?;
        self.cache.invalidate_credentials();
        Ok(())
    }
}

impl Store {
    /// Mirrors an externally issued, active token: its app (by slug; `None` if unknown), user,
    /// scopes and expiry, under `lookup`. Creates the grant and token rows the first time, and
    /// refreshes them after.
    pub async fn mirror_external_token(
        &self,
        app_slug: &str,
        user_id: &str,
        scopes: &ScopeSet,
        lookup: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let Some(app) = self.app_by_slug(app_slug).await? else {
            return Ok(None);
        };
        let stored = scopes.to_string();
        let updated = sqlx::query(
            "UPDATE access_tokens SET scopes = $2, expires_at = $3, revoked_at = NULL \
             WHERE lookup = $1",
        )
        .bind(lookup)
        .bind(&stored)
        .bind(expires_at)
        .execute(&self.write)
        .await?;
        self.cache.invalidate_credentials();
        if updated.rows_affected() == 0 {
            let created = self
                .create_grant_with_token(NewAccessToken {
                    app_id: app.id,
                    user_id,
                    scopes,
                    lookup,
                    secret_hash: lookup,
                    now,
                    expires_at,
                })
                .await;
            match created {
                // Another request mirrored it first.
                Ok(_) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        let record = self.access_token(lookup).await?;
        Ok(record.filter(|r| r.app_id == app.id && r.user_id == user_id))
    }

    /// Marks a mirrored external token revoked, if it was mirrored.
    pub async fn revoke_external_token(&self, lookup: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $2 WHERE lookup = $1 AND revoked_at IS NULL",
        )
        .bind(lookup)
        .bind(now)
        .execute(&self.write)
        .await?;
        self.cache.invalidate_credentials();
        Ok(())
    }
}
