//! Driving a bot like a Telegram user does: updates go into the fake, the bot (long polling)
//! handles them, and the caller reads what the user would see. Used by the end-to-end tests, the
//! demo, the chaos suite and the bot benchmark.
//!
//! "Handled" is observed, not guessed: a long-polling bot asks for updates after `id` only once it
//! has handled the batch holding `id`, so the next getUpdates with a higher offset is the signal.

use std::time::Duration;

use crate::fake::FakeTelegram;
use crate::records::{Call, ChatMessage, WaitTimeout};
use crate::updates::{TgUser, Update};

/// One user's chat with the bot.
pub struct Conversation<'a> {
    /// The fake the bot polls; shared by every conversation of a test.
    pub telegram: &'a FakeTelegram,
    /// Who is talking; their id is the chat's.
    pub user: TgUser,
    /// How long one update may take before [`Conversation::deliver`] gives up.
    pub timeout: Duration,
}

/// What one update produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Bot API calls the bot made in this chat while handling it (answers to its button taps
    /// included; getUpdates and other chats' calls excluded).
    pub calls: Vec<Call>,
    /// The message the update's last send or edit produced (an edit changes an older message,
    /// so the chat's newest one is not always it); None if the bot wrote nothing.
    pub last: Option<ChatMessage>,
}

impl Outcome {
    /// The text (or caption) of [`Outcome::last`]; empty when the bot wrote nothing.
    pub fn text(&self) -> String {
        self.last
            .as_ref()
            .and_then(|m| m.text.clone())
            .unwrap_or_default()
    }

    /// The toast or alert shown for a tapped button, if any.
    pub fn toast(&self) -> Option<String> {
        self.calls
            .iter()
            .find(|c| c.method == "answerCallbackQuery")
            .and_then(|c| c.params["text"].as_str().map(str::to_string))
    }

    /// Texts of messages sent (not edited) while handling.
    pub fn sent(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|c| c.method == "sendMessage")
            .filter_map(|c| c.params["text"].as_str().map(str::to_string))
            .collect()
    }
}

impl<'a> Conversation<'a> {
    /// A conversation of `user` through `telegram`, allowing 30 s per update.
    pub fn new(telegram: &'a FakeTelegram, user: TgUser) -> Self {
        Self {
            telegram,
            user,
            timeout: Duration::from_secs(30),
        }
    }

    /// The chat's id (the user's).
    pub fn id(&self) -> i64 {
        self.user.id
    }

    /// Delivers an update through getUpdates and waits until the bot has handled it.
    pub async fn deliver(&self, update: Update) -> Result<Outcome, WaitTimeout> {
        let me = self.user.id;
        let since = self.telegram.chat_call_count(me);
        let id = self.telegram.push_update(update);
        self.telegram.wait_polled_past(id, self.timeout).await?;
        let calls = self.telegram.chat_calls_since(me, since);
        let last = self.touched(&calls);
        Ok(Outcome { calls, last })
    }

    fn touched(&self, calls: &[Call]) -> Option<ChatMessage> {
        let chat = self.telegram.chat(self.user.id);
        let last_write = calls
            .iter()
            .rev()
            .find(|c| c.method.starts_with("send") || c.method.starts_with("edit"))?;
        if last_write.method.starts_with("edit") {
            let id = last_write.params["message_id"].as_i64()?;
            return chat.iter().find(|m| m.message_id == id).cloned();
        }
        chat.iter().rev().find(|m| m.from_bot).cloned()
    }

    /// Sends a text message (a command, a prompt, a menu label) and waits until it is handled.
    pub async fn say(&self, text: &str) -> Result<Outcome, WaitTimeout> {
        self.deliver(Update::text(&self.user, text)).await
    }

    /// Taps the newest button whose label contains `label`; None if no message has one.
    pub async fn tap(&self, label: &str) -> Option<Result<Outcome, WaitTimeout>> {
        let (message_id, data) = self.button(label)?;
        Some(
            self.deliver(Update::callback(&self.user, message_id, &data))
                .await,
        )
    }

    /// Taps the newest button whose callback data starts with `prefix` (language-independent);
    /// None if no message has one.
    pub async fn tap_data(&self, prefix: &str) -> Option<Result<Outcome, WaitTimeout>> {
        let (message_id, data) = self.button_data(prefix)?;
        Some(
            self.deliver(Update::callback(&self.user, message_id, &data))
                .await,
        )
    }

    /// The message id and callback data of the newest button whose data starts with `prefix`.
    pub fn button_data(&self, prefix: &str) -> Option<(i64, String)> {
        self.telegram
            .newest_button(self.user.id, |_, data| data.starts_with(prefix))
    }

    /// The message id and callback data of the newest button labelled `label`.
    pub fn button(&self, label: &str) -> Option<(i64, String)> {
        self.telegram
            .newest_button(self.user.id, |text, _| text.contains(label))
    }

    /// The newest message in the chat whose text contains `needle`.
    pub fn find_text(&self, needle: &str) -> Option<String> {
        self.telegram
            .chat(self.user.id)
            .iter()
            .rev()
            .filter_map(|m| m.text.clone())
            .find(|t| t.contains(needle))
    }
}
