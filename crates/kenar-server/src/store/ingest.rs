//! The ingestion transaction: an event and the deliveries it causes are written together, and
//! the batch commits once (one fsync for many events).

use sqlx::{Any, Row, Transaction};

use super::{opt, Store, StoreResult};
use crate::domain::ScopeSet;

/// A subscription an event matched.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub app_id: i64,
    /// `""` for an all-posts subscription.
    pub resource: String,
    pub metadata: Option<String>,
}

/// An app addressed by slug, as routing needs it.
#[derive(Debug, Clone, Copy)]
pub struct RoutedApp {
    pub id: i64,
    pub has_webhook: bool,
}

/// One open ingestion transaction. Dropping it without [`IngestTx::commit`] rolls it back.
pub struct IngestTx {
    tx: Transaction<'static, Any>,
}

impl Store {
    pub async fn begin_ingest(&self) -> StoreResult<IngestTx> {
        Ok(IngestTx {
            tx: self.write.begin().await?,
        })
    }
}

impl IngestTx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn post_owner(&mut self, token: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT owner_id FROM posts WHERE token = $1")
            .bind(token)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.try_get("owner_id")).transpose()?)
    }

    /// Records who owns a post, as the platform's post updates say.
    pub async fn set_post_owner(&mut self, token: &str, owner: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO posts (token, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (token) DO UPDATE SET owner_id = excluded.owner_id, \
             updated_at = excluded.updated_at",
        )
        .bind(token)
        .bind(owner)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn app(&mut self, slug: &str) -> StoreResult<Option<RoutedApp>> {
        let row = sqlx::query("SELECT id, webhook_url FROM apps WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| {
            Ok(RoutedApp {
                id: r.try_get("id")?,
                has_webhook: opt::<String>(&r, "webhook_url")?.is_some(),
            })
        })
        .transpose()
    }

    /// Live subscriptions of `owner` to `event_type` on `post` or on all their posts, of apps
    /// that have a webhook URL.
    pub async fn subscribers(
        &mut self,
        owner: &str,
        event_type: &str,
        post: &str,
        now: i64,
    ) -> StoreResult<Vec<Subscriber>> {
        let rows = sqlx::query(
            "SELECT s.app_id, s.resource, s.metadata FROM subscriptions s \
             JOIN access_tokens t ON t.id = s.access_token_id \
             JOIN grants g ON g.id = t.grant_id \
             JOIN apps a ON a.id = s.app_id \
             WHERE s.user_id = $1 AND s.event_type = $2 AND (s.resource = $3 OR s.resource = '') \
             AND t.revoked_at IS NULL AND g.revoked_at IS NULL AND t.expires_at > $4 \
             AND a.webhook_url IS NOT NULL",
        )
        .bind(owner)
        .bind(event_type)
        .bind(post)
        .bind(now)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Subscriber {
                    app_id: r.try_get("app_id")?,
                    resource: r.try_get("resource")?,
                    metadata: opt(r, "metadata")?,
                })
            })
            .collect()
    }

    /// Revokes every live grant of `user` to app `app_id` (and so their tokens and the
    /// subscriptions those registered); returns the scopes the revoked grants held.
    pub async fn revoke_grants(
        &mut self,
        app_id: i64,
        user: &str,
        now: i64,
    ) -> StoreResult<Vec<ScopeSet>> {
        let rows = sqlx::query(
            "UPDATE grants SET revoked_at = $3 \
             WHERE app_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING scopes",
        )
        .bind(app_id)
        .bind(user)
        .bind(now)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("scopes").ok())
            .filter_map(|s| ScopeSet::parse(&s).ok())
            .collect())
    }

    pub async fn insert_event(&mut self, kind: &str, payload: &str, now: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO events (type, payload, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(kind)
        .bind(payload)
        .bind(now)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// A delivery due now.
    pub async fn insert_delivery(
        &mut self,
        event_id: i64,
        app_id: i64,
        event_type: &str,
        body: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO deliveries (event_id, app_id, event_type, body, status, next_attempt_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'PENDING', $5, $5, $5)",
        )
        .bind(event_id)
        .bind(app_id)
        .bind(event_type)
        .bind(body)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
