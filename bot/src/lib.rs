//! The Telegram front door: every flow of the original bot, on the ledger.
//!
//! An update arrives by webhook ([`webhook`]) or long polling ([`polling`]) and goes to
//! [`app::App::handle_update`], which loads the chat's dialogue ([`dialogue`], stored by
//! [`storage`]), describes the update as a `Turn` (`turn.rs`: sender, chat, language and the
//! services a flow may call) and runs the flow for it (`flows/`), which replies ([`reply`]) with
//! the original's texts ([`texts`], the `tokenbot-texts` crate the worker shares) and keyboards
//! ([`keyboards`], [`callback`]). The flows know `Turn` and [`BotError`], never the `App` that
//! calls them. Money moves only through ledger commands with idempotency keys, so a double tap or
//! a redelivered update pays once.

pub mod app;
pub mod callback;
mod chat_lock;
pub mod config;
pub mod dialogue;
pub mod error;
mod flows;
pub mod keyboards;
pub mod polling;
pub mod reply;
pub mod stars;
pub mod storage;
mod turn;
pub mod webhook;

pub use app::{ALLOWED_UPDATES, App, Retry};
pub use config::BotConfig;
pub use error::BotError;
/// Every user-visible string, in Russian and English.
pub use tokenbot_texts as texts;

use teloxide::payloads::SetMyCommandsSetters;
use teloxide::prelude::Requester;
use teloxide::types::BotCommand;
use tokenbot_texts::Lang;

/// The command list Telegram shows in the client's menu (the original registered none): the
/// Russian one for everybody, the English one for clients set to English (Telegram matches the
/// user's `language_code`, as [`Lang::from_code`] does).
pub async fn register_commands(
    bot: &tokenbot_telegram::Telegram,
) -> Result<(), teloxide::RequestError> {
    for lang in Lang::ALL {
        let commands: Vec<BotCommand> = tokenbot_texts::buttons::command_menu(lang)
            .into_iter()
            .map(|(command, description)| BotCommand::new(command, description))
            .collect();
        let request = bot.bot().set_my_commands(commands);
        if lang == Lang::default() {
            bot.call(request).await?;
        } else {
            bot.call(request.language_code(lang.code())).await?;
        }
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokenbot_fake_telegram::FakeTelegram;

    use super::*;

    #[tokio::test]
    async fn command_menu_in_russian_by_default_and_in_english_for_en() {
        let fake = FakeTelegram::start().await.expect("the fake starts");
        let bot = tokenbot_telegram::Telegram::from(
            teloxide::Bot::new(FakeTelegram::TOKEN).set_api_url(fake.api_url()),
        );
        register_commands(&bot).await.expect("setMyCommands");
        // Registering again at the next start replaces the lists rather than adding to them.
        register_commands(&bot).await.expect("setMyCommands again");
        let sets = fake.commands();
        assert_eq!(sets.len(), 2, "{sets:?}");
        let menu = |language: Option<&str>| {
            let set = sets
                .iter()
                .find(|s| s.language_code.as_deref() == language)
                .unwrap_or_else(|| panic!("no list for {language:?}: {sets:?}"));
            assert_eq!(set.scope, json!({"type": "default"}));
            set.commands
                .iter()
                .map(|c| (c.command.as_str(), c.description.as_str()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            menu(None),
            [
                ("start", "Главное меню"),
                ("balance", "Баланс"),
                ("guide", "Как пользоваться"),
                ("help", "Команды"),
                ("cancel", "Отменить действие"),
            ]
        );
        assert_eq!(
            menu(Some("en")),
            [
                ("start", "Main menu"),
                ("balance", "Balance"),
                ("guide", "Guide"),
                ("help", "Commands"),
                ("cancel", "Cancel"),
            ]
        );
    }
}
