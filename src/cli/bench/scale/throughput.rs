//! Item 3 of issue 15: throughput as processes are added. The worker path at 1, 2 and 3 worker
//! processes (each WORKER_CONCURRENCY c, a closed loop keeping processes × c tasks in flight,
//! the fake OpenAI answering after a fixed latency) against the ideal processes × c / latency;
//! then the bot path, updates/s and latency of simulated users through 1 and 2 webhook bot
//! processes behind the round-robin proxy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokenbot_ledger::LogCursor;
use tokenbot_ledger::subscription::{Subscription, SubscriptionOptions};

use super::super::bot_drive::{Flow, Mode, drive};
use super::super::support::{open_rich_accounts, quantile};
use super::super::worker::{closed_loop, since_requested};
use super::fleet::Fleet;
use crate::system::last_committed;

/// One step of the worker path.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerStep {
    /// Worker processes.
    pub processes: usize,
    /// WORKER_CONCURRENCY of each.
    pub concurrency: usize,
    /// Tasks delivered in the step.
    pub tasks: u64,
    /// Tasks delivered per second.
    pub gens_per_s: f64,
    /// processes × concurrency / provider latency.
    pub ideal_gens_per_s: f64,
    /// gens_per_s / ideal (target ≥ 0.9).
    pub ratio: f64,
    /// `TaskRequested` → `TaskDelivered`, milliseconds.
    pub latency_p50_ms: f64,
    /// See `latency_p50_ms`.
    pub latency_p99_ms: f64,
}

/// One step of the bot path.
#[derive(Debug, Clone, Serialize)]
pub struct BotStep {
    /// Webhook bot processes behind the proxy.
    pub processes: usize,
    /// Simulated users at once.
    pub users: u64,
    /// Updates handled.
    pub updates: u64,
    /// Updates handled per second.
    pub updates_per_s: f64,
    /// From handing an update over to its last Bot API call, milliseconds.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
}

/// The worker path at 1..=`max_processes` workers: `slots` tasks per in-flight slot each step.
pub async fn workers(
    fleet: &mut Fleet,
    max_processes: usize,
    concurrency: usize,
    slots: u64,
    latency: Duration,
) -> anyhow::Result<Vec<WorkerStep>> {
    let mut steps = Vec::new();
    for processes in 1..=max_processes {
        fleet.start_workers(processes - fleet.workers.len()).await;
        let in_flight = processes * concurrency;
        let first = 1_000_000 * processes as i64;
        let users = open_rich_accounts(&fleet.ledger, first, in_flight).await?;
        // Unmeasured: one task per slot, so that every process pulls before the clock starts
        // (the first step would otherwise time the consumer's creation).
        run_loop(fleet, &users, in_flight as u64).await?;
        let tasks = in_flight as u64 * slots;
        let started = Instant::now();
        let requested = run_loop(fleet, &users, tasks).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let latencies = since_requested(&fleet.ledger, &requested, "TaskDelivered").await?;
        let ideal = in_flight as f64 / latency.as_secs_f64();
        let gens_per_s = tasks as f64 / elapsed;
        eprintln!(
            "scale: {processes} worker(s) × {concurrency}: {gens_per_s:.1} generations/s, ideal {ideal:.1}"
        );
        steps.push(WorkerStep {
            processes,
            concurrency,
            tasks,
            gens_per_s,
            ideal_gens_per_s: ideal,
            ratio: gens_per_s / ideal,
            latency_p50_ms: quantile(&latencies, 0.5),
            latency_p99_ms: quantile(&latencies, 0.99),
        });
    }
    Ok(steps)
}

/// A closed loop of `tasks` tasks over `users`, counting deliveries from the log's end on.
async fn run_loop(
    fleet: &Fleet,
    users: &[tokenbot_ledger::TelegramId],
    tasks: u64,
) -> anyhow::Result<Vec<tokenbot_ledger::TaskId>> {
    let from = last_committed(fleet.ledger.store().database())
        .await?
        .unwrap_or(LogCursor::START);
    let store = fleet.ledger.store().clone();
    let mut sub = Subscription::new(store, from, SubscriptionOptions::default()).await;
    closed_loop(&fleet.ledger, &mut sub, users, tasks).await
}

/// The bot path through 1..=`max_processes` webhook bots, `users` users each step.
pub async fn bots(
    fleet: &mut Fleet,
    max_processes: usize,
    users: u64,
) -> anyhow::Result<Vec<BotStep>> {
    let mut steps = Vec::new();
    for processes in 1..=max_processes {
        fleet.start_bots(processes).await;
        let first = 5_000_000 + 100_000 * processes as i64;
        // Unmeasured: fresh processes prepare their statements on their first connections.
        drive_users(fleet, users, first).await?;
        let side = drive_users(fleet, users, first + 50_000).await?;
        eprintln!(
            "scale: {processes} bot(s): {:.0} updates/s, p99 {:.0} ms",
            side.updates_per_s, side.p99_ms
        );
        steps.push(BotStep {
            processes,
            users,
            updates: side.updates,
            updates_per_s: side.updates_per_s,
            p50_ms: side.p50_ms,
            p99_ms: side.p99_ms,
        });
    }
    Ok(steps)
}

/// `users` simulated users (ids from `first`) through the proxy, each its generate flows.
async fn drive_users(
    fleet: &Fleet,
    users: u64,
    first: i64,
) -> anyhow::Result<super::super::bot_drive::Side> {
    drive(
        &tokio::runtime::Handle::current(),
        Arc::clone(&fleet.telegram),
        Mode::Webhook,
        Flow::Generate,
        users,
        first,
        None,
    )
    .await
}
