//! Part of `tokenbot bench bot`: a crowd of new users all sending /start at once, to a bot that
//! keeps to Telegram's limits (TELEGRAM_LIMIT_*'s defaults) through a fake Bot API enforcing the
//! same limits. Reports how long the queue of answers took to drain, next to the least the limits
//! allow, and how many calls the fake refused with 429 (each is sent again after its
//! `retry_after`; the run waits until every user has the answer).

use std::time::{Duration, Instant};

use serde::Serialize;
use tokenbot_bot::{App, BotConfig};
use tokenbot_fake_telegram::{FakeTelegram, FloodLimits, TgUser, Update, Window};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{Ledger, LedgerConfig};
use tokenbot_telegram::{Limits, Rate, RateSetting, Telegram};

use super::support::ScratchDb;
use crate::configuration::Settings;

/// The drain of one crowd.
#[derive(Serialize)]
pub(crate) struct Drain {
    users: u64,
    /// The limits kept (and enforced by the fake).
    overall: String,
    chat: String,
    /// From the last /start queued to the last welcome sent.
    drain_s: f64,
    /// The least the overall limit allows for this many messages.
    floor_s: f64,
    /// Calls the fake answered 429 (each sent again).
    refused_429: usize,
}

fn window(rate: Option<Rate>) -> Option<Window> {
    rate.map(|r| Window {
        count: r.count,
        per: r.per,
    })
}

/// `users` new users at once against Telegram's default limits.
pub(crate) async fn drain(settings: &Settings, users: u64) -> anyhow::Result<Drain> {
    let limits = Limits::TELEGRAM;
    let telegram = FakeTelegram::start().await?;
    telegram.enforce_limits(FloodLimits {
        overall: window(limits.overall),
        chat: window(limits.chat),
    });
    let (scratch, db) = ScratchDb::create(settings, "bot_limits").await?;
    let mut config = LedgerConfig::seed_default();
    config.max_tasks_per_hour = 0;
    let ledger = Ledger::new(tokenbot_ledger::EventStore::new(db), config);
    let bot = teloxide::Bot::new(FakeTelegram::TOKEN).set_api_url(telegram.api_url());
    let app = App::new(Telegram::new(bot, limits), ledger, BotConfig::default());
    let stop = Shutdown::new();
    let polling = tokio::spawn(tokenbot_bot::polling::run(app, stop.clone()));

    let ids: Vec<i64> = (0..users as i64).map(|i| 7_000_000 + i).collect();
    let since = telegram.call_count();
    for id in &ids {
        telegram.push_update(Update::text(&TgUser::new(*id), "/start"));
    }
    let start = Instant::now();
    for id in &ids {
        // The first welcome the fake accepted (a refusal is recorded with its call).
        let mut from = since;
        loop {
            let call = telegram
                .wait_for_call(from, Duration::from_secs(600), |c| {
                    c.method == "sendMessage" && c.params["chat_id"].as_i64() == Some(*id)
                })
                .await?;
            if !telegram.refused().iter().any(|r| r.index == call.index) {
                break;
            }
            from = call.index + 1;
        }
    }
    let drain_s = start.elapsed().as_secs_f64();
    stop.cancel();
    polling.await??;
    scratch.drop_db().await?;
    let floor_s = limits.overall.map_or(0.0, |r| {
        users.saturating_sub(u64::from(r.count)) as f64 * r.per.as_secs_f64() / f64::from(r.count)
    });
    Ok(Drain {
        users,
        overall: RateSetting(limits.overall).to_string(),
        chat: RateSetting(limits.chat).to_string(),
        drain_s,
        floor_s,
        refused_429: telegram.refused().len(),
    })
}

/// Its lines of the bot section of docs/benchmarks.md.
pub(crate) fn doc_lines(d: &Drain) -> String {
    format!(
        "At Telegram's limits ({} overall, {} per chat, kept by the bot and enforced by the fake): \
         {} new users sending /start at once were all answered in {:.1} s (the overall limit allows \
         no less than {:.1} s); the fake refused {} calls with 429, each sent again after its retry_after.",
        d.overall, d.chat, d.users, d.drain_s, d.floor_s, d.refused_429
    )
}
