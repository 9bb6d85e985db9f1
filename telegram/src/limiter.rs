//! Keeps the bot's messages within [`Limits`] and holds calls back after a 429.
//!
//! Each message first waits for its chat (the chat's window, and a freeze Telegram asked for),
//! then for a slot in the overall window. The two waits are separate on purpose: a chat that has
//! to wait does not take an overall slot while it waits, so it holds up no other chat. A chat's
//! messages take their turns one after another (a per-chat gate), so its window counts the
//! instants they really went out.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::limits::{Limits, Rate};

/// How much longer than configured every window is kept: Telegram counts a message when it
/// arrives, and the time from leaving here to arriving there varies (two messages that leave a
/// window apart can arrive less than one apart). Measured with the fake on a loaded 2-core
/// machine: without it, about one message in four of a 300-user crowd at 30/1s was refused.
pub const SAFETY: Duration = Duration::from_millis(100);

/// Chats remembered before the idle ones are forgotten.
const CHATS_KEPT: usize = 10_000;

/// The instants messages went (or will go) out, oldest first.
#[derive(Debug, Default)]
struct Slots(VecDeque<Instant>);

impl Slots {
    /// The earliest instant from `now` at which one more message fits under `rate`. Instants are
    /// only ever added in order, so the window ending at the answer holds at most `count - 1`
    /// earlier ones.
    fn earliest(&self, rate: Option<Rate>, now: Instant) -> Instant {
        let Some(rate) = rate else {
            return now;
        };
        let mut at = now.max(self.0.back().copied().unwrap_or(now));
        let count = rate.count as usize;
        if self.0.len() >= count {
            at = at.max(self.0[self.0.len() - count] + rate.per + SAFETY);
        }
        at
    }

    /// Adds `at` and forgets what no window from `now` on can contain.
    fn push(&mut self, at: Instant, now: Instant, longest: Duration) {
        while self.0.front().is_some_and(|t| *t + longest + SAFETY <= now) {
            self.0.pop_front();
        }
        self.0.push_back(at);
    }

    fn last(&self) -> Option<Instant> {
        self.0.back().copied()
    }
}

#[derive(Debug, Default)]
struct Chat {
    /// Held while one of the chat's messages waits for its turn.
    gate: Arc<tokio::sync::Mutex<()>>,
    sent: Slots,
    frozen_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    overall: Slots,
    chats: HashMap<i64, Chat>,
    frozen_until: Option<Instant>,
}

/// One limiter per bot token and process: clones of a [`crate::Telegram`] share it.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    state: Mutex<State>,
}

impl Limiter {
    /// A limiter keeping to `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// What it keeps to.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rates that apply to `chat` (groups, supergroups and channels have negative ids).
    fn chat_rates(&self, chat: i64) -> [Option<Rate>; 2] {
        let group = if chat < 0 { self.limits.group } else { None };
        [self.limits.chat, group]
    }

    fn longest_window(&self, chat: i64) -> Duration {
        self.chat_rates(chat)
            .iter()
            .flatten()
            .map(|r| r.per)
            .max()
            .unwrap_or_default()
    }

    /// Waits until a message to `chat` may go out, and counts it as gone; with no chat (a call
    /// that sends no message), waits only for a freeze Telegram asked for.
    pub async fn acquire(&self, chat: Option<i64>) {
        let Some(chat) = chat else {
            self.wait_unfrozen(None).await;
            return;
        };
        let gate = {
            let mut state = self.lock();
            if state.chats.len() > CHATS_KEPT {
                forget_idle_chats(&mut state, Instant::now());
            }
            state.chats.entry(chat).or_default().gate.clone()
        };
        let _turn = gate.lock().await;
        self.wait_unfrozen(Some(chat)).await;
        let chat_turn = {
            let now = Instant::now();
            let state = self.lock();
            let sent = state.chats.get(&chat).map(|c| &c.sent);
            self.chat_rates(chat)
                .iter()
                .map(|rate| sent.map_or(now, |s| s.earliest(*rate, now)))
                .max()
                .unwrap_or(now)
        };
        tokio::time::sleep_until(chat_turn).await;
        let at = {
            let now = Instant::now();
            let mut state = self.lock();
            let at = state.overall.earliest(self.limits.overall, now);
            let per = self.limits.overall.map(|r| r.per).unwrap_or_default();
            state.overall.push(at, now, per);
            let longest = self.longest_window(chat);
            state
                .chats
                .entry(chat)
                .or_default()
                .sent
                .push(at, now, longest);
            at
        };
        tokio::time::sleep_until(at).await;
    }

