//! Commands as data. Each names the streams it touches, a fingerprint for its idempotency key,
//! and a pure `decide` over the current state of those streams that returns the events to
//! append, or the rule that refuses. Being data, commands from many callers can be decided one
//! after another inside one transaction ([`crate::executor`]), each seeing the ones before it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{self, Account, Settings};
use crate::aggregate::Aggregate;
use crate::error::{DomainError, LedgerError};
use crate::events::{AccountOpened, Event, GrantKind, SettingsChanged, TaskRequested};
use crate::ids::{TaskId, TelegramId};
use crate::image::{ImageSize, ModelId, Prompt, Quality, TaskKind};
use crate::pricing::LedgerConfig;
use crate::store::fingerprint;
use crate::stream::{ExpectedVersion, StreamId, StreamVersion};
use crate::task::{self, TaskState};
use crate::tokens::Tokens;

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

/// The events of one stream in one low-level append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamAppend {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<Event>,
}

/// Everything that can change the ledger.
#[derive(Debug, Clone)]
pub enum Command {
    OpenAccount(AccountOpened),
    Grant {
        telegram_id: TelegramId,
        amount: Tokens,
        kind: GrantKind,
        reason: Option<String>,
    },
    /// The task id is chosen by the caller once, so a retry never mints a second task.
    RequestTask {
        task_id: TaskId,
        request: TaskRequest,
    },
    ChangeSettings {
        telegram_id: TelegramId,
        wanted: SettingsChanged,
    },
    StartTask {
        task_id: TaskId,
        worker: String,
        lease: Duration,
    },
    AttemptFailed {
        task_id: TaskId,
        attempt: u32,
        error: String,
        retryable: bool,
    },
    SucceedTask {
        task_id: TaskId,
        attempt: u32,
        provider_usage: Option<serde_json::Value>,
    },
    DeliverTask {
        task_id: TaskId,
        telegram_file_id: String,
    },
    FailTask {
        task_id: TaskId,
        owner: TelegramId,
        error: String,
    },
    RefundTask {
        task_id: TaskId,
        owner: TelegramId,
        amount: Tokens,
        reason: String,
    },
    /// The low-level door: events appended as given, checked against expected versions (and,
    /// on account and task streams, against the aggregate's rules).
    Append(Vec<StreamAppend>),
}

/// What a command returns; the typed methods of [`crate::Ledger`] unwrap it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "value")]
pub enum Outcome {
    Opened(OpenOutcome),
    Balance(BalanceChange),
    Task(TaskReceipt),
    Settings(Settings),
    Started(StartedAttempt),
    Failed(FailOutcome),
    Done,
}

impl Command {
    /// The streams whose locks the command needs.
    pub fn streams(&self) -> Vec<StreamId> {
        match self {
            Command::OpenAccount(p) => vec![StreamId::account(p.telegram_id)],
            Command::Grant { telegram_id, .. } | Command::ChangeSettings { telegram_id, .. } => {
                vec![StreamId::account(*telegram_id)]
            }
            Command::RequestTask { task_id, request } => {
                vec![
                    StreamId::account(request.telegram_id),
                    StreamId::task(*task_id),
                ]
            }
            Command::StartTask { task_id, .. }
            | Command::AttemptFailed { task_id, .. }
            | Command::SucceedTask { task_id, .. }
            | Command::DeliverTask { task_id, .. } => vec![StreamId::task(*task_id)],
            Command::FailTask { task_id, owner, .. }
            | Command::RefundTask { task_id, owner, .. } => {
                vec![StreamId::account(*owner), StreamId::task(*task_id)]
            }
            Command::Append(appends) => appends.iter().map(|a| a.stream.clone()).collect(),
        }
    }

