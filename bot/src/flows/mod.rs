//! What each update does, by the state the chat is in. One module per part of the menu; this one
//! only routes. Commands work from every state (the original swallowed `/balance` as a prompt).

mod admin;
mod browse;
mod commands;
mod create;
pub(crate) mod payments;
mod refund;
mod tap;

use teloxide::types::{CallbackQuery, Message};
use tokenbot_texts as texts;

use self::tap::Tap;
use crate::callback::{CallbackData, MenuTarget};
use crate::dialogue::State;
use crate::error::BotError;
use crate::keyboards;
use crate::turn::Turn;

/// Handles a message; returns the chat's next state.
pub(crate) async fn on_message(
    turn: &Turn<'_>,
    state: State,
    message: &Message,
) -> Result<State, BotError> {
    if let Some(paid) = message.successful_payment() {
        return payments::on_paid(turn, state, paid).await;
    }
    if let Some(text) = message.text()
        && let Some(command) = text.strip_prefix('/')
    {
        return commands::on_command(turn, state, command).await;
    }
    match state {
        State::AwaitingPrompt | State::AwaitingEditPrompt { .. } => {
            create::on_prompt(turn, state, message).await
        }
        State::AwaitingImage => create::on_image(turn, message).await,
        State::Idle | State::Confirming(_) => {
            // The original ignored these silently; an answer tells the user where they are.
            turn.reply()
                .send(
                    texts::unknown_command(turn.lang),
                    Some(keyboards::main_menu(turn.lang)),
                )
                .await?;
            Ok(state)
        }
    }
}

/// Handles a button tap; returns the chat's next state.
pub(crate) async fn on_callback(
    turn: &Turn<'_>,
    state: State,
    query: &CallbackQuery,
) -> Result<State, BotError> {
    let tapped = Tap::new(query);
    let data = match query.data.as_deref().map(CallbackData::parse) {
        Some(Ok(d)) => d,
        _ => {
            tapped
                .toast(turn, texts::stale_button_toast(turn.lang))
                .await?;
            return Ok(state);
        }
    };
    match data {
        CallbackData::NavMenu => {
            turn.reply()
                .edit(
                    tapped.message,
                    texts::main_menu_title(turn.lang),
                    Some(keyboards::main_menu(turn.lang)),
                )
                .await?;
            tapped.done(turn).await?;
            Ok(State::Idle)
        }
        CallbackData::Menu(MenuTarget::Generate) | CallbackData::Menu(MenuTarget::Edit) => {
            create::start(turn, &tapped, data == CallbackData::Menu(MenuTarget::Edit)).await
        }
        CallbackData::Quality { .. } | CallbackData::Size { .. } => {
            create::on_option(turn, state, &tapped, data).await
        }
        CallbackData::Confirm { draft } => {
            create::confirm(turn, state, &tapped, draft, false).await
        }
        CallbackData::ConfirmExpensive { draft } => {
            create::confirm(turn, state, &tapped, draft, true).await
        }
        CallbackData::Cancel { draft } => create::cancel(turn, state, &tapped, draft).await,
        CallbackData::Template(id) => create::template(turn, &tapped, &id).await,
        CallbackData::Menu(target) => browse::menu(turn, state, &tapped, target).await,
        CallbackData::Model(id) => browse::choose_model(turn, state, &tapped, &id).await,
        CallbackData::HistoryShow(task) => browse::show_result(turn, state, &tapped, task).await,
        CallbackData::HistoryBack => browse::menu(turn, state, &tapped, MenuTarget::Profile).await,
        CallbackData::TokensBuy(package) => payments::buy(turn, state, &tapped, &package).await,
        // The button of the screen before payments: the screen as it is now.
        CallbackData::TokensComingSoon => {
            browse::menu(turn, state, &tapped, MenuTarget::Tokens).await
        }
        CallbackData::Admin(action) => admin::on_action(turn, state, &tapped, action).await,
    }
}
