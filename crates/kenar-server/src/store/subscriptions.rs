//! Event subscriptions.

use sqlx::Row;

use super::{opt, Params, Store, StoreResult};

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
    /// When that token expires.
    pub token_expires_at: i64,
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

/// What makes a subscription one: (app, user, event type, resource).
fn key(s: &NewSubscription) -> (i64, &str, &str, &str) {
    (s.app_id, &s.user_id, s.event_type, &s.resource)
}

/// Registrations of the same subscription folded into one, as if applied in order: the last
/// one's fields, with the longest-lived of their tokens (the later one on a tie). Sorted by
/// the subscription's key: an upsert locks its rows in the order it lists them, and two nodes
/// on one PostgreSQL database that listed the same rows in different orders could deadlock.
fn merge(subs: &[NewSubscription]) -> Vec<(&NewSubscription, i64)> {
    let mut sorted: Vec<&NewSubscription> = subs.iter().collect();
    // Stable: the registrations of one subscription stay in the order they came.
    sorted.sort_by(|a, b| key(a).cmp(&key(b)));
    let mut merged: Vec<(&NewSubscription, i64, i64)> = Vec::with_capacity(sorted.len());
    for s in sorted {
        match merged.last_mut() {
            Some(entry) if key(entry.0) == key(s) => {
                entry.0 = s;
                if s.token_expires_at >= entry.2 {
                    (entry.1, entry.2) = (s.access_token_id, s.token_expires_at);
                }
            }
            _ => merged.push((s, s.access_token_id, s.token_expires_at)),
        }
    }
    merged.into_iter().map(|(s, token, _)| (s, token)).collect()
}

impl Store {
    /// Creates each subscription, or renews the existing one for the same (app, user, event
    /// type, resource): its metadata is replaced, and it takes the new token unless the token
    /// it holds is still live and outlives the new one, so re-registering only ever extends it.
    /// All in one statement, as if applied one after another: of several for the same
    /// subscription, the last one's metadata and the longest-lived token win.
    pub async fn upsert_subscriptions(&self, subs: &[NewSubscription]) -> StoreResult<()> {
        let merged = merge(subs);
        if merged.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO subscriptions (app_id, user_id, event_type, resource, metadata, \
             access_token_id, created_at, updated_at) VALUES {} \
             ON CONFLICT (app_id, user_id, event_type, resource) DO UPDATE SET \
             metadata = excluded.metadata, updated_at = excluded.updated_at, \
             access_token_id = CASE WHEN EXISTS (\
                 SELECT 1 FROM access_tokens o JOIN grants g ON g.id = o.grant_id \
                 WHERE o.id = subscriptions.access_token_id \
                 AND o.revoked_at IS NULL AND g.revoked_at IS NULL \
                 AND o.expires_at > (SELECT n.expires_at FROM access_tokens n \
                                     WHERE n.id = excluded.access_token_id)) \
             THEN subscriptions.access_token_id ELSE excluded.access_token_id END",
            Params::new(self.dialect).rows(merged.len(), 8)
        );
        let mut q = sqlx::query(&sql);
        for (s, token_id) in &merged {
            q = q
                .bind(s.app_id)
                .bind(s.user_id.as_str())
                .bind(s.event_type)
                .bind(s.resource.as_str())
                .bind(s.metadata.as_deref())
                .bind(*token_id)
                .bind(s.now)
                .bind(s.now);
        }
        q.execute(&self.write).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(user: &str, metadata: &str, token: i64, expires: i64) -> NewSubscription {
        NewSubscription {
            app_id: 1,
            user_id: user.into(),
            event_type: "POST_UPDATE",
            resource: String::new(),
            metadata: Some(metadata.into()),
            access_token_id: token,
            token_expires_at: expires,
            now: 0,
        }
    }

    #[test]
    fn the_last_fields_and_the_longest_lived_token_win_in_key_order() {
        // u-2 comes first, but the merged rows are in key order (see `merge`).
        let subs = [
            sub("u-2", "other", 20, 100),
            sub("u-1", "first", 10, 500),
            sub("u-1", "second", 11, 300),
            sub("u-1", "third", 12, 500),
        ];
        let merged: Vec<(&str, &str, i64)> = merge(&subs)
            .into_iter()
            .map(|(s, token)| {
                (
                    s.user_id.as_str(),
                    s.metadata.as_deref().unwrap_or(""),
                    token,
                )
            })
            .collect();
        assert_eq!(merged, [("u-1", "third", 12), ("u-2", "other", 20)]);
    }
}
