//! `tokenbot bench bot`: simulated users drive generate flows (/start, 🎨, prompt, confirm)
//! through the fake Telegram Bot API while the real bot handles them (dialogue in Postgres,
//! debits in the ledger), in long polling and webhook mode, at several sizes. Each run is paired
//! with an echo bot (one sendMessage per update, no database) driven by the same driver through
//! the same fake in the same process. The driver and the fake run on a runtime of their own, so
//! their CPU is measured apart from the bot's; a separate pass counts the bot's Postgres
//! statements and round trips per update on the wire.

use std::sync::Arc;

use clap::Args;
use tokenbot_ledger::{Database, EventStore, Ledger, LedgerConfig};

use super::bot_drive::{Flow, Mode, drive, driver_runtime, start_fake};
use super::bot_echo::Echo;
use super::bot_report::{BotReport, Run, Targets, docs_section};
use super::bot_system::BotBench;
use super::bot_wire;
use super::cpu::load_average;
use super::support::{ScratchDb, config_url, replace_section};
use crate::configuration::Settings;
use crate::startup;

/// `tokenbot bench bot`: the sizes and modes to run, and whether to update the docs.
#[derive(Args)]
pub struct BotBenchArgs {
    /// Simulated users at once, one run per size (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "50,200,1000",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    users: Vec<u64>,
    /// How updates reach the bot, one run per mode (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "polling,webhook"
    )]
    modes: Vec<Mode>,
    /// Do not rewrite the bot section of docs/benchmarks.md.
    #[arg(long)]
    no_docs: bool,
    /// New users sending /start at once to a bot at Telegram's limits (the drain figure).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    crowd: u64,
}

const MEASURED: &str = "handled = the update's last Bot API call (timestamped by the fake); \
     driver_cpu_s = CPU of the driver runtime's one thread (simulated users + fake Bot API), \
     bot_cpu_s = the rest of the process (the bot or echo bot, its HTTP client and server), \
     postgres_cpu_s = the Postgres backends of the bench database; from /proc";

fn ledger_config() -> LedgerConfig {
    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0;
    config
}

/// The echo bot, then the bot, at `users` in `mode`; `seq` keeps user and update ids apart
/// between runs on the same database.
async fn run_one(
    bench: &BotBench<'_>,
    ledger: &Ledger,
    database: &str,
    mode: Mode,
    users: u64,
    seq: i64,
) -> anyhow::Result<Run> {
    let tg = start_fake(bench.driver, seq * 10_000_000 + 1).await?;
    let echo = Echo::start(&tg, mode).await?;
    let first_user = seq * 1_000_000;
    let echo_side = drive(
        bench.driver,
        Arc::clone(&tg),
        mode,
        Flow::Echo,
        users,
        first_user,
        None,
    )
    .await;
    // The fake outlives the echo bot, whose last getUpdates is still waiting on it.
    echo.stop().await?;
    drop(tg);

    let tg = start_fake(bench.driver, seq * 10_000_000 + 5_000_001).await?;
    let system = bench.start_bot(ledger.clone(), &tg, mode).await?;
    let bot = drive(
        bench.driver,
        Arc::clone(&tg),
        mode,
        Flow::Generate,
        users,
        first_user,
        Some(database),
    )
    .await;
    system.stop().await?;
    let (bot, echo_baseline) = (bot?, echo_side?);
    eprintln!(
        "{mode:?} {users} users: bot {:.0}/s p99 {:.0} ms, echo {:.0}/s p99 {:.0} ms",
        bot.updates_per_s, bot.p99_ms, echo_baseline.updates_per_s, echo_baseline.p99_ms
    );
    Ok(Run {
        mode,
        users,
        ratio: bot.updates_per_s / echo_baseline.updates_per_s,
        bot,
        echo_baseline,
    })
}

/// Runs every mode at every size, then the round-trip count; prints the JSON and updates
/// docs/benchmarks.md; exit status 0 (targets missed are reported, not failed).
pub async fn run(settings: &Settings, args: BotBenchArgs) -> anyhow::Result<i32> {
    let at_telegram_limits = super::bot_limits::drain(settings, args.crowd).await?;
    let load_before = load_average();
    let driver_rt = driver_runtime()?;
    let (scratch, owner_db) = ScratchDb::create(settings, "bot").await?;
    let url = config_url(owner_db.config());
    let database = owner_db
        .config()
        .get_dbname()
        .unwrap_or_default()
        .to_owned();
    drop(owner_db);
    // The deployment's pool size, not the scratch database's larger one.
    let db = Database::connect(&url, settings.db_pool_size).await?;
    let ledger = Ledger::new(EventStore::new(db), ledger_config());
    let bench = BotBench {
        settings,
        js: startup::jetstream(settings).await?,
        driver: driver_rt.handle(),
    };
    let mut runs = Vec::new();
    let mut seq = 0;
    for mode in &args.modes {
        for users in &args.users {
            seq += 1;
            runs.push(run_one(&bench, &ledger, &database, *mode, *users, seq).await?);
        }
    }
    let wire = bot_wire::count(&bench, &url, ledger_config()).await?;
    drop(ledger);
    scratch.drop_db().await?;
    driver_rt.shutdown_background();

    let report = BotReport {
        bench: "bot",
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average: [load_before, load_average()],
        measured: MEASURED,
        targets: Targets::of(&runs, &wire),
        runs,
        postgres_per_update: wire,
        at_telegram_limits,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !args.no_docs {
        let body = format!(
            "{}\n\n{}",
            docs_section(&report),
            super::bot_limits::doc_lines(&report.at_telegram_limits)
        );
        replace_section("bot", "Telegram bot", &body)?;
    }
    Ok(0)
}
