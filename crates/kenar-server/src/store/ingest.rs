//! The ingestion write: events and the deliveries they cause are written together, and the
//! batch commits once (one fsync for many events). Every statement here works on a whole
//! batch: a statement costs a round trip (for SQLite, a hop to its connection thread), so the
//! count of statements, not of rows, bounds ingestion. On PostgreSQL a batch without
//! revocations is written by a single statement, its own transaction: no BEGIN and no COMMIT
//! to wait for. On SQLite the write's statements go to the connection's thread as one command.

use std::collections::HashMap;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Row, Transaction};

use super::{joined, opt, Dialect, Params, Store, StoreError, StoreResult};
use crate::domain::ScopeSet;

/// Rows per multi-row statement: well under both dialects' parameter limits.
const CHUNK: usize = 500;

/// A subscription an event may match.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub app_id: i64,
    pub event_type: String,
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
    /// The event's position among the events written with it.
    pub event: usize,
    pub app_id: i64,
    pub event_type: &'a str,
    pub body: String,
    pub lease: Option<(&'a str, i64)>,
}

/// One ingestion's connection: reads, then [`IngestTx::write`]. Dropping it before that
/// writes nothing.
pub struct IngestTx {
    conn: Conn,
    dialect: Dialect,
    cache: std::sync::Arc<super::cache::ReadCache>,
    /// Whether this transaction revoked grants (cached credentials go stale on commit).
    revoked: bool,
}

