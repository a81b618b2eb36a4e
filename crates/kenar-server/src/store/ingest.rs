//! The ingestion transaction: events and the deliveries they cause are written together, and
//! the batch commits once (one fsync for many events). Every statement here works on a whole
//! batch: a statement costs a round trip (for SQLite, a hop to its connection thread), so the
//! count of statements, not of rows, bounds ingestion.

use std::collections::HashMap;

use sqlx::{Any, Row, Transaction};

use super::{opt, Dialect, Params, Store, StoreError, StoreResult};
use crate::domain::ScopeSet;

/// Rows per multi-row statement: well under both dialects' parameter limits.
const CHUNK: usize = 500;

/// A subscription an event may match.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub app_id: i64,
    pub user_id: String,
    /// `""` for an all-posts subscription.
    pub resource: String,
    pub metadata: Option<String>,
    /// Whether the app's endpoint is enabled (not disabled for failing too long).
    pub endpoint_enabled: bool,
}

/// An app addressed by slug, as routing needs it.
#[derive(Debug, Clone, Copy)]
pub struct RoutedApp {
    pub id: i64,
    pub has_webhook: bool,
    /// Whether the app's endpoint is enabled (not disabled for failing too long).
    pub endpoint_enabled: bool,
}

/// A delivery to insert; leased to `lease` = (owner, until) when this process will send it
/// itself, as soon as the transaction commits.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub event_id: i64,
    pub app_id: i64,
    pub event_type: &'a str,
    pub body: String,
    pub lease: Option<(&'a str, i64)>,
}

/// One open ingestion transaction. Dropping it without [`IngestTx::commit`] rolls it back.
pub struct IngestTx {
    tx: Transaction<'static, Any>,
    dialect: Dialect,
    cache: std::sync::Arc<super::cache::ReadCache>,
    /// Whether this transaction revoked grants (cached credentials go stale on commit).
    revoked: bool,
    /// Whether it wrote posts' owners (cached posts go stale on commit).
    owners_changed: bool,
}

impl Store {
    pub async fn begin_ingest(&self) -> StoreResult<IngestTx> {
        Ok(IngestTx {
            tx: self.write.begin().await?,
            dialect: self.dialect,
            cache: std::sync::Arc::clone(&self.cache),
            revoked: false,
            owners_changed: false,
        })
    }
}

