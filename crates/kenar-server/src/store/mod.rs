//! Storage: the only place SQL lives. One implementation over sqlx's `Any` driver serves SQLite
//! (embedded default) and PostgreSQL (multi-node); the few statements whose dialects differ
//! choose their text by [`Dialect`].

mod apps;
mod cache;
mod deliveries;
mod feed;
mod identity;
mod ingest;
mod limits;
mod migrations;
mod oauth;
mod subscriptions;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::domain::credentials::random_bytes;
use crate::domain::pseudonym::PseudonymKey;

pub use apps::{ApiKeyRecord, AppRecord, NewApiKey};
pub use deliveries::{
    Attempt, ClaimedDelivery, DeliveryFilter, DeliveryRecord, Endpoint, Next, Outcome,
    StreamedDelivery,
};
pub use feed::{Feed, FeedEventRecord, NewFeedEvent};
pub use identity::{AccessTokenRecord, NewAccessToken, PostRecord, UserRecord};
pub use ingest::{IngestTx, NewDelivery, RoutedApp, Subscriber};
pub use limits::CallCount;
pub use oauth::{CodeRecord, GrantRecord, NewCode, NewSecret, RefreshRecord, SessionRecord};
pub use subscriptions::{NewSubscription, SubscriptionRecord};

/// How long a PostgreSQL connection may sit idle before it is pinged on its next use.
const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Which SQL dialect a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (the caller maps it to ALREADY_EXISTS).
    #[error("a row with the same key already exists")]
    Conflict,
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The store was used in a way its callers must not; a bug, not bad data.
    #[error("store misuse: {0}")]
    Internal(&'static str),
    /// Another process holds this SQLite database.
    #[error(
        "{0} is in use by another kenar-events process; a SQLite database serves one process \
         (several processes share a PostgreSQL database)"
    )]
    InUse(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(e),
        }
    }
}

/// The database's files (its directory, the lock beside it) could not be made or opened.
impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Database(sqlx::Error::Io(e))
    }
}

impl StoreError {
    /// Whether the database could not be reached or dropped the connection (it restarted, an
    /// operator ended the session, the pool had no connection to give), or rolled back the
    /// transaction to end a deadlock or a serialization conflict with another: a failure of
    /// the moment, after which the same call may succeed. (As with any database client, a
    /// connection lost while its commit was in flight leaves that commit's fate unknown.)
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
            _ => false,
        }
    }
}

/// PostgreSQL's SQLSTATEs (five characters) for a connection exception (class 08), the server
/// shutting down or ending the session (57P01 admin shutdown, 57P02 crash shutdown, 57P03
/// cannot connect now), too many connections (53300), and a transaction rolled back as the
/// victim of a deadlock (40P01) or a serialization failure (40001), of which nothing was
/// written; SQLite's result codes (numbers) for a database still locked by another process
/// when the busy timeout ran out (SQLITE_BUSY, 5, and its extended codes; every SQLite code has
/// at most four digits).
fn unavailable_code(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("08")
            || matches!(
                code,
                "57P01" | "57P02" | "57P03" | "53300" | "40P01" | "40001"
            );
    }
    code.parse::<i32>().is_ok_and(|c| c & 0xff == 5)
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Where the data lives, as the operator gives it: a `postgres://` URL, a `sqlite:` URL, or a
/// plain path to a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    dialect: Dialect,
    url: String,
}

