//! `tokenbot bench worker`: generations per second with the fake OpenAI answering after a fixed
//! latency and a fixed number of tasks kept in flight (closed loop: a new task is requested as
//! soon as one is delivered), and the latency from `TaskRequested` to `TaskDelivered` as the
//! ledger recorded them. The baseline is the ideal: in_flight / provider latency.
//!
//! Then the idle-gap phase, as people use the bot: tasks one at a time, each after a seeded
//! random pause of 0 to `--max-gap-s` seconds (longer than every pull timer in the worker's path
//! by default), and the pickup latency, `TaskRequested` to `TaskStarted`, of both phases.

use std::time::{Duration, Instant};

use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::subscription::{Subscription, SubscriptionOptions};
use tokenbot_ledger::{
    Actor, CommandContext, ImageSize, Ledger, LedgerConfig, LogCursor, Prompt, Quality, StreamId,
    TaskId, TaskKind, TaskRequest, TelegramId,
};

use super::support::{ScratchDb, open_rich_accounts, quantile, replace_section};
use crate::cli::sim::{SimOptions, SimSystem};
use crate::configuration::Settings;
use crate::startup;

/// `tokenbot bench worker`: how many tasks, how many at once, and the fake provider's latency.
#[derive(Args)]
pub struct WorkerBenchArgs {
    /// Tasks generated in all.
    #[arg(long, default_value_t = 640, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    tasks: u64,
    /// Tasks kept in flight (and the worker's concurrency).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
    in_flight: u64,
    /// How long the fake OpenAI takes per image, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    latency_ms: u64,
    /// Tasks of the idle-gap phase, requested one at a time after a pause (0: no such phase).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    idle_tasks: u64,
    /// Longest pause before an idle-gap task, in seconds (pauses are uniform from 0); lower it
    /// for a quick run.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=600))]
    max_gap_s: u64,
    /// Seed of the pauses.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Do not rewrite the worker section of docs/benchmarks.md.
    #[arg(long)]
    no_docs: bool,
}

#[derive(Serialize)]
struct WorkerReport {
    bench: &'static str,
    cores: usize,
    tasks: u64,
    in_flight: u64,
    provider_latency_ms: u64,
    gens_per_s: f64,
    ideal_gens_per_s: f64,
    ratio: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    /// `TaskRequested` to the first `TaskStarted`, closed loop.
    pickup_p50_ms: f64,
    pickup_p99_ms: f64,
    idle_tasks: u64,
    idle_max_gap_s: u64,
    idle_seed: u64,
    /// `TaskRequested` to the first `TaskStarted`, each task after an idle pause.
    idle_pickup_p50_ms: f64,
    idle_pickup_p99_ms: f64,
    idle_pickup_max_ms: f64,
    /// The worker's share of it: from the message reaching NATS (seen by a subscriber of the
    /// subject, wall clock) to `TaskStarted`; the rest is the relay's.
    idle_bus_to_started_p50_ms: f64,
    idle_bus_to_started_p99_ms: f64,
}

impl WorkerReport {
    /// The figures of a run: its arguments, the closed loop's duration, and the sorted
    /// latencies of each measurement in milliseconds.
    fn new(
        args: &WorkerBenchArgs,
        elapsed: f64,
        latencies: &[f64],
        pickup: &[f64],
        idle_pickup: &[f64],
        idle_worker: &[f64],
    ) -> Self {
        let gens_per_s = args.tasks as f64 / elapsed;
        let ideal = if args.latency_ms == 0 {
            f64::INFINITY
        } else {
            args.in_flight as f64 * 1000.0 / args.latency_ms as f64
        };
        WorkerReport {
            bench: "worker",
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            tasks: args.tasks,
            in_flight: args.in_flight,
            provider_latency_ms: args.latency_ms,
            gens_per_s,
            ideal_gens_per_s: ideal,
            ratio: gens_per_s / ideal,
            latency_p50_ms: quantile(latencies, 0.5),
            latency_p99_ms: quantile(latencies, 0.99),
            latency_max_ms: latencies.last().copied().unwrap_or_default(),
            pickup_p50_ms: quantile(pickup, 0.5),
            pickup_p99_ms: quantile(pickup, 0.99),
            idle_tasks: args.idle_tasks,
            idle_max_gap_s: args.max_gap_s,
            idle_seed: args.seed,
            idle_pickup_p50_ms: quantile(idle_pickup, 0.5),
            idle_pickup_p99_ms: quantile(idle_pickup, 0.99),
            idle_pickup_max_ms: idle_pickup.last().copied().unwrap_or_default(),
            idle_bus_to_started_p50_ms: quantile(idle_worker, 0.5),
            idle_bus_to_started_p99_ms: quantile(idle_worker, 0.99),
        }
    }
}

