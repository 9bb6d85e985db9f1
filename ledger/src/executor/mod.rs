//! Group commit. Commands from every caller queue here; whatever queued while the previous batch
//! was being written is decided one after another inside one transaction and committed with one
//! WAL flush. Under load this turns N transactions into one; with a single caller it is the same
//! transaction it would have been anyway. Each command still gets its own outcome: a rule that
//! refuses one command does not touch the others.
//!
//! One batch (`execute`), in named steps:
//!
//! 1. claim keys (`read::Keys`): the first command with an idempotency key owns it;
//! 2. lock and read heads (`read::lock_and_read`), one round trip: BEGIN; an advisory lock
//!    per stream (sorted: no deadlocks; advisory locks take no transaction id, so the id is
//!    assigned after the locks are held, which keeps the global order consistent with every
//!    stream's order); claim the keys; read the stream heads, the clock, the transaction id and
//!    the backend's pid; then the aggregates (`read::load_states`, from snapshots);
//! 3. decide (`decide::decide_all`), pure, in arrival order;
//! 4. write (`write::Rows::build`, `write::write_and_commit`): events + heads + idempotency
//!    results in one statement, COMMIT and NOTIFY (a second round trip);
//! 5. answer (`answer::answer`).
//!
//! Commands of every type share a batch as `Box<dyn Pending>`; see `submission` for how each
//! still answers its caller with its own typed output, and `stored` for what an idempotency
//! key keeps.
//!
//! Failures. Before COMMIT is sent, nothing can have been written: the batch fails as a whole and
//! its commands run again one by one (a bad command cannot sink its neighbours; a lost
//! connection gets one more try). Once COMMIT may have reached the server, the batch never runs
//! again: a refused write means the server rolled back; a COMMIT that went unanswered is resolved
//! by asking Postgres what became of the transaction id ([`crate::commit_outcome`]). Committed:
//! every command is answered from what was decided; rolled back: as before COMMIT; no answer in
//! time: each command that appended events gets [`LedgerError::OutcomeUnknown`]. A NOTIFY that
//! fails after a committed COMMIT is logged and counted, never an error (subscribers also poll).

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use crate::command::Command;
use crate::error::LedgerError;
use crate::metadata::CommandContext;
use crate::pricing::LedgerConfig;
use crate::store::{EventStore, Executed};

mod answer;
mod decide;
mod read;
mod stored;
mod submission;
mod tx_guard;
mod write;

use read::{Keys, load_states, lock_and_read, streams_of};
use submission::{Answer, Pending, Submission};
use write::{Rows, write_and_commit};

/// Most commands decided in one transaction: bounds the transaction's size and lock set.
pub const MAX_BATCH: usize = 64;
/// Batches written at the same time (each holds one connection).
pub const MAX_CONCURRENT_BATCHES: usize = 2;
/// Commands waiting for a batch before callers are slowed down (back-pressure).
pub const QUEUE_CAPACITY: usize = 4096;
/// Attempts at a batch that lost a race to Postgres (deadlock or serialization failure).
const MAX_ATTEMPTS: u32 = 5;

/// The queue into the batch writer. Cheap to clone; the writer stops when every clone is gone.
#[derive(Clone)]
pub(crate) struct Executor {
    queue: mpsc::Sender<Box<dyn Pending>>,
}

impl Executor {
    /// Starts the batch writer. Must be called inside a Tokio runtime.
    pub(crate) fn start(store: EventStore, config: Arc<LedgerConfig>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(dispatch(store, config, rx));
        Self { queue }
    }

    /// Queues a command and waits for its answer.
    pub(crate) async fn submit<C: Command>(
        &self,
        command: C,
        ctx: CommandContext,
    ) -> Result<Executed<C::Output>, LedgerError> {
        let (submission, answer) = Submission::new(command, ctx);
        self.queue
            .send(submission)
            .await
            .map_err(|_| LedgerError::corrupt("executor", "the batch writer has stopped"))?;
        answer
            .await
            .map_err(|_| LedgerError::corrupt("executor", "the batch writer dropped the command"))?
    }
}

async fn dispatch(
    store: EventStore,
    config: Arc<LedgerConfig>,
    mut rx: mpsc::Receiver<Box<dyn Pending>>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_BATCHES));
    while let Some(first) = rx.recv().await {
        // Waiting for a slot is what lets the next batch grow.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        let (store, config) = (store.clone(), config.clone());
        tokio::spawn(async move {
            run_batch(&store, &config, batch).await;
            drop(slot);
        });
    }
}

async fn run_batch(store: &EventStore, config: &LedgerConfig, mut batch: Vec<Box<dyn Pending>>) {
    metrics::histogram!("tokenbot_ledger_batch_size").record(batch.len() as f64);
    match execute_with_retries(store, config, &mut batch).await {
        Ok(answers) => {
            for (s, a) in batch.into_iter().zip(answers) {
                s.reply(a);
            }
        }
        // Nothing of the batch was written: `execute` fails as a whole only while that is
        // certain (once COMMIT may have reached the server it answers every command itself).
        Err(e) if batch.len() == 1 && !e.is_transient() => {
            if let Some(s) = batch.pop() {
                s.reply(Err(e));
            }
        }
        Err(e) => {
            // Run each command alone: one bad command cannot take its neighbours down, and a
            // connection lost on the way gets one more try on a fresh one.
            tracing::warn!(error = %crate::error::chain(&e), size = batch.len(), "batch failed before anything was written; running its commands one by one");
            for mut s in batch {
                let one = std::slice::from_mut(&mut s);
                let answer = match execute_with_retries(store, config, one).await {
                    Ok(mut r) => r
                        .pop()
                        .unwrap_or_else(|| Err(LedgerError::corrupt("executor", "no result"))),
                    Err(e) => Err(e),
                };
                s.reply(answer);
            }
        }
    }
}

async fn execute_with_retries(
    store: &EventStore,
    config: &LedgerConfig,
    batch: &mut [Box<dyn Pending>],
) -> Result<Vec<Answer>, LedgerError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match execute(store, config, batch).await {
            Err(e) if e.is_retryable_conflict() && attempt < MAX_ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "batch lost a race; retrying");
                metrics::counter!("tokenbot_ledger_conflicts_total").increment(1);
            }
            other => return other,
        }
    }
}

/// One batch, one transaction: the steps of the module comment.
async fn execute(
    store: &EventStore,
    config: &LedgerConfig,
    batch: &mut [Box<dyn Pending>],
) -> Result<Vec<Answer>, LedgerError> {
    let client = store.database().pool().get().await?;
    let keys = Keys::of(batch);
    let streams = streams_of(batch);
    let (guard, read) = lock_and_read(client, &keys, &streams).await?;
    let versions = read.versions();
    let mut states = load_states(guard.client(), read.heads, &streams).await?;
    let decisions = decide::decide_all(batch, &keys, &read.claimed, &mut states, read.now, config);
    let rows = Rows::build(batch, &decisions, versions, &states, read.now)?;
    let (fate, reader) = write_and_commit(store, config, guard, &rows, &read.in_flight).await?;
    let answers = answer::answer(store, batch, decisions, &keys, &rows, &fate, reader);
    Ok(answers.await)
}
