//! A worker takes a task: `TaskStarted` under the task's lock, so two workers never run the same
//! attempt, and a lease after which a silent worker's attempt may be taken over.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::view::task_or_missing;
use super::{Command, Output, View, fingerprint};
use crate::error::LedgerError;
use crate::events::TaskRequested;
use crate::ids::TaskId;
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;
use crate::task;

/// Starts the next attempt of a task.
#[derive(Debug, Clone)]
pub struct StartTask {
    /// Which task.
    pub task_id: TaskId,
    /// Who runs it (kept in the event).
    pub worker: String,
    /// How long a silent worker keeps the attempt. Not part of the fingerprint.
    pub lease: Duration,
}

/// The attempt a worker now owns, and what to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedAttempt {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The task as it was requested.
    pub request: TaskRequested,
}

impl Output for StartedAttempt {
    const STORED_AS: &'static str = "Started";
}

impl Command for StartTask {
    const NAME: &'static str = "start_task";
    type Output = StartedAttempt;

    fn streams(&self) -> Vec<StreamId> {
        vec![StreamId::task(self.task_id)]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &(&self.task_id, &self.worker))
    }

    fn decide(
        &self,
        view: &mut View<'_>,
        config: &LedgerConfig,
    ) -> Result<StartedAttempt, LedgerError> {
        let stream = StreamId::task(self.task_id);
        let state = view.task(&stream)?;
        let task = task_or_missing(&state, self.task_id)?;
        let (request, before) = (task.request.clone(), task.attempts);
        let events = task::decide_start(
            &state,
            self.task_id,
            &self.worker,
            view.now(),
            self.lease,
            config.max_attempts,
        )?;
        view.append(&stream, view.current(&stream), events)?;
        let attempt = view.task(&stream)?.0.map_or(0, |t| t.attempts);
        debug_assert!(
            attempt == before + 1 && attempt <= config.max_attempts,
            "attempt {attempt} follows {before} within {} attempts",
            config.max_attempts
        );
        Ok(StartedAttempt { attempt, request })
    }
}