/// Where an ingestion's statements go.
enum Conn {
    /// A transaction, from the first read on.
    Tx(Transaction<'static, Any>),
    /// A PostgreSQL connection outside a transaction. Its reads see what is committed, as
    /// they would inside one (read committed); the write is one statement, or a transaction
    /// begun for it.
    Plain(PoolConnection<Any>),
}

impl Conn {
    fn get(&mut self) -> &mut AnyConnection {
        match self {
            Conn::Tx(tx) => tx,
            Conn::Plain(conn) => conn,
        }
    }
}

/// The most parameters one statement of the write binds when the whole write is one
/// statement (PostgreSQL, whose limit is 65,535) or one command (SQLite, 32,766 a statement).
const MAX_PARAMS: usize = 30_000;

impl Store {
    /// Opens an ingestion. `atomic`: its reads and writes form one transaction, which a batch
    /// that revokes grants needs (the revocation must not commit without the events); other
    /// batches read committed state and write once.
    pub async fn begin_ingest(&self, atomic: bool) -> StoreResult<IngestTx> {
        let conn = match self.dialect {
            Dialect::Postgres if !atomic => Conn::Plain(self.write.acquire().await?),
            _ => Conn::Tx(self.write.begin().await?),
        };
        Ok(IngestTx {
            conn,
            dialect: self.dialect,
            cache: std::sync::Arc::clone(&self.cache),
            revoked: false,
        })
    }
}

impl IngestTx {
    /// Writes the batch and commits it: posts' new owners, the events, and the deliveries
    /// they cause. Returns the events' ids and the deliveries' ids, each in the order given.
    pub async fn write(
        self,
        owners: &[(&str, &str)],
        events: &[(&str, &str)],
        deliveries: &[NewDelivery<'_>],
        now: i64,
    ) -> StoreResult<(Vec<i64>, Vec<i64>)> {
        // In token order, so concurrent ingestions lock the posts they share in the same order
        // and wait for each other instead of deadlocking.
        let mut owners = owners.to_vec();
        owners.sort_unstable();
        let batch = Batch {
            owners: &owners,
            events,
            deliveries,
            now,
        };
        let params = 2 * owners.len() + 3 * events.len() + 7 * deliveries.len() + 1;
        let written = match self.conn {
            Conn::Plain(_) if events.is_empty() && owners.is_empty() => Written::default(),
            Conn::Plain(mut conn) if params <= MAX_PARAMS && !events.is_empty() => {
                write_in_one_statement(&mut conn, batch).await?
            }
            Conn::Plain(mut conn) => {
                let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
                let written = write_each(&mut tx, self.dialect, batch).await?;
                tx.commit().await?;
                written
            }
            Conn::Tx(mut tx) => {
                let one_hop = self.dialect == Dialect::Sqlite
                    && 4 * owners.len() <= MAX_PARAMS
                    && 3 * events.len() <= MAX_PARAMS
                    && 4 * deliveries.len() + 2 <= MAX_PARAMS;
                let written = if one_hop {
                    write_in_one_hop(&mut tx, batch).await?
                } else {
                    write_each(&mut tx, self.dialect, batch).await?
                };
                tx.commit().await?;
                written
            }
        };
        if written.event_ids.len() != events.len() || written.delivery_ids.len() != deliveries.len()
        {
            return Err(StoreError::Corrupt("ids of inserted rows".into()));
        }
        if self.revoked {
            self.cache.invalidate_credentials();
        }
        if written.owners_changed {
            self.cache.posts.invalidate();
        }
        Ok((written.event_ids, written.delivery_ids))
    }

    /// What routing reads before it replays a batch, in one statement per chunk: the owners
    /// of these posts as recorded, and the live subscriptions (of apps that have a webhook
    /// URL) of those owners and of the `users` named in the batch itself.
    pub async fn routing_facts(
        &mut self,
        posts: &[&str],
        users: &[&str],
        now: i64,
    ) -> StoreResult<(HashMap<String, String>, Vec<Subscriber>)> {
        let mut owners = HashMap::new();
        let mut subscribers = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let (mut posts, mut users) = (posts.chunks(CHUNK), users.chunks(CHUNK));
        loop {
            let (p_chunk, u_chunk) = (posts.next().unwrap_or(&[]), users.next().unwrap_or(&[]));
            if p_chunk.is_empty() && u_chunk.is_empty() {
                break;
            }
            // Parameters in the order they appear (SQLite's are positional).
            let mut p = Params::new(self.dialect);
            let mut sql = String::new();
            let mut whose = Vec::new();
            if !p_chunk.is_empty() {
                sql.push_str(&format!(
                    "WITH o AS (SELECT token, owner_id FROM posts WHERE token IN ({})) \
                     SELECT 0 AS k, token AS a, owner_id AS b, NULL AS resource, \
                     NULL AS metadata, NULL AS app_id, NULL AS disabled FROM o UNION ALL ",
                    p.list(p_chunk.len())
                ));
                whose.push("SELECT owner_id FROM o".to_owned());
            }
            if !u_chunk.is_empty() {
                whose.push(format!("VALUES {}", p.rows(u_chunk.len(), 1)));
            }
            let at = p.next();
            sql.push_str(&format!(
                "SELECT 1 AS k, s.event_type AS a, s.user_id AS b, s.resource AS resource, \
                 s.metadata AS metadata, s.app_id AS app_id, a.webhook_disabled_at AS disabled \
                 FROM subscriptions s \
                 JOIN access_tokens t ON t.id = s.access_token_id \
                 JOIN grants g ON g.id = t.grant_id \
                 JOIN apps a ON a.id = s.app_id \
                 WHERE s.user_id IN ({}) \
                 AND t.revoked_at IS NULL AND g.revoked_at IS NULL AND t.expires_at > {at} \
                 AND a.webhook_url IS NOT NULL",
                whose.join(" UNION ")
            ));
            let mut q = sqlx::query(&sql);
            for t in p_chunk.iter().chain(u_chunk) {
                q = q.bind(*t);
            }
            q = q.bind(now);
            for r in q.fetch_all(self.conn.get()).await? {
                let (a, b): (String, String) = (r.try_get("a")?, r.try_get("b")?);
                if r.try_get::<i32, _>("k")? == 0 {
                    owners.insert(a, b);
                    continue;
                }
                let s = Subscriber {
                    app_id: r.try_get("app_id")?,
                    event_type: a,
                    user_id: b,
                    resource: r.try_get("resource")?,
                    metadata: opt(&r, "metadata")?,
                    endpoint_enabled: opt::<i64>(&r, "disabled")?.is_none(),
                };
                // A user both named and owning a post of another chunk is read twice.
                let key = (
                    s.app_id,
                    s.event_type.clone(),
                    s.user_id.clone(),
                    s.resource.clone(),
                );
                if seen.insert(key) {
                    subscribers.push(s);
                }
            }
        }
        Ok((owners, subscribers))
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
            for r in q.fetch_all(self.conn.get()).await? {
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

    /// Revokes every live grant of `user` to app `app_id` (and so their tokens and the
    /// subscriptions those registered); returns the scopes the revoked grants held.
    pub async fn revoke_grants(
        &mut self,
        app_id: i64,
        user: &str,
        now: i64,
    ) -> StoreResult<Vec<ScopeSet>> {
        let Conn::Tx(tx) = &mut self.conn else {
            return Err(StoreError::Internal(
                "grants revoked outside the ingestion's transaction",
            ));
        };
        let rows = sqlx::query(
            "UPDATE grants SET revoked_at = $3 \
             WHERE app_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING scopes",
        )
        .bind(app_id)
        .bind(user)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        self.revoked = true;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("scopes").ok())
            .filter_map(|s| ScopeSet::parse(&s).ok())
            .collect())
    }
}

/// What one ingestion writes: posts' new owners (in token order), events (type, stored
/// form), and the deliveries they cause, all at `now`.
#[derive(Clone, Copy)]
struct Batch<'a> {
    owners: &'a [(&'a str, &'a str)],
    events: &'a [(&'a str, &'a str)],
    deliveries: &'a [NewDelivery<'a>],
    now: i64,
}

