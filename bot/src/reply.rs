//! Sending and editing the bot's messages: always HTML (every user-provided piece is escaped by
//! [`crate::texts`]), and an edit that changes nothing is not an error (the original showed the
//! generic error when a user tapped the option already selected). Every call goes through
//! [`Telegram`]'s rate limiter.

use teloxide::payloads::{
    AnswerCallbackQuerySetters, EditMessageTextSetters, SendDocumentSetters, SendMessageSetters,
};
use teloxide::prelude::Requester;
use teloxide::types::{
    CallbackQueryId, ChatId, InlineKeyboardMarkup, InputFile, MessageId, ParseMode,
};
use teloxide::{ApiError, RequestError};
use tokenbot_telegram::Telegram;

/// Messages to one chat.
pub struct Reply<'a> {
    bot: &'a Telegram,
    chat: ChatId,
}

impl<'a> Reply<'a> {
    /// Replies to `chat` through `bot`.
    pub fn new(bot: &'a Telegram, chat: ChatId) -> Self {
        Self { bot, chat }
    }

    /// Sends `text` (HTML) with an optional keyboard.
    pub async fn send(
        &self,
        text: String,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<MessageId, RequestError> {
        let mut request = self
            .bot
            .bot()
            .send_message(self.chat, text)
            .parse_mode(ParseMode::Html);
        if let Some(k) = keyboard {
            request = request.reply_markup(k);
        }
        Ok(self.bot.message(self.chat, request).await?.id)
    }

    /// Replaces the text of a message the user tapped a button of; sends a new one if that
    /// message can no longer be edited.
    pub async fn edit(
        &self,
        message: Option<MessageId>,
        text: String,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<(), RequestError> {
        let Some(id) = message else {
            self.send(text, keyboard).await?;
            return Ok(());
        };
        let mut request = self
            .bot
            .bot()
            .edit_message_text(self.chat, id, text.clone())
            .parse_mode(ParseMode::Html);
        if let Some(k) = keyboard.clone() {
            request = request.reply_markup(k);
        }
        match self.bot.message(self.chat, request).await {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(RequestError::Api(
                ApiError::MessageToEditNotFound | ApiError::MessageCantBeEdited,
            )) => {
                self.send(text, keyboard).await?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Sends a file Telegram already has (by its file id) as a document with a caption.
    pub async fn document(&self, file_id: String, caption: String) -> Result<(), RequestError> {
        let request = self
            .bot
            .bot()
            .send_document(
                self.chat,
                InputFile::file_id(teloxide::types::FileId(file_id)),
            )
            .caption(caption)
            .parse_mode(ParseMode::Html);
        self.bot.message(self.chat, request).await?;
        Ok(())
    }
}

/// Answers a button tap (always: an unanswered tap leaves a spinner on the user's screen).
pub async fn answer(
    bot: &Telegram,
    id: &CallbackQueryId,
    text: Option<String>,
    alert: bool,
) -> Result<(), RequestError> {
    let mut request = bot.bot().answer_callback_query(id.clone());
    if let Some(t) = text {
        request = request.text(t).show_alert(alert);
    }
    match bot.call(request).await {
        Ok(_) => Ok(()),
        // Answered too late (older than 15 s): nothing is shown either way.
        Err(RequestError::Api(ApiError::InvalidQueryId)) => Ok(()),
        Err(e) => Err(e),
    }
}
