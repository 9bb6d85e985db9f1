//! What a command decides on: the locked streams of its batch as they stand after the commands
//! decided before it. A command works on a copy of the streams it touches; only if it succeeds
//! are its changes kept for the commands after it ([`View::keep`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::aggregate::Aggregate;
use crate::error::{DomainError, LedgerError};
use crate::events::Event;
use crate::ids::{TaskId, TelegramId};
use crate::purchase::PurchaseState;
use crate::stream::{ExpectedVersion, StreamId, StreamVersion};
use crate::task::{Task, TaskState};

/// The state of one locked stream as a command sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyState {
    /// An `account-` stream.
    Account(Account),
    /// A `task-` stream.
    Task(TaskState),
    /// A `purchase-` stream.
    Purchase(PurchaseState),
    /// A stream of another category: no aggregate, only versions.
    Other,
}

impl AnyState {
    /// The state of a stream with no events, by the stream's category.
    pub fn empty_for(stream: &StreamId) -> Self {
        match stream.category() {
            StreamId::ACCOUNT => AnyState::Account(Account::default()),
            StreamId::TASK => AnyState::Task(TaskState::default()),
            StreamId::PURCHASE => AnyState::Purchase(PurchaseState::default()),
            _ => AnyState::Other,
        }
    }

    fn apply(&mut self, events: &[Event], at: DateTime<Utc>) -> Result<(), LedgerError> {
        let applied = match self {
            AnyState::Account(a) => a.apply_all(events, at),
            AnyState::Task(t) => t.apply_all(events, at),
            AnyState::Purchase(p) => p.apply_all(events, at),
            AnyState::Other => Ok(()),
        };
        applied.map_err(|e| LedgerError::corrupt("events that do not fit the stream", e))
    }

    /// The snapshot stored in the stream head (None for streams without an aggregate).
    pub fn snapshot(&self) -> Option<(serde_json::Value, i32)> {
        let pair = match self {
            AnyState::Account(a) => (serde_json::to_value(a).ok()?, Account::SNAPSHOT_VERSION),
            AnyState::Task(t) => (serde_json::to_value(t).ok()?, TaskState::SNAPSHOT_VERSION),
            AnyState::Purchase(p) => (
                serde_json::to_value(p).ok()?,
                PurchaseState::SNAPSHOT_VERSION,
            ),
            AnyState::Other => return None,
        };
        Some(pair)
    }
}

/// A locked stream: its version and state.
#[derive(Debug, Clone, PartialEq)]
pub struct Locked {
    /// Events in the stream (0: it does not exist).
    pub version: StreamVersion,
    /// Its aggregate at that version.
    pub state: AnyState,
}

/// Events one command decided to append to one stream.
#[derive(Debug, Clone)]
pub struct Decided {
    /// Where they go.
    pub stream: StreamId,
    /// In append order.
    pub events: Vec<Event>,
}

/// The streams of a batch as they stand after the commands decided so far.
pub struct View<'a> {
    streams: &'a mut HashMap<StreamId, Locked>,
    changed: HashMap<StreamId, Locked>,
    appended: Vec<Decided>,
    now: DateTime<Utc>,
}

impl<'a> View<'a> {
    /// A view for one command over the batch's streams, at the batch's clock.
    pub fn new(streams: &'a mut HashMap<StreamId, Locked>, now: DateTime<Utc>) -> Self {
        Self {
            streams,
            changed: HashMap::new(),
            appended: Vec::new(),
            now,
        }
    }

    /// The batch's clock: the database's, read once per batch.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
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

    /// The account of an `account-` stream.
    pub fn account(&self, stream: &StreamId) -> Result<Account, LedgerError> {
        match self.get(stream).state {
            AnyState::Account(a) => Ok(a),
            _ => Err(LedgerError::corrupt(
                stream.as_str(),
                "not an account stream",
            )),
        }
    }

    /// The task of a `task-` stream.
    pub fn task(&self, stream: &StreamId) -> Result<TaskState, LedgerError> {
        match self.get(stream).state {
            AnyState::Task(t) => Ok(t),
            _ => Err(LedgerError::corrupt(stream.as_str(), "not a task stream")),
        }
    }

    /// The purchase of a `purchase-` stream.
    pub fn purchase(&self, stream: &StreamId) -> Result<PurchaseState, LedgerError> {
        match self.get(stream).state {
            AnyState::Purchase(p) => Ok(p),
            _ => Err(LedgerError::corrupt(
                stream.as_str(),
                "not a purchase stream",
            )),
        }
    }

    /// The version the stream is at now, as the expectation of an append that must not race.
    pub fn current(&self, stream: &StreamId) -> ExpectedVersion {
        ExpectedVersion::Exact(self.get(stream).version)
    }

    /// Appends events that a `decide` function produced: they fit the stream by construction,
    /// which debug builds assert (see [`crate::aggregate::ApplyError`]).
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> Result<(), LedgerError> {
        let appended = self.append_given(stream, expected, events);
        debug_assert!(
            !matches!(appended, Err(LedgerError::Corrupt { .. })),
            "decided events do not fit {stream}: {appended:?}"
        );
        appended
    }

    /// Appends events as a caller gave them (the low-level door): checked against `expected`
    /// and, on account and task streams, against the aggregate's rules.
    pub fn append_given(
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
        locked.version = locked.version.after(events.len())?;
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

/// The streams of a task and of its owner's account, which a command that gives money back for
/// the task locks together.
pub fn task_and_owner(task_id: TaskId, owner: TelegramId) -> (StreamId, StreamId) {
    (StreamId::task(task_id), StreamId::account(owner))
}

/// A task that exists, and who paid for it.
pub fn task_and_payer(
    view: &View<'_>,
    task_id: TaskId,
) -> Result<(TaskState, TelegramId), LedgerError> {
    let state = view.task(&StreamId::task(task_id))?;
    let payer = task_or_missing(&state, task_id)?.request.telegram_id;
    Ok((state, payer))
}

/// The task of a task state, or "not found" under its id.
pub fn task_or_missing(state: &TaskState, id: TaskId) -> Result<&Task, DomainError> {
    state.0.as_ref().ok_or(DomainError::TaskNotFound(id))
}