/// What a write did: the ids of the events and of the deliveries, in the order given, and
/// whether any post changed owner.
#[derive(Debug, Default)]
struct Written {
    event_ids: Vec<i64>,
    delivery_ids: Vec<i64>,
    owners_changed: bool,
}

/// The write as one statement per table (and per chunk), in the caller's transaction.
async fn write_each(
    conn: &mut AnyConnection,
    dialect: Dialect,
    b: Batch<'_>,
) -> StoreResult<Written> {
    let owners_changed = set_post_owners(conn, dialect, b.owners, b.now).await?;
    let event_ids = insert_events(conn, dialect, b.events, b.now).await?;
    let delivery_ids = insert_deliveries(conn, dialect, &event_ids, b.deliveries, b.now).await?;
    Ok(Written {
        event_ids,
        delivery_ids,
        owners_changed,
    })
}

/// Records who owns these posts (given in token order), as the platform's post updates say;
/// returns whether any owner changed.
async fn set_post_owners(
    conn: &mut AnyConnection,
    dialect: Dialect,
    owners: &[(&str, &str)],
    now: i64,
) -> StoreResult<bool> {
    let mut changed = false;
    for chunk in owners.chunks(CHUNK) {
        let sql = upsert_owners(&mut Params::new(dialect), chunk.len());
        changed |= bind_owners(sqlx::query(&sql), chunk, now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            > 0;
    }
    Ok(changed)
}

const UPSERT_OWNER: &str = "ON CONFLICT (token) DO UPDATE SET owner_id = excluded.owner_id, \
     updated_at = excluded.updated_at WHERE posts.owner_id <> excluded.owner_id";

/// The statement that records `n` posts' owners, its parameters taken from `p`; a post whose
/// owner is already the one given is left as it is.
fn upsert_owners(p: &mut Params, n: usize) -> String {
    format!(
        "INSERT INTO posts (token, owner_id, created_at, updated_at) VALUES {} {UPSERT_OWNER}",
        p.rows(n, 4)
    )
}

/// Binds [`upsert_owners`]'s rows: token, owner and the two times.
fn bind_owners<'q>(mut q: AnyQuery<'q>, owners: &'q [(&str, &str)], now: i64) -> AnyQuery<'q> {
    for (token, owner) in owners {
        q = q.bind(*token).bind(*owner).bind(now).bind(now);
    }
    q
}

/// Inserts events (type, payload); returns their ids in the same order.
async fn insert_events(
    conn: &mut AnyConnection,
    dialect: Dialect,
    events: &[(&str, &str)],
    now: i64,
) -> StoreResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(events.len());
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO events (type, payload, created_at) VALUES {}{}",
            Params::new(dialect).rows(chunk.len(), 3),
            returning_id(dialect)
        );
        let mut q = sqlx::query(&sql);
        for (kind, payload) in chunk {
            q = q.bind(*kind).bind(*payload).bind(now);
        }
        ids.extend(inserted_ids(conn, dialect, q, chunk.len()).await?);
    }
    Ok(ids)
}

