//! Schema migrations, embedded in the binary and applied at start by sqlx's migrator (which
//! records what ran and refuses a database whose applied migrations were edited).

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::AnyPool;
use std::future::Future;
use std::pin::Pin;

use super::{Dialect, StoreError};

/// (version, description, SQLite text, PostgreSQL text)
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "core",
        include_str!("../../migrations/sqlite/0001_core.sql"),
        include_str!("../../migrations/postgres/0001_core.sql"),
    ),
    (
        2,
        "delivery",
        include_str!("../../migrations/sqlite/0002_delivery.sql"),
        include_str!("../../migrations/postgres/0002_delivery.sql"),
    ),
    (
        3,
        "apps_platform",
        include_str!("../../migrations/sqlite/0003_apps_platform.sql"),
        include_str!("../../migrations/postgres/0003_apps_platform.sql"),
    ),
    (
        4,
        "claims_per_app",
        include_str!("../../migrations/sqlite/0004_claims_per_app.sql"),
        include_str!("../../migrations/postgres/0004_claims_per_app.sql"),
    ),
    (
        5,
        "drop_global_due_index",
        include_str!("../../migrations/sqlite/0005_drop_global_due_index.sql"),
        include_str!("../../migrations/postgres/0005_drop_global_due_index.sql"),
    ),
    (
        6,
        "claim_order_index",
        include_str!("../../migrations/sqlite/0006_claim_order_index.sql"),
        include_str!("../../migrations/postgres/0006_claim_order_index.sql"),
    ),
    (
        7,
        "unleased_due_index",
        include_str!("../../migrations/sqlite/0007_unleased_due_index.sql"),
        include_str!("../../migrations/postgres/0007_unleased_due_index.sql"),
    ),
    (
        8,
        "hot_tables_without_foreign_keys",
        include_str!("../../migrations/sqlite/0008_hot_tables_without_foreign_keys.sql"),
        include_str!("../../migrations/postgres/0008_hot_tables_without_foreign_keys.sql"),
    ),
    (
        9,
        "workers",
        include_str!("../../migrations/sqlite/0009_workers.sql"),
        include_str!("../../migrations/postgres/0009_workers.sql"),
    ),
    (
        10,
        "delivery_state",
        include_str!("../../migrations/sqlite/0010_delivery_state.sql"),
        include_str!("../../migrations/postgres/0010_delivery_state.sql"),
    ),
];

/// The migrations of one dialect, up to and including version `upto`.
#[derive(Debug)]
struct Embedded {
    dialect: Dialect,
    upto: i64,
}

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let Embedded { dialect, upto } = self;
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .filter(|(version, ..)| *version <= upto)
                .map(|(version, description, sqlite, postgres)| {
                    let sql = match dialect {
                        Dialect::Sqlite => *sqlite,
                        Dialect::Postgres => *postgres,
                    };
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(super) async fn run(pool: &AnyPool, dialect: Dialect) -> Result<(), StoreError> {
    run_upto(pool, dialect, i64::MAX).await
}

async fn run_upto(pool: &AnyPool, dialect: Dialect, upto: i64) -> Result<(), StoreError> {
    let migrator = Migrator::new(Embedded { dialect, upto })
        .await
        .map_err(|e| StoreError::Database(e.into()))?;
    migrator
        .run(pool)
        .await
        .map_err(|e| StoreError::Database(e.into()))
}

#[cfg(test)]
mod tests {
    use sqlx::any::AnyPoolOptions;
    use sqlx::Row;

    use super::*;

    async fn strings(pool: &AnyPool, sql: &str) -> Vec<String> {
        sqlx::query(sql)
            .fetch_all(pool)
            .await
            .expect("query")
            .iter()
            .map(|r| r.try_get::<String, _>(0).expect("text"))
            .collect()
    }

    /// Migration 8 rebuilds the SQLite tables of deliveries and attempts without their foreign
    /// keys, and migration 10 moves a delivery's state to a table of its own: what an existing
    /// database holds must come through whole, with its indexes.
    #[tokio::test]
    async fn rebuilding_the_delivery_tables_keeps_their_rows_and_indexes() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            })
            .connect(&url)
            .await
            .expect("connect");
        run_upto(&pool, Dialect::Sqlite, 7).await.expect("up to 7");
        for sql in [
            "INSERT INTO apps (id, slug, name, identification_key, kind, created_at, updated_at) \
             VALUES (1, 'a', 'A', 'k', 'TEST', 0, 0)",
            "INSERT INTO events (id, type, payload, created_at) VALUES (5, 'T', '{}', 0)",
            "INSERT INTO deliveries (id, event_id, app_id, event_type, body, status, attempts, \
             schedule_step, next_attempt_at, lease_until, lease_owner, last_status, last_error, \
             created_at, updated_at) \
             VALUES (7, 5, 1, 'T', 'body', 'PENDING', 2, 1, 90, 80, 'w', 500, 'e', 10, 20)",
            "INSERT INTO delivery_attempts (id, delivery_id, attempted_at, status_code, \
             latency_ms, response_body, error) VALUES (3, 7, 15, 500, 4, 'no', NULL)",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }

        run(&pool, Dialect::Sqlite).await.expect("to the newest");

        let delivery = sqlx::query(
            "SELECT d.id || ',' || event_id || ',' || d.app_id || ',' || event_type || ',' || \
             body || ',' || status || ',' || attempts || ',' || schedule_step || ',' || \
             next_attempt_at || ',' || lease_until || ',' || lease_owner || ',' || last_status \
             || ',' || last_error || ',' || created_at || ',' || updated_at || ',' || s.app_id \
             FROM deliveries d JOIN delivery_state s ON s.id = d.id",
        )
        .fetch_all(&pool)
        .await
        .expect("deliveries");
        assert_eq!(delivery.len(), 1);
        assert_eq!(
            delivery[0].try_get::<String, _>(0).expect("row"),
            "7,5,1,T,body,PENDING,2,1,90,80,w,500,e,10,20,1"
        );
        assert_eq!(
            strings(
                &pool,
                "SELECT id || ',' || delivery_id || ',' || attempted_at || ',' || status_code \
                 || ',' || latency_ms || ',' || response_body || ',' || coalesce(error, '-') \
                 FROM delivery_attempts"
            )
            .await,
            ["3,7,15,500,4,no,-"]
        );
        assert_eq!(
            strings(
                &pool,
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name IN ('deliveries', 'delivery_attempts', 'delivery_state') \
                 ORDER BY name"
            )
            .await,
            [
                "deliveries_app",
                "delivery_attempts_delivery",
                "delivery_state_due",
                "delivery_state_leased",
                "sqlite_autoindex_deliveries_1",
            ]
        );
        assert!(strings(
            &pool,
            "SELECT \"table\" FROM pragma_foreign_key_list('deliveries') \
             UNION ALL SELECT \"table\" FROM pragma_foreign_key_list('delivery_attempts')"
        )
        .await
        .is_empty());
        // Rows whose parents are gone or never were no longer fail; the store guarantees them.
        sqlx::query("INSERT INTO delivery_attempts (delivery_id, attempted_at, latency_ms) VALUES (99, 0, 0)")
            .execute(&pool)
            .await
            .expect("no foreign key");
    }
}
