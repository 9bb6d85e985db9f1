//! Schema migrations: the numbered plain-SQL files in `sql/`, applied by refinery under a
//! Postgres advisory lock so that two processes starting at once do not race.

use crate::db::Database;

mod embedded {
    refinery::embed_migrations!("../sql");
}

/// Arbitrary but fixed: the advisory lock key that serializes migration runs.
const MIGRATION_LOCK_KEY: i64 = 0x746f_6b65_6e62_6f74; // "tokenbot"

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("cannot connect to run migrations: {0}")]
    Connect(#[source] tokio_postgres::Error),
    #[error("cannot take the migration lock: {0}")]
    Lock(#[source] tokio_postgres::Error),
    #[error("migration failed: {0}")]
    Apply(#[from] refinery::Error),
}

/// Applies every pending migration; returns the names of those applied now.
pub async fn migrate(db: &Database) -> Result<Vec<String>, MigrationError> {
    // A dedicated connection: the session-level lock must live exactly as long as this run.
    let mut client = db.dedicated().await.map_err(MigrationError::Connect)?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(MigrationError::Lock)?;
    let report = embedded::migrations::runner()
        .set_migration_table_name("ledger_schema_history")
        .run_async(&mut client)
        .await;
    // Closing the connection releases the lock even if unlock fails.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let report = report?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}
