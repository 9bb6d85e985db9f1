//! The Telegram front door: every flow of the original bot, on the ledger.
//!
//! An update arrives by webhook ([`webhook`]) or long polling ([`polling`]) and goes to
//! [`app::App::handle_update`], which loads the chat's dialogue ([`dialogue`], stored by
//! [`storage`]), runs the flow for it ([`flows`]) and replies ([`reply`]) with the original's texts
//! ([`texts`]) and keyboards ([`keyboards`], [`callback`]). Money moves only through ledger
//! commands with idempotency keys, so a double tap or a redelivered update pays once.

pub mod app;
pub mod callback;
pub mod dialogue;
mod flows;
pub mod keyboards;
pub mod polling;
pub mod reply;
pub mod storage;
pub mod texts;
pub mod webhook;

pub use app::{App, BotConfig, BotError, Retry};

use teloxide::prelude::Requester;
use teloxide::types::BotCommand;

/// The command list Telegram shows in the client's menu (the original registered none).
pub async fn register_commands(bot: &teloxide::Bot) -> Result<(), teloxide::RequestError> {
    let commands = [
        ("start", "Главное меню / Main menu"),
        ("balance", "Баланс / Balance"),
        ("guide", "Как пользоваться / Guide"),
        ("help", "Команды / Commands"),
        ("cancel", "Отменить действие / Cancel"),
    ];
    bot.set_my_commands(
        commands
            .iter()
            .map(|(c, d)| BotCommand::new(*c, *d))
            .collect::<Vec<_>>(),
    )
    .await?;
    Ok(())
}

/// Forgets handled update ids older than a day, hourly, until `shutdown` (the table would
/// otherwise grow by one row per update forever).
pub async fn prune_handled_updates(app: App, shutdown: tokenbot_ledger::shutdown::Shutdown) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        match app.handled_updates().prune().await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "old handled update ids forgotten"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning handled update ids failed"),
        }
    }
}
