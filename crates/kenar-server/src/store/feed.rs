//! Events apps send to users, and their read state.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{opt, Store, StoreResult};

/// A feed event as stored, with its app's slug and name.
#[derive(Debug, Clone)]
pub struct FeedEventRecord {
    pub id: i64,
    pub app_id: i64,
    pub app_slug: String,
    pub app_name: String,
    pub user_id: String,
    pub target_type: String,
    pub post_token: Option<String>,
    pub message: String,
    /// The buttons' items as JSON.
    pub buttons: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

pub struct NewFeedEvent<'a> {
    pub app_id: i64,
    pub user_id: &'a str,
    pub target_type: &'a str,
    pub post_token: Option<&'a str>,
    pub message: &'a str,
    pub buttons: Option<&'a str>,
    pub now: i64,
}

/// Whose feed to read.
#[derive(Debug, Clone, Copy)]
pub enum Feed<'a> {
    /// Events sent to the user (`USER` targets) and to their posts.
    User(&'a str),
    /// Events sent to the post.
    Post(&'a str),
}

const COLUMNS: &str = "f.id, f.app_id, a.slug, a.name, f.user_id, f.target_type, f.post_token, \
    f.message, f.buttons, f.created_at, f.read_at";

fn from_row(r: &AnyRow) -> StoreResult<FeedEventRecord> {
    Ok(FeedEventRecord {
        id: r.try_get("id")?,
        app_id: r.try_get("app_id")?,
        app_slug: r.try_get("slug")?,
        app_name: r.try_get("name")?,
        user_id: r.try_get("user_id")?,
        target_type: r.try_get("target_type")?,
        post_token: opt(r, "post_token")?,
        message: r.try_get("message")?,
        buttons: opt(r, "buttons")?,
        created_at: r.try_get("created_at")?,
        read_at: opt(r, "read_at")?,
    })
}

impl Store {
    pub async fn insert_feed_event(&self, e: NewFeedEvent<'_>) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO feed_events (app_id, user_id, target_type, post_token, message, buttons, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(e.app_id)
        .bind(e.user_id)
        .bind(e.target_type)
        .bind(e.post_token)
        .bind(e.message)
        .bind(e.buttons)
        .bind(e.now)
        .fetch_one(&self.write)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// A feed, newest first: `limit` events with ids below `before`.
    pub async fn feed(
        &self,
        feed: Feed<'_>,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<FeedEventRecord>> {
        let (filter, key) = match feed {
            Feed::User(u) => ("f.user_id = $1", u),
            Feed::Post(p) => ("f.post_token = $1", p),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM feed_events f JOIN apps a ON a.id = f.app_id \
             WHERE {filter} AND f.id < $2 ORDER BY f.id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(key)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn feed_event(&self, id: i64) -> StoreResult<Option<FeedEventRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM feed_events f JOIN apps a ON a.id = f.app_id WHERE f.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Marks an event read (idempotent: the first read time stays).
    pub async fn mark_feed_event_read(&self, id: i64, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE feed_events SET read_at = COALESCE(read_at, $2) WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