/// A delivery: what it is (event, app, type, body, when) ...
const INSERT_DELIVERIES: &str =
    "INSERT INTO deliveries (event_id, app_id, event_type, body, created_at)";
/// ... and its state: pending, due now, leased if this process sends it itself.
const INSERT_STATES: &str = "INSERT INTO delivery_state (id, app_id, status, next_attempt_at, \
    updated_at, lease_owner, lease_until)";

/// Inserts `n` deliveries from a VALUES list of (event, app, type, body) rows (see
/// [`bind_delivery`]), each event's id being `event` (an expression of `column1`), all created
/// at the time bound first. The time is one parameter, not one per row.
fn insert_deliveries_sql(p: &mut Params, event: &str, n: usize) -> String {
    let at = p.next();
    format!(
        "{INSERT_DELIVERIES} SELECT {event}, column2, column3, column4, {at} \
         FROM (VALUES {}) AS v",
        p.rows(n, 4)
    )
}

/// Inserts the states of `n` deliveries, pending and due at the time bound first (twice), from
/// a VALUES list of (delivery, app, lease owner, lease end) rows (see [`bind_state`]), each
/// delivery's id being `id` (an expression of `column1`).
fn insert_states_sql(p: &mut Params, id: &str, n: usize) -> String {
    let (due, updated) = (p.next(), p.next());
    format!(
        "{INSERT_STATES} SELECT {id}, column2, 'PENDING', {due}, {updated}, column3, column4 \
         FROM (VALUES {}) AS v",
        p.rows(n, 4)
    )
}

/// Inserts deliveries due now, of the events whose ids are `event_ids`, with their state;
/// returns their ids in the same order.
async fn insert_deliveries(
    conn: &mut AnyConnection,
    dialect: Dialect,
    event_ids: &[i64],
    rows: &[NewDelivery<'_>],
    now: i64,
) -> StoreResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let sql = insert_deliveries_sql(&mut Params::new(dialect), "column1", chunk.len())
            + returning_id(dialect);
        let mut q = sqlx::query(&sql).bind(now);
        for d in chunk {
            let event_id = *event_ids
                .get(d.event)
                .ok_or_else(|| StoreError::Internal("a delivery of an event not written"))?;
            q = bind_delivery(q.bind(event_id), d);
        }
        let chunk_ids = inserted_ids(conn, dialect, q, chunk.len()).await?;
        let sql = insert_states_sql(&mut Params::new(dialect), "column1", chunk.len());
        let mut q = sqlx::query(&sql).bind(now).bind(now);
        for (id, d) in chunk_ids.iter().zip(chunk) {
            q = bind_state(q.bind(*id), d);
        }
        q.execute(&mut *conn).await?;
        ids.extend(chunk_ids);
    }
    Ok(ids)
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds a delivery's row after its event's: app, type, body.
fn bind_delivery<'q>(q: AnyQuery<'q>, d: &'q NewDelivery<'_>) -> AnyQuery<'q> {
    q.bind(d.app_id).bind(d.event_type).bind(d.body.as_str())
}

/// Binds a delivery's state row after its id: app, lease owner, lease end.
fn bind_state<'q>(q: AnyQuery<'q>, d: &'q NewDelivery<'_>) -> AnyQuery<'q> {
    q.bind(d.app_id)
        .bind(d.lease.map(|(owner, _)| owner))
        .bind(d.lease.map(|(_, until)| until))
}

