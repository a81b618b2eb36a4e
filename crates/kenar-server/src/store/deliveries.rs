//! Deliveries: claimed in batches under a lease, outcomes recorded in batches, listed and
//! replayed by the operator.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{joined, opt, Dialect, Params, Store, StoreResult};
use crate::domain::Secret;

/// A delivery a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub app_id: i64,
    pub event_type: String,
    pub body: String,
    pub attempts: i64,
    pub schedule_step: i64,
}

/// Where and how an app's webhooks go.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub app_id: i64,
    pub url: String,
    pub identification_key: Secret,
    pub signing_secret: Option<Secret>,
}

/// One attempt, as recorded.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    Retry { at: i64 },
    Failed,
}

/// The outcome of one attempt, to record.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub delivery_id: i64,
    pub app_id: i64,
    pub attempt: Attempt,
    pub next: Next,
}

/// A delivery as the operator sees it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: i64,
    pub app_slug: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub body: String,
}

/// Filters of the delivery log; every field optional.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub app_id: Option<i64>,
    pub status: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only deliveries with a smaller id (pages go newest first).
    pub before: Option<i64>,
    pub limit: i64,
}

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, a.slug, d.event_type, s.status, s.attempts, \
    s.next_attempt_at, s.last_status, s.last_error, d.created_at, s.updated_at, d.body";

/// Deliveries (`d`) with their state (`s`) and app (`a`).
const DELIVERIES_WITH_STATE: &str =
    "deliveries d JOIN delivery_state s ON s.id = d.id JOIN apps a ON a.id = d.app_id";

fn delivery_from_row(r: &AnyRow) -> StoreResult<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        app_slug: r.try_get("slug")?,
        event_type: r.try_get("event_type")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_status: opt(r, "last_status")?,
        last_error: opt(r, "last_error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        body: r.try_get("body")?,
    })
}

/// Outcomes per multi-row statement.
const OUTCOME_CHUNK: usize = 200;

/// The state an outcome leaves its delivery in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct NextState<'a> {
    status: &'static str,
    /// How far along the retry schedule the delivery moves.
    step: i64,
    next_at: i64,
    last_status: Option<i64>,
    last_error: Option<&'a str>,
}

