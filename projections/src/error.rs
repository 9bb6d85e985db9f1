use tokenbot_ledger::LedgerError;
use tokenbot_ledger::error::is_connection_loss;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("event at position {position} does not fit the read model: {detail}")]
    Inconsistent { position: i64, detail: String },
    #[error("projection {projection} is behind (at {checkpoint}): catch up from Postgres first")]
    Behind {
        projection: &'static str,
        checkpoint: String,
    },
    #[error("unknown projection {0:?} (known: users, tasks)")]
    UnknownProjection(String),
    #[error(
        "projection {projection} was rebuilt while it was being compared: run the comparison again"
    )]
    Moved { projection: &'static str },
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
