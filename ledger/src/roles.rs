//! The database roles the processes run as, and their rights (`sql/grants.sql`).
//!
//! The owner (whoever runs `tokenbot migrate`) owns the tables; nothing else runs as it. The
//! running system connects as `tokenbot_writer`, which may only append to `ledger.events` and
//! `ledger.chain`, so the append-only promise holds against the application's own credentials:
//! it cannot UPDATE, DELETE, TRUNCATE, ALTER, disable a trigger or drop a constraint. Auditors
//! and read-only admin tools connect as `tokenbot_reader`.

use tokio_postgres::GenericClient;

/// The role of the running system (relay, projector, worker, bot, api, import).
pub const WRITER_ROLE: &str = "tokenbot_writer";
/// The role of auditors and read-only tools.
pub const READER_ROLE: &str = "tokenbot_reader";

/// Arbitrary but fixed: the advisory lock key that serializes migration runs (and every other
/// change of rights: a rebuild that swaps tables in takes it too). Defined here, beside the
/// rights, so that migrations depend on roles and not the other way round.
pub const MIGRATION_LOCK_KEY: i64 = 0x746f_6b65_6e62_6f74; // "tokenbot"

/// Creates the roles when they are missing and sets every right to what the file says.
const GRANTS_SQL: &str = include_str!("../../sql/grants.sql");

/// What a command needs from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Appends and the front doors' state: [`WRITER_ROLE`].
    Write,
    /// Reads only: [`READER_ROLE`].
    Read,
}

impl Access {
    /// The role that has exactly this access.
    pub fn role(self) -> &'static str {
        match self {
            Access::Write => WRITER_ROLE,
            Access::Read => READER_ROLE,
        }
    }
}

/// True for the names of the runtime roles (a URL connecting as one of them is not the owner's).
pub fn is_runtime_role(user: &str) -> bool {
    user == WRITER_ROLE || user == READER_ROLE
}

/// Applies `sql/grants.sql` in one transaction. Run as the owner, under the migration lock (two
/// concurrent GRANTs on one table conflict).
pub async fn apply_grants(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    client.batch_execute(GRANTS_SQL).await
}

/// Sets a runtime role's password (as the owner), under the migration lock so that processes
/// starting together do not update the role at once. The statement is built by the server, which
/// quotes the name and the password.
pub async fn set_password(
    client: &mut tokio_postgres::Client,
    role: &str,
    password: &str,
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let statement: String = tx
        .query_one(
            "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
            &[&role, &password],
        )
        .await?
        .try_get(0)?;
    tx.batch_execute(&statement).await?;
    tx.commit().await
}
