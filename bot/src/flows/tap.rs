//! A button tap being handled, and the three ways of answering it (Telegram wants every
//! callback query answered, or the button keeps spinning).

use teloxide::types::{CallbackQuery, MessageId};

use crate::error::BotError;
use crate::reply::answer;
use crate::turn::Turn;

/// The button tap being handled: the message it belongs to, and its answer.
pub(crate) struct Tap<'a> {
    query: &'a CallbackQuery,
    /// The message whose button was tapped (Telegram omits it for very old messages).
    pub message: Option<MessageId>,
}

impl<'a> Tap<'a> {
    /// The tap of `query`.
    pub fn new(query: &'a CallbackQuery) -> Self {
        Self {
            query,
            message: query.message.as_ref().map(|m| m.id()),
        }
    }

    /// Answers the tap silently (the client stops its spinner).
    pub async fn done(&self, turn: &Turn<'_>) -> Result<(), BotError> {
        Ok(answer(&turn.app.bot, &self.query.id, None, false).await?)
    }

    /// Answers the tap with a short notice that fades.
    pub async fn toast(&self, turn: &Turn<'_>, text: String) -> Result<(), BotError> {
        Ok(answer(&turn.app.bot, &self.query.id, Some(text), false).await?)
    }

    /// Answers the tap with a notice the user must dismiss.
    pub async fn alert(&self, turn: &Turn<'_>, text: String) -> Result<(), BotError> {
        Ok(answer(&turn.app.bot, &self.query.id, Some(text), true).await?)
    }
}
