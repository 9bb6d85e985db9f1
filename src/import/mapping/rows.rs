//! The original's rows as read from its database: every column the mapping looks at, loosely
//! typed (the original's schema did not hold what it declared), and the statuses it knew.

/// One row of the original's `users` table. Columns the original declared NOT NULL are still
/// read as optional: its startup `create_all` could leave a schema that differs from Alembic's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalUser {
    /// `users.id`: what the original's tasks point at (`generation_tasks.user_id`).
    pub id: i64,
    /// `users.telegram_id`: becomes the account's owner; a user without a valid one is skipped.
    pub telegram_id: i64,
    /// `users.username`, carried into `AccountOpened`.
    pub username: Option<String>,
    /// `users.first_name`, carried into `AccountOpened`.
    pub first_name: Option<String>,
    /// `users.tokens`: the balance the account must end with (null: 0; negative: 0, warned).
    pub tokens: Option<i64>,
    /// `users.selected_model`; kept when still offered, else the default.
    pub selected_model: Option<String>,
    /// `users.image_quality`; unknown values fall back to medium.
    pub image_quality: Option<String>,
    /// `users.image_size`; unknown values fall back to 1024x1024.
    pub image_size: Option<String>,
}

/// One row of the original's `generation_tasks` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalTask {
    /// `generation_tasks.id`: with the owner, it makes the ledger's task id
    /// ([`super::import_task_id`]).
    pub id: i64,
    /// The owner's `users.id`; a task without one (or with a missing user) is an orphan.
    pub user_id: Option<i64>,
    /// `generate` or `edit`; anything else skips the task.
    pub task_type: Option<String>,
    /// The model it ran (or is to run) with.
    pub model: Option<String>,
    /// The quality it was asked at.
    pub image_quality: Option<String>,
    /// The size it was asked at.
    pub image_size: Option<String>,
    /// The user's prompt; empty becomes a placeholder, too long is cut.
    pub prompt: Option<String>,
    /// An edit's source: the Telegram file id the original stored under this name.
    pub source_image_url: Option<String>,
    /// Where the original kept the result when it had no file id.
    pub result_image_url: Option<String>,
    /// The delivered document's Telegram file id.
    pub result_file_id: Option<String>,
    /// `pending`, `processing`, `done` or `failed`; anything else skips the task.
    pub status: Option<String>,
    /// What the task cost; null or negative skips the task.
    pub tokens_spent: Option<i64>,
    /// Attempts the original made (a failed task records the last one).
    pub retry_count: Option<i64>,
    /// Why a failed task failed, kept in `TaskFailed`.
    pub error_message: Option<String>,
}

/// The original's task statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginalStatus {
    /// Paid and waiting for a worker: imported as requested, for the new worker to run.
    Pending,
    /// Being run when the original stopped: imported as requested, like pending.
    Processing,
    /// Delivered: imported as started, succeeded and delivered.
    Done,
    /// Failed and refunded by the original: imported as failed and refunded.
    Failed,
}

impl OriginalStatus {
    pub(super) fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "pending" => Some(Self::Pending),
            "processing" => Some(Self::Processing),
            "done" => Some(Self::Done),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Tasks per original status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Delivered in the original.
    pub done: u64,
    /// Failed (and refunded) in the original.
    pub failed: u64,
    /// Waiting in the original; the new worker runs them.
    pub pending: u64,
    /// Running when the original stopped; the new worker runs them.
    pub processing: u64,
}

impl TaskCounts {
    /// Tasks of every status.
    pub fn total(&self) -> u64 {
        self.done + self.failed + self.pending + self.processing
    }

    pub(super) fn count(&mut self, status: OriginalStatus) {
        match status {
            OriginalStatus::Done => self.done += 1,
            OriginalStatus::Failed => self.failed += 1,
            OriginalStatus::Pending => self.pending += 1,
            OriginalStatus::Processing => self.processing += 1,
        }
    }

    /// Adds another user's counts (the summary sums the users').
    pub fn add(&mut self, other: &TaskCounts) {
        self.done += other.done;
        self.failed += other.failed;
        self.pending += other.pending;
        self.processing += other.processing;
    }
}
