//! Schema migrations: the numbered plain-SQL files in `sql/`, applied by refinery under a
//! Postgres advisory lock so that two processes starting at once do not race; then the runtime
//! roles' rights (`sql/grants.sql`, see [`crate::roles`]), under the same lock.

use crate::db::Database;
pub use crate::roles::MIGRATION_LOCK_KEY;

mod embedded {
    refinery::embed_migrations!("../sql");
}

/// What can go wrong migrating.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// No connection for the migration run.
    #[error("cannot connect to run migrations")]
    Connect(#[source] tokio_postgres::Error),
    /// The migration lock could not be taken.
    #[error("cannot take the migration lock")]
    Lock(#[source] tokio_postgres::Error),
    /// A migration failed.
    #[error("migration failed")]
    Apply(#[from] refinery::Error),
    /// `sql/grants.sql` failed.
    #[error("cannot set the runtime roles' rights (sql/grants.sql)")]
    Grants(#[source] tokio_postgres::Error),
    /// The schema history could not be read.
    #[error("cannot read the schema version")]
    Version(#[source] tokio_postgres::Error),
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
        .set_migration_table_name(HISTORY_TABLE)
        .run_async(&mut client)
        .await;
    let grants = match &report {
        Ok(_) => crate::roles::apply_grants(&client).await,
        Err(_) => Ok(()),
    };
    // Closing the connection releases the lock even if unlock fails.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let report = report?;
    grants.map_err(MigrationError::Grants)?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// Where refinery records applied migrations.
const HISTORY_TABLE: &str = "ledger_schema_history";

/// The schema version this build needs, and the one the database has (0: none yet).
pub async fn schema_versions(db: &Database) -> Result<(i64, i64), MigrationError> {
    let needed = embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0);
    let client = db.dedicated().await.map_err(MigrationError::Connect)?;
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&HISTORY_TABLE])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(MigrationError::Version)?;
    if !exists {
        return Ok((needed, 0));
    }
    let found: i64 = client
        .query_one(
            &format!("SELECT coalesce(max(version), 0)::int8 FROM {HISTORY_TABLE}"),
            &[],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(MigrationError::Version)?;
    Ok((needed, found))
}
