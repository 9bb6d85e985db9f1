//! The bot's core: one Telegram update in, ledger commands and replies out. Updates of one chat
//! are handled one at a time, across every bot process on the database ([`crate::chat_lock`]);
//! an update seen before is skipped. Around each update, one round trip loads the dialogue state
//! and says whether the update was handled before, and one writes the handled mark together with
//! the state's change; a reply that invites the next step saves the state before it is sent
//! ([`Turn::enter`]).

use std::sync::{Arc, Mutex};

use teloxide::types::{ChatId, Update, UpdateKind, User};
use tokenbot_ledger::{CorrelationId, Ledger, TelegramId};
use tokenbot_telegram::Telegram;
use tokenbot_texts::{self as texts, Lang};

use crate::chat_lock::ChatLocks;
use crate::config::BotConfig;
use crate::dialogue::State;
use crate::error::BotError;
use crate::flows;
use crate::keyboards;
use crate::storage::{Begun, DialogueChange, HandledUpdates, PgStorage, UpdateStore};
use crate::turn::{Services, Turn};

/// Whether an update is handled for the first time or again after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Telegram's first delivery (or a webhook's): a failure is answered with the error message.
    First,
    /// A retry of an update that failed before: its error message was sent already.
    Again,
}

/// The bot: hands each update to its flow. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    services: Services,
    /// Update ids are numbered per bot: the number before the token's colon.
    bot_id: i64,
    store: UpdateStore,
    handled: HandledUpdates,
    chat_locks: ChatLocks,
}

impl App {
    /// The bot on `ledger`, talking to Telegram through `bot` (a teloxide `Bot`: no limits of
    /// its own, or a [`Telegram`] whose limiter it shares, with the worker say).
    pub fn new(bot: impl Into<Telegram>, ledger: Ledger, config: BotConfig) -> Self {
        let bot = bot.into();
        let pool = ledger.store().database().pool().clone();
        // The token is "<bot id>:<secret>"; a token without a numeric prefix gets 0, which only
        // matters if two such bots share one database.
        let bot_id = bot
            .bot()
            .token()
            .split_once(':')
            .and_then(|(id, _)| id.parse::<i64>().ok())
            .unwrap_or(0);
        Self {
            inner: Arc::new(Inner {
                bot_id,
                store: UpdateStore::new(pool.clone(), bot_id),
                handled: HandledUpdates::new(pool.clone(), bot_id),
                chat_locks: ChatLocks::new(ledger.store().database().clone(), bot_id),
                services: Services {
                    bot,
                    ledger,
                    pool: pool.clone(),
                    config,
                    storage: PgStorage::new(pool),
                },
            }),
        }
    }

    /// The Telegram client and its limiter.
    pub fn telegram(&self) -> &Telegram {
        &self.inner.services.bot
    }

    /// The teloxide client (a call made with it directly bypasses the limiter).
    pub fn bot(&self) -> &teloxide::Bot {
        self.inner.services.bot.bot()
    }

    /// The bot's id (the number before the token's colon), which numbers its updates.
    pub fn bot_id(&self) -> i64 {
        self.inner.bot_id
    }

    /// The pool of the bot's own tables.
    pub(crate) fn pool(&self) -> &deadpool_postgres::Pool {
        &self.inner.services.pool
    }

    /// The update ids already handled.
    pub fn handled_updates(&self) -> &HandledUpdates {
        &self.inner.handled
    }

    /// Handles one update. Errors are logged and answered with the generic error message; they
    /// are returned for the caller to retry the transient ones (see [`BotError::is_transient`]).
    pub async fn handle_update(&self, update: Update) -> Result<(), BotError> {
        self.handle_update_with(update, Retry::First).await
    }

    /// [`App::handle_update`]; a [`Retry::Again`] of an update that failed before does not
    /// send the error message a second time.
    pub async fn handle_update_with(&self, update: Update, retry: Retry) -> Result<(), BotError> {
        if let UpdateKind::PreCheckoutQuery(q) = &update.kind {
            // Answered at once, outside the chat's lock (see flows/payments.rs).
            return flows::payments::pre_checkout(&self.inner.services, q).await;
        }
        let Some((chat, user)) = origin(&update) else {
            return Ok(()); // Channel posts, polls, ...: nothing this bot answers.
        };
        let (guard, begun) = self.inner.chat_locks.lock(chat.0, update.id.0).await?;
        let result = self.handle_held(update, begun, retry, chat, user).await;
        guard.release().await;
        result
    }

