//! Event subscriptions.

use sqlx::Row;

use super::{opt, Store, StoreResult};

#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub app_id: i64,
    pub user_id: String,
    pub event_type: &'static str,
    /// The post token, or `""` for all of the user's posts.
    pub resource: String,
    /// The metadata object serialized as JSON, or `None`.
    pub metadata: Option<String>,
    pub access_token_id: i64,
    pub now: i64,
}

/// A subscription with the life it takes from its token.
#[derive(Debug, Clone)]
pub struct SubscriptionRecord {
    pub id: i64,
    pub user_id: String,
    pub event_type: String,
    pub resource: String,
    pub metadata: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    /// Whether the registering token (or its grant) was revoked.
    pub revoked: bool,
}

impl Store {
    /// Creates each subscription, or renews the existing one for the same (app, user, event
    /// type, resource): its metadata is replaced, and it takes the new token unless the token
    /// it holds is still live and outlives the new one, so re-registering only ever extends it.
    /// One transaction for all, applied in order.
    pub async fn upsert_subscriptions(&self, subs: &[NewSubscription]) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        for s in subs {
            sqlx::query(
                "INSERT INTO subscriptions (app_id, user_id, event_type, resource, metadata, \
                 access_token_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (app_id, user_id, event_type, resource) DO UPDATE SET \
                 metadata = excluded.metadata, updated_at = excluded.updated_at, \
                 access_token_id = CASE WHEN EXISTS (\
                     SELECT 1 FROM access_tokens o JOIN grants g ON g.id = o.grant_id \
                     WHERE o.id = subscriptions.access_token_id \
                     AND o.revoked_at IS NULL AND g.revoked_at IS NULL \
                     AND o.expires_at > (SELECT n.expires_at FROM access_tokens n \
                                         WHERE n.id = excluded.access_token_id)) \
                 THEN subscriptions.access_token_id ELSE excluded.access_token_id END",
            )
            .bind(s.app_id)
            .bind(s.user_id.as_str())
            .bind(s.event_type)
            .bind(s.resource.as_str())
            .bind(s.metadata.as_deref())
            .bind(s.access_token_id)
            .bind(s.now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An app's subscriptions, newest registration last.
    pub async fn list_subscriptions(&self, app_id: i64) -> StoreResult<Vec<SubscriptionRecord>> {
        let rows = sqlx::query(
            "SELECT s.id, s.user_id, s.event_type, s.resource, s.metadata, s.created_at, \
             s.updated_at, t.expires_at, \
             COALESCE(t.revoked_at, g.revoked_at) AS revoked_at \
             FROM subscriptions s JOIN access_tokens t ON t.id = s.access_token_id \
             JOIN grants g ON g.id = t.grant_id WHERE s.app_id = $1 ORDER BY s.id",
        )
        .bind(app_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SubscriptionRecord {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    event_type: r.try_get("event_type")?,
                    resource: r.try_get("resource")?,
                    metadata: opt(r, "metadata")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked: opt::<i64>(r, "revoked_at")?.is_some(),
                })
            })
            .collect()
    }
}