/// Requests one low-quality square picture for `user`; its task id.
pub(crate) async fn request(ledger: &Ledger, user: TelegramId) -> anyhow::Result<TaskId> {
    let ctx = CommandContext::new(Actor::User { telegram_id: user });
    let requested = ledger
        .request_task(
            &ctx,
            TaskRequest {
                telegram_id: user,
                kind: TaskKind::Generate,
                prompt: Prompt::parse("a benchmark picture")?,
                model: None,
                quality: Quality::Low,
                size: ImageSize::Square,
                template_id: None,
                source_file_id: None,
            },
        )
        .await?;
    Ok(requested.value.task_id)
}

/// Milliseconds from each task's `TaskRequested` to its first `event_type` event, sorted.
pub(crate) async fn since_requested(
    ledger: &Ledger,
    tasks: &[TaskId],
    event_type: &str,
) -> anyhow::Result<Vec<f64>> {
    let streams: Vec<String> = tasks
        .iter()
        .map(|t| StreamId::task(*t).as_str().to_string())
        .collect();
    let client = ledger.store().database().pool().get().await?;
    let rows = client
        .query(
            "SELECT extract(epoch FROM min(s.recorded_at) - r.recorded_at)::float8 * 1000
             FROM ledger.events r JOIN ledger.events s
               ON s.stream_id = r.stream_id AND s.event_type = $2
             WHERE r.event_type = 'TaskRequested' AND r.stream_id = ANY($1)
             GROUP BY r.stream_id, r.recorded_at",
            &[&streams, &event_type],
        )
        .await?;
    let mut ms: Vec<f64> = rows
        .iter()
        .map(|r| r.try_get::<_, f64>(0))
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(
        ms.len() == tasks.len(),
        "{} of {} tasks have no {event_type}",
        tasks.len() - ms.len(),
        tasks.len()
    );
    ms.sort_by(f64::total_cmp);
    Ok(ms)
}

/// Waits until `task` is delivered, following the ledger.
async fn delivered(sub: &mut Subscription, task: TaskId) -> anyhow::Result<()> {
    let stream = StreamId::task(task);
    loop {
        let batch = tokio::time::timeout(Duration::from_secs(120), sub.next_batch())
            .await
            .map_err(|_| anyhow::anyhow!("task {task} not delivered within 120 s"))??;
        for e in batch.iter().filter(|e| e.stream_id == stream) {
            match e.event_type.as_str() {
                "TaskDelivered" => return Ok(()),
                "TaskFailed" => anyhow::bail!("a task failed during the benchmark: {}", e.data),
                _ => {}
            }
        }
    }
}

/// A task of the idle-gap phase and when its `TaskRequested` reached NATS.
struct Published {
    task: TaskId,
    at: chrono::DateTime<chrono::Utc>,
}

/// The idle-gap phase: one task at a time, each after a seeded random pause; `bus` sees every
/// `TaskRequested` the relay publishes.
async fn idle_gaps(
    ledger: &Ledger,
    sub: &mut Subscription,
    bus: &mut async_nats::Subscriber,
    user: TelegramId,
    args: &WorkerBenchArgs,
) -> anyhow::Result<Vec<Published>> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut tasks = Vec::with_capacity(args.idle_tasks as usize);
    for i in 0..args.idle_tasks {
        let gap = Duration::from_millis(rng.random_range(0..=args.max_gap_s * 1000));
        eprintln!(
            "idle gap {}/{}: {:.1} s",
            i + 1,
            args.idle_tasks,
            gap.as_secs_f64()
        );
        tokio::time::sleep(gap).await;
        let task = request(ledger, user).await?;
        let at = tokio::time::timeout(Duration::from_secs(120), published(bus, task))
            .await
            .map_err(|_| anyhow::anyhow!("task {task} not published within 120 s"))??;
        delivered(sub, task).await?;
        tasks.push(Published { task, at });
    }
    Ok(tasks)
}

