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
];

#[derive(Debug)]
struct Embedded(Dialect);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let dialect = self.0;
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
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
    let migrator = Migrator::new(Embedded(dialect))
        .await
        .map_err(|e| StoreError::Database(e.into()))?;
    migrator
        .run(pool)
        .await
        .map_err(|e| StoreError::Database(e.into()))
}