impl DatabaseUrl {
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL, password included.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The URL without any password, for logs.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("redacted"));
                u.to_string()
            }
            _ => self.url.clone(),
        }
    }

    /// The SQLite file's path, so the caller can create its directory.
    pub fn sqlite_path(&self) -> Option<&str> {
        if self.dialect != Dialect::Sqlite {
            return None;
        }
        let rest = self
            .url
            .strip_prefix("sqlite://")
            .or(self.url.strip_prefix("sqlite:"))?;
        Some(rest.split('?').next().unwrap_or(rest))
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl {
                dialect: Dialect::Postgres,
                url: s.to_owned(),
            });
        }
        if s.starts_with("sqlite:") {
            return Ok(DatabaseUrl {
                dialect: Dialect::Sqlite,
                url: s.to_owned(),
            });
        }
        if s.contains("://") {
            return Err(format!(
                "unsupported database URL {s:?}: use a postgres:// URL, a sqlite: URL or a file path"
            ));
        }
        if s.is_empty() {
            return Err("the database path is empty".into());
        }
        Ok(DatabaseUrl {
            dialect: Dialect::Sqlite,
            url: format!("sqlite://{s}?mode=rwc"),
        })
    }
}

/// The store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads; on PostgreSQL also writes.
    read: AnyPool,
    /// Writes. SQLite allows one writer at a time, so there this is a single connection: write
    /// transactions queue here instead of failing with SQLITE_BUSY when a deferred transaction
    /// tries to upgrade its lock.
    write: AnyPool,
    /// Writes whose loss in a crash costs a repeat, never a loss: delivery claims and
    /// outcomes, rate counters. On PostgreSQL they commit without waiting for the WAL flush
    /// (`synchronous_commit = off`); a lost claim or outcome only makes a delivery due again.
    /// On SQLite this is the write connection.
    bookkeeping: AnyPool,
    dialect: Dialect,
    /// What the public API reads on every call (credentials, post owners), kept for a moment.
    cache: std::sync::Arc<cache::ReadCache>,
    /// On SQLite, the lock that keeps the database to this process (see [`hold_alone`]).
    alone: Option<std::sync::Arc<std::fs::File>>,
}