    async fn wait_unfrozen(&self, chat: Option<i64>) {
        loop {
            let until = {
                let state = self.lock();
                let of_chat = chat.and_then(|c| state.chats.get(&c)?.frozen_until);
                state.frozen_until.max(of_chat)
            };
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    /// Telegram answered 429 "retry after `after`": no call goes out before then, and no message
    /// to `chat` either. Telegram does not say which of its limits was hit, so the whole bot
    /// waits (as teloxide's `Throttle` does); the chat's own freeze also holds its next message
    /// back should a later 429 for another chat end sooner.
    pub fn freeze(&self, chat: Option<i64>, after: Duration) {
        let until = Some(Instant::now() + after);
        let mut state = self.lock();
        state.frozen_until = state.frozen_until.max(until);
        if let Some(c) = chat {
            let frozen = &mut state.chats.entry(c).or_default().frozen_until;
            *frozen = (*frozen).max(until);
        }
    }
}

/// Forgets chats nobody waits in whose windows and freezes are over.
fn forget_idle_chats(state: &mut State, now: Instant) {
    let horizon = Duration::from_secs(120);
    state.chats.retain(|_, c| {
        Arc::strong_count(&c.gate) > 1
            || c.frozen_until.is_some_and(|t| t > now)
            || c.sent.last().is_some_and(|t| t + horizon > now)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(count: u32, ms: u64) -> Option<Rate> {
        Rate::new(count, Duration::from_millis(ms))
    }

    /// Instants of `n` messages to `chat`, acquired one after another, relative to the start.
    async fn instants(l: &Limiter, chat: i64, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut out = Vec::new();
        for _ in 0..n {
            l.acquire(Some(chat)).await;
            out.push(start.elapsed());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_chat_gets_its_burst_then_one_per_window_slot() {
        let l = Limiter::new(Limits {
            overall: None,
            chat: rate(3, 3000),
            group: rate(20, 60_000),
        });
        let at = instants(&l, 1, 5).await;
        let secs: Vec<u64> = at.iter().map(|d| d.as_secs()).collect();
        assert_eq!(
            secs,
            [0, 0, 0, 3, 3],
            "3 at once, the next 3 s after the first"
        );
        // A group: 20 a minute on top of the chat's own window.
        let l = Limiter::new(Limits {
            overall: None,
            chat: None,
            group: rate(20, 60_000),
        });
        let at = instants(&l, -100, 21).await;
        assert_eq!(at[19].as_secs(), 0);
        assert_eq!(at[20].as_secs(), 60);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_chat_does_not_hold_up_other_chats() {
        let l = Arc::new(Limiter::new(Limits {
            overall: rate(10, 1000),
            chat: rate(1, 1000),
            group: None,
        }));
        l.acquire(Some(1)).await;
        let start = Instant::now();
        let slow = tokio::spawn({
            let l = l.clone();
            async move { l.acquire(Some(1)).await }
        });
        tokio::task::yield_now().await;
        for chat in 2..=5 {
            l.acquire(Some(chat)).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "other chats went at once");
        slow.await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(1) + SAFETY);
    }

    #[tokio::test(start_paused = true)]
    async fn the_overall_window_spreads_a_crowd() {
        let l = Arc::new(Limiter::new(Limits {
            overall: rate(30, 1000),
            chat: rate(1, 1000),
            group: None,
        }));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for chat in 0..90 {
            let l = l.clone();
            tasks.spawn(async move {
                l.acquire(Some(chat)).await;
                Instant::now()
            });
        }
        let mut at: Vec<Duration> = tasks.join_all().await.iter().map(|t| *t - start).collect();
        at.sort();
        for (i, t) in at.iter().enumerate() {
            assert_eq!(t.as_secs(), (i / 30) as u64, "message {i} at {t:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_freeze_holds_every_call() {
        let l = Limiter::new(Limits::NONE);
        let start = Instant::now();
        l.freeze(Some(7), Duration::from_secs(5));
        l.acquire(Some(8)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        l.acquire(None).await;
        l.acquire(Some(7)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        l.freeze(None, Duration::from_secs(2));
        l.acquire(Some(8)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }
}
