//! What can go wrong while handling an update, and which of it a retry can fix.

use tokenbot_ledger::error::is_connection_loss;

use crate::storage::StorageError;

/// An update that could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The dialogue state or the handled update ids could not be read or written.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A ledger command failed (a refused command is an answer, not this).
    #[error(transparent)]
    Ledger(#[from] tokenbot_ledger::LedgerError),
    /// Telegram refused a call or did not answer.
    #[error(transparent)]
    Telegram(#[from] teloxide::RequestError),
    /// A read model query failed.
    #[error(transparent)]
    Projection(#[from] tokenbot_projections::ProjectionError),
    /// No Postgres connection could be had.
    #[error("cannot reach Postgres")]
    Pool(#[source] tokenbot_ledger::db::PoolFailure),
    /// A state the flows should never reach.
    #[error("internal error: {0}")]
    Internal(String),
}

tokenbot_ledger::pool_failure_from!(BotError::Pool);

impl BotError {
    /// True when the update may succeed if tried again: Postgres was unreachable, or a ledger
    /// command's outcome could not be learned (every command a flow repeats is keyed or
    /// idempotent by nature, so handling the update again applies it at most once).
    pub fn is_transient(&self) -> bool {
        match self {
            BotError::Storage(StorageError::Pool(_)) | BotError::Pool(_) => true,
            BotError::Storage(StorageError::Query(e)) => is_connection_loss(e),
            BotError::Ledger(e) => e.is_transient() || e.is_outcome_unknown(),
            _ => false,
        }
    }
}
