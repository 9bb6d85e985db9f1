//! The test's handle on the fake's flood control and slow chats (see `flood.rs`).

use std::time::Duration;

use crate::fake::FakeTelegram;
use crate::flood::{FloodLimits, Refused};

impl FakeTelegram {
    /// Enforces `limits` on the messages from now on (replacing earlier limits).
    pub fn enforce_limits(&self, limits: FloodLimits) {
        self.state.lock().flood.limits = limits;
    }

    /// The calls refused with 429 so far, oldest first.
    pub fn refused(&self) -> Vec<Refused> {
        self.state.lock().flood.refused.clone()
    }

    /// Answers every later call for `chat_id` after `delay` (its effect, a message sent say,
    /// is visible at once; only the answer is late, as over a slow link).
    pub fn slow_chat(&self, chat_id: i64, delay: Duration) {
        self.state.lock().flood.slow.insert(chat_id, delay);
    }

    /// Calls of slow chats received and not answered yet.
    pub fn held_answers(&self) -> usize {
        self.state.lock().flood.held
    }
}
