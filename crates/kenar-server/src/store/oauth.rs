//! The authorization server's records: sessions of signed-in users, authorization codes,
//! grants with their access and refresh tokens.

use sqlx::{Any, Row, Transaction};

use super::{opt, Store, StoreError, StoreResult};
use crate::domain::ScopeSet;

/// A signed-in user's session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub secret_hash: String,
    pub user_id: String,
    pub expires_at: i64,
}

/// An authorization code as stored.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub id: i64,
    pub secret_hash: String,
    pub app_id: i64,
    pub user_id: String,
    pub redirect_uri: String,
    pub scopes: ScopeSet,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grant_id: Option<i64>,
}

/// A refresh token, joined with its grant.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub id: i64,
    pub secret_hash: String,
    pub grant_id: i64,
    pub app_id: i64,
    pub user_id: String,
    pub scopes: ScopeSet,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The token's own revocation or its grant's.
    pub revoked_at: Option<i64>,
}

/// A hashed credential to store: its lookup id and hash, and when it expires.
#[derive(Debug, Clone, Copy)]
pub struct NewSecret<'a> {
    pub lookup: &'a str,
    pub hash: &'a str,
    pub expires_at: i64,
}

/// An authorization code to store.
pub struct NewCode<'a> {
    pub app_id: i64,
    pub user_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a ScopeSet,
    pub code_challenge: Option<&'a str>,
    pub secret: NewSecret<'a>,
    pub now: i64,
}

/// A live grant, for the user's list of connected apps.
#[derive(Debug, Clone)]
pub struct GrantRecord {
    pub id: i64,
    pub app_slug: String,
    pub app_name: String,
    pub scopes: String,
    pub created_at: i64,
}

fn scopes(s: &str) -> StoreResult<ScopeSet> {
    ScopeSet::parse(s).map_err(|e| StoreError::Corrupt(format!("scopes: {e}")))
}

