//! Carrying the original bot's users, balances and tasks over into the ledger
//! (`tokenbot import --from <url>`).
//!
//! Each user becomes one atomic append through the ledger's low-level door
//! ([`Ledger::append`]): their account stream and one stream per task, all new, under the
//! idempotency key `import:user:<telegram id>`. Running the import again therefore changes
//! nothing: an unchanged user is answered from the first run's result, and a user whose rows
//! changed in the original since then is reported (the ledger refuses the same key with a
//! different payload) and left as it is. How rows become events: [`mapping`]; how the original is
//! read: `original`.

mod error;
pub mod mapping;
mod original;
mod summary;

use std::fmt;

use futures::StreamExt;
use tokenbot_ledger::{Actor, CommandContext, Executed, Ledger, LedgerError};
use tokio::sync::Semaphore;

pub use error::ImportError;
use mapping::UserPlan;
pub use original::Source;
pub use summary::ImportSummary;

/// The largest `--batch`.
pub const MAX_BATCH: i64 = 10_000;
/// Users whose appends are in flight at once; the ledger's batch writer groups them into
/// transactions of up to 64 commands.
const USERS_IN_FLIGHT: usize = 64;
/// Streams in flight at once. Every stream of an append takes an advisory lock until its
/// transaction ends, and Postgres' lock table is shared and bounded (`max_locks_per_transaction`
/// x connections, 6400 by default), so many users with many tasks must not be sent together.
const STREAMS_IN_FLIGHT: usize = 2_000;

/// What the import is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Users read per query (tasks are read ahead by as many rows).
    pub batch: i64,
}

impl ImportOptions {
    /// Options reading `batch` users per query; refused outside 1..=[`MAX_BATCH`], before
    /// anything is connected.
    pub fn new(batch: i64) -> Result<Self, BatchOutOfRange> {
        if (1..=MAX_BATCH).contains(&batch) {
            Ok(Self { batch })
        } else {
            Err(BatchOutOfRange(batch))
        }
    }
}

/// A `--batch` outside 1..=[`MAX_BATCH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutOfRange(pub i64);

impl fmt::Display for BatchOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--batch {} is out of range: expected 1 to {MAX_BATCH} users per query",
            self.0
        )
    }
}

impl std::error::Error for BatchOutOfRange {}

/// Told how far the import has got (a progress bar, or nothing).
pub trait ImportProgress: Sync {
    /// The number of users in the original.
    fn total(&self, _users: u64) {}
    /// `users` more users were handled (imported, skipped or found already imported).
    fn advanced(&self, _users: u64) {}
}

impl ImportProgress for () {}

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
