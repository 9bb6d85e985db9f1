//! How each role's configuration and clients follow from the [`Settings`]: the relay's
//! checkpoint signing, the projector's consumer, the worker's pace, the OpenAI and Telegram
//! clients. The builder uses these; so do tests and tools that start a part on its own (a
//! worker they can kill, say).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokenbot_ledger::Ledger;
use tokenbot_ledger::relay::RelayConfig;
use tokenbot_projections::live::LiveConfig;
use tokenbot_worker::provider::openai::{OpenAiConfig, OpenAiImages};
use tokenbot_worker::{Runner, WorkerConfig};

use crate::configuration::Settings;

/// The relay of a deployment: signs checkpoints when a key is configured, and without one says
/// so, once.
pub fn relay_config(settings: &Settings) -> RelayConfig {
    let checkpoints = match &settings.checkpoints.signer {
        Some(signer) => Some(tokenbot_ledger::checkpoint::CheckpointSettings {
            signer: signer.clone(),
            policy: settings.checkpoints.policy.clone(),
        }),
        None => {
            tracing::warn!(
                target: crate::telemetry::LIFECYCLE,
                "LEDGER_SIGNING_KEY is not set: the relay seals the hash chain but publishes no signed checkpoints (make a key with `tokenbot ledger keygen`; docs/operations.md)"
            );
            None
        }
    };
    RelayConfig {
        checkpoints,
        ..Default::default()
    }
}

/// The projector of a deployment: the durable consumer `projector` on the settings' stream.
pub fn live_config(settings: &Settings) -> LiveConfig {
    LiveConfig {
        bus: settings.bus.clone(),
        ..Default::default()
    }
}

/// How the worker behaves, from the settings (also what `/health` of `up` judges open tasks by,
/// whether or not the worker runs).
pub fn worker_config(settings: &Settings) -> WorkerConfig {
    WorkerConfig {
        bus: settings.bus.clone(),
        concurrency: settings.worker.concurrency,
        retry_delays: settings.worker.retry_delays.clone(),
        // Longer than one OpenAI call and a delivery, so a live worker never loses its task.
        lease: settings.openai.timeout + Duration::from_secs(60),
        ack_wait: settings.worker.ack_wait,
        task_stall: settings.worker.task_stall,
        ..Default::default()
    }
}

/// The Bot API client behind the rate limiter of TELEGRAM_LIMIT_*; clones share the limiter, so
/// give the bot and the worker of one process the same one.
pub fn telegram(settings: &Settings, role: &str) -> anyhow::Result<tokenbot_telegram::Telegram> {
    Ok(tokenbot_telegram::Telegram::new(
        telegram_bot(settings, role)?,
        settings.telegram.limits,
    ))
}

/// The Bot API client: BOT_TOKEN against TELEGRAM_API_URL (Telegram's by default).
pub fn telegram_bot(settings: &Settings, role: &str) -> anyhow::Result<teloxide::Bot> {
    let token = settings.telegram.bot_token.as_ref().with_context(|| {
        format!("BOT_TOKEN is not set: the {role} talks to Telegram through it (get one from @BotFather; `tokenbot demo` runs without one)")
    })?;
    let bot = teloxide::Bot::new(token.expose_secret());
    Ok(match &settings.telegram.api_url {
        Some(url) => bot.set_api_url(url.clone()),
        None => bot,
    })
}

/// The image worker's runner on `ledger`: OpenAI (OPENAI_*), Telegram (BOT_TOKEN, with a
/// limiter of its own) and the result store, working by `config`.
pub fn worker_runner(
    settings: &Settings,
    ledger: &Ledger,
    config: Arc<WorkerConfig>,
) -> anyhow::Result<Arc<Runner>> {
    worker_runner_on(settings, ledger, config, telegram(settings, "worker")?)
}

/// [`worker_runner`] talking to Telegram through `bot` (whose limiter the bot may share).
pub fn worker_runner_on(
    settings: &Settings,
    ledger: &Ledger,
    config: Arc<WorkerConfig>,
    bot: tokenbot_telegram::Telegram,
) -> anyhow::Result<Arc<Runner>> {
    let api_key = settings.openai.api_key.as_ref().context(
        "OPENAI_API_KEY is not set: the worker needs it to make images (`tokenbot demo` runs without one)",
    )?;
    let provider = OpenAiImages::new(OpenAiConfig {
        base_url: settings.openai.base_url.clone(),
        api_key: api_key.expose_secret().to_string(),
        timeout: settings.openai.timeout,
    })
    .context("cannot build the OpenAI client")?;
    Ok(Arc::new(Runner::new(
        ledger.clone(),
        Arc::new(provider),
        tokenbot_worker::telegram::Courier::new(bot, config.max_source_bytes),
        tokenbot_worker::results::ResultStore::new(ledger.store().database().pool().clone()),
        config,
    )))
}

/// The bot's configuration from the settings (ADMIN_IDS, SUPPORT_CONTACT, TOKEN_PACKAGES).
pub fn bot_config(settings: &Settings) -> tokenbot_bot::BotConfig {
    tokenbot_bot::BotConfig {
        admin_ids: settings.telegram.admin_ids.clone(),
        support_contact: settings.telegram.support_contact.clone(),
        packages: settings.telegram.packages.clone(),
        ..tokenbot_bot::BotConfig::default()
    }
}
