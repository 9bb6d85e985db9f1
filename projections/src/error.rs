//! What can go wrong on the read side, and which of it is worth waiting out.

use tokenbot_ledger::LedgerError;
use tokenbot_ledger::error::is_connection_loss;

/// An error of the read side.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A query failed.
    #[error("database")]
    Database(#[from] tokio_postgres::Error),
    /// No connection could be had.
    #[error("no database connection")]
    Pool(#[source] tokenbot_ledger::db::PoolFailure),
    /// An event names a row the read model does not have, or breaks its shape: a bug or
    /// corrupt data, never waited out.
    #[error("event at position {position} does not fit the read model: {detail}")]
    Inconsistent {
        /// The event's place in `ledger.events`.
        position: i64,
        /// What does not fit.
        detail: String,
    },
    /// A live batch arrived before the projection caught up to where it starts.
    #[error("projection {projection} is behind (at {checkpoint}): catch up from Postgres first")]
    Behind {
        /// Which projection.
        projection: &'static str,
        /// Where it is.
        checkpoint: String,
    },
    /// A name that is not `users` or `tasks`.
    #[error("unknown projection {0:?} (known: users, tasks)")]
    UnknownProjection(String),
    /// A rebuild swapped the tables while a diff read them.
    #[error(
        "projection {projection} was rebuilt while it was being compared: run the comparison again"
    )]
    Moved {
        /// Which projection.
        projection: &'static str,
    },
    /// A connection of its own could not be set up.
    #[error("{0}")]
    Setup(String),
}

impl ProjectionError {
    /// True for a lost or refused connection (Postgres restarting, a network blip, the pool
    /// exhausted): the projector waits and carries on from its committed checkpoint. Anything
    /// else is a bug or corrupt data and stops it.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Database(e) => is_connection_loss(e),
            ProjectionError::Pool(_) => true,
            ProjectionError::Ledger(e) => e.is_transient(),
            _ => false,
        }
    }
}

tokenbot_ledger::pool_failure_from!(ProjectionError::Pool);
