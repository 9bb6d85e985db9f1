//! The chats being handled: one update at a time per chat, in the order they arrived, every
//! chat independently of the others (a chat whose replies are slow delays only itself).

use std::collections::{HashMap, HashSet, VecDeque};

use teloxide::types::{Update, UpdateKind};
use tokio::task::{Id, JoinSet};

use super::window::{Settled, id_of};
use crate::app::{App, Retry};

/// The chats with an update in hand, and those held after a transient failure.
pub(super) struct Chats {
    app: App,
    /// Chats with an update being handled, and the updates waiting behind it.
    queues: HashMap<i64, VecDeque<(Update, Retry)>>,
    tasks: JoinSet<bool>,
    /// The chat and update each running task handles.
    running: HashMap<Id, (i64, i32)>,
    /// Chats whose update failed for a reason a retry can fix: their updates wait for the
    /// retry pause, then come back, in order (the parked ones from the window, then the others
    /// from getUpdates).
    held: HashSet<i64>,
}

impl Chats {
    pub fn new(app: App) -> Self {
        Self {
            app,
            queues: HashMap::new(),
            tasks: JoinSet::new(),
            running: HashMap::new(),
            held: HashSet::new(),
        }
    }

    /// Hands an update to its chat: handled now, or after the chat's earlier ones.
    pub fn push(&mut self, update: Update, retry: Retry) {
        let chat = chat_of(&update);
        match self.queues.get_mut(&chat) {
            Some(waiting) => waiting.push_back((update, retry)),
            None => {
                self.queues.insert(chat, VecDeque::new());
                self.spawn(chat, update, retry);
            }
        }
    }

    fn spawn(&mut self, chat: i64, update: Update, retry: Retry) {
        let id = id_of(&update);
        let app = self.app.clone();
        // True unless it failed transiently. Other errors were answered and logged inside;
        // handling them again would repeat them.
        let task = self.tasks.spawn(async move {
            !matches!(app.handle_update_with(update, retry).await, Err(e) if e.is_transient())
        });
        self.running.insert(task.id(), (chat, id));
    }

    /// Waits for an update to be done with and starts its chat's next one; returns what
    /// settled: the update, and after a transient failure the chat's waiting updates as well
    /// (unhandled, to keep their order). None when nothing is being handled.
    pub async fn next_settled(&mut self) -> Option<Vec<Settled>> {
        let (task, handled) = match self.tasks.join_next_with_id().await? {
            Ok(done) => done,
            Err(e) => {
                // A bug, not an outage: handling the update again would repeat it, so it
                // counts as handled, as an update whose error was answered does.
                tracing::error!(error = %e, "handling an update panicked");
                (e.id(), true)
            }
        };
        let Some((chat, id)) = self.running.remove(&task) else {
            return Some(Vec::new());
        };
        let mut settled = vec![Settled { id, handled }];
        if handled {
            match self.queues.get_mut(&chat).and_then(VecDeque::pop_front) {
                Some((update, retry)) => self.spawn(chat, update, retry),
                None => {
                    self.queues.remove(&chat);
                }
            }
        } else {
            self.held.insert(chat);
            let waiting = self.queues.remove(&chat).unwrap_or_default();
            settled.extend(waiting.into_iter().map(|(u, _)| Settled {
                id: id_of(&u),
                handled: false,
            }));
        }
        Some(settled)
    }

    /// Whether the update's chat waits for the retry pause.
    pub fn is_held(&self, update: &Update) -> bool {
        self.held.contains(&chat_of(update))
    }

    /// Ends the retry pause of every held chat.
    pub fn release(&mut self) {
        self.held.clear();
    }

    /// Drops the updates waiting behind their chat's update in hand; [`Chats::next_settled`]
    /// then settles the ones in hand, starting none.
    pub fn drop_waiting(&mut self) {
        for waiting in self.queues.values_mut() {
            waiting.clear();
        }
    }
}

fn chat_of(update: &Update) -> i64 {
    match &update.kind {
        UpdateKind::Message(m) => m.chat.id.0,
        UpdateKind::CallbackQuery(q) => q.message.as_ref().map_or(0, |m| m.chat().id.0),
        _ => 0,
    }
}