/// The whole write as one PostgreSQL statement, which commits on its own: the posts' owners,
/// the events, and the deliveries, which find their event's id by its rank among the new
/// events' ids.
async fn write_in_one_statement(conn: &mut AnyConnection, b: Batch<'_>) -> StoreResult<Written> {
    let (owners, events, deliveries, now) = (b.owners, b.events, b.deliveries, b.now);
    let mut p = Params::new(Dialect::Postgres);
    let at = p.next();
    let mut sql = String::from("WITH ");
    if !owners.is_empty() {
        use std::fmt::Write;
        let _ = write!(
            sql,
            "o AS (INSERT INTO posts (token, owner_id, created_at, updated_at) \
             SELECT v.token, v.owner_id, {at}, {at} FROM (VALUES {}) AS v (token, owner_id) \
             {UPSERT_OWNER} RETURNING 1), ",
            p.rows(owners.len(), 2)
        );
    }
    sql.push_str(&format!(
        "e AS (INSERT INTO events (type, payload, created_at) \
         SELECT v.type, v.payload, {at} FROM (VALUES {}) AS v (n, type, payload) ORDER BY v.n \
         RETURNING id), ",
        p.rows(events.len(), 3)
    ));
    if !deliveries.is_empty() {
        // Each state finds its delivery's id by rank too: the deliveries' ids follow `n`.
        sql.push_str(&format!(
            "v (n, event, app_id, event_type, body, lease_owner, lease_until) AS (VALUES {}), \
             d AS ({INSERT_DELIVERIES} \
             SELECT r.id, v.app_id, v.event_type, v.body, {at} FROM v \
             JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM e) AS r \
             ON r.rank = v.event ORDER BY v.n RETURNING id), \
             s AS ({INSERT_STATES} \
             SELECT i.id, v.app_id, 'PENDING', {at}, {at}, v.lease_owner, v.lease_until FROM v \
             JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM d) AS i \
             ON i.n = v.n), ",
            p.rows(deliveries.len(), 7)
        ));
    }
    // The last comma and space of the WITH list go.
    sql.truncate(sql.len() - 2);
    sql.push_str(" SELECT 0 AS k, id FROM e");
    if !deliveries.is_empty() {
        sql.push_str(" UNION ALL SELECT 1, id FROM d");
    }
    if !owners.is_empty() {
        sql.push_str(" UNION ALL SELECT 2, count(*) FROM o");
    }

    let mut q = sqlx::query(&sql).bind(now);
    for (token, owner) in owners {
        q = q.bind(*token).bind(*owner);
    }
    for (n, (kind, payload)) in (0_i64..).zip(events) {
        q = q.bind(n).bind(*kind).bind(*payload);
    }
    for (n, d) in (0_i64..).zip(deliveries) {
        // Ranks count from 1.
        let event = i64::try_from(d.event + 1)
            .map_err(|_| StoreError::Internal("a delivery of an event not written"))?;
        q = q
            .bind(n)
            .bind(event)
            .bind(d.app_id)
            .bind(d.event_type)
            .bind(d.body.as_str())
            .bind(d.lease.map(|(owner, _)| owner))
            .bind(d.lease.map(|(_, until)| until));
    }
    let mut w = Written::default();
    for r in q.fetch_all(conn).await? {
        let id: i64 = r.try_get("id")?;
        match r.try_get::<i32, _>("k")? {
            0 => w.event_ids.push(id),
            1 => w.delivery_ids.push(id),
            _ => w.owners_changed = id > 0,
        }
    }
    // Ids follow the order rows were inserted in, which is the order given.
    w.event_ids.sort_unstable();
    w.delivery_ids.sort_unstable();
    Ok(w)
}

