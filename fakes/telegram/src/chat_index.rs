//! The calls of each chat, and how far the bot has polled: what a waiter for one chat reads and
//! is woken by. A test or benchmark that drives many chats at once waits on each chat's own
//! calls, so the cost of a wait does not grow with the history of every other chat (waking every
//! waiter on every call, each scanning the shared log, made a 1 000-user driver quadratic).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::request::Request;

/// One chat's calls (positions in the whole log) and the waiters for its next call.
#[derive(Default)]
struct ChatCalls {
    indices: Vec<usize>,
    notify: Arc<Notify>,
}

/// Calls filed by chat. A call belongs to the chat of its `chat_id`; `answerCallbackQuery` has
/// none and belongs to the chat of the button that was tapped.
#[derive(Default)]
pub(crate) struct ChatIndex {
    chats: HashMap<i64, ChatCalls>,
    /// Callback query id -> the chat it was tapped in.
    callbacks: HashMap<String, i64>,
    /// The highest `offset` of any getUpdates so far: updates below it are confirmed handled.
    pub polled_offset: i64,
}

impl ChatIndex {
    /// Remembers which chat a callback query was tapped in.
    pub fn add_callback(&mut self, id: String, chat_id: i64) {
        self.callbacks.insert(id, chat_id);
    }

    /// Whether the fake gave out this callback query id.
    pub fn knows_callback(&self, id: &str) -> bool {
        self.callbacks.contains_key(id)
    }

    /// Files call `index`; returns the notifier of its chat, to wake that chat's waiters once
    /// the state's lock is released (they then see the call and its effects).
    pub fn add(&mut self, req: &Request, index: usize) -> Option<Arc<Notify>> {
        if req.method == "getUpdates" {
            self.polled_offset = self.polled_offset.max(req.i64("offset").unwrap_or(0));
            return None;
        }
        let chat = self.chat_of(req)?;
        let calls = self.chats.entry(chat).or_default();
        calls.indices.push(index);
        Some(calls.notify.clone())
    }

    fn chat_of(&self, req: &Request) -> Option<i64> {
        if req.method == "answerCallbackQuery" {
            return self.callbacks.get(req.str("callback_query_id")?).copied();
        }
        req.i64("chat_id")
    }

    /// Positions (in the whole log) of the chat's calls, oldest first.
    pub fn indices(&self, chat_id: i64) -> &[usize] {
        self.chats
            .get(&chat_id)
            .map(|c| c.indices.as_slice())
            .unwrap_or_default()
    }

    /// What wakes the chat's waiters; created on first use, so a waiter may register before the
    /// chat's first call.
    pub fn notifier(&mut self, chat_id: i64) -> Arc<Notify> {
        self.chats.entry(chat_id).or_default().notify.clone()
    }
}
