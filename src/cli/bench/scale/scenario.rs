//! Item 2 of issue 15: the deployment on a three-node NATS cluster with several processes of
//! every role, seeded users driving it through the round-robin proxy, and meanwhile the relay
//! leader, a worker, a projector, a bot and a NATS node killed and restarted. Returns the
//! figures and every violation of what must hold (see [`super::checks`]); both `tests/scale.rs`
//! and `tokenbot bench scale --faults` run it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use super::checks::{self, StreamCheck, TaskCheck};
use super::drive::{self, DriveFigures, Run};
use super::faults::{self, FaultRecord};
use super::fleet::{Fleet, FleetOptions, Timers};
use crate::cli::bench::support::open_rich_accounts;
use crate::system::last_committed;

/// How many processes of each role, and the users.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSize {
    /// NATS nodes (the stream has this many replicas, at most 5).
    pub nodes: usize,
    /// Relay processes.
    pub relays: usize,
    /// Worker processes.
    pub workers: usize,
    /// Projector processes.
    pub projectors: usize,
    /// Webhook bot processes.
    pub bots: usize,
    /// Users at once.
    pub users: usize,
    /// Pictures each user makes at least.
    pub rounds: usize,
    /// WORKER_CONCURRENCY of each worker.
    pub worker_concurrency: usize,
    /// The fake OpenAI's latency per image, in milliseconds.
    pub provider_latency_ms: u64,
}

impl Default for ScenarioSize {
    /// The deployment with a load that finishes in about a minute on two cores.
    fn default() -> Self {
        Self {
            nodes: 3,
            relays: 2,
            workers: 3,
            projectors: 2,
            bots: 2,
            users: 12,
            rounds: 2,
            worker_concurrency: 4,
            provider_latency_ms: 300,
        }
    }
}

/// What the scenario runs on.
#[derive(Debug, Clone)]
pub struct ScenarioOptions {
    /// The `tokenbot` binary.
    pub binary: PathBuf,
    /// The owner's URL of a database of its own.
    pub database_url: String,
    /// Seed of the users' pauses and of the faults' order, targets and times.
    pub seed: u64,
    /// The deployment and the load.
    pub size: ScenarioSize,
    /// The role processes' timers (the bounds follow from them).
    pub timers: Timers,
}

/// The bounds the figures are held to, each computed from the configured timers.
#[derive(Debug, Clone, Serialize)]
pub struct Bounds {
    /// Relay takeover ([`faults::takeover_bound`]).
    pub takeover_s: f64,
    /// A paid task's request to its end: the worker's own open-task bound for these timers
    /// (every attempt's lease and retry delay, the delivery budget, the stall time and a sweep).
    pub settle_s: f64,
}

/// The scenario's figures; `violations` is empty when everything held.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// The seed it ran with.
    pub seed: u64,
    /// The deployment and the load.
    pub size: ScenarioSize,
    /// The bounds.
    pub bounds: Bounds,
    /// The faults, in the order they happened.
    pub faults: Vec<FaultRecord>,
    /// Relay takeover times, seconds.
    pub relay_takeover_s: Vec<f64>,
    /// What the users did.
    pub users: DriveFigures,
    /// How the paid tasks ended.
    pub tasks: TaskCheck,
    /// The stream against the log.
    pub stream: StreamCheck,
    /// Accounts that went below zero.
    pub negative_balances: u64,
    /// From the end of the drive until every projection reached the last event, seconds.
    pub projections_caught_up_s: f64,
    /// Rows in which a projection differs from a replay.
    pub projection_differences: u64,
    /// Events `ledger verify` read.
    pub verified_events: u64,
    /// Requests the proxy forwarded, connections refused by a dead bot, requests answered 502.
    pub proxy: [u64; 3],
    /// The whole run, seconds.
    pub elapsed_s: f64,
    /// Everything that did not hold.
    pub violations: Vec<String>,
}

/// Telegram ids of the scenario's users start here; the relay markers far above.
const FIRST_USER: i64 = 7_000_000;
const FIRST_MARKER: i64 = 8_000_000;

