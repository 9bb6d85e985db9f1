//! `tokenbot`: one binary for every role and every operator tool.

mod cli;
mod configuration;
mod import;
mod startup;
mod telemetry;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tokenbot",
    version,
    about = "Event-sourced token ledger with a Telegram image bot on top"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply database migrations and set the runtime roles' rights, as the owner
    /// (MIGRATION_DATABASE_URL, else DATABASE_URL).
    Migrate,
    /// Run a small demonstration against the real ledger: accounts, grants, debits, a refund, verify.
    Demo(cli::demo::DemoArgs),
    /// Auditor tools: verify, replay, balance at a moment, history, export, checkpoints.
    #[command(subcommand)]
    Ledger(cli::ledger::LedgerCommand),
    /// Publish committed events to NATS JetStream, in order (one leader at a time), and seal them.
    Relay(cli::roles::RelayArgs),
    /// Keep the read models up to date from JetStream (Postgres when NATS is down).
    Projector(cli::roles::ProjectorArgs),
    /// Serve the HTTP API (admin endpoints, /health, /metrics, /openapi.json) on HTTP_ADDR.
    Api(cli::roles::ApiArgs),
    /// Run the image worker: TaskRequested from JetStream to OpenAI, results to Telegram.
    Worker(cli::roles::WorkerArgs),
    /// Run the Telegram bot (webhook when WEBHOOK_URL is set, else long polling).
    Bot(cli::roles::BotArgs),
    /// Run every role in one process (relay, projector, worker, bot, HTTP API) until Ctrl-C.
    Up(cli::roles::UpArgs),
    /// Carry users, balances and tasks over from the original bot's database (safe to re-run).
    Import(cli::import::ImportArgs),
    /// Operator and auditor tools for the read models: rebuild, diff, status.
    #[command(subcommand)]
    Projections(cli::projections::ProjectionsCommand),
    /// Benchmarks; print JSON and update docs/benchmarks.md.
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
}

impl Command {
    /// The auditor's commands follow the exit status scripts expect: 0 clean, 1 a finding,
    /// 2 could not run (connection, configuration, arguments), like clap's own usage errors.
    /// Everything else exits 1 when it cannot run.
    fn could_not_run_status(&self) -> i32 {
        match self {
            Command::Ledger(_) | Command::Projections(_) => 2,
            _ => 1,
        }
    }
}

#[tokio::main]
async fn main() {
    telemetry::init();
    let cli = Cli::parse();
    let failure_status = cli.command.could_not_run_status();
    let result = run(cli).await;
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line, the whole cause chain, no backtrace: the reader is an operator.
            eprintln!("error: {e:#}");
            std::process::exit(failure_status);
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<i32> {
    let settings = configuration::Settings::from_env()?;
    match cli.command {
        Command::Migrate => {
            startup::owner_database(&settings).await?;
            println!(
                "migrations applied; rights of {} and {} set",
                tokenbot_ledger::roles::WRITER_ROLE,
                tokenbot_ledger::roles::READER_ROLE
            );
            Ok(0)
        }
        Command::Demo(args) => cli::demo::run(&settings, args).await,
        Command::Ledger(cmd) => cli::ledger::run(&settings, cmd).await,
        Command::Bench(cmd) => cli::bench::run(&settings, cmd).await,
        Command::Relay(args) => cli::roles::run_relay(&settings, args).await,
        Command::Projector(args) => cli::roles::run_projector(&settings, args).await,
        Command::Projections(cmd) => cli::projections::run(&settings, cmd).await,
        Command::Api(args) => cli::roles::run_api(&settings, args).await,
        Command::Worker(args) => cli::roles::run_worker(&settings, args).await,
        Command::Bot(args) => cli::roles::run_bot(&settings, args).await,
        Command::Up(args) => cli::roles::run_up(&settings, args).await,
        Command::Import(args) => cli::import::run(&settings, args).await,
    }
}
