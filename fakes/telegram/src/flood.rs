//! Telegram's flood control as the fake can enforce it (a message over a configured limit is
//! answered 429 with `parameters.retry_after`, as Telegram does), and chats whose calls the fake
//! answers late (to show that one slow chat does not hold up the others).
//!
//! Telegram counts messages, so the limits apply to the methods that send or change a message
//! (`send*` but `sendChatAction`, `edit*`, `copy*`, `forward*`), by their `chat_id`. A limit is
//! a sliding window: at most `count` messages accepted in any `per`. Refused calls do not count.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::request::Request;

/// At most `count` messages in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Messages allowed in the window.
    pub count: u32,
    /// The window's length.
    pub per: Duration,
}

/// The limits the fake enforces ([`crate::FakeTelegram::enforce_limits`]); `None`: not limited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FloodLimits {
    /// All messages of the bot.
    pub overall: Option<Window>,
    /// Messages to one chat.
    pub chat: Option<Window>,
}

/// A call the fake refused with 429.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Its position among all calls ([`crate::Call::index`]).
    pub index: usize,
    /// camelCase method name.
    pub method: String,
    /// The `chat_id` it was for.
    pub chat_id: i64,
    /// The `retry_after` the fake answered, in seconds.
    pub retry_after: u64,
}

#[derive(Default)]
pub(crate) struct Flood {
    pub limits: FloodLimits,
    overall: VecDeque<Instant>,
    chats: HashMap<i64, VecDeque<Instant>>,
    pub refused: Vec<Refused>,
    pub slow: HashMap<i64, Duration>,
    pub held: usize,
}

fn is_message(method: &str) -> bool {
    let m = method.to_ascii_lowercase();
    (m.starts_with("send") && m != "sendchataction")
        || m.starts_with("edit")
        || m.starts_with("copy")
        || m.starts_with("forward")
}

/// How long until `sent` (oldest first) leaves room for one more under `window`.
fn wait_in(sent: &mut VecDeque<Instant>, window: Option<Window>, now: Instant) -> Duration {
    let Some(w) = window else {
        return Duration::ZERO;
    };
    while sent.front().is_some_and(|t| *t + w.per <= now) {
        sent.pop_front();
    }
    if sent.len() < w.count as usize {
        return Duration::ZERO;
    }
    let oldest = sent.len() - w.count.max(1) as usize;
    (sent[oldest] + w.per).saturating_duration_since(now)
}

impl Flood {
    /// None when the call may go (and it is counted); else the `retry_after` to answer, in
    /// whole seconds as Telegram gives it (at least 1).
    pub fn admit(&mut self, req: &Request, call_index: usize) -> Option<u64> {
        let chat_id = req.i64("chat_id")?;
        if !is_message(&req.method) {
            return None;
        }
        let now = Instant::now();
        let chat = self.chats.entry(chat_id).or_default();
        let wait = wait_in(chat, self.limits.chat, now).max(wait_in(
            &mut self.overall,
            self.limits.overall,
            now,
        ));
        if wait.is_zero() {
            chat.push_back(now);
            self.overall.push_back(now);
            return None;
        }
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.refused.push(Refused {
            index: call_index,
            method: req.method.clone(),
            chat_id,
            retry_after,
        });
        Some(retry_after)
    }

    /// How long the answer to this call is held back.
    pub fn delay(&self, req: &Request) -> Option<Duration> {
        self.slow.get(&req.i64("chat_id")?).copied()
    }

    pub fn hold(&mut self) {
        self.held += 1;
    }

    pub fn release(&mut self) {
        self.held = self.held.saturating_sub(1);
    }
}
