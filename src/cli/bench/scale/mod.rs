//! `tokenbot bench scale` and the scale scenario (issue 15, items 2 and 3): the system as a
//! deployment of several processes of every role on a three-node NATS cluster on loopback.
//!
//! - [`scenario`]: kills and restarts one process of each role and a NATS node under seeded
//!   users and checks that nothing was lost or done twice (`tests/scale.rs`, `--faults`).
//! - [`throughput`]: generations/s at 1, 2 and 3 worker processes against the ideal, and
//!   updates/s through 1 and 2 webhook bots.
//!
//! The parts: [`fleet`] starts the deployment, [`drive`] the users, [`faults`] the kills,
//! [`checks`] what must hold afterwards.

pub mod checks;
pub mod drive;
pub mod faults;
pub mod fleet;
pub mod scenario;
pub mod throughput;

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::cpu::load_average;
use super::support::{ScratchDb, config_url, replace_section};
use crate::configuration::Settings;
use fleet::{Fleet, FleetOptions, Timers};
use scenario::{ScaleReport, ScenarioOptions, ScenarioSize};
use throughput::{BotStep, WorkerStep};

/// `tokenbot bench scale`: the sizes of the throughput phases, and whether to run the faults.
#[derive(Args)]
pub struct ScaleArgs {
    /// WORKER_CONCURRENCY of each worker process.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    concurrency: u64,
    /// Tasks per in-flight slot in each worker step (the step lasts about this many latencies).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    slots: u64,
    /// How long the fake OpenAI takes per image, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    latency_ms: u64,
    /// Simulated users at once in each bot step.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    bot_users: u64,
    /// Also run the fault scenario (what `tests/scale.rs` runs) and report it.
    #[arg(long)]
    faults: bool,
    /// Seed of the fault scenario.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Do not rewrite the scale section of docs/benchmarks.md.
    #[arg(long)]
    no_docs: bool,
}

#[derive(Serialize)]
struct BenchReport {
    bench: &'static str,
    cores: usize,
    load_average: [f64; 2],
    nats_nodes: usize,
    provider_latency_ms: u64,
    workers: Vec<WorkerStep>,
    bots: Vec<BotStep>,
    faults: Option<ScaleReport>,
}

/// Runs the phases on scratch databases, prints the JSON, updates docs/benchmarks.md; exit
/// status 1 when the fault scenario found a violation (targets missed are reported, not failed).
pub async fn run(settings: &Settings, args: ScaleArgs) -> anyhow::Result<i32> {
    let binary = std::env::current_exe()?;
    let load_before = load_average();
    let (scratch, db) = ScratchDb::create(settings, "scale").await?;
    let url = config_url(db.config());
    drop(db);
    let latency = Duration::from_millis(args.latency_ms);
    let mut fleet = Fleet::start(FleetOptions {
        binary: binary.clone(),
        database_url: url.clone(),
        nodes: 3,
        worker_concurrency: args.concurrency as usize,
        provider_latency: latency,
        timers: Timers::default(),
        db_pool_size: 16,
    })
    .await?;
    fleet.start_relays(1).await?;
    let workers = throughput::workers(
        &mut fleet,
        3,
        args.concurrency as usize,
        args.slots,
        latency,
    )
    .await?;
    // The bot steps measure the bots alone.
    fleet.workers.clear();
    let bots = throughput::bots(&mut fleet, 2, args.bot_users).await?;
    drop(fleet);
    scratch.drop_db().await?;

    let faults = if args.faults {
        let (scratch, db) = ScratchDb::create(settings, "scale_faults").await?;
        let url = config_url(db.config());
        drop(db);
        let report = scenario::run(ScenarioOptions {
            binary,
            database_url: url,
            seed: args.seed,
            size: ScenarioSize::default(),
            timers: Timers::default(),
        })
        .await?;
        scratch.drop_db().await?;
        Some(report)
    } else {
        None
    };
    let report = BenchReport {
        bench: "scale",
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average: [load_before, load_average()],
        nats_nodes: 3,
        provider_latency_ms: args.latency_ms,
        workers,
        bots,
        faults,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !args.no_docs {
        replace_section("scale", "Scale", &docs_section(&report, &args))?;
    }
    let violated = report
        .faults
        .as_ref()
        .is_some_and(|f| !f.violations.is_empty());
    Ok(i32::from(violated))
}

fn docs_section(r: &BenchReport, args: &ScaleArgs) -> String {
    let mut out = format!(
        "Command: `tokenbot bench scale --concurrency {} --slots {} --latency-ms {} --bot-users {}{}` \
         ({} cores, load average {:.1} before, {:.1} after; NATS: {} nodes on loopback, stream \
         with 3 replicas; every role a separate process of the same binary).\n\n\
         | worker processes × concurrency | generations/s | ideal | ratio (target ≥ 0.9) | p50 / p99 ms |\n|---|---|---|---|---|\n",
        args.concurrency,
        args.slots,
        args.latency_ms,
        args.bot_users,
        if args.faults { " --faults" } else { "" },
        r.cores,
        r.load_average[0],
        r.load_average[1],
        r.nats_nodes,
    );
    for w in &r.workers {
        out += &format!(
            "| {} × {} | {:.1} | {:.1} | {:.2} | {:.0} / {:.0} |\n",
            w.processes,
            w.concurrency,
            w.gens_per_s,
            w.ideal_gens_per_s,
            w.ratio,
            w.latency_p50_ms,
            w.latency_p99_ms
        );
    }
    out += "\n| webhook bot processes (behind the round-robin proxy) | users | updates/s | p50 / p99 ms |\n|---|---|---|---|\n";
    for b in &r.bots {
        out += &format!(
            "| {} | {} | {:.0} | {:.0} / {:.0} |\n",
            b.processes, b.users, b.updates_per_s, b.p50_ms, b.p99_ms
        );
    }
    if let Some(f) = &r.faults {
        out += &format!(
            "\nFault scenario (seed {}): {} faults, relay takeover {} s (bound {:.2} s), {} tasks \
             ({} delivered, {} refunded), slowest settle {:.1} s (bound {:.0} s), {} stream \
             messages for {} events, violations: {}.\n",
            f.seed,
            f.faults.len(),
            f.relay_takeover_s
                .iter()
                .map(|t| format!("{t:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            f.bounds.takeover_s,
            f.tasks.requested,
            f.tasks.delivered,
            f.tasks.refunded,
            f.tasks.slowest_settle_s,
            f.bounds.settle_s,
            f.stream.messages,
            f.stream.events,
            f.violations.len()
        );
    }
    out.trim_end().to_string()
}
