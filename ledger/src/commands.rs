//! The ledger's commands: each loads the aggregates it touches under lock, asks their pure
//! `decide` functions, and appends the result atomically. This is where a token is debited
//! ([`Ledger::request_task`]), granted, and refunded.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{self, Account, Settings};
use crate::aggregate::Aggregate;
use crate::error::{DomainError, LedgerError};
use crate::events::{AccountOpened, Event, GrantKind, SettingsChanged, TaskRequested};
use crate::global_order::RecordedEvent;
use crate::ids::{TaskId, TelegramId};
use crate::image::{ImageSize, ModelId, Prompt, Quality, TaskKind};
use crate::metadata::CommandContext;
use crate::pricing::LedgerConfig;
use crate::store::{Begun, CommandTx, EventStore, Executed, fingerprint, retrying};
use crate::stream::{ExpectedVersion, StreamId, StreamVersion};
use crate::task::{self, Task, TaskState};
use crate::tokens::Tokens;

/// The token ledger: the only way tokens move.
#[derive(Clone)]
pub struct Ledger {
    store: EventStore,
    config: Arc<LedgerConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOutcome {
    /// False for a returning user ("welcome back").
    pub newly_opened: bool,
    pub balance: Tokens,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceChange {
    pub telegram_id: TelegramId,
    pub balance_before: Tokens,
    pub amount: Tokens,
    pub balance_after: Tokens,
}

/// What the user asks for; the ledger prices it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRequest {
    pub telegram_id: TelegramId,
    pub kind: TaskKind,
    pub prompt: Prompt,
    /// `None`: the user's chosen model, or the configured default.
    pub model: Option<ModelId>,
    pub quality: Quality,
    pub size: ImageSize,
    pub template_id: Option<String>,
    pub source_file_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReceipt {
    pub task_id: TaskId,
    pub cost: Tokens,
    pub balance_after: Tokens,
    pub model: ModelId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedAttempt {
    pub attempt: u32,
    pub request: TaskRequested,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailOutcome {
    pub refunded: Tokens,
    pub balance_after: Tokens,
}

fn balance_after(events: &[Event]) -> Option<Tokens> {
    events.iter().rev().find_map(|e| match e {
        Event::TokensGranted(g) => Some(g.balance_after),
        Event::TokensDebited(d) => Some(d.balance_after),
        Event::TokensRefunded(r) => Some(r.balance_after),
        _ => None,
    })
}

/// Applies freshly decided events to the state they were decided on, asserting they fit.
fn advance<A: Aggregate>(
    mut state: A,
    events: &[Event],
    now: DateTime<Utc>,
) -> Result<A, LedgerError> {
    state
        .apply_all(events, now)
        .map_err(|e| LedgerError::corrupt("decided events", e))?;
    Ok(state)
}

/// Opens a command transaction, or returns the stored result of an earlier run of the same
/// idempotent command.
macro_rules! begin {
    ($store:expr, $ctx:expr, $fp:expr, $streams:expr) => {
        match $store.begin($ctx, $fp, $streams).await? {
            Begun::Replayed(done) => return Ok(done),
            Begun::Fresh(cx) => *cx,
        }
    };
}

/// Loads a task and the account that owns it, both locked by the caller's stream list.
async fn load_task(cx: &CommandTx, id: TaskId) -> Result<(TaskState, Task), LedgerError> {
    let state: TaskState = cx.load(&StreamId::task(id)).await?;
    let task = state.0.clone().ok_or(DomainError::TaskNotFound(id))?;
    Ok((state, task))
}

impl Ledger {
    pub fn new(store: EventStore, config: LedgerConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
        }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    /// Registration on `/start`: `AccountOpened` and the welcome grant, once.
    pub async fn open_account(
        &self,
        ctx: &CommandContext,
        profile: AccountOpened,
    ) -> Result<Executed<OpenOutcome>, LedgerError> {
        let stream = StreamId::account(profile.telegram_id);
        let fp = fingerprint("open_account", &profile);
        let grant = self.config.initial_grant;
        let (fp, stream, profile) = (&fp, &stream, &profile);
        retrying(std::slice::from_ref(stream), move || async move {
            let mut cx = begin!(self.store, ctx, fp, std::slice::from_ref(stream));
            let state: Account = cx.load(stream).await?;
            let outcome = match account::decide_open(&state, profile.clone(), grant) {
                None => OpenOutcome {
                    newly_opened: false,
                    balance: state.balance,
                },
                Some(events) => {
                    let next = advance(state, &events, cx.now())?;
                    let balance = next.balance;
                    cx.append(stream.clone(), ExpectedVersion::NoStream, events, &next);
                    OpenOutcome {
                        newly_opened: true,
                        balance,
                    }
                }
            };
            cx.commit(outcome).await
        })
        .await
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
        let stream = StreamId::account(telegram_id);
        let fp = fingerprint("grant", &(telegram_id, amount, kind, &reason));
        let config = &self.config;
        let (fp, stream, reason) = (&fp, &stream, &reason);
        retrying(std::slice::from_ref(stream), move || async move {
            let mut cx = begin!(self.store, ctx, fp, std::slice::from_ref(stream));
            let state: Account = cx.load(stream).await?;
            let before = state.balance;
            let events =
                account::decide_grant(&state, telegram_id, amount, kind, reason.clone(), config)?;
            let next = advance(state, &events, cx.now())?;
            let after = next.balance;
            cx.append(
                stream.clone(),
                ExpectedVersion::Exact(cx.version(stream)),
                events,
                &next,
            );
            cx.commit(BalanceChange {
                telegram_id,
                balance_before: before,
                amount,
                balance_after: after,
            })
            .await
        })
        .await
    }

    /// The confirm button: prices the task, debits the account and records the task, atomically.
    /// Two taps with the same idempotency key create one task and one debit.
    pub async fn request_task(
        &self,
        ctx: &CommandContext,
        request: TaskRequest,
    ) -> Result<Executed<TaskReceipt>, LedgerError> {
        let account_stream = StreamId::account(request.telegram_id);
        let fp = fingerprint("request_task", &request);
        let config = &self.config;
        if request.kind == TaskKind::Edit && request.source_file_id.is_none() {
            return Err(DomainError::MissingSourceImage.into());
        }
        let cost = config.cost(
            request.quality,
            request.size,
            request.template_id.as_deref(),
        )?;
        // Chosen once: a retry after a lost race must not mint a second task id.
        let task_id = TaskId::new();
        let task_stream = StreamId::task(task_id);
        let streams = [account_stream.clone(), task_stream.clone()];
        let (fp, account_stream, task_stream, streams, request) =
            (&fp, &account_stream, &task_stream, &streams, &request);
        retrying(&streams[..], move || async move {
            let mut cx = begin!(self.store, ctx, fp, &streams[..]);
            let state: Account = cx.load(account_stream).await?;
            let model = match &request.model {
                Some(m) => m.clone(),
                None => state
                    .settings
                    .model
                    .clone()
                    .or_else(|| config.default_model().cloned())
                    .ok_or_else(|| {
                        LedgerError::corrupt("configuration", "no image model configured")
                    })?,
            };
            if !config.offers_model(&model) {
                return Err(DomainError::UnknownModel(model).into());
            }
            let debit = account::decide_debit(
                &state,
                request.telegram_id,
                task_id,
                cost,
                cx.now(),
                config,
            )?;
            let requested = TaskRequested {
                task_id,
                telegram_id: request.telegram_id,
                kind: request.kind,
                prompt: request.prompt.clone(),
                model: model.clone(),
                quality: request.quality,
                size: request.size,
                cost,
                template_id: request.template_id.clone(),
                source_file_id: request.source_file_id.clone(),
            };
            let task_events = task::decide_request(&TaskState::default(), requested)?;
            let next_account = advance(state, &debit, cx.now())?;
            let next_task = advance(TaskState::default(), &task_events, cx.now())?;
            let balance_after = next_account.balance;
            // TaskRequested first: it is what the worker waits for, and its position then
            // precedes the debit it explains.
            cx.append(
                task_stream.clone(),
                ExpectedVersion::NoStream,
                task_events,
                &next_task,
            );
            let v = cx.version(account_stream);
            cx.append(
                account_stream.clone(),
                ExpectedVersion::Exact(v),
                debit,
                &next_account,
            );
            cx.commit(TaskReceipt {
                task_id,
                cost,
                balance_after,
                model,
            })
            .await
        })
        .await
    }

    /// Records the user's new defaults (only what changed).
    pub async fn change_settings(
        &self,
        ctx: &CommandContext,
        telegram_id: TelegramId,
        wanted: SettingsChanged,
    ) -> Result<Executed<Settings>, LedgerError> {
        let stream = StreamId::account(telegram_id);
        let fp = fingerprint("change_settings", &(telegram_id, &wanted));
        let config = &self.config;
        let (fp, stream, wanted) = (&fp, &stream, &wanted);
        retrying(std::slice::from_ref(stream), move || async move {
            let mut cx = begin!(self.store, ctx, fp, std::slice::from_ref(stream));
            let state: Account = cx.load(stream).await?;
            let events = account::decide_settings(&state, telegram_id, wanted.clone(), config)?;
            let next = advance(state, &events, cx.now())?;
            let settings = next.settings.clone();
            cx.append(
                stream.clone(),
                ExpectedVersion::Exact(cx.version(stream)),
                events,
                &next,
            );
            cx.commit(settings).await
        })
        .await
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
        let stream = StreamId::task(task_id);
        let fp = fingerprint("start_task", &(task_id, worker));
        let max = self.config.max_attempts;
        let (fp, stream) = (&fp, &stream);
        retrying(std::slice::from_ref(stream), move || async move {
            let mut cx = begin!(self.store, ctx, fp, std::slice::from_ref(stream));
            let (state, task) = load_task(&cx, task_id).await?;
            let events = task::decide_start(&state, task_id, worker, cx.now(), lease, max)?;
            let next = advance(state, &events, cx.now())?;
            let attempt = next.0.as_ref().map_or(0, |t| t.attempts);
            cx.append(
                stream.clone(),
                ExpectedVersion::Exact(cx.version(stream)),
                events,
                &next,
            );
            cx.commit(StartedAttempt {
                attempt,
                request: task.request,
            })
            .await
        })
        .await
    }

    pub async fn record_attempt_failure(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        attempt: u32,
        error: &str,
        retryable: bool,
    ) -> Result<Executed<()>, LedgerError> {
        let stream = StreamId::task(task_id);
        let fp = fingerprint("attempt_failed", &(task_id, attempt, error, retryable));
        let (fp, stream) = (&fp, &stream);
        retrying(std::slice::from_ref(stream), move || async move {
            let mut cx = begin!(self.store, ctx, fp, std::slice::from_ref(stream));
            let (state, _) = load_task(&cx, task_id).await?;
            let events = task::decide_attempt_failed(&state, task_id, attempt, error, retryable)?;
            let next = advance(state, &events, cx.now())?;
            cx.append(
                stream.clone(),
                ExpectedVersion::Exact(cx.version(stream)),
                events,
                &next,
            );
            cx.commit(()).await
        })
        .await
    }

    pub async fn succeed_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        attempt: u32,
        provider_usage: Option<serde_json::Value>,
    ) -> Result<Executed<()>, LedgerError> {
        let stream = StreamId::task(task_id);
        let fp = fingerprint("succeed_task", &(task_id, attempt));
        let (fp, stream, provider_usage) = (&fp, &stream, &provider_usage);
        retrying(std::slice::from_ref(stream), move || async move {
            let mut cx = begin!(self.store, ctx, fp, std::slice::from_ref(stream));
            let (state, _) = load_task(&cx, task_id).await?;
            let events = task::decide_succeed(&state, task_id, attempt, provider_usage.clone())?;
            let next = advance(state, &events, cx.now())?;
            cx.append(
                stream.clone(),
                ExpectedVersion::Exact(cx.version(stream)),
                events,
                &next,
            );
            cx.commit(()).await
        })
        .await
    }

    pub async fn deliver_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        telegram_file_id: &str,
    ) -> Result<Executed<()>, LedgerError> {
        let stream = StreamId::task(task_id);
        let fp = fingerprint("deliver_task", &(task_id, telegram_file_id));
        let (fp, stream) = (&fp, &stream);
        retrying(std::slice::from_ref(stream), move || async move {
            let mut cx = begin!(self.store, ctx, fp, std::slice::from_ref(stream));
            let (state, _) = load_task(&cx, task_id).await?;
            let events = task::decide_deliver(&state, task_id, telegram_file_id)?;
            let next = advance(state, &events, cx.now())?;
            cx.append(
                stream.clone(),
                ExpectedVersion::Exact(cx.version(stream)),
                events,
                &next,
            );
            cx.commit(()).await
        })
        .await
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
        let task_stream = StreamId::task(task_id);
        let account_stream = StreamId::account(owner);
        let fp = fingerprint("fail_task", &(task_id, owner, error));
        let streams = [account_stream.clone(), task_stream.clone()];
        let (fp, account_stream, task_stream, streams) =
            (&fp, &account_stream, &task_stream, &streams);
        retrying(&streams[..], move || async move {
            let mut cx = begin!(self.store, ctx, fp, &streams[..]);
            let (state, task) = load_task(&cx, task_id).await?;
            if task.request.telegram_id != owner {
                return Err(LedgerError::corrupt(
                    format!("task {task_id}"),
                    format!("owned by {}, not {owner}", task.request.telegram_id),
                ));
            }
            let (task_events, refund) = task::decide_fail(&state, task_id, error)?;
            let account: Account = cx.load(account_stream).await?;
            let money = if refund.is_zero() {
                vec![]
            } else {
                account::decide_refund(&account, owner, task_id, refund, task_events_reason(error))?
            };
            let next_task = advance(state, &task_events, cx.now())?;
            let next_account = advance(account, &money, cx.now())?;
            let balance = next_account.balance;
            cx.append(
                task_stream.clone(),
                ExpectedVersion::Exact(cx.version(task_stream)),
                task_events,
                &next_task,
            );
            let v = cx.version(account_stream);
            cx.append(
                account_stream.clone(),
                ExpectedVersion::Exact(v),
                money,
                &next_account,
            );
            cx.commit(FailOutcome {
                refunded: refund,
                balance_after: balance,
            })
            .await
        })
        .await
    }

    /// A refund outside the failure path: at most once per task, never more than its debit.
    pub async fn refund_task(
        &self,
        ctx: &CommandContext,
        task_id: TaskId,
        amount: Tokens,
        reason: &str,
    ) -> Result<Executed<BalanceChange>, LedgerError> {
        // The owner is needed to lock the account; read it first (task ownership never changes).
        let (probe, _) = self
            .store
            .load::<TaskState>(&StreamId::task(task_id))
            .await?;
        let owner = probe
            .0
            .as_ref()
            .map(|t| t.request.telegram_id)
            .ok_or(DomainError::TaskNotFound(task_id))?;
        let task_stream = StreamId::task(task_id);
        let account_stream = StreamId::account(owner);
        let fp = fingerprint("refund_task", &(task_id, amount, reason));
        let streams = [account_stream.clone(), task_stream.clone()];
        let (fp, account_stream, task_stream, streams, reason) =
            (&fp, &account_stream, &task_stream, &streams, &reason);
        retrying(&streams[..], move || async move {
            let mut cx = begin!(self.store, ctx, fp, &streams[..]);
            let (state, _) = load_task(&cx, task_id).await?;
            let task_events = task::decide_refund(&state, task_id, amount, reason)?;
            let account: Account = cx.load(account_stream).await?;
            let before = account.balance;
            let money =
                account::decide_refund(&account, owner, task_id, amount, reason.to_string())?;
            let next_task = advance(state, &task_events, cx.now())?;
            let next_account = advance(account, &money, cx.now())?;
            let after = balance_after(&money).unwrap_or(before);
            cx.append(
                task_stream.clone(),
                ExpectedVersion::Exact(cx.version(task_stream)),
                task_events,
                &next_task,
            );
            let v = cx.version(account_stream);
            cx.append(
                account_stream.clone(),
                ExpectedVersion::Exact(v),
                money,
                &next_account,
            );
            cx.commit(BalanceChange {
                telegram_id: owner,
                balance_before: before,
                amount,
                balance_after: after,
            })
            .await
        })
        .await
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

fn task_events_reason(error: &str) -> String {
    crate::events::bounded_error(&format!("task failed: {error}"))
}
