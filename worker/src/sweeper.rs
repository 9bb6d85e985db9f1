//! The backstop: paid tasks that the ledger shows unfinished and that nobody has worked on for
//! `TASK_STALL_S` are driven to the end here, through the same [`Runner`] the consumer uses. The
//! bus is then not the only road to a paid task: a `TaskRequested` that JetStream lost (a
//! single-node server syncs to disk only every two minutes by default), a wrong ack, a purged
//! stream, a worker that died after its image was made — the ledger still shows the task open, and
//! the sweeper finds it there ([`crate::open_tasks`]).
//!
//! One sweeper works at a time: a session advisory lock on a dedicated connection. The others
//! block on the lock and take over the moment the holder's connection closes (its process died or
//! stopped). Racing the consumer on the same task is safe by the ledger's task rules, which every
//! step goes through: `TaskStarted` is appended under the task's lock and only for a pending task or
//! one whose lease ran out, so two roads never run two attempts at once; a stale attempt's result
//! is refused; delivery and failure are keyed per task. The stall time keeps the two roads apart
//! in the ordinary case: the sweeper only takes what the bus has left alone for that long.
//!
//! Bounded: at most [`MAX_DRIVEN`] tasks in hand, at most that many found per pass, each driven
//! through at most [`MAX_STEPS_PER_TASK`] runner steps before a later pass takes it up again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokenbot_ledger::backoff::Backoff;
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{Ledger, TaskId, TaskStatus};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::WorkerConfig;
use crate::open_tasks::{self, OpenTasksError, StalledTask};
use crate::runner::{Disposition, Runner};

/// Session advisory lock key of the active sweeper ("sweeper").
const SWEEPER_LOCK_KEY: i64 = 0x0073_7765_6570_6572;

/// Stalled tasks one sweeper drives at once (beside the consumer's WORKER_CONCURRENCY).
pub const MAX_DRIVEN: usize = 4;

/// Runner steps (attempts, waits between them, a delivery) one task is driven through in one go.
const MAX_STEPS_PER_TASK: u32 = 8;

/// Pause after an error before the sweeper tries to lead again.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// What a sweeper is doing, for `/health`, metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweeperStatus {
    /// Holds the lock: this is the one sweeper at work.
    pub active: bool,
    /// Passes made while active.
    pub passes: u64,
    /// Stalled tasks taken up.
    pub taken_up: u64,
}

#[derive(Debug, thiserror::Error)]
enum TermError {
    #[error("database")]
    Database(#[from] tokio_postgres::Error),
    #[error(transparent)]
    OpenTasks(#[from] OpenTasksError),
    #[error("the connection holding the sweeper lock is gone")]
    LostLock,
}

/// The sweeper of one worker process.
pub struct Sweeper {
    runner: Arc<Runner>,
    ledger: Ledger,
    config: Arc<WorkerConfig>,
    status: watch::Sender<SweeperStatus>,
}

impl Sweeper {
    /// A sweeper that drives stalled tasks through `runner`, reading them from `ledger`'s pool.
    pub fn new(runner: Arc<Runner>, ledger: Ledger, config: Arc<WorkerConfig>) -> Self {
        Self {
            runner,
            ledger,
            config,
            status: watch::Sender::new(SweeperStatus::default()),
        }
    }

    /// Follows what this sweeper is doing.
    pub fn status(&self) -> watch::Receiver<SweeperStatus> {
        self.status.subscribe()
    }

    /// Stands by for the lock, sweeps while it holds it, and stands by again if it loses it,
    /// until `shutdown`; then waits for the tasks in hand.
    pub async fn run(self, shutdown: Shutdown) {
        let mut driving = Driving::default();
        let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
        while !shutdown.is_cancelled() {
            let term = self.term(&mut driving, &shutdown).await;
            // A sweeper that led until now lost its connection, most likely to one outage: it
            // comes back at the first pause, not at one grown by earlier outages.
            if self.status.borrow().active {
                backoff.reset();
            }
            self.status.send_modify(|s| s.active = false);
            metrics::gauge!("tokenbot_sweeper_active").set(0.0);
            match term {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %tokenbot_ledger::error::chain(&e), "sweeper interrupted; standing by again");
                    metrics::counter!("tokenbot_sweeper_errors_total").increment(1);
                    let paused =
                        shutdown.run_until_cancelled(tokio::time::sleep(backoff.next_pause()));
                    if paused.await.is_none() {
                        break;
                    }
                }
            }
        }
        while driving.tasks.join_next().await.is_some() {}
    }

