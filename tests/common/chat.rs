//! Driving the bot like a Telegram user (see `tokenbot_fake_telegram::Conversation`), with test
//! failures instead of errors.

use tokenbot_bot::{App, BotConfig};
use tokenbot_fake_telegram::{Conversation, Outcome, TgUser, Update};
use tokenbot_ledger::shutdown::Shutdown;

use super::pipeline::Pipeline;

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
        Chat(Conversation::new(&self.telegram, user))
    }
}

pub struct Chat<'a>(pub Conversation<'a>);

impl Chat<'_> {
    pub fn user(&self) -> &TgUser {
        &self.0.user
    }

    pub async fn deliver(&self, update: Update) -> Outcome {
        self.0
            .deliver(update)
            .await
            .unwrap_or_else(|e| panic!("update not handled: {e}"))
    }

    pub async fn say(&self, text: &str) -> Outcome {
        self.deliver(Update::text(self.user(), text)).await
    }

    pub async fn tap(&self, label: &str) -> Outcome {
        self.0
            .tap(label)
            .await
            .unwrap_or_else(|| panic!("no button {label:?} in chat {}", self.user().id))
            .unwrap_or_else(|e| panic!("tap on {label:?} not handled: {e}"))
    }

    pub fn button(&self, label: &str) -> (i64, String) {
        self.0
            .button(label)
            .unwrap_or_else(|| panic!("no button {label:?} in chat {}", self.user().id))
    }

    pub fn calls_text(&self, needle: &str) -> String {
        self.0
            .find_text(needle)
            .unwrap_or_else(|| panic!("no message containing {needle:?}"))
    }
}
