//! The ledger's public face: [`Ledger::execute`] runs any [`Command`] and answers with its own
//! output type, and one typed method per command builds it for callers. The rules themselves are
//! in each command's file ([`crate::command`]) and the aggregates; the batch writer is
//! [`crate::executor`]. This is where a token is debited ([`Ledger::request_task`], deciding in
//! [`crate::command::request_task`]), granted and refunded.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::account::{Account, Settings};
use crate::aggregate::Aggregate;
use crate::command::Command;
use crate::command::append::{Append, StreamAppend};
use crate::command::attempt_failed::AttemptFailed;
use crate::command::change_settings::ChangeSettings;
use crate::command::deliver_task::DeliverTask;
use crate::command::fail_task::{FailOutcome, FailTask};
use crate::command::grant::{BalanceChange, Grant};
use crate::command::open_account::{OpenAccount, OpenOutcome};
use crate::command::refund_task::RefundTask;
use crate::command::request_task::{RequestTask, TaskReceipt, TaskRequest};
use crate::command::start_task::{StartTask, StartedAttempt};
use crate::command::succeed_task::SucceedTask;
use crate::error::{DomainError, LedgerError};
use crate::events::{AccountOpened, GrantKind, SettingsChanged};
use crate::executor::Executor;
use crate::global_order::RecordedEvent;
use crate::ids::{TaskId, TelegramId};
use crate::metadata::CommandContext;
use crate::pricing::LedgerConfig;
use crate::store::{EventStore, Executed};
use crate::stream::{StreamId, StreamVersion};
use crate::task::{Task, TaskState};
use crate::tokens::Tokens;

/// Most events one read of a stream returns ([`Ledger::balance_at`] pages through longer
/// streams).
pub const STREAM_PAGE: i64 = 1_000;

/// The token ledger: the only way tokens move. Cheap to clone; clones share one batch writer.
#[derive(Clone)]
pub struct Ledger {
    store: EventStore,
    config: Arc<LedgerConfig>,
    executor: Executor,
}

impl Ledger {
    /// Starts the ledger's batch writer: call inside a Tokio runtime.
    pub fn new(store: EventStore, config: LedgerConfig) -> Self {
        let config = Arc::new(config);
        let executor = Executor::start(store.clone(), config.clone());
        Self {
            store,
            config,
            executor,
        }
    }

    /// The event store the ledger reads.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// Prices and limits.
    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    /// Runs a command in the next batch and answers with its output. Under the same
    /// idempotency key, a repeat answers the first call's output (`replayed: true`).
    pub async fn execute<C: Command>(
        &self,
        ctx: &CommandContext,
        command: C,
    ) -> Result<Executed<C::Output>, LedgerError> {
        self.executor.submit(command, ctx.clone()).await
    }

    /// Registration on `/start`: `AccountOpened` and the welcome grant, once.
    pub async fn open_account(
        &self,
        ctx: &CommandContext,
        profile: AccountOpened,
    ) -> Result<Executed<OpenOutcome>, LedgerError> {
        self.execute(ctx, OpenAccount(profile)).await
    }

    /// Adds tokens (admin top-up, import, purchase).
    pub async fn grant(
        &self,
        ctx: &CommandContext,
        telegram_id: TelegramId,
        amount: Tokens,
        kind: GrantKind,
        reason: Option<String>,
    ) -> Result<Executed<BalanceChange>, LedgerError> {
        let grant = Grant {
            telegram_id,
            amount,
            kind,
            reason,
        };
        self.execute(ctx, grant).await
    }

    /// The confirm button: prices the task, debits the account and records the task, atomically.
    /// Two taps with the same idempotency key create one task and one debit.
    pub async fn request_task(
        &self,
        ctx: &CommandContext,
        request: TaskRequest,
    ) -> Result<Executed<TaskReceipt>, LedgerError> {
        let task_id = TaskId::new();
        self.execute(ctx, RequestTask { task_id, request }).await
    }

    /// Records the user's new defaults (only what changed).
    pub async fn change_settings(
        &self,
        ctx: &CommandContext,
        telegram_id: TelegramId,
        wanted: SettingsChanged,
    ) -> Result<Executed<Settings>, LedgerError> {
        let change = ChangeSettings {
            telegram_id,
            wanted,
        };
        self.execute(ctx, change).await
    }

