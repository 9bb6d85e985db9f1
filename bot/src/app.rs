//! The bot's core: one Telegram update in, ledger commands and replies out. Updates of one chat
//! are handled one at a time (in this process); an update seen before is skipped; the dialogue
//! state is loaded from and saved to Postgres around each update.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use teloxide::Bot;
use teloxide::dispatching::dialogue::Storage;
use teloxide::types::{ChatId, Update, UpdateKind, User};
use tokenbot_ledger::{CorrelationId, Ledger, TelegramId};
use tokenbot_texts::{self as texts, Lang};

use crate::config::BotConfig;
use crate::dialogue::State;
use crate::error::BotError;
use crate::flows;
use crate::keyboards;
use crate::storage::{HandledUpdates, PgStorage, StorageError};
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
    storage: Arc<PgStorage<State>>,
    handled: HandledUpdates,
    chat_locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl App {
    /// The bot on `ledger`, talking to Telegram through `bot`.
    pub fn new(bot: Bot, ledger: Ledger, config: BotConfig) -> Self {
        let pool = ledger.store().database().pool().clone();
        // The token is "<bot id>:<secret>"; a token without a numeric prefix gets 0, which only
        // matters if two such bots share one database.
        let bot_id = bot
            .token()
            .split_once(':')
            .and_then(|(id, _)| id.parse::<i64>().ok())
            .unwrap_or(0);
        Self {
            inner: Arc::new(Inner {
                storage: PgStorage::new(pool.clone()),
                handled: HandledUpdates::new(pool.clone(), bot_id),
                services: Services {
                    bot,
                    ledger,
                    pool,
                    config,
                },
                chat_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The Telegram client.
    pub fn bot(&self) -> &Bot {
        &self.inner.services.bot
    }

    /// The update ids already handled.
    pub fn handled_updates(&self) -> &HandledUpdates {
        &self.inner.handled
    }

    fn chat_lock(&self, chat: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .chat_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Bounded: locks nobody holds or waits for are dropped when the map grows.
        if locks.len() > 10_000 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(chat).or_default().clone()
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
        let lock = self.chat_lock(chat.0);
        let _guard = lock.lock().await;
        if self.inner.handled.contains(update.id.0).await? {
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
        };
        let started = std::time::Instant::now();
        let result =
            tracing::Instrument::instrument(self.run(&turn, update.kind.clone()), span.clone())
                .await;
        metrics::histogram!("tokenbot_bot_update_seconds").record(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                // The update is answered. The mark only stops a redelivery from answering it
                // again; handling it again because the mark failed (Postgres went away just now)
                // would do exactly that. So a failed mark is logged, not retried: the webhook
                // answers 200 and polling moves past it, and neither redelivers it.
                if let Err(e) = self.inner.handled.mark(update.id.0).await {
                    let _enter = span.enter();
                    tracing::warn!(error = %tokenbot_ledger::error::chain(&e), "update answered but not marked handled");
                    metrics::counter!("tokenbot_bot_updates_unmarked_total").increment(1);
                }
                Ok(())
            }
            Err(e) => {
                let _enter = span.enter();
                tracing::error!(error = %tokenbot_ledger::error::chain(&e), "update failed");
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
                // Not marked handled: a redelivery may succeed, and every ledger command it
                // repeats carries an idempotency key.
                Err(e)
            }
        }
    }

    async fn run(&self, turn: &Turn<'_>, kind: UpdateKind) -> Result<(), BotError> {
        let state = match self.inner.storage.clone().get_dialogue(turn.chat).await {
            Ok(s) => s.unwrap_or_default(),
            Err(StorageError::Decode(e)) => {
                tracing::warn!(error = %e, "stored dialogue unreadable; starting over");
                State::Idle
            }
            Err(e) => return Err(e.into()),
        };
        let next = match kind {
            UpdateKind::Message(m) => flows::on_message(turn, state.clone(), &m).await?,
            UpdateKind::CallbackQuery(q) => flows::on_callback(turn, state.clone(), &q).await?,
            _ => state.clone(),
        };
        if next != state {
            if next == State::Idle {
                self.inner
                    .storage
                    .clone()
                    .remove_dialogue(turn.chat)
                    .await?;
            } else {
                self.inner
                    .storage
                    .clone()
                    .update_dialogue(turn.chat, next)
                    .await?;
            }
        }
        Ok(())
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
