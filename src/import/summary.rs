//! What an import did, counted and explained: the summary `tokenbot import` prints, and how
//! each user's outcome is counted in it.

use std::fmt;

use tokenbot_ledger::{Executed, LedgerError, StreamId, TelegramId};

use super::error::{ImportError, describe};
use super::mapping::{OriginalTask, TaskCounts, UserPlan};

/// Warning and failure lines kept for the summary; the rest are only counted.
const LINES_KEPT: usize = 200;

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// The original database (host:port/database).
    pub source: String,
    /// Rows of the original's `users` table.
    pub users_in_source: u64,
    /// Appended by this run.
    pub users_imported: u64,
    /// Imported by an earlier run, unchanged since: nothing appended.
    pub users_already_imported: u64,
    /// Imported by an earlier run, and their rows in the original have changed since: not
    /// updated (the ledger is the truth now), listed in `changed`.
    pub users_changed: u64,
    /// Could not be imported (invalid rows, an account the ledger already had, an error); the
    /// reasons are in `failures`.
    pub users_skipped: u64,
    /// Imported users whose original balance was negative (they start at 0).
    pub negative_balances: u64,
    /// Tasks appended by this run, by their status in the original.
    pub tasks: TaskCounts,
    /// Tasks left out (negative or missing cost, unknown status or type, no owner).
    pub tasks_skipped: u64,
    /// The sum of the balances of the users imported by this run.
    pub tokens_imported: u64,
    /// Every warning, counted; the first ones are kept in `warning_lines`.
    pub warnings: u64,
    /// The first warnings, one line each (the rest are only counted in `warnings`).
    pub warning_lines: Vec<String>,
    /// The first users counted in `users_changed` (the rest are only counted).
    pub changed: Vec<TelegramId>,
    /// Why the first skipped users were skipped, one line each (the rest are only counted).
    pub failures: Vec<String>,
}

impl ImportSummary {
    /// True when every user of the original is in the ledger (now or from an earlier run).
    pub fn ok(&self) -> bool {
        self.users_skipped == 0
    }

    pub(super) fn warn(&mut self, line: String) {
        self.warnings += 1;
        if self.warning_lines.len() < LINES_KEPT {
            self.warning_lines.push(line);
        }
    }

    pub(super) fn skip_user(&mut self, reason: String) {
        self.users_skipped += 1;
        if self.failures.len() < LINES_KEPT {
            self.failures.push(reason);
        }
    }

    pub(super) fn orphan(&mut self, task: &OriginalTask) {
        self.tasks_skipped += 1;
        let owner = task
            .user_id
            .map_or("no user_id".to_string(), |u| format!("user_id {u}"));
        self.warn(format!(
            "task {}: skipped: {owner} is not in the users table",
            task.id
        ));
    }

    /// Records one user's outcome. Only an unreachable ledger is fatal.
    pub(super) fn record(
        &mut self,
        plan: UserPlan,
        outcome: Result<Executed<()>, LedgerError>,
    ) -> Result<(), ImportError> {
        let who = plan.telegram_id;
        match outcome {
            Ok(done) if done.replayed => self.users_already_imported += 1,
            Ok(_) => {
                self.users_imported += 1;
                self.tasks.add(&plan.tasks);
                self.tasks_skipped += plan.skipped_tasks;
                self.tokens_imported = self.tokens_imported.saturating_add(plan.balance.get());
                if plan.negative_balance {
                    self.negative_balances += 1;
                }
                for w in plan.warnings {
                    self.warn(w);
                }
            }
            Err(LedgerError::IdempotencyConflict { .. }) => {
                self.users_changed += 1;
                if self.changed.len() < LINES_KEPT {
                    self.changed.push(who);
                }
            }
            Err(LedgerError::WrongExpectedVersion { stream, .. }) => {
                let what = if stream == StreamId::account(who) {
                    "the ledger already has an account for them that this import did not \
                     create (did they use the new bot before the import?)"
                        .to_string()
                } else {
                    format!("the ledger already has a stream {stream}")
                };
                self.skip_user(format!("user {who}: not imported: {what}"));
            }
            Err(LedgerError::Pool(e)) => {
                return Err(ImportError::Ledger {
                    reason: describe(&e),
                });
            }
            // Postgres stopped answering mid-commit; running the import again finishes the
            // user (its key answers with what was written, if it was).
            Err(e @ LedgerError::OutcomeUnknown { .. }) => {
                return Err(ImportError::Ledger {
                    reason: e.to_string(),
                });
            }
            Err(e) => self.skip_user(format!("user {who}: not imported: {e}")),
        }
        Ok(())
    }
}

fn more(total: u64, kept: usize) -> String {
    let hidden = total.saturating_sub(kept as u64);
    if hidden > 0 {
        format!("  ... and {hidden} more\n")
    } else {
        String::new()
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tasks;
        writeln!(
            f,
            "imported from {}: {} users in the original",
            self.source, self.users_in_source
        )?;
        writeln!(
            f,
            "users:    {} imported, {} already imported, {} changed since the last import, {} skipped",
            self.users_imported,
            self.users_already_imported,
            self.users_changed,
            self.users_skipped
        )?;
        writeln!(
            f,
            "tasks:    {} imported (done {}, failed {}, pending {}, processing {}), {} skipped",
            t.total(),
            t.done,
            t.failed,
            t.pending,
            t.processing,
            self.tasks_skipped
        )?;
        writeln!(
            f,
            "tokens:   {} carried over in balances",
            self.tokens_imported
        )?;
        writeln!(f, "warnings: {}", self.warnings)?;
        if t.pending + t.processing > 0 {
            writeln!(
                f,
                "tasks still pending or processing in the original: {} (pending here: the worker \
                 will run them; they were paid for in the original and are not charged again, \
                 and a failure refunds them)",
                t.pending + t.processing
            )?;
        }
        if self.negative_balances > 0 {
            writeln!(
                f,
                "users with a negative balance in the original: {} (their accounts start at 0)",
                self.negative_balances
            )?;
        }
        if self.users_changed > 0 {
            let ids: Vec<String> = self.changed.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "changed since the last import (left as imported then; the ledger is the truth now): {}",
                ids.join(", ")
            )?;
            f.write_str(&more(self.users_changed, self.changed.len()))?;
        }
        if !self.failures.is_empty() {
            writeln!(f, "skipped users:")?;
            for line in &self.failures {
                writeln!(f, "  {line}")?;
            }
            f.write_str(&more(self.users_skipped, self.failures.len()))?;
        }
        if !self.warning_lines.is_empty() {
            writeln!(f, "warnings:")?;
            for line in &self.warning_lines {
                writeln!(f, "  {line}")?;
            }
            f.write_str(&more(self.warnings, self.warning_lines.len()))?;
        }
        Ok(())
    }
}
