//! `tokenbot bench worker`: generations per second with the fake OpenAI answering after a fixed
//! latency and a fixed number of tasks kept in flight (closed loop: a new task is requested as
//! soon as one is delivered), and the latency from `TaskRequested` to `TaskDelivered` as the
//! ledger recorded them. The baseline is the ideal: in_flight / provider latency.

use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::subscription::{Subscription, SubscriptionOptions};
use tokenbot_ledger::{
    Actor, CommandContext, ImageSize, Ledger, LedgerConfig, LogCursor, Prompt, Quality, TaskKind,
    TaskRequest, TelegramId,
};

use super::{ScratchDb, open_rich_accounts, quantile, replace_section};
use crate::cli::system::{SimOptions, SimSystem};
use crate::configuration::Settings;
use crate::startup;

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
}

async fn request(ledger: &Ledger, user: TelegramId) -> anyhow::Result<()> {
    let ctx = CommandContext::new(Actor::User { telegram_id: user });
    ledger
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
    Ok(())
}

pub async fn run(settings: &Settings, args: WorkerBenchArgs) -> anyhow::Result<i32> {
    let (scratch, db) = ScratchDb::create(settings, "worker").await?;
    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0;
    let ledger = Ledger::new(tokenbot_ledger::EventStore::new(db), config);
    let js = startup::jetstream(settings).await?;
    let prefix = format!("benchw{}", std::process::id());
    let system = SimSystem::start(
        ledger.clone(),
        js,
        BusConfig::prefixed(&prefix),
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
    let mut submitted = 0u64;
    for u in &users {
        if submitted < args.tasks {
            request(&ledger, *u).await?;
            submitted += 1;
        }
    }
    let mut delivered = 0u64;
    let mut next_user = 0usize;
    while delivered < args.tasks {
        let batch = tokio::time::timeout(Duration::from_secs(120), sub.next_batch())
            .await
            .map_err(|_| anyhow::anyhow!("no progress for 120 s ({delivered} delivered)"))??;
        for e in batch {
            match e.event_type.as_str() {
                "TaskDelivered" => {
                    delivered += 1;
                    if submitted < args.tasks {
                        request(&ledger, users[next_user % users.len()]).await?;
                        next_user += 1;
                        submitted += 1;
                    }
                }
                "TaskFailed" => anyhow::bail!("a task failed during the benchmark: {}", e.data),
                _ => {}
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();

    let client = ledger.store().database().pool().get().await?;
    let rows = client
        .query(
            "SELECT extract(epoch FROM d.recorded_at - r.recorded_at)::float8 * 1000
             FROM ledger.events r JOIN ledger.events d
               ON d.stream_id = r.stream_id AND d.event_type = 'TaskDelivered'
             WHERE r.event_type = 'TaskRequested'",
            &[],
        )
        .await?;
    let mut latencies: Vec<f64> = rows
        .iter()
        .map(|r| r.try_get::<_, f64>(0))
        .collect::<Result<_, _>>()?;
    latencies.sort_by(f64::total_cmp);
    drop(client);
    system.stop().await?;
    scratch.drop_db().await?;

    let gens_per_s = args.tasks as f64 / elapsed;
    let ideal = if args.latency_ms == 0 {
        f64::INFINITY
    } else {
        args.in_flight as f64 * 1000.0 / args.latency_ms as f64
    };
    let report = WorkerReport {
        bench: "worker",
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        tasks: args.tasks,
        in_flight: args.in_flight,
        provider_latency_ms: args.latency_ms,
        gens_per_s,
        ideal_gens_per_s: ideal,
        ratio: gens_per_s / ideal,
        latency_p50_ms: quantile(&latencies, 0.5),
        latency_p99_ms: quantile(&latencies, 0.99),
        latency_max_ms: latencies.last().copied().unwrap_or_default(),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !args.no_docs {
        let body = format!(
            "Command: `cargo run --release -- bench worker` ({} tasks, {} in flight, fake OpenAI at {} ms per image; {} cores).\n\n\
             | measure | value | baseline | ratio | target |\n|---|---|---|---|---|\n\
             | generations/s | {:.1} | {:.1} (in_flight / latency) | {:.2} | ≥ 0.9 |\n\
             | TaskRequested → TaskDelivered p50 | {:.0} ms | {} ms (provider) | | |\n\
             | TaskRequested → TaskDelivered p99 | {:.0} ms | | | |",
            report.tasks,
            report.in_flight,
            report.provider_latency_ms,
            report.cores,
            report.gens_per_s,
            report.ideal_gens_per_s,
            report.ratio,
            report.latency_p50_ms,
            report.provider_latency_ms,
            report.latency_p99_ms,
        );
        replace_section("worker", "Worker", &body)?;
    }
    Ok(0)
}
