//! Errors. [`DomainError`] is a rule saying no (the user or admin gets a specific message);
//! [`LedgerError`] adds what can go wrong around the rules (database, concurrency, idempotency).

use tokio_postgres::error::SqlState;

use crate::ids::{PurchaseId, TaskId, TelegramId};
use crate::image::ModelId;
use crate::payment::ChargeId;
use crate::stream::{ExpectedVersion, OutOfRange, StreamId, StreamVersion};
use crate::tokens::Tokens;

/// A token or task rule refused the command. Nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The user has not registered.
    #[error("user {0} has no account (they must /start first)")]
    AccountNotFound(TelegramId),
    /// The balance does not cover the cost.
    #[error("insufficient balance: {required} tokens required, {available} available")]
    InsufficientBalance {
        /// The cost.
        required: Tokens,
        /// The balance.
        available: Tokens,
    },
    /// The hourly task limit is reached.
    #[error("rate limit: at most {limit} tasks per hour")]
    RateLimited {
        /// Tasks per hour.
        limit: u32,
    },
    /// A grant or debit of nothing.
    #[error("amount must be positive")]
    ZeroAmount,
    /// An admin grant over the configured maximum.
    #[error("amount {amount} is over the maximum of {max} per grant")]
    GrantTooLarge {
        /// What was asked.
        amount: Tokens,
        /// The most one admin grant may add.
        max: Tokens,
    },
    /// A model the price table does not offer.
    #[error("model {0} is not offered")]
    UnknownModel(ModelId),
    /// A template the price table does not know.
    #[error("template {0:?} does not exist")]
    UnknownTemplate(String),
    /// An edit without the picture to edit.
    #[error("an edit needs a source image")]
    MissingSourceImage,
    /// No such task (or not the caller's).
    #[error("task {0} does not exist")]
    TaskNotFound(TaskId),
    /// A task id used twice.
    #[error("task {0} already exists")]
    TaskAlreadyExists(TaskId),
    /// A task is refunded at most once.
    #[error("task {task_id} was already refunded ({amount} tokens)")]
    AlreadyRefunded {
        /// The task.
        task_id: TaskId,
        /// What the first refund gave back.
        amount: Tokens,
    },
    /// A refund larger than what the task cost.
    #[error("refund of {requested} for task {task_id} exceeds its debit of {debited}")]
    RefundExceedsDebit {
        /// The task.
        task_id: TaskId,
        /// The refund asked for.
        requested: Tokens,
        /// What the task cost.
        debited: Tokens,
    },
    /// The task's state does not allow the step.
    #[error("task {task_id} is {status}; cannot {action}")]
    InvalidTransition {
        /// The task.
        task_id: TaskId,
        /// Its status.
        status: &'static str,
        /// The step refused.
        action: &'static str,
    },
    /// No attempts left.
    #[error("task {task_id} has used all {max} attempts")]
    AttemptsExhausted {
        /// The task.
        task_id: TaskId,
        /// Attempts allowed.
        max: u32,
    },
    /// A worker reports on an attempt that is no longer the running one.
    #[error("attempt {got} does not match the running attempt {running} of task {task_id}")]
    StaleAttempt {
        /// The task.
        task_id: TaskId,
        /// The attempt reported on.
        got: u32,
        /// The attempt running now.
        running: u32,
    },
    /// A balance would leave the range of [`Tokens`].
    #[error("token arithmetic overflowed")]
    Overflow,
    /// No such purchase offer (or not the payer's).
    #[error("purchase {0} does not exist")]
    PurchaseNotFound(PurchaseId),
    /// A purchase id used twice.
    #[error("purchase {0} already exists")]
    PurchaseAlreadyExists(PurchaseId),
    /// A payment that does not match its offer (amount, currency).
    #[error("the payment for purchase {purchase_id} does not match its offer: {detail}")]
    PurchaseMismatch {
        /// The purchase.
        purchase_id: PurchaseId,
        /// What differs.
        detail: String,
    },
    /// An offer past its time.
    #[error("purchase {0} has expired; a new invoice is needed")]
    PurchaseExpired(PurchaseId),
    /// An offer paid already (by this charge).
    #[error("purchase {purchase_id} was already paid (charge {charge})")]
    PurchaseAlreadyPaid {
        /// The purchase.
        purchase_id: PurchaseId,
        /// The charge that paid it.
        charge: ChargeId,
    },
    /// A refund of a purchase never paid.
    #[error("purchase {0} was not paid, so there is nothing to refund")]
    PurchaseNotPaid(PurchaseId),
    /// No purchase was paid with this charge id.
    #[error("no purchase was paid with charge {0}")]
    PaymentNotFound(ChargeId),
    /// Refunding would take back tokens the user has already spent.
    #[error(
        "the purchase granted {granted} tokens but the balance is {balance}: the tokens are          already spent, so the payment cannot be refunded"
    )]
    PurchaseTokensSpent {
        /// The charge.
        charge: ChargeId,
        /// What the purchase granted (and a refund takes back).
        granted: Tokens,
        /// The balance now.
        balance: Tokens,
    },
}