    /// A worker takes a task: appends `TaskStarted` under the task's lock, so two workers never
    /// run the same attempt. `lease` is how long a silent worker keeps it.
    pub async fn start_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        worker: &str,
        lease: Duration,
    ) -> Result<Executed<StartedAttempt>, LedgerError> {
        let worker = worker.to_string();
        let start = StartTask {
            task_id,
            worker,
            lease,
        };
        self.execute(ctx, start).await
    }

    /// The running attempt failed (`retryable`: another attempt may help).
    pub async fn record_attempt_failure(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        attempt: u32,
        error: &str,
        retryable: bool,
    ) -> Result<Executed<()>, LedgerError> {
        let error = error.to_string();
        let failed = AttemptFailed {
            task_id,
            attempt,
            error,
            retryable,
        };
        self.execute(ctx, failed).await
    }

    /// The running attempt produced the image.
    pub async fn succeed_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        attempt: u32,
        provider_usage: Option<serde_json::Value>,
    ) -> Result<Executed<()>, LedgerError> {
        let succeeded = SucceedTask {
            task_id,
            attempt,
            provider_usage,
        };
        self.execute(ctx, succeeded).await
    }

    /// The user has the document.
    pub async fn deliver_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        telegram_file_id: &str,
    ) -> Result<Executed<()>, LedgerError> {
        let telegram_file_id = telegram_file_id.to_string();
        let delivered = DeliverTask {
            task_id,
            telegram_file_id,
        };
        self.execute(ctx, delivered).await
    }

    /// Gives up on a task and refunds its full cost in the same transaction. Whoever gets there
    /// first refunds; everyone else gets `InvalidTransition` (the task is already failed).
    pub async fn fail_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        owner: TelegramId,
        error: &str,
    ) -> Result<Executed<FailOutcome>, LedgerError> {
        let error = error.to_string();
        let fail = FailTask {
            task_id,
            owner,
            error,
        };
        self.execute(ctx, fail).await
    }

    /// A refund outside the failure path: at most once per task, never more than its debit.
    pub async fn refund_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        amount: Tokens,
        reason: &str,
    ) -> Result<Executed<BalanceChange>, LedgerError> {
        // The owner's account must be locked too; a task's owner never changes, so read it first.
        let (probe, _) = self
            .store
            .load::<TaskState>(&StreamId::task(task_id))
            .await?;
        let owner = probe
            .0
            .as_ref()
            .map(|t| t.request.telegram_id)
            .ok_or(DomainError::TaskNotFound(task_id))?;
        let reason = reason.to_string();
        let refund = RefundTask {
            task_id,
            owner,
            amount,
            reason,
        };
        self.execute(ctx, refund).await
    }

    /// Appends events to one or more streams atomically, each checked against its expected
    /// version (and, on account and task streams, against the aggregate's rules). The low-level
    /// door for imports and tools; everything else has a typed command above.
    pub async fn append(
        &self,
        ctx: &CommandContext,
        appends: Vec<StreamAppend>,
    ) -> Result<Executed<()>, LedgerError> {
        self.execute(ctx, Append(appends)).await
    }

    /// The account as of now (not locked; for display).
    pub async fn account(
        &self,
        telegram_id: TelegramId,
    ) -> Result<Option<(Account, StreamVersion)>, LedgerError> {
        let (state, version) = self
            .store
            .load::<Account>(&StreamId::account(telegram_id))
            .await?;
        Ok(state.is_open().then_some((state, version)))
    }

    /// The task as of now (not locked; for display).
    pub async fn task(&self, task_id: TaskId) -> Result<Option<Task>, LedgerError> {
        let (state, _) = self
            .store
            .load::<TaskState>(&StreamId::task(task_id))
            .await?;
        Ok(state.0)
    }

    /// Up to `limit` events of a user's account stream from version `from`, oldest first.
    pub async fn history(
        &self,
        telegram_id: TelegramId,
        from: StreamVersion,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, LedgerError> {
        self.store
            .read_stream(&StreamId::account(telegram_id), from, limit)
            .await
    }

    /// The balance at a past moment: the account folded over events recorded at or before `at`,
    /// read [`STREAM_PAGE`] events at a time. `None` if the account did not exist yet.
    pub async fn balance_at(
        &self,
        telegram_id: TelegramId,
        at: DateTime<Utc>,
    ) -> Result<Option<Tokens>, LedgerError> {
        let stream = StreamId::account(telegram_id);
        let mut state = Account::default();
        let mut from = StreamVersion(1);
        loop {
            let page = self.store.read_stream(&stream, from, STREAM_PAGE).await?;
            for e in &page {
                if e.recorded_at > at {
                    return Ok(state.is_open().then_some(state.balance));
                }
                state
                    .apply(&e.event, e.recorded_at)
                    .map_err(|err| LedgerError::corrupt(format!("position {}", e.position), err))?;
            }
            match page.last() {
                Some(last) if page.len() as i64 == STREAM_PAGE => from = last.version.next(),
                _ => return Ok(state.is_open().then_some(state.balance)),
            }
        }
    }
}