    /// What an idempotency key is bound to: the command's input, without ids the ledger chose.
    pub fn fingerprint(&self) -> Vec<u8> {
        match self {
            Command::OpenAccount(p) => fingerprint("open_account", p),
            Command::Grant {
                telegram_id,
                amount,
                kind,
                reason,
            } => fingerprint("grant", &(telegram_id, amount, kind, reason)),
            Command::RequestTask { request, .. } => fingerprint("request_task", request),
            Command::ChangeSettings {
                telegram_id,
                wanted,
            } => fingerprint("change_settings", &(telegram_id, wanted)),
            Command::StartTask {
                task_id, worker, ..
            } => fingerprint("start_task", &(task_id, worker)),
            Command::AttemptFailed {
                task_id,
                attempt,
                error,
                retryable,
            } => fingerprint("attempt_failed", &(task_id, attempt, error, retryable)),
            Command::SucceedTask {
                task_id, attempt, ..
            } => fingerprint("succeed_task", &(task_id, attempt)),
            Command::DeliverTask {
                task_id,
                telegram_file_id,
            } => fingerprint("deliver_task", &(task_id, telegram_file_id)),
            Command::FailTask {
                task_id,
                owner,
                error,
            } => fingerprint("fail_task", &(task_id, owner, error)),
            Command::RefundTask {
                task_id,
                amount,
                reason,
                ..
            } => fingerprint("refund_task", &(task_id, amount, reason)),
            Command::Append(appends) => fingerprint("append", appends),
        }
    }
}

/// The state of one locked stream as a command sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyState {
    Account(Account),
    Task(TaskState),
    /// A stream of another category: no aggregate, only versions.
    Other,
}

impl AnyState {
    pub fn empty_for(stream: &StreamId) -> Self {
        match stream.category() {
            StreamId::ACCOUNT => AnyState::Account(Account::default()),
            StreamId::TASK => AnyState::Task(TaskState::default()),
            _ => AnyState::Other,
        }
    }

    fn apply(&mut self, events: &[Event], at: DateTime<Utc>) -> Result<(), LedgerError> {
        let applied = match self {
            AnyState::Account(a) => a.apply_all(events, at),
            AnyState::Task(t) => t.apply_all(events, at),
            AnyState::Other => Ok(()),
        };
        applied.map_err(|e| LedgerError::corrupt("events that do not fit the stream", e))
    }

    /// The snapshot stored in the stream head (None for streams without an aggregate).
    pub fn snapshot(&self) -> Option<(serde_json::Value, i32)> {
        let pair = match self {
            AnyState::Account(a) => (serde_json::to_value(a).ok()?, Account::SNAPSHOT_VERSION),
            AnyState::Task(t) => (serde_json::to_value(t).ok()?, TaskState::SNAPSHOT_VERSION),
            AnyState::Other => return None,
        };
        Some(pair)
    }
}

/// A locked stream: its version and state.
#[derive(Debug, Clone, PartialEq)]
pub struct Locked {
    pub version: StreamVersion,
    pub state: AnyState,
}

/// Events one command decided to append to one stream.
#[derive(Debug, Clone)]
pub struct Decided {
    pub stream: StreamId,
    pub events: Vec<Event>,
}

/// The streams of a batch as they stand after the commands decided so far. A command decides
/// on a copy of the streams it touches; only if it succeeds are its changes kept.
pub struct View<'a> {
    streams: &'a mut HashMap<StreamId, Locked>,
    changed: HashMap<StreamId, Locked>,
    appended: Vec<Decided>,
    now: DateTime<Utc>,
}

impl<'a> View<'a> {
    pub fn new(streams: &'a mut HashMap<StreamId, Locked>, now: DateTime<Utc>) -> Self {
        Self {
            streams,
            changed: HashMap::new(),
            appended: Vec::new(),
            now,
        }
    }

    fn get(&self, stream: &StreamId) -> Locked {
        self.changed
            .get(stream)
            .or_else(|| self.streams.get(stream))
            .cloned()
            .unwrap_or_else(|| Locked {
                version: StreamVersion::NONE,
                state: AnyState::empty_for(stream),
            })
    }

    fn account(&self, stream: &StreamId) -> Result<Account, LedgerError> {
        match self.get(stream).state {
            AnyState::Account(a) => Ok(a),
            _ => Err(LedgerError::corrupt(
                stream.as_str(),
                "not an account stream",
            )),
        }
    }

    fn task(&self, stream: &StreamId) -> Result<TaskState, LedgerError> {
        match self.get(stream).state {
            AnyState::Task(t) => Ok(t),
            _ => Err(LedgerError::corrupt(stream.as_str(), "not a task stream")),
        }
    }

