//! The command line: [`Cli`] (subcommands, and every configuration variable as a global option
//! read from the environment) and [`main`], which the binary calls. Subcommands are thin: parse
//! arguments, call the library, print.

pub mod admin;
#[cfg(feature = "demo")]
pub mod bench;
pub mod checkpoints;
#[cfg(feature = "demo")]
pub mod demo;
pub mod export;
pub mod health;
pub mod import;
pub mod ledger;
pub mod progress;
pub mod projections;
pub mod projections_status;
pub mod roles;
#[cfg(feature = "demo")]
pub mod sim;

use clap::{Parser, Subcommand};

use crate::configuration::{Environment, Settings};

/// `tokenbot`: one binary for every role and every operator tool.
#[derive(Parser)]
#[command(
    name = "tokenbot",
    version,
    about = "Event-sourced token ledger with a Telegram image bot on top"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// The configuration, from the environment.
    #[command(flatten)]
    pub environment: Environment,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Apply database migrations and set the runtime roles' rights, as the owner
    /// (MIGRATION_DATABASE_URL, else DATABASE_URL).
    Migrate,
    /// Run a small demonstration against the real ledger: accounts, grants, debits, a refund, verify.
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    /// Auditor tools: verify, replay, balance at a moment, history, export, checkpoints.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Publish committed events to NATS JetStream, in order (one leader at a time), and seal them.
    Relay(roles::RelayArgs),
    /// Keep the read models up to date from JetStream (Postgres when NATS is down).
    Projector(roles::ProjectorArgs),
    /// Serve the HTTP API (admin endpoints, /health, /metrics, /openapi.json) on HTTP_ADDR.
    Api(roles::ApiArgs),
    /// Run the image worker: TaskRequested from JetStream to OpenAI, results to Telegram.
    Worker(roles::WorkerArgs),
    /// Run the Telegram bot (webhook when WEBHOOK_URL is set, else long polling).
    Bot(roles::BotArgs),
    /// Run every role in one process (relay, projector, worker, bot, HTTP API) until Ctrl-C.
    Up(roles::UpArgs),
    /// Admin API keys: `admin key new <name>`.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Carry users, balances and tasks over from the original bot's database (safe to re-run).
    Import(import::ImportArgs),
    /// Ask a running process for its /health: exit 0 when it answers 200 (ok or degraded), 1
    /// otherwise (the container health check; asks HTTP_ADDR on this machine unless --url).
    Health(health::HealthArgs),
    /// Operator and auditor tools for the read models: rebuild, diff, status.
    #[command(subcommand)]
    Projections(projections::ProjectionsCommand),
    /// Benchmarks; print JSON and update docs/benchmarks.md.
    #[cfg(feature = "demo")]
    #[command(subcommand)]
    Bench(bench::BenchCommand),
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

/// Parses the command line and the environment, runs the command, and returns the exit status.
/// An error is one line on stderr with its whole cause chain: the reader is an operator.
pub async fn main() -> i32 {
    let cli = Cli::parse();
    let failure_status = cli.command.could_not_run_status();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            failure_status
        }
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let settings = Settings::from_environment(&cli.environment)?;
    crate::telemetry::init(&settings.log);
    match cli.command {
        Command::Migrate => {
            crate::startup::owner_database(&settings).await?;
            println!(
                "migrations applied; rights of {} and {} set",
                tokenbot_ledger::roles::WRITER_ROLE,
                tokenbot_ledger::roles::READER_ROLE
            );
            Ok(0)
        }
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(&settings, args).await,
        Command::Ledger(cmd) => ledger::run(&settings, cmd).await,
        #[cfg(feature = "demo")]
        Command::Bench(cmd) => bench::run(&settings, cmd).await,
        Command::Relay(args) => roles::run_relay(settings, args).await,
        Command::Projector(args) => roles::run_projector(settings, args).await,
        Command::Projections(cmd) => projections::run(&settings, cmd).await,
        Command::Api(args) => roles::run_api(settings, args).await,
        Command::Worker(args) => roles::run_worker(settings, args).await,
        Command::Bot(args) => roles::run_bot(settings, args).await,
        Command::Up(args) => roles::run_up(settings, args).await,
        Command::Import(args) => import::run(&settings, args).await,
        Command::Health(args) => health::run(&settings, args).await,
        Command::Admin(cmd) => admin::run(cmd),
    }
}
