//! The user has the document: the task's last step.

use super::{Command, View, fingerprint};
use crate::error::LedgerError;
use crate::ids::TaskId;
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;
use crate::task;

/// Records the delivered document.
#[derive(Debug, Clone)]
pub struct DeliverTask {
    /// Which task.
    pub task_id: TaskId,
    /// The document as Telegram stores it (re-sent from the profile by this id).
    pub telegram_file_id: String,
}

impl Command for DeliverTask {
    const NAME: &'static str = "deliver_task";
    type Output = ();

    fn streams(&self) -> Vec<StreamId> {
        vec![StreamId::task(self.task_id)]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &(&self.task_id, &self.telegram_file_id))
    }

    fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<(), LedgerError> {
        let stream = StreamId::task(self.task_id);
        let events =
            task::decide_deliver(&view.task(&stream)?, self.task_id, &self.telegram_file_id)?;
        view.append(&stream, view.current(&stream), events)
    }
}
