//! Errors. [`DomainError`] is a rule saying no (the user or admin gets a specific message);
//! [`LedgerError`] adds what can go wrong around the rules (database, concurrency, idempotency).

use crate::ids::{TaskId, TelegramId};
use crate::image::ModelId;
use crate::stream::{ExpectedVersion, StreamId, StreamVersion};
use crate::tokens::Tokens;

/// A token or task rule refused the command. Nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("user {0} has no account (they must /start first)")]
    AccountNotFound(TelegramId),
    #[error("insufficient balance: {required} tokens required, {available} available")]
    InsufficientBalance { required: Tokens, available: Tokens },
    #[error("rate limit: at most {limit} tasks per hour")]
    RateLimited { limit: u32 },
    #[error("amount must be positive")]
    ZeroAmount,
    #[error("amount {amount} is over the maximum of {max} per grant")]
    GrantTooLarge { amount: Tokens, max: Tokens },
    #[error("model {0} is not offered")]
    UnknownModel(ModelId),
    #[error("template {0:?} does not exist")]
    UnknownTemplate(String),
    #[error("an edit needs a source image")]
    MissingSourceImage,
    #[error("task {0} does not exist")]
    TaskNotFound(TaskId),
    #[error("task {0} already exists")]
    TaskAlreadyExists(TaskId),
    #[error("task {task_id} was already refunded ({amount} tokens)")]
    AlreadyRefunded { task_id: TaskId, amount: Tokens },
    #[error("refund of {requested} for task {task_id} exceeds its debit of {debited}")]
    RefundExceedsDebit {
        task_id: TaskId,
        requested: Tokens,
        debited: Tokens,
    },
    #[error("task {task_id} is {status}; cannot {action}")]
    InvalidTransition {
        task_id: TaskId,
        status: &'static str,
        action: &'static str,
    },
    #[error("task {task_id} has used all {max} attempts")]
    AttemptsExhausted { task_id: TaskId, max: u32 },
    #[error("attempt {got} does not match the running attempt {running} of task {task_id}")]
    StaleAttempt {
        task_id: TaskId,
        got: u32,
        running: u32,
    },
    #[error("token arithmetic overflowed")]
    Overflow,
}

/// Everything an append or a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    WrongExpectedVersion {
        stream: StreamId,
        expected: ExpectedVersion,
        actual: StreamVersion,
    },
    #[error("idempotency key {key:?} was already used for a different command")]
    IdempotencyConflict { key: String },
    #[error("cannot append an empty batch of events")]
    EmptyAppend,
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("stored data is corrupt at {context}: {detail}")]
    Corrupt { context: String, detail: String },
    #[error("stored snapshot or result does not decode: {0}")]
    Json(#[from] serde_json::Error),
    /// The connection to Postgres was lost after `COMMIT` was sent, and whether the transaction
    /// committed could not be learned in time (see [`crate::executor`]). The command may or may
    /// not have been applied: repeat it only under the same idempotency key. Every other error
    /// means that the command wrote nothing.
    #[error(
        "the connection to the database was lost while the command was being committed, and \
         whether it was applied could not be learned within {waited_s} s: {cause}"
    )]
    OutcomeUnknown { waited_s: u64, cause: String },
}

impl LedgerError {
    pub(crate) fn corrupt(context: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        LedgerError::Corrupt {
            context: context.into(),
            detail: detail.to_string(),
        }
    }

    /// True when Postgres could not be reached, was out of resources or the connection was lost
    /// (SQLSTATE classes 08, 53 and 57, or no SQLSTATE at all): nothing was written, and the same command may succeed
    /// later. [`LedgerError::OutcomeUnknown`] is not transient in this sense: it may have been
    /// written.
    pub fn is_transient(&self) -> bool {
        match self {
            LedgerError::Pool(_) => true,
            LedgerError::Database(e) => is_connection_loss(e),
            _ => false,
        }
    }

    /// True for [`LedgerError::OutcomeUnknown`].
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, LedgerError::OutcomeUnknown { .. })
    }

    /// True when retrying the same command may succeed: a concurrent writer created the same
    /// new stream first, or Postgres broke a deadlock or serialization conflict.
    pub fn is_retryable_conflict(&self) -> bool {
        match self {
            LedgerError::Database(e) => {
                crate::store::is_stream_clash(e)
                    || matches!(
                        e.code(),
                        Some(&tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE)
                            | Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
                    )
            }
            _ => false,
        }
    }
}

/// The connection broke, the server went away or ran out of resources (rather than refusing a
/// statement on its merits): 08 connection exception, 53 insufficient resources, 57 operator
/// intervention (shutdown, terminated backend), or an error with no SQLSTATE.
pub fn is_connection_loss(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true,
        Some(code) => {
            let class = code.code().get(..2);
            matches!(class, Some("08") | Some("53") | Some("57"))
        }
    }
}
