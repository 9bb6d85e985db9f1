//! The ledger's public face: one typed method per command. Each builds a [`Command`] and hands
//! it to the batch writer ([`crate::executor`]); the rules themselves are in
//! [`crate::command::decide`] and the aggregates. This is where a token is debited
//! ([`Ledger::request_task`]), granted and refunded.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::account::{Account, Settings};
use crate::aggregate::Aggregate;
pub use crate::command::{
    BalanceChange, FailOutcome, OpenOutcome, StartedAttempt, TaskReceipt, TaskRequest,
};
use crate::command::{Command, Outcome, StreamAppend};
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

/// The token ledger: the only way tokens move. Cheap to clone; clones share one batch writer.
#[derive(Clone)]
pub struct Ledger {
    store: EventStore,
    config: Arc<LedgerConfig>,
    executor: Executor,
}

/// Unwraps the outcome a command is known to produce.
fn typed<T>(
    done: Executed<Outcome>,
    pick: impl FnOnce(Outcome) -> Option<T>,
) -> Result<Executed<T>, LedgerError> {
    let Executed {
        value,
        positions,
        replayed,
    } = done;
    let value = pick(value)
        .ok_or_else(|| LedgerError::corrupt("command result", "an outcome of another command"))?;
    Ok(Executed {
        value,
        positions,
        replayed,
    })
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

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    async fn run(
        &self,
        ctx: &CommandContext,
        command: Command,
    ) -> Result<Executed<Outcome>, LedgerError> {
        self.executor.submit(command, ctx.clone()).await
    }

    /// Registration on `/start`: `AccountOpened` and the welcome grant, once.
    pub async fn open_account(
        &self,
        ctx: &CommandContext,
        profile: AccountOpened,
    ) -> Result<Executed<OpenOutcome>, LedgerError> {
        let done = self.run(ctx, Command::OpenAccount(profile)).await?;
        typed(done, |o| match o {
            Outcome::Opened(v) => Some(v),
            _ => None,
        })
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
        let done = self
            .run(
                ctx,
                Command::Grant {
                    telegram_id,
                    amount,
                    kind,
                    reason,
                },
            )
            .await?;
        typed(done, |o| match o {
            Outcome::Balance(v) => Some(v),
            _ => None,
        })
    }

    /// The confirm button: prices the task, debits the account and records the task, atomically.
    /// Two taps with the same idempotency key create one task and one debit.
    pub async fn request_task(
        &self,
        ctx: &CommandContext,
        request: TaskRequest,
    ) -> Result<Executed<TaskReceipt>, LedgerError> {
        let done = self
            .run(
                ctx,
                Command::RequestTask {
                    task_id: TaskId::new(),
                    request,
                },
            )
            .await?;
        typed(done, |o| match o {
            Outcome::Task(v) => Some(v),
            _ => None,
        })
    }

    /// Records the user's new defaults (only what changed).
    pub async fn change_settings(
        &self,
        ctx: &CommandContext,
        telegram_id: TelegramId,
        wanted: SettingsChanged,
    ) -> Result<Executed<Settings>, LedgerError> {
        let done = self
            .run(
                ctx,
                Command::ChangeSettings {
                    telegram_id,
                    wanted,
                },
            )
            .await?;
        typed(done, |o| match o {
            Outcome::Settings(v) => Some(v),
            _ => None,
        })
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
        let done = self
            .run(
                ctx,
                Command::StartTask {
                    task_id,
                    worker: worker.to_string(),
                    lease,
                },
            )
            .await?;
        typed(done, |o| match o {
            Outcome::Started(v) => Some(v),
            _ => None,
        })
    }

    pub async fn record_attempt_failure(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        attempt: u32,
        error: &str,
        retryable: bool,
    ) -> Result<Executed<()>, LedgerError> {
        let command = Command::AttemptFailed {
            task_id,
            attempt,
            error: error.to_string(),
            retryable,
        };
        typed(self.run(ctx, command).await?, |_| Some(()))
    }

    pub async fn succeed_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        attempt: u32,
        provider_usage: Option<serde_json::Value>,
    ) -> Result<Executed<()>, LedgerError> {
        typed(
            self.run(
                ctx,
                Command::SucceedTask {
                    task_id,
                    attempt,
                    provider_usage,
                },
            )
            .await?,
            |_| Some(()),
        )
    }

    pub async fn deliver_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        telegram_file_id: &str,
    ) -> Result<Executed<()>, LedgerError> {
        let command = Command::DeliverTask {
            task_id,
            telegram_file_id: telegram_file_id.to_string(),
        };
        typed(self.run(ctx, command).await?, |_| Some(()))
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
        let done = self
            .run(
                ctx,
                Command::FailTask {
                    task_id,
                    owner,
                    error: error.to_string(),
                },
            )
            .await?;
        typed(done, |o| match o {
            Outcome::Failed(v) => Some(v),
            _ => None,
        })
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
        let done = self
            .run(
                ctx,
                Command::RefundTask {
                    task_id,
                    owner,
                    amount,
                    reason: reason.to_string(),
                },
            )
            .await?;
        typed(done, |o| match o {
            Outcome::Balance(v) => Some(v),
            _ => None,
        })
    }

    /// Appends events to one or more streams atomically, each checked against its expected
    /// version (and, on account and task streams, against the aggregate's rules). The low-level
    /// door for imports and tools; everything else has a typed command above.
    pub async fn append(
        &self,
        ctx: &CommandContext,
        appends: Vec<StreamAppend>,
    ) -> Result<Executed<()>, LedgerError> {
        typed(self.run(ctx, Command::Append(appends)).await?, |_| Some(()))
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

    pub async fn task(&self, task_id: TaskId) -> Result<Option<Task>, LedgerError> {
        let (state, _) = self
            .store
            .load::<TaskState>(&StreamId::task(task_id))
            .await?;
        Ok(state.0)
    }

    /// Every event of a user's account stream, oldest first.
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

    /// The balance at a past moment: the account folded over events recorded at or before `at`.
    /// `None` if the account did not exist yet.
    pub async fn balance_at(
        &self,
        telegram_id: TelegramId,
        at: DateTime<Utc>,
    ) -> Result<Option<Tokens>, LedgerError> {
        let events = self
            .store
            .read_stream(&StreamId::account(telegram_id), StreamVersion(1), i64::MAX)
            .await?;
        let mut state = Account::default();
        for e in events.iter().take_while(|e| e.recorded_at <= at) {
            state
                .apply(&e.event, e.recorded_at)
                .map_err(|err| LedgerError::corrupt(format!("position {}", e.position), err))?;
        }
        Ok(state.is_open().then_some(state.balance))
    }
}