/// Outcomes split by the state they leave their delivery in.
#[derive(Debug, PartialEq)]
struct NextStates<'a> {
    /// States shared by several deliveries, with their ids, in first-seen order.
    shared: Vec<(NextState<'a>, Vec<i64>)>,
    /// Deliveries whose state is their own.
    own: Vec<(i64, NextState<'a>)>,
}

/// Splits outcomes by the state they leave their delivery in: states shared by several
/// deliveries (every success of a batch, typically) with their ids, in first-seen order, and
/// the deliveries whose state is their own (a retry's time is its own).
///
/// A shared state is one UPDATE by an id list, which every planner answers through the
/// primary key. A join against a VALUES list of each row's state is left to the rest: on
/// PostgreSQL its plan hangs on statistics that trail a table growing this fast (measured: a
/// hash join against a sequential scan of every delivery, 2,000-2,900 pages read per chunk of
/// 200, more than half of the outcome's time).
fn next_states(outcomes: &[Outcome], now: i64) -> NextStates<'_> {
    let mut groups: Vec<(NextState<'_>, Vec<i64>)> = Vec::new();
    let mut index: HashMap<NextState<'_>, usize> = HashMap::with_capacity(outcomes.len());
    for o in outcomes {
        let (status, next_at, step) = match o.next {
            Next::Succeeded => ("SUCCEEDED", now, 0),
            Next::Retry { at } => ("PENDING", at, 1),
            Next::Failed => ("FAILED", now, 0),
        };
        let state = NextState {
            status,
            step,
            next_at,
            last_status: o.attempt.status_code,
            last_error: o.attempt.error.as_deref(),
        };
        match index.entry(state) {
            Entry::Occupied(at) => groups[*at.get()].1.push(o.delivery_id),
            Entry::Vacant(at) => {
                at.insert(groups.len());
                groups.push((state, vec![o.delivery_id]));
            }
        }
    }
    let mut own = Vec::new();
    groups.retain(|(state, ids)| {
        if ids.len() == 1 {
            own.push((ids[0], *state));
            false
        } else {
            true
        }
    });
    NextStates {
        shared: groups,
        own,
    }
}

/// Lets go of pending deliveries whose lease, or whose owner's time alive, ended before `now`,
/// and forgets the workers past their time alive.
///
/// Leases that ended are found through the leases' index by their end alone. With the dead
/// owners in the same statement (an OR), PostgreSQL scanned the whole state table instead
/// while its statistics trailed the table (18.7 ms a poll with 100,800 deliveries; 0.02 ms
/// now). A worker is rarely dead, so its leases cost a statement only then, and it is
/// forgotten once they are let go: a worker that was only late writes its row again at its
/// next beat.
async fn release_leases(
    conn: &mut sqlx::AnyConnection,
    dialect: Dialect,
    now: i64,
) -> StoreResult<u64> {
    let expired = sqlx::query(
        "UPDATE delivery_state SET lease_until = NULL, lease_owner = NULL \
         WHERE lease_until < $1 AND status = 'PENDING'",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let dead = sqlx::query("SELECT owner FROM workers WHERE alive_until < $1")
        .bind(now)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("owner"))
        .collect::<Result<Vec<_>, _>>()?;
    if dead.is_empty() {
        return Ok(expired);
    }
    let sql = format!(
        "UPDATE delivery_state SET lease_until = NULL, lease_owner = NULL \
         WHERE lease_until IS NOT NULL AND status = 'PENDING' AND lease_owner IN ({})",
        Params::new(dialect).list(dead.len())
    );
    let mut q = sqlx::query(&sql);
    for owner in &dead {
        q = q.bind(owner.as_str());
    }
    let held = q.execute(&mut *conn).await?.rows_affected();
    // Only if still past its time: one that beat meanwhile is alive.
    let mut p = Params::new(dialect);
    let at = p.next();
    let sql = format!(
        "DELETE FROM workers WHERE alive_until < {at} AND owner IN ({})",
        p.list(dead.len())
    );
    let mut q = sqlx::query(&sql).bind(now);
    for owner in &dead {
        q = q.bind(owner.as_str());
    }
    q.execute(&mut *conn).await?;
    Ok(expired + held)
}

impl Store {
    /// Records that the worker `owner` is to be taken for alive until `alive_until`, then lets
    /// go of the deliveries held without an outcome by a worker that is gone: those whose
    /// lease ended before `now`, and those whose owner is past its own `alive_until` (it died
    /// with them in hand). They are due again for a claim; returns how many. Claims look only
    /// at deliveries no one holds, so this is how work survives a crash. Workers past their
    /// time are forgotten once their leases are let go.
    pub async fn beat_and_release(
        &self,
        owner: &str,
        now: i64,
        alive_until: i64,
    ) -> StoreResult<u64> {
        let owner = owner.to_owned();
        let dialect = self.dialect;
        self.bookkeeping(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO workers (owner, alive_until) VALUES ($1, $2) \
                     ON CONFLICT (owner) DO UPDATE SET alive_until = excluded.alive_until",
                )
                .bind(owner.as_str())
                .bind(alive_until)
                .execute(&mut *conn)
                .await?;
                release_leases(conn, dialect, now).await
            })
        })
        .await
    }

    /// Lets go of every lease: for a process that holds the database alone, at its start,
    /// when every lease was taken by a run that is gone.
    pub async fn release_all_leases(&self) -> StoreResult<u64> {
        let dialect = self.dialect;
        self.bookkeeping(move |conn| Box::pin(release_leases(conn, dialect, i64::MAX)))
            .await
    }

    /// Apps with deliveries due and not leased, whose endpoint is set and enabled: one index
    /// probe per app, however long the backlog.
    ///
    /// The probe is a scalar subquery with LIMIT 1, which PostgreSQL runs once per app with
    /// the app's id in the index condition. Written as EXISTS, it became a semi join whose
    /// plan hung on statistics that trail a table growing this fast: while they said the table
    /// was nearly empty, every app's probe walked the whole due index and filtered on the app
    /// (measured with 100 apps and 12,000 due deliveries: 469 ms a scan, against 0.9 ms).
    pub async fn apps_with_due_work(&self, now: i64) -> StoreResult<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT a.id FROM apps a WHERE a.webhook_url IS NOT NULL \
             AND a.webhook_disabled_at IS NULL AND (\
               SELECT 1 FROM delivery_state d WHERE d.app_id = a.id AND d.status = 'PENDING' \
               AND d.lease_until IS NULL AND d.next_attempt_at <= $1 LIMIT 1) IS NOT NULL",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Leases due deliveries no one holds to `owner` until `lease_until`: for each (app, n)
    /// the app's `n` most overdue, if its endpoint is set and enabled, many apps per
    /// statement. Concurrent claimers never get the same delivery: PostgreSQL skips rows
    /// another claimer has locked and re-checks a row another claimer updated meanwhile
    /// against the newest version (`FOR UPDATE`), and SQLite runs one statement at a time.
    pub async fn claim_due(
        &self,
        owner: &str,
        wants: &[(i64, i64)],
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        const APPS_PER_STATEMENT: usize = 50;
        let lock = match self.dialect {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let dialect = self.dialect;
        let owner = owner.to_owned();
        let wants = wants.to_vec();
        self.bookkeeping(move |conn| {
            Box::pin(async move {
                let mut out = Vec::new();
                for chunk in wants.chunks(APPS_PER_STATEMENT) {
                    let mut p = Params::new(dialect);
                    // One arm per app: its id twice, the time, how many. An app whose
                    // endpoint is disabled (or gone) gets nothing, however it was chosen.
                    let arms = (0..chunk.len())
                        .map(|i| {
                            let (live, app, at, n) = (p.next(), p.next(), p.next(), p.next());
                            format!(
                                "SELECT id FROM (SELECT d.id FROM delivery_state d \
                                 WHERE EXISTS (SELECT 1 FROM apps e WHERE e.id = {live} \
                                 AND e.webhook_url IS NOT NULL AND e.webhook_disabled_at IS NULL) \
                                 AND d.app_id = {app} AND d.status = 'PENDING' \
                                 AND d.lease_until IS NULL AND d.next_attempt_at <= {at} \
                                 ORDER BY d.next_attempt_at, d.id LIMIT {n} {lock}) AS a{i}"
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" UNION ALL ");
                    let (until, owner_p) = (p.next(), p.next());
                    // The picks are materialized: as `WHERE id IN (...)`, PostgreSQL may run
                    // the picking subquery again for every row it updates (a nested-loop semi
                    // join), each run locking the next due row, and lease the whole backlog.
                    // The update finds the picks by id alone: they cannot have changed since
                    // (PostgreSQL locked them; SQLite runs one statement at a time), and with
                    // the due index's conditions repeated here PostgreSQL chose to walk that
                    // whole index against the picks (1,161 deliveries/s in the benchmark).
                    // What a delivery is comes from deliveries: PostgreSQL joins the updated
                    // states with it; SQLite cannot update in a WITH, and looks each one up by
                    // its id from RETURNING.
                    let update = format!(
                        "UPDATE delivery_state SET lease_until = {until}, lease_owner = {owner_p} \
                         FROM picked WHERE delivery_state.id = picked.pick_id"
                    );
                    let sql = match dialect {
                        Dialect::Postgres => format!(
                            "WITH picked (pick_id) AS MATERIALIZED ({arms}), \
                             s AS ({update} RETURNING id, app_id, attempts, schedule_step) \
                             SELECT s.id, s.app_id, d.event_type, d.body, s.attempts, \
                             s.schedule_step FROM s JOIN deliveries d ON d.id = s.id"
                        ),
                        Dialect::Sqlite => format!(
                            "WITH picked (pick_id) AS MATERIALIZED ({arms}) {update} \
                             RETURNING id, app_id, \
                             (SELECT d.event_type FROM deliveries d \
                              WHERE d.id = delivery_state.id) AS event_type, \
                             (SELECT d.body FROM deliveries d \
                              WHERE d.id = delivery_state.id) AS body, \
                             attempts, schedule_step"
                        ),
                    };
                    let mut q = sqlx::query(&sql);
                    for (app_id, n) in chunk {
                        q = q.bind(*app_id).bind(*app_id).bind(now).bind(*n);
                    }
                    q = q.bind(lease_until).bind(owner.as_str());
                    for r in &q.fetch_all(&mut *conn).await? {
                        out.push(ClaimedDelivery {
                            id: r.try_get("id")?,
                            app_id: r.try_get("app_id")?,
                            event_type: r.try_get("event_type")?,
                            body: r.try_get("body")?,
                            attempts: r.try_get("attempts")?,
                            schedule_step: r.try_get("schedule_step")?,
                        });
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    /// The endpoints of these apps.
    pub async fn endpoints(&self, app_ids: &[i64]) -> StoreResult<Vec<Endpoint>> {
        if app_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, webhook_url, identification_key, signing_secret FROM apps \
             WHERE id IN ({}) AND webhook_url IS NOT NULL",
            Params::new(self.dialect).list(app_ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in app_ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(Endpoint {
                    app_id: r.try_get("id")?,
                    url: r.try_get("webhook_url")?,
                    identification_key: Secret::new(r.try_get::<String, _>("identification_key")?),
                    signing_secret: opt::<String>(r, "signing_secret")?.map(Secret::new),
                })
            })
            .collect()
    }

    /// Records a batch of outcomes in one transaction: each attempt, each delivery's next
    /// state (only while `owner` still holds its lease), and each endpoint's health. Returns the
    /// apps whose endpoints this batch disabled (failing continuously for `disable_after_ms`).
    pub async fn record_outcomes(
        &self,
        owner: &str,
        outcomes: &[Outcome],
        now: i64,
        disable_after_ms: i64,
    ) -> StoreResult<Vec<i64>> {
        let owner = owner.to_owned();
        let dialect = self.dialect;
        let cache = std::sync::Arc::clone(&self.cache);
        let outcomes = outcomes.to_vec();
        self.bookkeeping(move |conn| {
            Box::pin(async move {
                let owner = owner.as_str();
                let outcomes = outcomes.as_slice();
                let mut tx = sqlx::Connection::begin(conn).await?;
                // Per chunk, one round trip: every attempt, then the deliveries' next states
                // (only where this worker still holds the lease), one statement per state shared
                // by several deliveries and one for the rest (see `joined`).
                for chunk in outcomes.chunks(OUTCOME_CHUNK) {
                    let NextStates { shared, own } = next_states(chunk, now);
                    let mut p = Params::new(dialect);
                    let mut statements = vec![format!(
                        "INSERT INTO delivery_attempts (delivery_id, attempted_at, status_code, \
                         latency_ms, response_body, error) VALUES {}",
                        p.rows(chunk.len(), 6)
                    )];
                    for (_, ids) in &shared {
                        statements.push(format!(
                            "UPDATE delivery_state SET status = {}, attempts = attempts + 1, \
                             schedule_step = schedule_step + {}, next_attempt_at = {}, \
                             lease_until = NULL, lease_owner = NULL, last_status = {}, \
                             last_error = {}, updated_at = {} \
                             WHERE lease_owner = {} AND id IN ({})",
                            p.next(),
                            p.next(),
                            p.next(),
                            p.next(),
                            p.next(),
                            p.next(),
                            p.next(),
                            p.list(ids.len()),
                        ));
                    }
                    if !own.is_empty() {
                        let (values, at, owner_p) = (p.rows(own.len(), 6), p.next(), p.next());
                        statements.push(format!(
                            "WITH v (id, status, step, next_at, last_status, last_error) AS \
                             (VALUES {values}) \
                             UPDATE delivery_state SET status = v.status, attempts = attempts + 1, \
                             schedule_step = schedule_step + v.step, next_attempt_at = v.next_at, \
                             lease_until = NULL, lease_owner = NULL, last_status = v.last_status, \
                             last_error = v.last_error, updated_at = {at} \
                             FROM v WHERE delivery_state.id = v.id \
                             AND delivery_state.lease_owner = {owner_p}"
                        ));
                    }
                    let sql = joined(dialect, &statements);
                    // Bound in the order the statements above numbered their parameters.
                    let mut q = sqlx::query(&sql);
                    for o in chunk {
                        let a = &o.attempt;
                        q = q
                            .bind(o.delivery_id)
                            .bind(a.attempted_at)
                            .bind(a.status_code)
                            .bind(a.latency_ms)
                            .bind(a.response_body.as_deref())
                            .bind(a.error.as_deref());
                    }
                    for (state, ids) in shared {
                        q = q
                            .bind(state.status)
                            .bind(state.step)
                            .bind(state.next_at)
                            .bind(state.last_status)
                            .bind(state.last_error)
                            .bind(now)
                            .bind(owner);
                        for id in ids {
                            q = q.bind(id);
                        }
                    }
                    if !own.is_empty() {
                        for (id, state) in own {
                            q = q
                                .bind(id)
                                .bind(state.status)
                                .bind(state.step)
                                .bind(state.next_at)
                                .bind(state.last_status)
                                .bind(state.last_error);
                        }
                        q = q.bind(now).bind(owner);
                    }
                    q.execute(&mut *tx).await?;
                }
                // The last outcome of each app in the batch says whether its endpoint is healthy now.
                let mut last: Vec<(i64, bool, i64)> = Vec::new();
                for o in outcomes.iter().rev() {
                    if !last.iter().any(|(id, _, _)| *id == o.app_id) {
                        last.push((o.app_id, o.next == Next::Succeeded, o.attempt.attempted_at));
                    }
                }
                let mut disabled = Vec::new();
                // An attempt made before the endpoint was re-enabled says nothing about it now.
                for (app_id, healthy, attempted_at) in last {
                    if healthy {
                        sqlx::query(
                            "UPDATE apps SET webhook_failing_since = NULL \
                             WHERE id = $1 AND webhook_failing_since IS NOT NULL",
                        )
                        .bind(app_id)
                        .execute(&mut *tx)
                        .await?;
                        continue;
                    }
                    sqlx::query(
                        "UPDATE apps SET webhook_failing_since = COALESCE(webhook_failing_since, $2) \
                         WHERE id = $1 AND (webhook_enabled_at IS NULL OR webhook_enabled_at <= $3)",
                    )
                    .bind(app_id)
                    .bind(now)
                    .bind(attempted_at)
                    .execute(&mut *tx)
                    .await?;
                    let row = sqlx::query(
                        "UPDATE apps SET webhook_disabled_at = $2 WHERE id = $1 \
                         AND webhook_disabled_at IS NULL AND webhook_failing_since <= $3 \
                         AND (webhook_enabled_at IS NULL OR webhook_enabled_at <= $4) RETURNING id",
                    )
                    .bind(app_id)
                    .bind(now)
                    .bind(now - disable_after_ms)
                    .bind(attempted_at)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if row.is_some() {
                        disabled.push(app_id);
                    }
                }
                tx.commit().await?;
                if !disabled.is_empty() {
                    cache.invalidate_credentials();
                }
                Ok(disabled)
            })
        })
        .await
    }

    /// The delivery log, newest first.
    pub async fn list_deliveries(&self, f: &DeliveryFilter) -> StoreResult<Vec<DeliveryRecord>> {
        let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERIES_WITH_STATE} WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if f.app_id.is_some() {
            sql += &format!(" AND d.app_id = ${}", next());
        }
        if f.status.is_some() {
            sql += &format!(" AND s.status = ${}", next());
        }
        if f.event_type.is_some() {
            sql += &format!(" AND d.event_type = ${}", next());
        }
        if f.since.is_some() {
            sql += &format!(" AND d.created_at >= ${}", next());
        }
        if f.until.is_some() {
            sql += &format!(" AND d.created_at < ${}", next());
        }
        if f.before.is_some() {
            sql += &format!(" AND d.id < ${}", next());
        }
        sql += &format!(" ORDER BY d.id DESC LIMIT ${}", next());
        let mut query = sqlx::query(&sql);
        if let Some(v) = f.app_id {
            query = query.bind(v);
        }
        if let Some(v) = &f.status {
            query = query.bind(v.clone());
        }
        if let Some(v) = &f.event_type {
            query = query.bind(v.clone());
        }
        for v in [f.since, f.until, f.before].into_iter().flatten() {
            query = query.bind(v);
        }
        let rows = query.bind(f.limit).fetch_all(&self.read).await?;
        rows.iter().map(delivery_from_row).collect()
    }

    pub async fn delivery(&self, id: i64) -> StoreResult<Option<DeliveryRecord>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM {DELIVERIES_WITH_STATE} WHERE d.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    pub async fn attempts(&self, delivery_id: i64) -> StoreResult<Vec<Attempt>> {
        let rows = sqlx::query(
            "SELECT attempted_at, status_code, latency_ms, response_body, error \
             FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
        )
        .bind(delivery_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Attempt {
                    attempted_at: r.try_get("attempted_at")?,
                    status_code: opt(r, "status_code")?,
                    latency_ms: r.try_get("latency_ms")?,
                    response_body: opt(r, "response_body")?,
                    error: opt(r, "error")?,
                })
            })
            .collect()
    }

    /// Makes a delivery due now with a fresh retry schedule; `false` if it is being attempted
    /// right now.
    pub async fn redeliver(&self, id: i64, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE delivery_state SET status = 'PENDING', schedule_step = 0, \
             next_attempt_at = $2, lease_until = NULL, lease_owner = NULL, updated_at = $2 \
             WHERE id = $1 AND (lease_until IS NULL OR lease_until < $2)",
        )
        .bind(id)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Queues again every failed delivery of an app created at or after `since`; returns how
    /// many.
    pub async fn redeliver_failed(&self, app_id: i64, since: i64, now: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE delivery_state SET status = 'PENDING', schedule_step = 0, \
             next_attempt_at = $3, updated_at = $3 WHERE app_id = $1 AND status = 'FAILED' \
             AND id IN (SELECT id FROM deliveries WHERE app_id = $1 AND created_at >= $2)",
        )
        .bind(app_id)
        .bind(since)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    /// Re-enables an app's endpoint and forgets its failure streak.
    pub async fn enable_endpoint(&self, app_id: i64, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE apps SET webhook_disabled_at = NULL, webhook_failing_since = NULL, \
             webhook_enabled_at = $2, updated_at = $2 WHERE id = $1",
        )
        .bind(app_id)
        .bind(now)
        .execute(&self.write)
        .await?;
        self.cache.invalidate_credentials();
        Ok(())
    }

    /// (pending deliveries, disabled endpoints), for the metrics.
    pub async fn queue_gauges(&self) -> StoreResult<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM delivery_state WHERE status = 'PENDING') AS pending, \
             (SELECT COUNT(*) FROM apps WHERE webhook_disabled_at IS NOT NULL) AS disabled",
        )
        .fetch_one(&self.read)
        .await?;
        Ok((row.try_get("pending")?, row.try_get("disabled")?))
    }
}

/// A delivery as the live stream shows it.
#[derive(Debug, Clone)]
pub struct StreamedDelivery {
    pub id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub body: String,
    pub created_at: i64,
}

impl Store {
    /// The app's newest delivery id (0 when it has none): where a live stream starts.
    pub async fn last_delivery_id(&self, app_id: i64) -> StoreResult<i64> {
        let row =
            sqlx::query("SELECT COALESCE(MAX(id), 0) AS last FROM deliveries WHERE app_id = $1")
                .bind(app_id)
                .fetch_one(&self.read)
                .await?;
        Ok(row.try_get("last")?)
    }

    /// The app's deliveries created after id `after`, oldest first.
    pub async fn deliveries_after(
        &self,
        app_id: i64,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<StreamedDelivery>> {
        let rows = sqlx::query(
            "SELECT id, event_id, event_type, body, created_at FROM deliveries \
             WHERE app_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(app_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StreamedDelivery {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    event_type: r.try_get("event_type")?,
                    body: r.try_get("body")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        delivery_id: i64,
        status_code: Option<i64>,
        error: Option<&str>,
        next: Next,
    ) -> Outcome {
        Outcome {
            delivery_id,
            app_id: 1,
            attempt: Attempt {
                attempted_at: 10,
                status_code,
                latency_ms: 1,
                response_body: None,
                error: error.map(str::to_owned),
            },
            next,
        }
    }

    #[test]
    fn outcomes_that_leave_the_same_state_share_one_update() {
        let outcomes = [
            outcome(1, Some(200), None, Next::Succeeded),
            outcome(2, Some(500), None, Next::Retry { at: 70 }),
            outcome(3, Some(200), None, Next::Succeeded),
            outcome(4, None, Some("timed out"), Next::Failed),
            outcome(5, Some(204), None, Next::Succeeded),
            outcome(6, Some(200), None, Next::Succeeded),
            outcome(7, None, Some("timed out"), Next::Failed),
            outcome(8, Some(500), None, Next::Retry { at: 80 }),
        ];
        let split = next_states(&outcomes, 50);
        let state = |status, step, next_at, last_status, last_error| NextState {
            status,
            step,
            next_at,
            last_status,
            last_error,
        };
        assert_eq!(
            split.shared,
            vec![
                (state("SUCCEEDED", 0, 50, Some(200), None), vec![1, 3, 6]),
                (state("FAILED", 0, 50, None, Some("timed out")), vec![4, 7]),
            ]
        );
        assert_eq!(
            split.own,
            vec![
                (2, state("PENDING", 1, 70, Some(500), None)),
                (5, state("SUCCEEDED", 0, 50, Some(204), None)),
                (8, state("PENDING", 1, 80, Some(500), None)),
            ]
        );
    }

    /// The workers the store knows, as (owner, alive until).
    async fn workers(store: &Store) -> Vec<(String, i64)> {
        sqlx::query("SELECT owner, alive_until FROM workers ORDER BY owner")
            .fetch_all(&store.read)
            .await
            .expect("read workers")
            .iter()
            .map(|r| (r.get("owner"), r.get("alive_until")))
            .collect()
    }

    #[tokio::test]
    async fn a_worker_past_its_time_is_forgotten_and_one_that_beats_again_comes_back() {
        let (store, _dir) = Store::temporary().await;
        // (who beats, now, alive until) → the workers known after that beat.
        type Beat = (&'static str, i64, i64);
        let steps: [(Beat, &[(&str, i64)]); 5] = [
            (("one", 1_000, 2_000), &[("one", 2_000)]),
            (("two", 1_000, 9_000), &[("one", 2_000), ("two", 9_000)]),
            // At 2,000 "one" is not yet past its time.
            (("two", 2_000, 9_000), &[("one", 2_000), ("two", 9_000)]),
            // Past it, another worker's beat lets go of its leases and forgets it.
            (("two", 3_000, 9_000), &[("two", 9_000)]),
            // It was only late: its next beat writes its row again.
            (("one", 4_000, 6_000), &[("one", 6_000), ("two", 9_000)]),
        ];
        for ((owner, now, alive_until), known) in steps {
            store
                .beat_and_release(owner, now, alive_until)
                .await
                .expect("beat");
            let known: Vec<(String, i64)> = known.iter().map(|&(o, t)| (o.into(), t)).collect();
            assert_eq!(
                workers(&store).await,
                known,
                "after {owner}'s beat at {now}"
            );
        }
    }
}
