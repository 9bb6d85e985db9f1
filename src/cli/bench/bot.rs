//! `tokenbot bench bot`: simulated users drive generate flows (/start, 🎨, prompt, confirm)
//! through the fake Telegram Bot API while the real bot handles them (long polling, dialogue in
//! Postgres, debits in the ledger). Reports updates handled per second and the handling latency
//! per update, next to an echo bot (one sendMessage per update, no database) driven the same way
//! in the same run.

use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use tokenbot_fake_telegram::{Conversation, FakeTelegram, TgUser};
use tokenbot_ledger::bus::BusConfig;
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{Ledger, LedgerConfig};

use super::support::{ScratchDb, quantile, replace_section};
use crate::cli::sim::{SimOptions, SimSystem};
use crate::configuration::Settings;
use crate::startup;

/// `tokenbot bench bot`: how many simulated users at once, and whether to update the docs.
#[derive(Args)]
pub struct BotBenchArgs {
    /// Simulated users, all active at once.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    users: u64,
    /// Do not rewrite the bot section of docs/benchmarks.md.
    #[arg(long)]
    no_docs: bool,
    /// New users sending /start at once to a bot at Telegram's limits (the drain figure).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    crowd: u64,
}

#[derive(Serialize)]
struct Side {
    updates: u64,
    updates_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Serialize)]
struct BotReport {
    bench: &'static str,
    cores: usize,
    users: u64,
    bot: Side,
    echo_baseline: Side,
    ratio: f64,
    at_telegram_limits: super::bot_limits::Drain,
}

/// Each user's flow; returns the handling time of every update.
async fn flow(telegram: &FakeTelegram, id: i64, generate: bool) -> anyhow::Result<Vec<f64>> {
    let chat = Conversation::new(telegram, TgUser::new(id));
    let mut times = Vec::with_capacity(4);
    let timed = Instant::now();
    chat.say("/start").await?;
    times.push(timed.elapsed().as_secs_f64() * 1000.0);
    if generate {
        for step in ["menu:generate", "", "confirm:yes"] {
            let t = Instant::now();
            if step.is_empty() {
                chat.say("a benchmark picture").await?;
            } else {
                chat.tap_data(step)
                    .await
                    .ok_or_else(|| anyhow::anyhow!("no {step} button for user {id}"))??;
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    } else {
        for text in ["one", "two", "three"] {
            let t = Instant::now();
            chat.say(text).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(times)
}

async fn drive(telegram: &FakeTelegram, users: u64, generate: bool) -> anyhow::Result<Side> {
    let start = Instant::now();
    let flows = (0..users).map(|u| flow(telegram, 1_000 + u as i64, generate));
    let mut times = Vec::new();
    for done in futures::future::join_all(flows).await {
        times.extend(done?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    Ok(Side {
        updates: times.len() as u64,
        updates_per_s: times.len() as f64 / elapsed,
        p50_ms: quantile(&times, 0.5),
        p99_ms: quantile(&times, 0.99),
    })
}

/// The least a long-polling bot can do: answer every update with one message.
async fn echo(bot: teloxide::Bot, shutdown: Shutdown) -> anyhow::Result<()> {
    let mut offset = 0;
    loop {
        let updates = tokio::select! {
            u = bot.get_updates().offset(offset).timeout(10) => u?,
            _ = shutdown.cancelled() => return Ok(()),
        };
        for u in &updates {
            offset = u.id.0 as i32 + 1;
            if let Some(chat) = u.chat() {
                bot.send_message(chat.id, "ok").await?;
            }
        }
    }
}

/// Measures the real bot against an echo bot on the same fake Telegram, prints the JSON and
/// updates docs/benchmarks.md; exit status 0.
pub async fn run(settings: &Settings, args: BotBenchArgs) -> anyhow::Result<i32> {
    let at_telegram_limits = super::bot_limits::drain(settings, args.crowd).await?;
    // The baseline first, on its own fake.
    let echo_telegram = FakeTelegram::start().await?;
    let stop = Shutdown::new();
    let echo_bot = teloxide::Bot::new(FakeTelegram::TOKEN).set_api_url(echo_telegram.api_url());
    let echo_task = tokio::spawn(echo(echo_bot, stop.clone()));
    let baseline = drive(&echo_telegram, args.users, false).await?;
    stop.cancel();
    echo_task.await??;

    let (scratch, db) = ScratchDb::create(settings, "bot").await?;
    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0;
    let ledger = Ledger::new(tokenbot_ledger::EventStore::new(db), config);
    let js = startup::jetstream(settings).await?;
    let prefix = format!("benchb{}", std::process::id());
    let mut settings = settings.clone();
    settings.bus = BusConfig::prefixed(&prefix);
    let system = SimSystem::start(
        settings,
        ledger,
        js,
        SimOptions {
            worker_concurrency: 64,
            retry_delays: vec![Duration::from_millis(100)],
            admin_ids: vec![],
            consumer_prefix: format!("{prefix}_"),
            checkpoints: None,
        },
    )
    .await?;
    let bot = drive(&system.telegram, args.users, true).await?;
    system.stop().await?;
    scratch.drop_db().await?;

    let report = BotReport {
        bench: "bot",
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        users: args.users,
        ratio: bot.updates_per_s / baseline.updates_per_s,
        bot,
        echo_baseline: baseline,
        at_telegram_limits,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !args.no_docs {
        let body = format!(
            "Command: `cargo run --release -- bench bot` ({} users at once, 4 updates each; {} cores). \
             Baseline: an echo bot (one sendMessage per update, no database) driven the same way in the same run.\n\n\
             | measure | bot | echo baseline | ratio |\n|---|---|---|---|\n\
             | updates handled/s | {:.0} | {:.0} | {:.2} |\n\
             | handling latency p50 | {:.1} ms | {:.1} ms | |\n\
             | handling latency p99 | {:.1} ms | {:.1} ms | |",
            report.users,
            report.cores,
            report.bot.updates_per_s,
            report.echo_baseline.updates_per_s,
            report.ratio,
            report.bot.p50_ms,
            report.echo_baseline.p50_ms,
            report.bot.p99_ms,
            report.echo_baseline.p99_ms,
        );
        let body = format!(
            "{body}\n\n{}",
            super::bot_limits::doc_lines(&report.at_telegram_limits)
        );
        replace_section("bot", "Telegram bot", &body)?;
    }
    Ok(0)
}
