//! Carrying the original bot's users, balances and tasks over into the ledger
//! (`tokenbot import --from <url>`).
//!
//! Each user becomes one atomic append through the ledger's low-level door
//! ([`Ledger::append`]): their account stream and one stream per task, all new, under the
//! idempotency key `import:user:<telegram id>`. Running the import again therefore changes
//! nothing: an unchanged user is answered from the first run's result, and a user whose rows
//! changed in the original since then is reported (the ledger refuses the same key with a
//! different payload) and left as it is. How rows become events: [`mapping`]; how the original is
//! read: [`original`].

pub mod mapping;
mod original;

use std::fmt;

use futures::StreamExt;
use tokenbot_ledger::{Actor, CommandContext, Executed, Ledger, LedgerError, StreamId, TelegramId};
use tokio::sync::Semaphore;

use mapping::{OriginalTask, TaskCounts, UserPlan};
pub use original::Source;

/// The largest `--batch`.
pub const MAX_BATCH: i64 = 10_000;
/// Users whose appends are in flight at once; the ledger's batch writer groups them into
/// transactions of up to 64 commands.
const USERS_IN_FLIGHT: usize = 64;
/// Streams in flight at once. Every stream of an append takes an advisory lock until its
/// transaction ends, and Postgres' lock table is shared and bounded (`max_locks_per_transaction`
/// x connections, 6400 by default), so many users with many tasks must not be sent together.
const STREAMS_IN_FLIGHT: usize = 2_000;
/// Warning and failure lines kept for the summary; the rest are only counted.
const LINES_KEPT: usize = 200;

/// What the import is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Users read per query (tasks are read ahead by as many rows).
    pub batch: i64,
}

impl ImportOptions {
    pub fn new(batch: i64) -> Result<Self, ImportError> {
        if (1..=MAX_BATCH).contains(&batch) {
            Ok(Self { batch })
        } else {
            Err(ImportError::InvalidBatch(batch))
        }
    }
}

/// Told how far the import has got (a progress bar, or nothing).
pub trait ImportProgress: Sync {
    /// The number of users in the original.
    fn total(&self, _users: u64) {}
    /// `users` more users were handled (imported, skipped or found already imported).
    fn advanced(&self, _users: u64) {}
}

impl ImportProgress for () {}

/// Why the import could not run (or stopped). Problems with single users are not errors: they
/// are counted in the [`ImportSummary`] and the import goes on.
#[derive(Debug)]
pub enum ImportError {
    InvalidBatch(i64),
    InvalidUrl {
        reason: String,
    },
    Unreachable {
        target: String,
        reason: String,
    },
    MissingTable {
        target: String,
        table: &'static str,
    },
    MissingColumns {
        target: String,
        table: &'static str,
        columns: Vec<&'static str>,
    },
    Read {
        target: String,
        reason: String,
    },
    Ledger {
        reason: String,
    },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::InvalidBatch(n) => write!(
                f,
                "--batch {n} is out of range: expected 1 to {MAX_BATCH} users per query"
            ),
            ImportError::InvalidUrl { reason } => write!(
                f,
                "--from is not a Postgres URL (postgres://user:password@host:port/database): {reason}"
            ),
            ImportError::Unreachable { target, reason } => write!(
                f,
                "cannot reach the original database at {target} (--from): {reason}"
            ),
            ImportError::MissingTable { target, table } => write!(
                f,
                "the database at --from ({target}) has no {table} table; \
                 is it the original bot's database?"
            ),
            ImportError::MissingColumns {
                target,
                table,
                columns,
            } => write!(
                f,
                "the {table} table of the database at --from ({target}) has no column {}; \
                 is it the original bot's database, migrated to its last schema?",
                columns.join(", ")
            ),
            ImportError::Read { target, reason } => write!(
                f,
                "reading the original database at {target} failed: {reason}"
            ),
            ImportError::Ledger { reason } => write!(
                f,
                "the ledger's database stopped answering: {reason}; run the import again \
                 when it is back (users already imported are not imported twice)"
            ),
        }
    }
}

impl std::error::Error for ImportError {}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// The original database (host:port/database).
    pub source: String,
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
    pub warning_lines: Vec<String>,
    pub changed: Vec<TelegramId>,
    pub failures: Vec<String>,
}

impl ImportSummary {
    /// True when every user of the original is in the ledger (now or from an earlier run).
    pub fn ok(&self) -> bool {
        self.users_skipped == 0
    }

    fn warn(&mut self, line: String) {
        self.warnings += 1;
        if self.warning_lines.len() < LINES_KEPT {
            self.warning_lines.push(line);
        }
    }

    fn skip_user(&mut self, reason: String) {
        self.users_skipped += 1;
        if self.failures.len() < LINES_KEPT {
            self.failures.push(reason);
        }
    }

    fn orphan(&mut self, task: &OriginalTask) {
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
    fn record(
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
                    reason: original::describe(&e),
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

/// Appends one user's streams, holding as many stream permits as it takes advisory locks.
async fn append_user(
    ledger: &Ledger,
    permits: &Semaphore,
    mut plan: UserPlan,
) -> (UserPlan, Result<Executed<()>, LedgerError>) {
    let wanted = plan.appends.len().clamp(1, STREAMS_IN_FLIGHT);
    let ctx = CommandContext::new(Actor::system("import")).with_key(plan.key.clone());
    // The semaphore is never closed, so acquiring cannot fail; if it did, go on without.
    let _held = permits
        .acquire_many(u32::try_from(wanted).unwrap_or(u32::MAX))
        .await
        .ok();
    let appends = std::mem::take(&mut plan.appends);
    let outcome = ledger.append(&ctx, appends).await;
    (plan, outcome)
}

/// Imports every user of `source` into `ledger`. Returns the summary even when some users could
/// not be imported (see [`ImportSummary::ok`]); fails only when the original cannot be read or
/// the ledger stops answering.
pub async fn import(
    ledger: &Ledger,
    mut source: Source,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportSummary, ImportError> {
    let mut summary = ImportSummary {
        source: source.target().to_string(),
        ..Default::default()
    };
    let config = ledger.config();
    let permits = Semaphore::new(STREAMS_IN_FLIGHT);
    let mut reader = source.read(options.batch).await?;
    summary.users_in_source = reader.total_users;
    progress.total(reader.total_users);
    while let Some(batch) = reader.next_batch().await? {
        for task in &batch.orphans {
            summary.orphan(task);
        }
        let mut plans = Vec::with_capacity(batch.users.len());
        for (user, tasks) in &batch.users {
            match mapping::plan_user(user, tasks, config) {
                Ok(plan) => plans.push(plan),
                Err(reason) => {
                    summary.skip_user(format!(
                        "users.id {} (telegram_id {}): not imported: {reason}",
                        user.id, user.telegram_id
                    ));
                    progress.advanced(1);
                }
            }
        }
        let mut appended = futures::stream::iter(plans)
            .map(|plan| append_user(ledger, &permits, plan))
            .buffer_unordered(USERS_IN_FLIGHT);
        while let Some((plan, outcome)) = appended.next().await {
            summary.record(plan, outcome)?;
            progress.advanced(1);
        }
    }
    reader.finish().await?;
    Ok(summary)
}