/// Runs the scenario; an error only when it could not run (a server that did not start).
pub async fn run(options: ScenarioOptions) -> anyhow::Result<ScaleReport> {
    let started = Instant::now();
    let size = options.size.clone();
    let worker = options.timers.worker_config();
    let bounds = Bounds {
        takeover_s: faults::takeover_bound().as_secs_f64(),
        settle_s: worker
            .open_task_bound(options.timers.task_max_attempts)
            .as_secs_f64(),
    };
    let mut fleet = Fleet::start(FleetOptions {
        binary: options.binary.clone(),
        database_url: options.database_url.clone(),
        nodes: size.nodes,
        worker_concurrency: size.worker_concurrency,
        provider_latency: Duration::from_millis(size.provider_latency_ms),
        timers: options.timers.clone(),
        // Nine processes with their dedicated connections stay well below Postgres's default
        // of 100 connections.
        db_pool_size: 4,
    })
    .await?;
    fleet.start_relays(size.relays).await?;
    fleet.start_projectors(size.projectors).await;
    fleet.start_workers(size.workers).await;
    fleet.start_bots(size.bots).await;
    // Rich accounts, so that no user runs out of tokens however many pictures the faults'
    // schedule leaves time for.
    open_rich_accounts(&fleet.ledger, FIRST_USER, size.users).await?;
    eprintln!(
        "scale: fleet up after {:.1} s; logs:\n  {}",
        started.elapsed().as_secs_f64(),
        fleet.logs().join("\n  ")
    );

    let webhook = fleet
        .webhook_url()
        .ok_or_else(|| anyhow::anyhow!("the bots have no proxy"))?;
    let run = Run {
        users: size.users,
        first_id: FIRST_USER,
        rounds: size.rounds,
        seed: options.seed,
    };
    let faults_over = Arc::new(AtomicBool::new(false));
    let mut rng = StdRng::seed_from_u64(options.seed);
    let drive_started = Instant::now();
    let (mut targets, telegram) = fleet.split();
    let (users, faults) = tokio::join!(
        drive::drive(telegram, webhook, &run, Arc::clone(&faults_over)),
        async {
            let done = faults::run(&mut targets, &mut rng, drive_started, FIRST_MARKER).await;
            faults_over.store(true, Ordering::Relaxed);
            done
        }
    );
    let faults = faults?;
    eprintln!(
        "scale: drive over after {:.1} s: {users:?}",
        drive_started.elapsed().as_secs_f64()
    );
    let mut report = settle_and_check(&fleet, &bounds, options.seed, size, faults, users).await?;
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Waits for the tasks, the relay and the projections, then checks everything.
async fn settle_and_check(
    fleet: &Fleet,
    bounds: &Bounds,
    seed: u64,
    size: ScenarioSize,
    faults: Vec<FaultRecord>,
    users: DriveFigures,
) -> anyhow::Result<ScaleReport> {
    let mut violations = Vec::new();
    let ledger = &fleet.ledger;
    let settle = Duration::from_secs_f64(bounds.settle_s);
    if let Err(e) = crate::cli::sim::wait_tasks_final(
        ledger,
        chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        settle,
    )
    .await
    {
        violations.push(format!("tasks still open after the settle bound: {e}"));
    }
    let target = last_committed(ledger.store().database())
        .await?
        .unwrap_or(tokenbot_ledger::LogCursor::START);
    let drained = Instant::now();
    let caught_up = checks::projections_reach(ledger, target, settle).await;
    let projections_caught_up_s = match caught_up {
        Ok(took) => took.as_secs_f64(),
        Err(e) => {
            violations.push(e.to_string());
            drained.elapsed().as_secs_f64()
        }
    };
    let relay_takeover_s = faults_held(bounds, &faults, &users, &mut violations);
    let tasks = checks::tasks(ledger, settle, &mut violations).await?;
    let relay_done = wait_relay(ledger, target, settle).await;
    if let Err(e) = relay_done {
        violations.push(e.to_string());
    }
    let stream = checks::stream(&fleet.js, &fleet.bus, ledger, &mut violations).await?;
    let negative_balances = checks::balances(ledger, &mut violations).await?;
    let projection_differences = checks::projections(ledger, &mut violations).await?;
    let verified_events = checks::verify_ledger(ledger, &mut violations).await?;
    let proxy = fleet
        .proxy
        .as_ref()
        .map_or([0; 3], |p| [p.forwarded(), p.refused(), p.failed()]);
    Ok(ScaleReport {
        seed,
        size,
        bounds: bounds.clone(),
        faults,
        relay_takeover_s,
        users,
        tasks,
        stream,
        negative_balances,
        projections_caught_up_s,
        projection_differences,
        verified_events,
        proxy,
        elapsed_s: 0.0,
        violations,
    })
}

/// The takeover times (each within its bound), all five faults done, no update given up.
fn faults_held(
    bounds: &Bounds,
    faults: &[FaultRecord],
    users: &DriveFigures,
    violations: &mut Vec<String>,
) -> Vec<f64> {
    let relay_takeover_s: Vec<f64> = faults.iter().filter_map(|f| f.takeover_s).collect();
    for t in &relay_takeover_s {
        if *t > bounds.takeover_s {
            violations.push(format!(
                "relay takeover took {t:.2} s (bound {:.2} s)",
                bounds.takeover_s
            ));
        }
    }
    if faults.len() != 5 {
        violations.push(format!("{} faults done of 5", faults.len()));
    }
    if users.given_up > 0 {
        violations.push(format!(
            "{} updates given up after every resend",
            users.given_up
        ));
    }
    relay_takeover_s
}

/// Waits until the relay's checkpoint reached `target` (everything is on the stream). The relay
/// is another process: its checkpoint is polled, with `limit` as the deadline.
async fn wait_relay(
    ledger: &tokenbot_ledger::Ledger,
    target: tokenbot_ledger::LogCursor,
    limit: Duration,
) -> anyhow::Result<()> {
    let name = tokenbot_ledger::relay::RelayConfig::default().name;
    tokio::time::timeout(limit, async {
        while tokenbot_ledger::relay::checkpoint(ledger.store(), &name).await? < target {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::Ok(())
    })
    .await
    .map_err(|_| anyhow::anyhow!("the relay did not publish up to {target} within {limit:?}"))?
}