impl Store {
    /// A store on a fresh SQLite file for a unit test; the file goes with the directory.
    #[cfg(test)]
    pub(crate) async fn temporary() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = dir
            .path()
            .join("test.db")
            .to_string_lossy()
            .parse()
            .expect("database path");
        let store = Store::open(&url).await.expect("store");
        (store, dir)
    }

    /// Connects and applies pending migrations.
    pub async fn open(db: &DatabaseUrl) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        if let Some(path) = db.sqlite_path() {
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)?;
            }
        }
        let store = match db.dialect {
            Dialect::Postgres => {
                // A connection is pinged before use only after it sat idle for a while (as
                // HikariCP does), not on every acquire: under load that ping was one round
                // trip of every three an ingestion made. A connection that broke while busy
                // fails the statement, is dropped, and the caller's error path runs.
                let options = || {
                    AnyPoolOptions::new()
                        .test_before_acquire(false)
                        .before_acquire(|conn, meta| {
                            Box::pin(async move {
                                if meta.idle_for > PING_AFTER_IDLE {
                                    sqlx::Connection::ping(conn).await?;
                                }
                                Ok(true)
                            })
                        })
                };
                let pool = options().max_connections(16).connect(&db.url).await?;
                let bookkeeping = options()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("SET synchronous_commit = off")
                                .execute(conn)
                                .await
                                .map(|_| ())
                        })
                    })
                    .connect(&db.url)
                    .await?;
                Store {
                    read: pool.clone(),
                    write: pool,
                    bookkeeping,
                    dialect: Dialect::Postgres,
                    cache: Default::default(),
                    alone: None,
                }
            }
            Dialect::Sqlite => {
                let alone = match db.sqlite_path() {
                    Some(path) if path != ":memory:" => {
                        Some(std::sync::Arc::new(hold_alone(path)?))
                    }
                    _ => None,
                };
                // No ping before each acquire: the connection is a file handle in this
                // process, and the ping is one more hop to its thread on every statement.
                let options = || {
                    AnyPoolOptions::new()
                        .test_before_acquire(false)
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                // WAL lets readers run beside the writer; synchronous=FULL makes
                                // every commit survive a crash of the process and of the machine.
                                sqlx::query(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                                )
                                .execute(conn)
                                .await
                                .map(|_| ())
                            })
                        })
                };
                let write = options().max_connections(1).connect(&db.url).await?;
                let read = options().max_connections(8).connect(&db.url).await?;
                Store {
                    read,
                    bookkeeping: write.clone(),
                    write,
                    dialect: Dialect::Sqlite,
                    cache: Default::default(),
                    alone,
                }
            }
        };
        migrations::run(&store.write, store.dialect).await?;
        if store.alone.is_some() {
            // This process holds the database alone, so every lease in it was taken by a run
            // that is gone (killed, crashed): its deliveries are due now, not when the lease
            // would have run out (minutes, with the default timeouts).
            let released = store.release_all_leases().await?;
            if released > 0 {
                tracing::info!(
                    count = released,
                    "deliveries a previous run had in hand are due again"
                );
            }
        }
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs `op` on a bookkeeping connection. On SQLite that is the write connection, switched
    /// to `synchronous = NORMAL` for the operation (its commits skip the fsync; the next
    /// durable commit flushes them, WAL being sequential) and back to `FULL` after it,
    /// whatever the outcome.
    async fn bookkeeping<T>(
        &self,
        op: impl for<'c> FnOnce(
            &'c mut sqlx::AnyConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = StoreResult<T>> + Send + 'c>,
        >,
    ) -> StoreResult<T> {
        let mut conn = self.bookkeeping.acquire().await?;
        if self.dialect == Dialect::Sqlite {
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&mut *conn)
                .await?;
        }
        let result = op(&mut conn).await;
        if self.dialect == Dialect::Sqlite {
            sqlx::query("PRAGMA synchronous = FULL")
                .execute(&mut *conn)
                .await?;
        }
        result
    }

    /// Whether the database answers (for readiness).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
        self.bookkeeping.close().await;
    }

    /// The key that turns platform user ids into per-app pseudonyms: created on first start and
    /// kept in the database, so every server process sharing it agrees.
    pub async fn pseudonym_key(&self) -> StoreResult<PseudonymKey> {
        let fresh = base64_32(&random_bytes::<32>());
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('pseudonym_key', $1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(fresh)
        .execute(&self.write)
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = 'pseudonym_key'")
            .fetch_one(&self.write)
            .await?;
        let value: String = row.try_get("value")?;
        decode_base64_32(&value)
            .map(PseudonymKey::from_bytes)
            .ok_or_else(|| StoreError::Corrupt("settings.pseudonym_key".into()))
    }
}