    /// [`App::handle_update_with`] once the chat is held.
    async fn handle_held(
        &self,
        update: Update,
        begun: Begun,
        retry: Retry,
        chat: ChatId,
        user: User,
    ) -> Result<(), BotError> {
        if begun.handled {
            tracing::info!(update_id = update.id.0, "redelivered update skipped");
            metrics::counter!("tokenbot_bot_updates_redelivered_total").increment(1);
            return Ok(());
        }
        let Ok(telegram_id) = TelegramId::new(user.id.0 as i64) else {
            return Ok(());
        };
        let correlation = CorrelationId::new();
        let span = tracing::info_span!("update", update_id = update.id.0, chat = chat.0, correlation_id = %correlation);
        let turn = Turn {
            app: &self.inner.services,
            chat,
            user: &user,
            telegram_id,
            lang: Lang::from_code(user.language_code.as_deref()),
            correlation,
            update_id: update.id.0,
            saved: Mutex::new(None),
        };
        let started = std::time::Instant::now();
        let run = self.run(&turn, begun.dialogue, update.kind.clone());
        let result = tracing::Instrument::instrument(run, span.clone()).await;
        metrics::histogram!("tokenbot_bot_update_seconds").record(started.elapsed().as_secs_f64());
        let error = match result {
            Ok(change) => match self.inner.store.finish(update.id.0, chat, &change).await {
                Ok(()) => return Ok(()),
                // The update is answered and its state unchanged. The mark only stops a
                // redelivery from answering it again; handling it again because the mark failed
                // (Postgres went away just now) would do exactly that. So a failed mark is
                // logged, not retried: the webhook answers 200 and polling moves past it.
                Err(e) if change == DialogueChange::Keep => {
                    let _enter = span.enter();
                    tracing::warn!(error = %tokenbot_ledger::error::chain(&e), "update answered but not marked handled");
                    metrics::counter!("tokenbot_bot_updates_unmarked_total").increment(1);
                    return Ok(());
                }
                // The new state was not saved (nor the mark): as a failure of the update.
                Err(e) => BotError::from(e),
            },
            Err(e) => e,
        };
        let _enter = span.enter();
        tracing::error!(error = %tokenbot_ledger::error::chain(&error), "update failed");
        metrics::counter!("tokenbot_bot_update_errors_total").increment(1);
        if retry == Retry::First {
            let _ = turn
                .reply()
                .send(
                    texts::error_generic(turn.lang),
                    Some(keyboards::main_menu(turn.lang)),
                )
                .await;
        }
        // Not marked handled: a redelivery may succeed, and every ledger command it repeats
        // carries an idempotency key.
        Err(error)
    }

    /// The update's flow, from the stored dialogue; what becomes of the dialogue.
    async fn run(
        &self,
        turn: &Turn<'_>,
        stored: Option<serde_json::Value>,
        kind: UpdateKind,
    ) -> Result<DialogueChange, BotError> {
        let state = match stored.map(serde_json::from_value::<State>).transpose() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "stored dialogue unreadable; starting over");
                State::Idle
            }
        };
        let next = match kind {
            UpdateKind::Message(m) => flows::on_message(turn, state.clone(), &m).await?,
            UpdateKind::CallbackQuery(q) => flows::on_callback(turn, state.clone(), &q).await?,
            _ => state.clone(),
        };
        // What is stored now: what the flow saved before its reply, else what was loaded.
        let stored = turn
            .saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or(state);
        Ok(if next == stored {
            DialogueChange::Keep
        } else if next == State::Idle {
            DialogueChange::Remove
        } else {
            let value = serde_json::to_value(&next).map_err(crate::storage::StorageError::from)?;
            DialogueChange::Save(value)
        })
    }
}

/// The update kinds [`App`] acts on (see `run` and `origin`), asked for by name in getUpdates and
/// setWebhook: Telegram then sends nothing else, where by default it would send every kind but
/// a few (edited messages, reactions, chat member changes...) only for the bot to drop them.
/// Handling a new kind means adding it here too.
pub const ALLOWED_UPDATES: [teloxide::types::AllowedUpdate; 3] = [
    teloxide::types::AllowedUpdate::Message,
    teloxide::types::AllowedUpdate::CallbackQuery,
    // Telegram Stars payments: answered in `flows/payments.rs` (the payment itself is a message).
    teloxide::types::AllowedUpdate::PreCheckoutQuery,
];

fn origin(update: &Update) -> Option<(ChatId, User)> {
    match &update.kind {
        UpdateKind::Message(m) => {
            // Private chats only: results always go to the user's own chat.
            if !m.chat.is_private() {
                return None;
            }
            Some((m.chat.id, m.from.clone()?))
        }
        UpdateKind::CallbackQuery(q) => {
            let chat = q.message.as_ref().map(|m| m.chat().id)?;
            Some((chat, q.from.clone()))
        }
        _ => None,
    }
}