/// The whole write as one SQLite command, its statements run one after the other by the
/// connection's thread: one hop there and back instead of one per statement. Each delivery's
/// event id is the events' last id less the events after its own: the ids of one INSERT are
/// consecutive (see [`inserted_ids`]), and nothing else writes in the transaction.
async fn write_in_one_hop(conn: &mut AnyConnection, b: Batch<'_>) -> StoreResult<Written> {
    let (owners, events, deliveries, now) = (b.owners, b.events, b.deliveries, b.now);
    // After each INSERT, what it wrote: `k` says which table, `id` is the last rowid and `n`
    // the rows changed.
    let mut p = Params::new(Dialect::Sqlite);
    let mut statements = Vec::new();
    if !owners.is_empty() {
        statements.push(upsert_owners(&mut p, owners.len()));
        statements.push("SELECT 2 AS k, changes() AS id, changes() AS n".to_owned());
    }
    if !events.is_empty() {
        statements.push(format!(
            "INSERT INTO events (type, payload, created_at) VALUES {}",
            p.rows(events.len(), 3)
        ));
        statements.push("SELECT 0 AS k, last_insert_rowid() AS id, changes() AS n".to_owned());
    }
    if !deliveries.is_empty() {
        // The VALUES rows are scanned in order, so ids follow it as in a plain multi-row
        // INSERT; the events' last id is read once.
        statements.push(insert_deliveries_sql(
            &mut p,
            "(SELECT max(id) FROM events) - column1",
            deliveries.len(),
        ));
        statements.push("SELECT 1 AS k, last_insert_rowid() AS id, changes() AS n".to_owned());
        // The states find their delivery's id the same way: the deliveries' last id less the
        // deliveries after their own.
        statements.push(insert_states_sql(
            &mut p,
            "(SELECT max(id) FROM deliveries) - column1",
            deliveries.len(),
        ));
    }
    if statements.is_empty() {
        return Ok(Written::default());
    }

    let sql = joined(Dialect::Sqlite, &statements);
    let mut q = bind_owners(sqlx::query(&sql), owners, now);
    for (kind, payload) in events {
        q = q.bind(*kind).bind(*payload).bind(now);
    }
    if !deliveries.is_empty() {
        q = q.bind(now);
        let last = events.len();
        for d in deliveries {
            let after = last
                .checked_sub(d.event + 1)
                .and_then(|n| i64::try_from(n).ok())
                .ok_or(StoreError::Internal("a delivery of an event not written"))?;
            q = bind_delivery(q.bind(after), d);
        }
        q = q.bind(now).bind(now);
        for (after, d) in (0..deliveries.len()).rev().zip(deliveries) {
            let after =
                i64::try_from(after).map_err(|_| StoreError::Internal("too many deliveries"))?;
            q = bind_state(q.bind(after), d);
        }
    }
    let mut w = Written::default();
    for r in q.fetch_all(&mut *conn).await? {
        let (k, id, n): (i64, i64, i64) = (r.try_get("k")?, r.try_get("id")?, r.try_get("n")?);
        let ids = match k {
            0 => &mut w.event_ids,
            1 => &mut w.delivery_ids,
            _ => {
                w.owners_changed = n > 0;
                continue;
            }
        };
        ids.extend(ids_ending_at(id, n)?);
    }
    Ok(w)
}

/// The ids of the `n` rows a SQLite INSERT wrote, the last being `last` (see
/// [`inserted_ids`]).
fn ids_ending_at(last: i64, n: i64) -> StoreResult<std::ops::RangeInclusive<i64>> {
    if n < 0 || last < n {
        return Err(StoreError::Corrupt("ids of inserted rows".into()));
    }
    Ok(last - n + 1..=last)
}

/// What a multi-row INSERT appends to learn its rows' ids: nothing on SQLite (see
/// [`inserted_ids`]).
fn returning_id(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " RETURNING id",
    }
}

/// Runs a multi-row INSERT of `n` rows; returns their ids in the order of its VALUES list.
/// Both dialects assign ids in that order within one statement. SQLite gives each new row the
/// largest rowid so far plus one (while the largest is below 2^63 - 1), and nothing else
/// writes during the statement, so the ids are the `n` ending at the last one inserted: one
/// small query instead of RETURNING rows carried back one by one (each a message from sqlx's
/// connection thread). PostgreSQL returns them.
async fn inserted_ids<'q>(
    conn: &mut AnyConnection,
    dialect: Dialect,
    q: AnyQuery<'q>,
    n: usize,
) -> StoreResult<Vec<i64>> {
    match dialect {
        Dialect::Sqlite => {
            let done = q.execute(&mut *conn).await?;
            // sqlx's `Any` driver does not pass SQLite's last rowid on.
            let last: i64 = sqlx::query("SELECT last_insert_rowid() AS id")
                .fetch_one(&mut *conn)
                .await?
                .try_get("id")?;
            let n = i64::try_from(n).map_err(|_| StoreError::Corrupt("row count".into()))?;
            if done.rows_affected() != n as u64 {
                return Err(StoreError::Corrupt("ids of inserted rows".into()));
            }
            Ok(ids_ending_at(last, n)?.collect())
        }
        Dialect::Postgres => {
            let mut ids: Vec<i64> = q
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
            ids.sort_unstable();
            Ok(ids)
        }
    }
}
