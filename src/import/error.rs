//! Why the import could not run, or stopped: every message names the database it is about
//! (without its password) and what to do.

use std::fmt;

/// Why the import could not run (or stopped). Problems with single users are not errors: they
/// are counted in the [`ImportSummary`](super::ImportSummary) and the import goes on.
#[derive(Debug)]
pub enum ImportError {
    /// `--from` could not be parsed as a Postgres URL.
    InvalidUrl {
        /// The parser's words.
        reason: String,
    },
    /// The original database did not answer (or refused the login).
    Unreachable {
        /// host:port/database, without the password.
        target: String,
        /// The driver's words, with their causes.
        reason: String,
    },
    /// A table the import reads is missing: probably not the original bot's database.
    MissingTable {
        /// host:port/database, without the password.
        target: String,
        /// `users` or `generation_tasks`.
        table: &'static str,
    },
    /// Columns the import reads are missing: an older schema of the original, or another
    /// database.
    MissingColumns {
        /// host:port/database, without the password.
        target: String,
        /// The table lacking them.
        table: &'static str,
        /// Every missing column, so one run names them all.
        columns: Vec<&'static str>,
    },
    /// Reading the original failed midway (the connection dropped, a query failed).
    Read {
        /// host:port/database, without the password.
        target: String,
        /// The driver's words, with their causes.
        reason: String,
    },
    /// The ledger's database stopped answering; users imported so far stay imported.
    Ledger {
        /// The ledger's or the pool's words.
        reason: String,
    },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::InvalidUrl { reason } => write!(
                f,
                "--from is not a Postgres URL (postgres://user:password@host:port/database): {reason}"
            ),
            ImportError::Unreachable { target, reason } => write!(
                f,
                "cannot reach the original database at {target} (--from): {reason}"
            ),
            ImportError::MissingTable { target, table } => write!(
                f,
                "the database at --from ({target}) has no {table} table; \
                 is it the original bot's database?"
            ),
            ImportError::MissingColumns {
                target,
                table,
                columns,
            } => write!(
                f,
                "the {table} table of the database at --from ({target}) has no column {}; \
                 is it the original bot's database, migrated to its last schema?",
                columns.join(", ")
            ),
            ImportError::Read { target, reason } => write!(
                f,
                "reading the original database at {target} failed: {reason}"
            ),
            ImportError::Ledger { reason } => write!(
                f,
                "the ledger's database stopped answering: {reason}; run the import again \
                 when it is back (users already imported are not imported twice)"
            ),
        }
    }
}

impl std::error::Error for ImportError {}

/// An error with its causes (tokio-postgres keeps the useful part, "connection refused", in the
/// source chain).
pub(super) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let chain = std::iter::successors(Some(error), |e| e.source());
    chain
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