/// Everything an append or a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A rule said no.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// An append's expected version did not match the stream.
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    WrongExpectedVersion {
        /// The stream.
        stream: StreamId,
        /// What the append expected.
        expected: ExpectedVersion,
        /// Where the stream is.
        actual: StreamVersion,
    },
    /// The key is bound to another command's input.
    #[error("idempotency key {key:?} was already used for a different command")]
    IdempotencyConflict {
        /// The key.
        key: String,
    },
    /// An append of no events.
    #[error("cannot append an empty batch of events")]
    EmptyAppend,
    /// Postgres refused a statement or the connection failed.
    #[error("database")]
    Database(#[source] tokio_postgres::Error),
    /// A version, position or counter outside `0..=i64::MAX` on its way to or from Postgres.
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    /// No connection could be had from the pool.
    #[error("no database connection")]
    Pool(#[source] crate::db::PoolFailure),
    /// What the database holds breaks a rule it cannot break (or a bug).
    #[error("stored data is corrupt at {context}: {detail}")]
    Corrupt {
        /// Where.
        context: String,
        /// What is wrong.
        detail: String,
    },
    /// A stored snapshot or idempotency result that does not decode.
    #[error("stored snapshot or result does not decode")]
    Json(#[from] serde_json::Error),
    /// The connection to Postgres was lost after `COMMIT` was sent, and whether the transaction
    /// committed could not be learned in time (see [`crate::executor`]). The command may or may
    /// not have been applied: repeat it only under the same idempotency key. Every other error
    /// means that the command wrote nothing.
    #[error(
        "the connection to the database was lost while the command was being committed, and \
         whether it was applied could not be learned within {waited_s} s: {cause}"
    )]
    OutcomeUnknown {
        /// How long the ledger asked.
        waited_s: u64,
        /// How the connection failed.
        cause: String,
    },
}

/// A value that left range on its way from a row is [`LedgerError::OutOfRange`] (tokio-postgres
/// wraps it as a conversion error without a SQLSTATE, which would otherwise read as a lost
/// connection); everything else stays [`LedgerError::Database`].
impl From<tokio_postgres::Error> for LedgerError {
    fn from(e: tokio_postgres::Error) -> Self {
        match std::error::Error::source(&e).and_then(|s| s.downcast_ref::<OutOfRange>()) {
            Some(out) => LedgerError::OutOfRange(out.clone()),
            None => LedgerError::Database(e),
        }
    }
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
                is_stream_clash(e)
                    || matches!(
                        e.code(),
                        Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                            | Some(&SqlState::T_R_DEADLOCK_DETECTED)
                    )
            }
            _ => false,
        }
    }
}

/// Two writers created the same new stream at once (the loser may simply run again).
pub(crate) fn is_stream_clash(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error()
            .and_then(|d| d.constraint())
            .is_some_and(|c| c == "events_stream_id_stream_version_key" || c == "streams_pkey")
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

impl From<deadpool_postgres::PoolError> for LedgerError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        LedgerError::Pool(crate::db::PoolFailure(e))
    }
}

/// An error and its causes on one line (`a: b: c`), for logs: messages name their own layer
/// only, so `%e` alone would show the outermost layer.
pub fn chain<'a>(error: &'a (dyn std::error::Error + 'static)) -> Chain<'a> {
    Chain(error)
}

/// See [`chain`].
pub struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}