/// Takes the SQLite database at `path` for this process alone: an exclusive lock on
/// `<path>.lock`, held while the store lives; the operating system lets go of it when the
/// process ends, however it ends. A second server on the same file would otherwise run beside
/// the first, each taking the other's deliveries for abandoned at its start.
fn hold_alone(path: &str) -> StoreResult<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{path}.lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(path.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

fn base64_32(bytes: &[u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode_base64_32(s: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()?
        .try_into()
        .ok()
}

/// Writes a statement's parameters in the order they appear in its text, which must be the
/// order they are bound in. SQLite gets anonymous `?`: for every parameter it binds, sqlx asks
/// SQLite for the parameter's name, which SQLite finds by a linear search of the statement's
/// named parameters, so binding a batch of n `$i` parameters costs O(n²). Measured, that was a
/// third of the server's CPU in batched ingestion. PostgreSQL needs `$i`.
struct Params {
    dialect: Dialect,
    count: usize,
}

impl Params {
    fn new(dialect: Dialect) -> Self {
        Params { dialect, count: 0 }
    }

    /// The next parameter.
    fn next(&mut self) -> String {
        let mut out = String::with_capacity(4);
        self.push(&mut out);
        out
    }

    fn push(&mut self, out: &mut String) {
        self.count += 1;
        match self.dialect {
            Dialect::Sqlite => out.push('?'),
            Dialect::Postgres => {
                use std::fmt::Write;
                let _ = write!(out, "${}", self.count);
            }
        }
    }

    /// `n` parameters, comma-separated.
    fn list(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n * 4);
        self.push_list(&mut out, n);
        out
    }

    fn push_list(&mut self, out: &mut String, n: usize) {
        for i in 0..n {
            if i > 0 {
                out.push_str(", ");
            }
            self.push(out);
        }
    }

    /// `(p, ..., p), ...`: `rows` rows of `width` parameters. Built in one string: a batch
    /// statement has thousands of parameters.
    fn rows(&mut self, rows: usize, width: usize) -> String {
        let mut out = String::with_capacity(rows * (width * 4 + 4));
        for r in 0..rows {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            self.push_list(&mut out, width);
            out.push(')');
        }
        out
    }
}

/// Statements sent as one round trip, run in order: on SQLite one command of several
/// statements (sqlx's connection thread runs them all before answering, and the rows of every
/// SELECT among them come back), on PostgreSQL one statement whose parts are data-modifying
/// CTEs (which must touch disjoint rows: they all see the same snapshot). Their parameters
/// are numbered through one [`Params`].
pub(super) fn joined(dialect: Dialect, statements: &[String]) -> String {
    match dialect {
        Dialect::Sqlite => statements.join("; "),
        Dialect::Postgres => {
            let parts: Vec<String> = (0..statements.len())
                .zip(statements)
                .map(|(i, s)| format!("w{i} AS ({s})"))
                .collect();
            format!("WITH {} SELECT 1", parts.join(", "))
        }
    }
}

/// Reads an optional column, mapping its error like any other.
fn opt<T>(row: &AnyRow, col: &str) -> Result<Option<T>, sqlx::Error>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get::<Option<T>, _>(col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_or_a_locked_database_is_unavailable_and_nothing_else_is() {
        let lost = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        for e in [
            sqlx::Error::Io(lost),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
        ] {
            assert!(StoreError::Database(e).is_unavailable());
        }
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!StoreError::Conflict.is_unavailable());
        assert!(!StoreError::Corrupt("x".into()).is_unavailable());
        for code in [
            "08006", "08001", "57P01", "57P03", "53300", "40P01", "40001", "5", "261", "517",
        ] {
            assert!(unavailable_code(code), "{code}");
        }
        // Unique violation, syntax error, query canceled, a constraint checked at commit
        // (40002); SQLite's constraint, locked table (6) and disk I/O error (10).
        for code in ["23505", "42601", "57014", "40002", "19", "6", "10", "2067"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }

    #[test]
    fn statements_of_one_round_trip_are_joined_per_dialect() {
        let parts = ["INSERT 1".to_owned(), "UPDATE 2".to_owned()];
        assert_eq!(joined(Dialect::Sqlite, &parts), "INSERT 1; UPDATE 2");
        assert_eq!(
            joined(Dialect::Postgres, &parts),
            "WITH w0 AS (INSERT 1), w1 AS (UPDATE 2) SELECT 1"
        );
    }

    #[test]
    fn parameters_are_numbered_in_text_order() {
        let mut pg = Params::new(Dialect::Postgres);
        assert_eq!(pg.next(), "$1");
        assert_eq!(pg.rows(2, 2), "($2, $3), ($4, $5)");
        assert_eq!(pg.list(2), "$6, $7");
        let mut lite = Params::new(Dialect::Sqlite);
        assert_eq!(lite.rows(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(lite.list(1), "?");
    }

    #[test]
    fn database_urls_pick_their_dialect() {
        let pg: DatabaseUrl = "postgres://u:secret@127.0.0.1/test".parse().expect("ok");
        assert_eq!(pg.dialect(), Dialect::Postgres);
        assert!(!pg.redacted().contains("secret"));
        let path: DatabaseUrl = "kenar-data/kenar.db".parse().expect("ok");
        assert_eq!(path.dialect(), Dialect::Sqlite);
        assert_eq!(path.sqlite_path(), Some("kenar-data/kenar.db"));
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
    }
}
