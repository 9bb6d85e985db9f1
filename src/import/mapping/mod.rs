//! From the original's rows to the ledger's events. Pure (no I/O), so every rule here is tested
//! without a database; and every stream is folded through the ledger's own aggregates before it
//! is sent, so a mapping mistake is reported by name instead of as a refused append.
//!
//! The original's rows: `rows`; their loose columns read into the ledger's types: `fields`; a
//! task: `task`; a user, their account's money history and their plan: `user`.

mod fields;
mod rows;
mod task;
mod user;

#[cfg(test)]
mod tests;

pub use fields::EMPTY_PROMPT;
pub use rows::{OriginalStatus, OriginalTask, OriginalUser, TaskCounts};
pub use task::{IMPORT_WORKER, NO_ERROR_MESSAGE, NO_FILE_ID, import_task_id};
pub use user::{GRANT_REASON, UserPlan, plan_user};