    /// One term: wait for the lock, then sweep every interval until shutdown or the lock is lost.
    async fn term(&self, driving: &mut Driving, shutdown: &Shutdown) -> Result<(), TermError> {
        let holder = self.ledger.store().database().dedicated().await?;
        let lock = holder.execute("SELECT pg_advisory_lock($1)", &[&SWEEPER_LOCK_KEY]);
        let Some(locked) = shutdown.run_until_cancelled(lock).await else {
            return Ok(());
        };
        locked?;
        tracing::info!("this worker's sweeper is the active one");
        self.status.send_modify(|s| s.active = true);
        metrics::gauge!("tokenbot_sweeper_active").set(1.0);
        let interval = self.config.sweep_interval();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if shutdown.run_until_cancelled(tick.tick()).await.is_none() {
                return Ok(());
            }
            // The lock lives as long as its session: a session that does not answer may have
            // lost it to a standby already.
            match tokio::time::timeout(
                interval.max(Duration::from_secs(1)),
                holder.simple_query("SELECT 1"),
            )
            .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => return Err(TermError::LostLock),
            }
            self.pass(driving, shutdown).await?;
            self.status.send_modify(|s| s.passes += 1);
        }
    }

    /// Takes up as many stalled tasks as there is room for.
    async fn pass(&self, driving: &mut Driving, shutdown: &Shutdown) -> Result<(), TermError> {
        while let Some(done) = driving.tasks.try_join_next() {
            if let Ok(task_id) = done {
                driving.in_hand.remove(&task_id);
            }
        }
        let room = MAX_DRIVEN.saturating_sub(driving.in_hand.len());
        if room == 0 {
            return Ok(());
        }
        let skip: Vec<TaskId> = driving.in_hand.iter().copied().collect();
        let pool = self.ledger.store().database().pool();
        for stalled in open_tasks::stalled(pool, &self.config, &skip, room).await? {
            tracing::warn!(
                task_id = %stalled.task_id,
                status = %stalled.status,
                idle_s = stalled.idle.as_secs(),
                "a paid task stalled; the sweeper drives it"
            );
            metrics::counter!("tokenbot_sweeper_tasks_total", "status" => stalled.status.clone())
                .increment(1);
            self.status.send_modify(|s| s.taken_up += 1);
            driving.in_hand.insert(stalled.task_id);
            let runner = self.runner.clone();
            let ledger = self.ledger.clone();
            let config = self.config.clone();
            let shutdown = shutdown.clone();
            driving
                .tasks
                .spawn(async move { drive(&runner, &ledger, &config, stalled, &shutdown).await });
        }
        Ok(())
    }
}

/// Tasks the active sweeper is driving.
#[derive(Default)]
struct Driving {
    in_hand: HashSet<TaskId>,
    tasks: JoinSet<TaskId>,
}

/// Runs the task's next steps until it is final, another worker is running it, or it must wait
/// longer than the stall time (a later pass finds it again then).
async fn drive(
    runner: &Runner,
    ledger: &Ledger,
    config: &WorkerConfig,
    task: StalledTask,
    shutdown: &Shutdown,
) -> TaskId {
    let task_id = task.task_id;
    for _ in 0..MAX_STEPS_PER_TASK {
        let delay = match runner.handle(task_id, &task.ctx).await {
            Disposition::Done => return task_id,
            Disposition::Park(reason) => {
                tracing::error!(%task_id, %reason, "the sweeper cannot run a task");
                return task_id;
            }
            Disposition::RetryIn(delay) => delay,
        };
        // A live attempt of another worker (the consumer got there too): it is theirs to finish.
        if let Ok(Some(t)) = ledger.task(task_id).await
            && t.status == TaskStatus::Processing
        {
            return task_id;
        }
        if delay > config.task_stall {
            return task_id;
        }
        let paused = shutdown.run_until_cancelled(tokio::time::sleep(delay));
        if paused.await.is_none() {
            return task_id;
        }
    }
    task_id
}