/// Waits for `task`'s message on the bus; returns when it was seen.
async fn published(
    bus: &mut async_nats::Subscriber,
    task: TaskId,
) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    use futures::StreamExt;
    while let Some(m) = bus.next().await {
        let seen = chrono::Utc::now();
        let event = tokenbot_ledger::bus::decode(m.headers.as_ref(), &m.payload)?.event;
        if event.stream_id == StreamId::task(task) {
            return Ok(seen);
        }
    }
    anyhow::bail!("the NATS subscription closed")
}

/// Milliseconds from each message's arrival on the bus to its task's first `TaskStarted`, sorted.
async fn bus_to_started(ledger: &Ledger, published: &[Published]) -> anyhow::Result<Vec<f64>> {
    let streams: Vec<String> = published
        .iter()
        .map(|p| StreamId::task(p.task).as_str().to_string())
        .collect();
    let at: Vec<chrono::DateTime<chrono::Utc>> = published.iter().map(|p| p.at).collect();
    let client = ledger.store().database().pool().get().await?;
    let rows = client
        .query(
            "SELECT extract(epoch FROM min(s.recorded_at) - p.at)::float8 * 1000
             FROM unnest($1::text[], $2::timestamptz[]) AS p(stream_id, at)
             JOIN ledger.events s ON s.stream_id = p.stream_id AND s.event_type = 'TaskStarted'
             GROUP BY p.stream_id, p.at",
            &[&streams, &at],
        )
        .await?;
    let mut ms: Vec<f64> = rows
        .iter()
        .map(|r| r.try_get::<_, f64>(0))
        .collect::<Result<_, _>>()?;
    ms.sort_by(f64::total_cmp);
    Ok(ms)
}

/// Measures the real worker against the fake OpenAI and Telegram on a scratch database, prints
/// the JSON and updates docs/benchmarks.md.
pub async fn run(settings: &Settings, args: WorkerBenchArgs) -> anyhow::Result<i32> {
    let (scratch, db) = ScratchDb::create(settings, "worker").await?;
    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0;
    let ledger = Ledger::new(tokenbot_ledger::EventStore::new(db), config);
    let js = startup::jetstream(settings).await?;
    let prefix = format!("benchw{}", std::process::id());
    let bus = BusConfig::prefixed(&prefix);
    let nats = js.client();
    let subject = bus.subject("task", "TaskRequested");
    let mut settings = settings.clone();
    settings.bus = bus;
    let system = SimSystem::start(
        settings,
        ledger.clone(),
        js,
        SimOptions {
            worker_concurrency: args.in_flight as usize,
            retry_delays: vec![Duration::from_millis(100)],
            admin_ids: vec![],
            consumer_prefix: format!("{prefix}_"),
            checkpoints: None,
        },
    )
    .await?;
    system
        .openai
        .set_latency(Duration::from_millis(args.latency_ms));
    let users = open_rich_accounts(&ledger, 1, args.in_flight as usize).await?;
    eprintln!(
        "worker: {} tasks, {} in flight, provider latency {} ms",
        args.tasks, args.in_flight, args.latency_ms
    );

    let mut sub = Subscription::new(
        ledger.store().clone(),
        LogCursor::START,
        SubscriptionOptions::default(),
    )
    .await;
    let start = Instant::now();
    let closed_loop = closed_loop(&ledger, &mut sub, &users, args.tasks).await?;
    let elapsed = start.elapsed().as_secs_f64();
    let latencies = since_requested(&ledger, &closed_loop, "TaskDelivered").await?;
    let pickup = since_requested(&ledger, &closed_loop, "TaskStarted").await?;
    let mut on_bus = nats.subscribe(subject).await?;
    let idle = idle_gaps(&ledger, &mut sub, &mut on_bus, users[0], &args).await?;
    let idle_tasks: Vec<TaskId> = idle.iter().map(|p| p.task).collect();
    let idle_pickup = since_requested(&ledger, &idle_tasks, "TaskStarted").await?;
    let idle_worker = bus_to_started(&ledger, &idle).await?;
    system.stop().await?;
    scratch.drop_db().await?;

    let report = WorkerReport::new(
        &args,
        elapsed,
        &latencies,
        &pickup,
        &idle_pickup,
        &idle_worker,
    );
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !args.no_docs {
        write_docs(&report)?;
    }
    Ok(0)
}

