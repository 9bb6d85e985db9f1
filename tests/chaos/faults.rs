//! The faults: worker processes (consumer and sweeper) killed and restarted, NATS stopped and
//! started, every Postgres connection of the system terminated (what a Postgres restart does to
//! it), a connection cut around a `COMMIT` (before it, right after it was forwarded, after its
//! answer, or before it with the server left waiting as in a partition) followed by a short
//! outage, and the fake OpenAI answering 429, 500 or not at all.

use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;
use tokenbot_fake_openai::Behavior;
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_testkit::{Cut, CutPoint, OwnedNats, PgProxy};
use tokenbot_worker::WorkerConfig;

use crate::common::pipeline::Pipeline;

/// Writes a cut may be narrowed to (or any transaction, when none is drawn).
const CUT_WHEN_SENT: [&str; 6] = [
    "TaskRequested",
    "TaskStarted",
    "TaskSucceeded",
    "TaskDelivered",
    "TaskAttemptFailed",
    "TaskFailed",
];
const CUT_POINTS: [CutPoint; 4] = [
    CutPoint::BeforeCommit,
    CutPoint::AfterCommitSent,
    CutPoint::AfterCommitReply,
    CutPoint::BeforeCommitServerUnaware,
];

#[derive(Default, Debug)]
pub struct FaultFigures {
    pub worker_kills: u64,
    pub nats_restarts: u64,
    pub postgres_cuts: u64,
    pub commit_cuts_armed: u64,
    pub openai_faults: u64,
}

/// One worker process: its consumer and its sweeper, killed together.
pub struct WorkerProcess {
    consumer: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
    // Kept so that the process is not told to stop; it is killed instead.
    _shutdown: Shutdown,
}

impl WorkerProcess {
    pub fn spawn(p: &Pipeline, config: &WorkerConfig) -> WorkerProcess {
        let shutdown = Shutdown::new();
        let consumer = p.spawn_worker(config.clone(), shutdown.clone());
        let (sweeper, _) = p.spawn_sweeper(config.clone(), shutdown.clone());
        WorkerProcess {
            consumer,
            sweeper,
            _shutdown: shutdown,
        }
    }

    /// SIGKILL: in-flight work dies with it, its sweeper lock connection closes.
    pub async fn kill(self) {
        self.consumer.abort();
        self.sweeper.abort();
        let _ = self.consumer.await;
        let _ = self.sweeper.await;
    }
}

/// What the faults act on.
pub struct Targets<'a> {
    pub p: &'a Pipeline,
    pub nats: &'a mut OwnedNats,
    pub proxy: &'a PgProxy,
    pub worker: Option<WorkerProcess>,
    pub worker_config: WorkerConfig,
}

impl Targets<'_> {
    /// `count` faults drawn from `rng`, paced 50-250 ms apart.
    pub async fn inject(&mut self, rng: &mut StdRng, count: u32, f: &mut FaultFigures) {
        for _ in 0..count {
            // Designed pacing between faults, not a wait for a result.
            tokio::time::sleep(Duration::from_millis(rng.random_range(50..250))).await;
            // Cuts around COMMIT are drawn twice as often: they are the rarest case elsewhere.
            match rng.random_range(0..6) {
                0 => {
                    if let Some(w) = self.worker.take() {
                        w.kill().await;
                    }
                    self.worker = Some(WorkerProcess::spawn(self.p, &self.worker_config));
                    f.worker_kills += 1;
                }
                1 => {
                    self.nats.stop().await;
                    tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
                    self.nats.start().await;
                    f.nats_restarts += 1;
                }
                2 => {
                    terminate_backends(self.p).await;
                    f.postgres_cuts += 1;
                }
                3 | 4 => {
                    let mut cut = Cut::at(CUT_POINTS[rng.random_range(0..CUT_POINTS.len())])
                        .then_down_for(Duration::from_millis(rng.random_range(0..300)));
                    let narrow = rng.random_range(0..=CUT_WHEN_SENT.len());
                    if let Some(needle) = CUT_WHEN_SENT.get(narrow) {
                        cut = cut.when_sent(needle);
                    }
                    // Replaces a cut planned before that found no transaction to cut.
                    let _done = self.proxy.arm(cut);
                    f.commit_cuts_armed += 1;
                }
                _ => {
                    let b = match rng.random_range(0..3) {
                        0 => Behavior::RateLimited { retry_after_s: 0 },
                        1 => Behavior::ServerError,
                        _ => Behavior::Hang,
                    };
                    self.p
                        .openai
                        .enqueue_many(std::iter::repeat_n(b, rng.random_range(1..4)));
                    f.openai_faults += 1;
                }
            }
        }
    }
}

/// Terminates every connection to the test's database but the caller's own.
pub async fn terminate_backends(p: &Pipeline) {
    if let Ok(client) = p.t.db.pool().get().await {
        let _ = client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&p.t.db.name()],
            )
            .await;
    }
}
