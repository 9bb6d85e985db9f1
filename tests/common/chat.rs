//! Driving the bot like a Telegram user: updates go into the fake Bot API, the real bot (teloxide
//! client, long polling) handles them, and the test reads what the user would see.

use std::time::Duration;

use tokenbot_bot::{App, BotConfig};
use tokenbot_fake_telegram::{ChatMessage, FakeTelegram, TgUser, Update};
use tokenbot_ledger::shutdown::Shutdown;

use super::pipeline::Pipeline;

const WAIT: Duration = Duration::from_secs(30);

impl Pipeline {
    /// Starts the bot in long-polling mode against the fake Telegram; cancel `shutdown` to stop it.
    pub fn spawn_bot(
        &self,
        config: BotConfig,
        shutdown: Shutdown,
    ) -> (App, tokio::task::JoinHandle<()>) {
        let app = App::new(self.bot(), self.t.ledger.clone(), config);
        let polling = app.clone();
        let handle = tokio::spawn(async move {
            tokenbot_bot::polling::run(polling, shutdown)
                .await
                .expect("polling");
        });
        (app, handle)
    }

    pub fn chat(&self, user: TgUser) -> Chat<'_> {
        Chat {
            telegram: &self.telegram,
            user,
        }
    }
}

pub struct Chat<'a> {
    pub telegram: &'a FakeTelegram,
    pub user: TgUser,
}

/// What one update produced.
#[derive(Debug)]
pub struct Outcome {
    /// Bot API calls the bot made while handling it (getUpdates excluded).
    pub calls: Vec<tokenbot_fake_telegram::Call>,
    /// The chat's newest message afterwards.
    pub last: ChatMessage,
}

impl Outcome {
    pub fn text(&self) -> String {
        self.last.text.clone().unwrap_or_default()
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

impl Chat<'_> {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    /// Delivers an update and waits until the bot has handled it: the polling loop asks for the
    /// next updates only after the batch holding this one is done.
    pub async fn deliver(&self, update: Update) -> Outcome {
        let since = self.telegram.call_count();
        let id = self.telegram.push_update(update);
        self.telegram
            .wait_for_call(since, WAIT, |c| {
                c.method == "getUpdates" && c.params["offset"].as_i64().is_some_and(|o| o > id)
            })
            .await
            .unwrap_or_else(|e| panic!("update {id} was not handled: {e}"));
        let calls: Vec<_> = self
            .telegram
            .calls()
            .into_iter()
            .skip(since)
            .filter(|c| c.method != "getUpdates")
            .collect();
        let last = self.touched(&calls);
        Outcome { calls, last }
    }

    /// The message the update's last send or edit produced (an edit changes an older message,
    /// so the chat's newest one is not always it).
    fn touched(&self, calls: &[tokenbot_fake_telegram::Call]) -> ChatMessage {
        let chat = self.telegram.chat(self.user.id);
        let edited = calls
            .iter()
            .rev()
            .find(|c| c.method.starts_with("send") || c.method.starts_with("edit"))
            .filter(|c| c.method.starts_with("edit"))
            .and_then(|c| c.params["message_id"].as_i64());
        edited
            .and_then(|id| chat.iter().find(|m| m.message_id == id).cloned())
            .or_else(|| chat.last().cloned())
            .expect("the chat has messages")
    }

    pub async fn say(&self, text: &str) -> Outcome {
        self.deliver(Update::text(&self.user, text)).await
    }

    /// Taps the button whose label contains `label` on the newest bot message that has it.
    pub async fn tap(&self, label: &str) -> Outcome {
        let (message_id, data) = self.button(label);
        self.deliver(Update::callback(&self.user, message_id, &data))
            .await
    }

    /// The newest message in the chat whose text contains `needle`.
    pub fn calls_text(&self, needle: &str) -> String {
        self.telegram
            .chat(self.user.id)
            .iter()
            .rev()
            .filter_map(|m| m.text.clone())
            .find(|t| t.contains(needle))
            .unwrap_or_else(|| panic!("no message containing {needle:?}"))
    }

    /// The message id and callback data of the newest button labelled `label`.
    pub fn button(&self, label: &str) -> (i64, String) {
        self.telegram
            .chat(self.user.id)
            .iter()
            .rev()
            .filter(|m| m.from_bot)
            .find_map(|m| m.callback_data(label).map(|d| (m.message_id, d)))
            .unwrap_or_else(|| panic!("no button {label:?} in chat {}", self.user.id))
    }
}