impl Store {
    pub async fn create_session(
        &self,
        user_id: &str,
        s: NewSecret<'_>,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (lookup, secret_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(s.lookup)
        .bind(s.hash)
        .bind(user_id)
        .bind(now)
        .bind(s.expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn session(&self, lookup: &str) -> StoreResult<Option<SessionRecord>> {
        let row =
            sqlx::query("SELECT secret_hash, user_id, expires_at FROM sessions WHERE lookup = $1")
                .bind(lookup)
                .fetch_optional(&self.read)
                .await?;
        row.map(|r| {
            Ok(SessionRecord {
                secret_hash: r.try_get("secret_hash")?,
                user_id: r.try_get("user_id")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn create_code(&self, c: NewCode<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (lookup, secret_hash, app_id, user_id, redirect_uri, \
             scopes, code_challenge, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.secret.lookup)
        .bind(c.secret.hash)
        .bind(c.app_id)
        .bind(c.user_id)
        .bind(c.redirect_uri)
        .bind(c.scopes.to_string())
        .bind(c.code_challenge)
        .bind(c.now)
        .bind(c.secret.expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn code(&self, lookup: &str) -> StoreResult<Option<CodeRecord>> {
        let row = sqlx::query(
            "SELECT id, secret_hash, app_id, user_id, redirect_uri, scopes, code_challenge, \
             expires_at, used_at, grant_id FROM authorization_codes WHERE lookup = $1",
        )
        .bind(lookup)
        .fetch_optional(&self.write)
        .await?;
        row.map(|r| {
            Ok(CodeRecord {
                id: r.try_get("id")?,
                secret_hash: r.try_get("secret_hash")?,
                app_id: r.try_get("app_id")?,
                user_id: r.try_get("user_id")?,
                redirect_uri: r.try_get("redirect_uri")?,
                scopes: scopes(&r.try_get::<String, _>("scopes")?)?,
                code_challenge: opt(&r, "code_challenge")?,
                expires_at: r.try_get("expires_at")?,
                used_at: opt(&r, "used_at")?,
                grant_id: opt(&r, "grant_id")?,
            })
        })
        .transpose()
    }

    /// Exchanges a code: marks it used (only if it was not: a concurrent second use loses) and
    /// creates its grant with an access token and, optionally, a refresh token, in one
    /// transaction. `None` when the code was used meanwhile.
    pub async fn exchange_code(
        &self,
        code: &CodeRecord,
        access: NewSecret<'_>,
        refresh: Option<NewSecret<'_>>,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.write.begin().await?;
        let claimed = sqlx::query(
            "UPDATE authorization_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
        )
        .bind(code.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        let grant_id = insert_grant(&mut tx, code.app_id, &code.user_id, &code.scopes, now).await?;
        sqlx::query("UPDATE authorization_codes SET grant_id = $2 WHERE id = $1")
            .bind(code.id)
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        insert_tokens(&mut tx, grant_id, &code.scopes, access, refresh, now).await?;
        tx.commit().await?;
        Ok(Some(grant_id))
    }

    pub async fn refresh_token(&self, lookup: &str) -> StoreResult<Option<RefreshRecord>> {
        let row = sqlx::query(
            "SELECT r.id, r.secret_hash, r.grant_id, g.app_id, g.user_id, g.scopes, r.expires_at, \
             r.used_at, COALESCE(r.revoked_at, g.revoked_at) AS revoked_at \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.lookup = $1",
        )
        .bind(lookup)
        .fetch_optional(&self.write)
        .await?;
        row.map(|r| {
            Ok(RefreshRecord {
                id: r.try_get("id")?,
                secret_hash: r.try_get("secret_hash")?,
                grant_id: r.try_get("grant_id")?,
                app_id: r.try_get("app_id")?,
                user_id: r.try_get("user_id")?,
                scopes: scopes(&r.try_get::<String, _>("scopes")?)?,
                expires_at: r.try_get("expires_at")?,
                used_at: opt(&r, "used_at")?,
                revoked_at: opt(&r, "revoked_at")?,
            })
        })
        .transpose()
    }

    /// Rotates a refresh token: marks it used (a concurrent second use loses: `false`), lets
    /// the grant's current access tokens live at most until `grace_until`, and issues the new
    /// pair, all in one transaction.
    pub async fn rotate_refresh(
        &self,
        old: &RefreshRecord,
        scopes: &ScopeSet,
        access: NewSecret<'_>,
        refresh: NewSecret<'_>,
        grace_until: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let claimed =
            sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
                .bind(old.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        if claimed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE access_tokens SET expires_at = $2 \
             WHERE grant_id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(old.grant_id)
        .bind(grace_until)
        .execute(&mut *tx)
        .await?;
        insert_tokens(&mut tx, old.grant_id, scopes, access, Some(refresh), now).await?;
        tx.commit().await?;
        self.cache.invalidate_credentials();
        Ok(true)
    }

    /// Revokes a grant and so every token descending from it.
    pub async fn revoke_grant(&self, grant_id: i64, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(grant_id)
            .bind(now)
            .execute(&self.write)
            .await?;
        self.cache.invalidate_credentials();
        Ok(())
    }

    /// The live grants a user gave, newest first.
    pub async fn grants_of(&self, user_id: &str) -> StoreResult<Vec<GrantRecord>> {
        let rows = sqlx::query(
            "SELECT g.id, a.slug, a.name, g.scopes, g.created_at FROM grants g \
             JOIN apps a ON a.id = g.app_id WHERE g.user_id = $1 AND g.revoked_at IS NULL \
             ORDER BY g.id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GrantRecord {
                    id: r.try_get("id")?,
                    app_slug: r.try_get("slug")?,
                    app_name: r.try_get("name")?,
                    scopes: r.try_get("scopes")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}

/// Records a grant; returns its id.
pub(super) async fn insert_grant(
    tx: &mut Transaction<'static, Any>,
    app_id: i64,
    user_id: &str,
    scopes: &ScopeSet,
    now: i64,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO grants (app_id, user_id, scopes, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(app_id)
    .bind(user_id)
    .bind(scopes.to_string())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}

/// Issues a grant's access token and, optionally, its refresh token.
pub(super) async fn insert_tokens(
    tx: &mut Transaction<'static, Any>,
    grant_id: i64,
    scopes: &ScopeSet,
    access: NewSecret<'_>,
    refresh: Option<NewSecret<'_>>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO access_tokens (lookup, secret_hash, grant_id, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(access.lookup)
    .bind(access.hash)
    .bind(grant_id)
    .bind(scopes.to_string())
    .bind(now)
    .bind(access.expires_at)
    .execute(&mut **tx)
    .await?;
    if let Some(r) = refresh {
        sqlx::query(
            "INSERT INTO refresh_tokens (lookup, secret_hash, grant_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(r.lookup)
        .bind(r.hash)
        .bind(grant_id)
        .bind(now)
        .bind(r.expires_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