    /// Appends `events` to `stream`, which must be at `expected`; applies them to its state.
    fn append(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<(), LedgerError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut locked = self.get(stream);
        if !expected.admits(locked.version) {
            return Err(LedgerError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: locked.version,
            });
        }
        locked.state.apply(&events, self.now)?;
        locked.version = StreamVersion(locked.version.0 + events.len() as u64);
        self.changed.insert(stream.clone(), locked);
        self.appended.push(Decided {
            stream: stream.clone(),
            events,
        });
        Ok(())
    }

    /// Keeps this command's changes for the commands after it; returns what it appended.
    pub fn keep(self) -> Vec<Decided> {
        for (stream, locked) in self.changed {
            self.streams.insert(stream, locked);
        }
        self.appended
    }
}

fn current(view: &View<'_>, stream: &StreamId) -> ExpectedVersion {
    ExpectedVersion::Exact(view.get(stream).version)
}

fn task_or_missing(state: &TaskState, id: TaskId) -> Result<&task::Task, DomainError> {
    state.0.as_ref().ok_or(DomainError::TaskNotFound(id))
}

/// Decides one command against the view. Pure: no I/O, no clock but `view`'s.
pub fn decide(
    command: &Command,
    view: &mut View<'_>,
    config: &LedgerConfig,
) -> Result<Outcome, LedgerError> {
    let now = view.now;
    match command {
        Command::OpenAccount(profile) => {
            let stream = StreamId::account(profile.telegram_id);
            let state = view.account(&stream)?;
            match account::decide_open(&state, profile.clone(), config.initial_grant) {
                None => Ok(Outcome::Opened(OpenOutcome {
                    newly_opened: false,
                    balance: state.balance,
                })),
                Some(events) => {
                    view.append(&stream, ExpectedVersion::NoStream, events)?;
                    let balance = view.account(&stream)?.balance;
                    Ok(Outcome::Opened(OpenOutcome {
                        newly_opened: true,
                        balance,
                    }))
                }
            }
        }
        Command::Grant {
            telegram_id,
            amount,
            kind,
            reason,
        } => {
            let stream = StreamId::account(*telegram_id);
            let state = view.account(&stream)?;
            let events = account::decide_grant(
                &state,
                *telegram_id,
                *amount,
                *kind,
                reason.clone(),
                config,
            )?;
            view.append(&stream, current(view, &stream), events)?;
            Ok(Outcome::Balance(BalanceChange {
                telegram_id: *telegram_id,
                balance_before: state.balance,
                amount: *amount,
                balance_after: view.account(&stream)?.balance,
            }))
        }
        Command::RequestTask { task_id, request } => {
            if request.kind == TaskKind::Edit && request.source_file_id.is_none() {
                return Err(DomainError::MissingSourceImage.into());
            }
            let cost = config.cost(
                request.quality,
                request.size,
                request.template_id.as_deref(),
            )?;
            let account_stream = StreamId::account(request.telegram_id);
            let task_stream = StreamId::task(*task_id);
            let state = view.account(&account_stream)?;
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
            let debit =
                account::decide_debit(&state, request.telegram_id, *task_id, cost, now, config)?;
            let requested = TaskRequested {
                task_id: *task_id,
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
            let task_events = task::decide_request(&view.task(&task_stream)?, requested)?;
            // TaskRequested first: it is what the worker waits for, and it explains the debit.
            view.append(&task_stream, ExpectedVersion::NoStream, task_events)?;
            view.append(&account_stream, current(view, &account_stream), debit)?;
            Ok(Outcome::Task(TaskReceipt {
                task_id: *task_id,
                cost,
                balance_after: view.account(&account_stream)?.balance,
                model,
            }))
        }
        Command::ChangeSettings {
            telegram_id,
            wanted,
        } => {
            let stream = StreamId::account(*telegram_id);
            let state = view.account(&stream)?;
            let events = account::decide_settings(&state, *telegram_id, wanted.clone(), config)?;
            view.append(&stream, current(view, &stream), events)?;
            Ok(Outcome::Settings(view.account(&stream)?.settings))
        }
        Command::StartTask {
            task_id,
            worker,
            lease,
        } => {
            let stream = StreamId::task(*task_id);
            let state = view.task(&stream)?;
            let request = task_or_missing(&state, *task_id)?.request.clone();
            let events =
                task::decide_start(&state, *task_id, worker, now, *lease, config.max_attempts)?;
            view.append(&stream, current(view, &stream), events)?;
            let attempt = view.task(&stream)?.0.map_or(0, |t| t.attempts);
            Ok(Outcome::Started(StartedAttempt { attempt, request }))
        }
        Command::AttemptFailed {
            task_id,
            attempt,
            error,
            retryable,
        } => {
            let stream = StreamId::task(*task_id);
            let events = task::decide_attempt_failed(
                &view.task(&stream)?,
                *task_id,
                *attempt,
                error,
                *retryable,
            )?;
            view.append(&stream, current(view, &stream), events)?;
            Ok(Outcome::Done)
        }
        Command::SucceedTask {
            task_id,
            attempt,
            provider_usage,
        } => {
            let stream = StreamId::task(*task_id);
            let events = task::decide_succeed(
                &view.task(&stream)?,
                *task_id,
                *attempt,
                provider_usage.clone(),
            )?;
            view.append(&stream, current(view, &stream), events)?;
            Ok(Outcome::Done)
        }
        Command::DeliverTask {
            task_id,
            telegram_file_id,
        } => {
            let stream = StreamId::task(*task_id);
            let events = task::decide_deliver(&view.task(&stream)?, *task_id, telegram_file_id)?;
            view.append(&stream, current(view, &stream), events)?;
            Ok(Outcome::Done)
        }
        Command::FailTask {
            task_id,
            owner,
            error,
        } => {
            let task_stream = StreamId::task(*task_id);
            let account_stream = StreamId::account(*owner);
            let state = view.task(&task_stream)?;
            let t = task_or_missing(&state, *task_id)?;
            if t.request.telegram_id != *owner {
                return Err(LedgerError::corrupt(
                    format!("task {task_id}"),
                    format!("owned by {}, not {owner}", t.request.telegram_id),
                ));
            }
            let (task_events, refund) = task::decide_fail(&state, *task_id, error)?;
            let money = if refund.is_zero() {
                vec![]
            } else {
                let reason = crate::events::bounded_error(&format!("task failed: {error}"));
                account::decide_refund(
                    &view.account(&account_stream)?,
                    *owner,
                    *task_id,
                    refund,
                    reason,
                )?
            };
            view.append(&task_stream, current(view, &task_stream), task_events)?;
            view.append(&account_stream, current(view, &account_stream), money)?;
            Ok(Outcome::Failed(FailOutcome {
                refunded: refund,
                balance_after: view.account(&account_stream)?.balance,
            }))
        }
        Command::RefundTask {
            task_id,
            owner,
            amount,
            reason,
        } => {
            let task_stream = StreamId::task(*task_id);
            let account_stream = StreamId::account(*owner);
            let state = view.task(&task_stream)?;
            let t = task_or_missing(&state, *task_id)?;
            if t.request.telegram_id != *owner {
                return Err(DomainError::TaskNotFound(*task_id).into());
            }
            let task_events = task::decide_refund(&state, *task_id, *amount, reason)?;
            let before = view.account(&account_stream)?.balance;
            let money = account::decide_refund(
                &view.account(&account_stream)?,
                *owner,
                *task_id,
                *amount,
                reason.clone(),
            )?;
            view.append(&task_stream, current(view, &task_stream), task_events)?;
            view.append(&account_stream, current(view, &account_stream), money)?;
            Ok(Outcome::Balance(BalanceChange {
                telegram_id: *owner,
                balance_before: before,
                amount: *amount,
                balance_after: view.account(&account_stream)?.balance,
            }))
        }
        Command::Append(appends) => {
            if appends.iter().all(|a| a.events.is_empty()) {
                return Err(LedgerError::EmptyAppend);
            }
            for a in appends {
                view.append(&a.stream, a.expected, a.events.clone())?;
            }
            Ok(Outcome::Done)
        }
    }
}
