//! `tokenbot bench ...`: throughput and latency next to raw baselines measured in the same run on
//! the same database (machines here are shared and noisy, so ratios mean more than absolutes).
//! Each prints JSON and rewrites its own section of docs/benchmarks.md.

use clap::Subcommand;

use crate::configuration::Settings;

pub mod bot;
mod bot_drive;
mod bot_echo;
mod bot_limits;
mod bot_report;
mod bot_system;
mod bot_wire;
mod cpu;
pub mod ledger;
pub mod read_side;
pub mod scale;
pub(crate) mod support;
pub mod worker;

/// `tokenbot bench ...`: one benchmark per part of the system.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Charges/s (TaskRequested + TokensDebited) and replay events/s against raw Postgres.
    Ledger(ledger::LedgerBenchArgs),
    /// Relay msgs/s to JetStream, live projection lag, rebuild time.
    ReadSide(read_side::ReadSideArgs),
    /// Generations/s and TaskRequested-to-TaskDelivered latency with a fake OpenAI.
    Worker(worker::WorkerBenchArgs),
    /// Updates handled/s and latency of simulated users (long polling and webhook, several
    /// sizes) next to an echo bot, and Postgres round trips per update.
    Bot(bot::BotBenchArgs),
    /// Generations/s at 1, 2 and 3 worker processes and updates/s through 1 and 2 webhook bot
    /// processes on a three-node NATS cluster; `--faults` adds the kill-and-restart scenario.
    Scale(scale::ScaleArgs),
}

/// Runs one benchmark; its exit status.
pub async fn run(settings: &Settings, cmd: BenchCommand) -> anyhow::Result<i32> {
    match cmd {
        BenchCommand::Ledger(args) => ledger::run(settings, args).await,
        BenchCommand::ReadSide(args) => read_side::run(settings, args).await,
        BenchCommand::Worker(args) => worker::run(settings, args).await,
        BenchCommand::Bot(args) => bot::run(settings, args).await,
        BenchCommand::Scale(args) => scale::run(settings, args).await,
    }
}
