//! The provider returned the image; delivery to Telegram comes next.

use super::{Command, View, fingerprint};
use crate::error::LedgerError;
use crate::ids::TaskId;
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;
use crate::task;

/// Records that the running attempt produced the image.
#[derive(Debug, Clone)]
pub struct SucceedTask {
    /// Which task.
    pub task_id: TaskId,
    /// Which attempt (must be the running one).
    pub attempt: u32,
    /// What the provider reported it used (kept in the event). Not part of the fingerprint.
    pub provider_usage: Option<serde_json::Value>,
}

impl Command for SucceedTask {
    const NAME: &'static str = "succeed_task";
    type Output = ();

    fn streams(&self) -> Vec<StreamId> {
        vec![StreamId::task(self.task_id)]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &(&self.task_id, &self.attempt))
    }

    fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<(), LedgerError> {
        let stream = StreamId::task(self.task_id);
        let events = task::decide_succeed(
            &view.task(&stream)?,
            self.task_id,
            self.attempt,
            self.provider_usage.clone(),
        )?;
        view.append(&stream, view.current(&stream), events)
    }
}
