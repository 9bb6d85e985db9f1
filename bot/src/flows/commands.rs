//! Slash commands: /start, /help, /cancel, /balance (/tokens), /guide, /paysupport, and the admin
//! ones.

use tokenbot_ledger::events::AccountOpened;
use tokenbot_ledger::{Account, IdempotencyKey};
use tokenbot_texts as texts;

use super::admin;
use crate::dialogue::State;
use crate::error::BotError;
use crate::keyboards;
use crate::turn::Turn;

pub(crate) async fn on_command(
    turn: &Turn<'_>,
    state: State,
    command: &str,
) -> Result<State, BotError> {
    let (name, args) = command
        .split_once(char::is_whitespace)
        .unwrap_or((command, ""));
    // "/start@tokenbot" in a client that appends the bot's name.
    let name = name.split('@').next().unwrap_or(name).to_ascii_lowercase();
    let lang = turn.lang;
    match name.as_str() {
        "start" => start(turn).await,
        "help" => {
            turn.reply()
                .send(texts::help(lang), Some(keyboards::main_menu(lang)))
                .await?;
            Ok(state)
        }
        "cancel" => {
            let text = if state == State::Idle {
                texts::cancel_nothing(lang)
            } else {
                texts::cancel_done(lang)
            };
            turn.reply()
                .send(text, Some(keyboards::main_menu(lang)))
                .await?;
            Ok(State::Idle)
        }
        "balance" | "tokens" => {
            balance(turn).await?;
            Ok(state)
        }
        "guide" => {
            turn.reply()
                .send(guide(turn), Some(keyboards::back_to_menu(lang)))
                .await?;
            Ok(state)
        }
        "paysupport" => {
            super::payments::paysupport(turn).await?;
            Ok(state)
        }
        "admin" | "stats" | "addtokens" | "userinfo" | "refund" => {
            admin::on_command(turn, state, &name, args.trim()).await
        }
        _ => {
            turn.reply()
                .send(
                    texts::unknown_command(lang),
                    Some(keyboards::main_menu(lang)),
                )
                .await?;
            Ok(state)
        }
    }
}

/// The guide, with how many medium-square images the welcome grant buys (the original's
/// "10 стартовых генераций").
pub(crate) fn guide(turn: &Turn<'_>) -> String {
    let config = turn.app.ledger.config();
    let one = config.prices.price(
        tokenbot_ledger::Quality::Medium,
        tokenbot_ledger::ImageSize::Square,
    );
    let images = config
        .initial_grant
        .get()
        .checked_div(one.get())
        .unwrap_or(0);
    texts::guide(turn.lang, images, &turn.app.config.support_contact)
}

/// Registration: `AccountOpened` and the welcome grant, once per user however often /start is
/// sent (opening an open account is a no-op that reports "welcome back").
async fn start(turn: &Turn<'_>) -> Result<State, BotError> {
    let lang = turn.lang;
    let profile = AccountOpened {
        telegram_id: turn.telegram_id,
        username: turn.user.username.clone(),
        first_name: Some(turn.user.first_name.clone()),
        language_code: turn.user.language_code.clone(),
    };
    // Keyed by the update (and the user: bots sharing a database have their own update ids), so
    // handling it again after a lost connection answers as the first time did, "welcome"
    // rather than "welcome back".
    let key = IdempotencyKey::derived(
        "tg-start",
        format!("{}:{}", turn.telegram_id, turn.update_id),
    )
    .map_err(|e| BotError::Internal(e.to_string()))?;
    let opened = turn
        .app
        .ledger
        .open_account(&turn.command().with_key(key), profile)
        .await?
        .value;
    let text = if opened.newly_opened {
        texts::welcome_new(lang, opened.balance)
    } else {
        texts::welcome_back(lang, opened.balance)
    };
    turn.reply()
        .send(text, Some(keyboards::main_menu(lang)))
        .await?;
    Ok(State::Idle)
}

pub(crate) async fn account_of(turn: &Turn<'_>) -> Result<Option<Account>, BotError> {
    Ok(turn
        .app
        .ledger
        .account(turn.telegram_id)
        .await?
        .map(|(a, _)| a))
}

async fn balance(turn: &Turn<'_>) -> Result<(), BotError> {
    let lang = turn.lang;
    let text = match account_of(turn).await? {
        None => texts::user_not_found(lang),
        Some(a) => {
            let model = turn.model_of(Some(&a));
            texts::balance(
                lang,
                a.balance,
                &texts::model_label(lang, model.as_str()),
                a.settings.quality,
                a.settings.size,
            )
        }
    };
    turn.reply()
        .send(text, Some(keyboards::main_menu(lang)))
        .await?;
    Ok(())
}