/// The closed loop: one task per user at once, a new one as soon as one is delivered, until
/// `tasks` were delivered; returns the tasks in the order requested.
pub(crate) async fn closed_loop(
    ledger: &Ledger,
    sub: &mut Subscription,
    users: &[TelegramId],
    tasks: u64,
) -> anyhow::Result<Vec<TaskId>> {
    let mut requested = Vec::with_capacity(tasks as usize);
    for u in users.iter().take(tasks as usize) {
        requested.push(request(ledger, *u).await?);
    }
    let mut next_user = 0usize;
    let mut done = 0u64;
    while done < tasks {
        let batch = tokio::time::timeout(Duration::from_secs(120), sub.next_batch())
            .await
            .map_err(|_| anyhow::anyhow!("no progress for 120 s ({done} delivered)"))??;
        for e in batch {
            match e.event_type.as_str() {
                "TaskDelivered" => {
                    done += 1;
                    if (requested.len() as u64) < tasks {
                        requested.push(request(ledger, users[next_user % users.len()]).await?);
                        next_user += 1;
                    }
                }
                "TaskFailed" => anyhow::bail!("a task failed during the benchmark: {}", e.data),
                _ => {}
            }
        }
    }
    Ok(requested)
}

/// Rewrites the worker section of docs/benchmarks.md.
fn write_docs(report: &WorkerReport) -> anyhow::Result<()> {
    let body = format!(
        "Command: `tokenbot bench worker --tasks {} --in-flight {} --latency-ms {} --idle-tasks {} --max-gap-s {} --seed {}` (release build; fake OpenAI at {} ms per image; {} cores).\n\n\
         | measure | value | baseline | ratio | target |\n|---|---|---|---|---|\n\
         | generations/s, {} in flight | {:.1} | {:.1} (in_flight / latency) | {:.2} | ≥ 0.9 |\n\
         | TaskRequested → TaskDelivered p50 | {:.0} ms | {} ms (provider) | | |\n\
         | TaskRequested → TaskDelivered p99 | {:.0} ms | | | |\n\
         | TaskRequested → TaskStarted p50 / p99, closed loop | {:.0} / {:.0} ms | | | |\n\
         | TaskRequested → TaskStarted p50 / p99 / max, {} tasks after idle gaps of 0-{} s | {:.0} / {:.0} / {:.0} ms | | | p99 ≤ 250 ms |\n\
         | of which on NATS → TaskStarted (the worker's share) p50 / p99 | {:.0} / {:.0} ms | | | |",
        report.tasks,
        report.in_flight,
        report.provider_latency_ms,
        report.idle_tasks,
        report.idle_max_gap_s,
        report.idle_seed,
        report.provider_latency_ms,
        report.cores,
        report.in_flight,
        report.gens_per_s,
        report.ideal_gens_per_s,
        report.ratio,
        report.latency_p50_ms,
        report.provider_latency_ms,
        report.latency_p99_ms,
        report.pickup_p50_ms,
        report.pickup_p99_ms,
        report.idle_tasks,
        report.idle_max_gap_s,
        report.idle_pickup_p50_ms,
        report.idle_pickup_p99_ms,
        report.idle_pickup_max_ms,
        report.idle_bus_to_started_p50_ms,
        report.idle_bus_to_started_p99_ms,
    );
    replace_section("worker", "Worker", &body)?;
    Ok(())
}