impl IngestTx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        if self.revoked {
            self.cache.invalidate_credentials();
        }
        if self.owners_changed {
            self.cache.posts.invalidate();
        }
        Ok(())
    }

    /// The owners of these posts, as recorded.
    pub async fn post_owners(&mut self, tokens: &[&str]) -> StoreResult<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in tokens.chunks(CHUNK) {
            let sql = format!(
                "SELECT token, owner_id FROM posts WHERE token IN ({})",
                Params::new(self.dialect).list(chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for t in chunk {
                q = q.bind(*t);
            }
            for r in q.fetch_all(&mut *self.tx).await? {
                out.insert(r.try_get("token")?, r.try_get("owner_id")?);
            }
        }
        Ok(out)
    }

    /// Records who owns these posts, as the platform's post updates say.
    pub async fn set_post_owners(&mut self, owners: &[(&str, &str)], now: i64) -> StoreResult<()> {
        // In token order, so concurrent ingestions lock the posts they share in the same order
        // and wait for each other instead of deadlocking.
        let mut owners = owners.to_vec();
        owners.sort_unstable();
        for chunk in owners.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO posts (token, owner_id, created_at, updated_at) VALUES {} \
                 ON CONFLICT (token) DO UPDATE SET owner_id = excluded.owner_id, \
                 updated_at = excluded.updated_at WHERE posts.owner_id <> excluded.owner_id",
                Params::new(self.dialect).rows(chunk.len(), 4)
            );
            let mut q = sqlx::query(&sql);
            for (token, owner) in chunk {
                q = q.bind(*token).bind(*owner).bind(now).bind(now);
            }
            if q.execute(&mut *self.tx).await?.rows_affected() > 0 {
                self.owners_changed = true;
            }
        }
        Ok(())
    }

    /// These apps, by slug; unknown slugs are absent.
    pub async fn apps(&mut self, slugs: &[&str]) -> StoreResult<HashMap<String, RoutedApp>> {
        let mut out = HashMap::new();
        for chunk in slugs.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, slug, webhook_url, webhook_disabled_at FROM apps WHERE slug IN ({})",
                Params::new(self.dialect).list(chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q.bind(*s);
            }
            for r in q.fetch_all(&mut *self.tx).await? {
                out.insert(
                    r.try_get("slug")?,
                    RoutedApp {
                        id: r.try_get("id")?,
                        has_webhook: opt::<String>(&r, "webhook_url")?.is_some(),
                        endpoint_enabled: opt::<i64>(&r, "webhook_disabled_at")?.is_none(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// Live `event_type` subscriptions of these users, of apps that have a webhook URL.
    pub async fn subscribers(
        &mut self,
        event_type: &str,
        users: &[&str],
        now: i64,
    ) -> StoreResult<Vec<Subscriber>> {
        let mut out = Vec::new();
        for chunk in users.chunks(CHUNK) {
            let mut p = Params::new(self.dialect);
            let (kind, users, at) = (p.next(), p.list(chunk.len()), p.next());
            let sql = format!(
                "SELECT s.app_id, s.user_id, s.resource, s.metadata, a.webhook_disabled_at \
                 FROM subscriptions s \
                 JOIN access_tokens t ON t.id = s.access_token_id \
                 JOIN grants g ON g.id = t.grant_id \
                 JOIN apps a ON a.id = s.app_id \
                 WHERE s.event_type = {kind} AND s.user_id IN ({users}) \
                 AND t.revoked_at IS NULL AND g.revoked_at IS NULL AND t.expires_at > {at} \
                 AND a.webhook_url IS NOT NULL"
            );
            let mut q = sqlx::query(&sql).bind(event_type);
            for u in chunk {
                q = q.bind(*u);
            }
            q = q.bind(now);
            for r in q.fetch_all(&mut *self.tx).await? {
                out.push(Subscriber {
                    app_id: r.try_get("app_id")?,
                    user_id: r.try_get("user_id")?,
                    resource: r.try_get("resource")?,
                    metadata: opt(&r, "metadata")?,
                    endpoint_enabled: opt::<i64>(&r, "webhook_disabled_at")?.is_none(),
                });
            }
        }
        Ok(out)
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
        self.revoked = true;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("scopes").ok())
            .filter_map(|s| ScopeSet::parse(&s).ok())
            .collect())
    }

    /// Inserts events (type, payload); returns their ids in the same order.
    pub async fn insert_events(
        &mut self,
        events: &[(&str, &str)],
        now: i64,
    ) -> StoreResult<Vec<i64>> {
        let mut ids = Vec::with_capacity(events.len());
        for chunk in events.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO events (type, payload, created_at) VALUES {}{}",
                Params::new(self.dialect).rows(chunk.len(), 3),
                self.returning_id()
            );
            let mut q = sqlx::query(&sql);
            for (kind, payload) in chunk {
                q = q.bind(*kind).bind(*payload).bind(now);
            }
            ids.extend(self.inserted_ids(q, chunk.len()).await?);
        }
        Ok(ids)
    }

    /// Inserts deliveries due now; returns their ids in the same order.
    pub async fn insert_deliveries(
        &mut self,
        rows: &[NewDelivery<'_>],
        now: i64,
    ) -> StoreResult<Vec<i64>> {
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO deliveries (event_id, app_id, event_type, body, status, \
                 next_attempt_at, created_at, updated_at, lease_owner, lease_until) VALUES {}{}",
                Params::new(self.dialect).rows(chunk.len(), 10),
                self.returning_id()
            );
            let mut q = sqlx::query(&sql);
            for d in chunk {
                q = q
                    .bind(d.event_id)
                    .bind(d.app_id)
                    .bind(d.event_type)
                    .bind(d.body.as_str())
                    .bind("PENDING")
                    .bind(now)
                    .bind(now)
                    .bind(now)
                    .bind(d.lease.map(|(owner, _)| owner))
                    .bind(d.lease.map(|(_, until)| until));
            }
            ids.extend(self.inserted_ids(q, chunk.len()).await?);
        }
        Ok(ids)
    }

    /// What a multi-row INSERT appends to learn its rows' ids: nothing on SQLite (see
    /// [`IngestTx::inserted_ids`]).
    fn returning_id(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " RETURNING id",
        }
    }

    /// Runs a multi-row INSERT of `n` rows; returns their ids in the order of its VALUES
    /// list. Both dialects assign ids in that order within one statement. SQLite gives each
    /// new row the largest rowid so far plus one (while the largest is below 2^63 - 1), and
    /// nothing else writes during the statement, so the ids are the `n` ending at the last
    /// one inserted: one small query instead of RETURNING rows carried back one by one (each
    /// a message from sqlx's connection thread). PostgreSQL returns them.
    async fn inserted_ids<'q>(
        &mut self,
        q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
        n: usize,
    ) -> StoreResult<Vec<i64>> {
        match self.dialect {
            Dialect::Sqlite => {
                let done = q.execute(&mut *self.tx).await?;
                // sqlx's `Any` driver does not pass SQLite's last rowid on.
                let last: i64 = sqlx::query("SELECT last_insert_rowid() AS id")
                    .fetch_one(&mut *self.tx)
                    .await?
                    .try_get("id")?;
                let n = i64::try_from(n).map_err(|_| StoreError::Corrupt("row count".into()))?;
                if done.rows_affected() != n as u64 || last < n {
                    return Err(StoreError::Corrupt("ids of inserted rows".into()));
                }
                Ok((last - n + 1..=last).collect())
            }
            Dialect::Postgres => {
                let mut ids: Vec<i64> = q
                    .fetch_all(&mut *self.tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get("id"))
                    .collect::<Result<_, _>>()?;
                ids.sort_unstable();
                Ok(ids)
            }
        }
    }
}
