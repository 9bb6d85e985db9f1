//! One update being handled, as the flows see it: who sent it, in which chat and language, and
//! the services a flow may call. The flows depend on this module, never on [`crate::app`], which
//! builds a [`Turn`] and hands it to them.

use std::sync::{Arc, Mutex};

use deadpool_postgres::Pool;
use teloxide::dispatching::dialogue::Storage;
use teloxide::types::{ChatId, User};
use tokenbot_ledger::{Actor, CommandContext, CorrelationId, Ledger, TelegramId};
use tokenbot_telegram::Telegram;
use tokenbot_texts::Lang;

use crate::config::BotConfig;
use crate::dialogue::State;
use crate::error::BotError;
use crate::reply::Reply;
use crate::storage::PgStorage;

/// What a flow may call: Telegram, the ledger, the read models, the configuration.
pub(crate) struct Services {
    pub bot: Telegram,
    pub ledger: Ledger,
    pub pool: Pool,
    pub config: BotConfig,
    pub storage: Arc<PgStorage<State>>,
}

/// Everything a flow needs about the update it handles.
pub(crate) struct Turn<'a> {
    pub app: &'a Services,
    pub chat: ChatId,
    pub user: &'a User,
    pub telegram_id: TelegramId,
    pub lang: Lang,
    pub correlation: CorrelationId,
    /// Telegram's id of the update: the idempotency key of what it asks for.
    pub update_id: u32,
    /// The state [`Turn::enter`] saved, if a flow saved one before replying.
    pub saved: Mutex<Option<State>>,
}

impl Turn<'_> {
    /// The context of a command the user asked for.
    pub fn command(&self) -> CommandContext {
        CommandContext::new(Actor::User {
            telegram_id: self.telegram_id,
        })
        .with_correlation(self.correlation)
    }

    /// Replies in the update's chat.
    pub fn reply(&self) -> Reply<'_> {
        Reply::new(&self.app.bot, self.chat)
    }

    /// Saves the chat's next state now, before the reply that invites the user's next step: that
    /// step may reach another bot process (or this one after a crash) the moment the user sees
    /// the reply, and must find the state it answers.
    pub async fn enter(&self, state: &State) -> Result<(), BotError> {
        let storage = self.app.storage.clone();
        if *state == State::Idle {
            storage.remove_dialogue(self.chat).await?;
        } else {
            storage.update_dialogue(self.chat, state.clone()).await?;
        }
        *self.saved.lock().unwrap_or_else(|p| p.into_inner()) = Some(state.clone());
        Ok(())
    }

    /// Whether the sender is in `ADMIN_IDS`.
    pub fn is_admin(&self) -> bool {
        self.app.config.admin_ids.contains(&self.telegram_id)
    }

    /// The model the user chose, else the configured default (configuration always offers at
    /// least one: IMAGE_MODELS may not be empty).
    pub fn model_of(&self, account: Option<&tokenbot_ledger::Account>) -> tokenbot_ledger::ModelId {
        let config = self.app.ledger.config();
        account
            .and_then(|a| a.settings.model.clone())
            .or_else(|| config.default_model().cloned())
            .unwrap_or_else(|| config.models[0].clone())
    }
}
