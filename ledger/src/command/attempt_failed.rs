//! An attempt of a task failed; the task goes back to pending (or the worker gives up next).

use super::{Command, View, fingerprint};
use crate::error::LedgerError;
use crate::ids::TaskId;
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;
use crate::task;

/// Records that the running attempt failed.
#[derive(Debug, Clone)]
pub struct AttemptFailed {
    /// Which task.
    pub task_id: TaskId,
    /// Which attempt (must be the running one).
    pub attempt: u32,
    /// What went wrong (bounded in the event).
    pub error: String,
    /// Whether another attempt may help.
    pub retryable: bool,
}

impl Command for AttemptFailed {
    const NAME: &'static str = "attempt_failed";
    type Output = ();

    fn streams(&self) -> Vec<StreamId> {
        vec![StreamId::task(self.task_id)]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(
            Self::NAME,
            &(&self.task_id, &self.attempt, &self.error, &self.retryable),
        )
    }

    fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<(), LedgerError> {
        let stream = StreamId::task(self.task_id);
        let events = task::decide_attempt_failed(
            &view.task(&stream)?,
            self.task_id,
            self.attempt,
            &self.error,
            self.retryable,
        )?;
        view.append(&stream, view.current(&stream), events)
    }
}
