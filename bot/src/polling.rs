//! Long-polling mode (no WEBHOOK_URL): getUpdates in a loop. Updates of a batch are handled
//! concurrently across chats and in order within a chat.
//!
//! The offset sent to Telegram confirms every update below it, so it never passes an update that
//! was not handled ([`Window`]). When an update fails for a reason a retry can fix (Postgres
//! unreachable, a ledger outcome that could not be learned: [`crate::BotError::is_transient`]),
//! it and the later updates of its chat stay unconfirmed and are handled again after a pause
//! that grows up to [`RETRY_PAUSE_MAX`]; other chats' updates of the same batch are handled and
//! remembered, so the next getUpdates (which returns them again) does not repeat them, and
//! `bot.handled_updates` makes them no-ops should the process restart in between. A crash
//! redelivers whatever was not confirmed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::{Update, UpdateKind};
use tokenbot_ledger::backoff::Backoff;
use tokenbot_ledger::shutdown::Shutdown;

use crate::app::{App, Retry};

/// Updates asked for at once (Telegram's maximum).
pub const GET_UPDATES_LIMIT: u8 = 100;
/// First pause after a batch in which an update failed transiently, doubled up to the maximum.
pub const RETRY_PAUSE_FIRST: Duration = Duration::from_millis(200);
/// The longest pause after such a batch.
pub const RETRY_PAUSE_MAX: Duration = Duration::from_secs(10);

/// Runs until `shutdown`.
pub async fn run(app: App, shutdown: Shutdown) -> Result<(), teloxide::RequestError> {
    app.bot().delete_webhook().await?;
    let mut window = Window::default();
    let mut fetch_pause = Backoff::new(RETRY_PAUSE_FIRST, RETRY_PAUSE_MAX);
    let mut retry_pause = Backoff::new(RETRY_PAUSE_FIRST, RETRY_PAUSE_MAX);
    loop {
        let request = app
            .bot()
            .get_updates()
            .offset(window.offset())
            .allowed_updates(crate::app::ALLOWED_UPDATES)
            // Under teloxide's default client timeout (17 s), or every idle poll would fail.
            .timeout(10)
            .limit(GET_UPDATES_LIMIT);
        let updates = tokio::select! {
            r = request => r,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let updates = match updates {
            Ok(u) => {
                fetch_pause.reset();
                u
            }
            Err(e) => {
                let pause = fetch_pause.next_pause();
                tracing::warn!(error = %e, ?pause, "getUpdates failed; retrying");
                if pause_or_stop(pause, &shutdown).await {
                    return Ok(());
                }
                continue;
            }
        };
        let batch = window.receive(updates);
        if batch.is_empty() {
            continue;
        }
        let settled = handle_batch(&app, batch).await;
        if window.settle(&settled) {
            retry_pause.reset();
        } else {
            let pause = retry_pause.next_pause();
            tracing::warn!(
                ?pause,
                "updates failed for a reason a retry can fix; handling them again after a pause"
            );
            metrics::counter!("tokenbot_bot_update_retries_total").increment(1);
            if pause_or_stop(pause, &shutdown).await {
                return Ok(());
            }
        }
    }
}

/// Sleeps for `pause`; true if shutdown came first.
async fn pause_or_stop(pause: Duration, shutdown: &Shutdown) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(pause) => false,
        _ = shutdown.cancelled() => true,
    }
}

/// What happened to one update of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settled {
    id: i32,
    /// False: it failed transiently, or waits behind such a failure of its chat.
    handled: bool,
}

/// The updates between the offset confirmed to Telegram and the newest one received: which of
/// them were handled, and which were not yet (in flight, or failed and waiting for a retry).
///
/// The offset is the lowest update id not yet handled, or one past the newest received when
/// all are; everything below it is confirmed by the next getUpdates. Only updates at or above
/// it are remembered, and getUpdates returns at most [`GET_UPDATES_LIMIT`] from there, so this
/// holds at most that many. Asking for more updates while earlier ones are still being handled
/// would only add ids to "not yet handled".
#[derive(Debug, Default)]
struct Window {
    /// One past the newest update received; 0 before the first.
    next: i32,
    /// Handled updates at or above the offset.
    handled: BTreeSet<i32>,
    /// Updates received and not handled yet, with the failed attempts at each.
    unsettled: BTreeMap<i32, u32>,
}

impl Window {
    fn offset(&self) -> i32 {
        self.unsettled.keys().next().copied().unwrap_or(self.next)
    }

    /// The updates to handle now: the received ones not handled yet, each with whether it is
    /// tried again.
    fn receive(&mut self, updates: Vec<Update>) -> Vec<(Update, Retry)> {
        let mut out = Vec::with_capacity(updates.len());
        for u in updates {
            let id = id_of(&u);
            self.next = self.next.max(id.saturating_add(1));
            if self.handled.contains(&id) {
                continue;
            }
            let retry = match self.unsettled.entry(id).or_insert(0) {
                0 => Retry::First,
                _ => Retry::Again,
            };
            out.push((u, retry));
        }
        out
    }

    /// Records what became of a batch; true if every update of it was handled.
    fn settle(&mut self, settled: &[Settled]) -> bool {
        for s in settled {
            if s.handled {
                self.unsettled.remove(&s.id);
                self.handled.insert(s.id);
            } else {
                *self.unsettled.entry(s.id).or_default() += 1;
            }
        }
        let offset = self.offset();
        self.handled.retain(|id| *id >= offset);
        settled.iter().all(|s| s.handled)
    }
}

fn id_of(update: &Update) -> i32 {
    i32::try_from(update.id.0).unwrap_or(i32::MAX)
}

fn chat_of(update: &Update) -> i64 {
    match &update.kind {
        UpdateKind::Message(m) => m.chat.id.0,
        UpdateKind::CallbackQuery(q) => q.message.as_ref().map_or(0, |m| m.chat().id.0),
        _ => 0,
    }
}

/// Handles a batch, chats concurrently, each chat's updates in order. A transient failure stops
/// its chat: that update and the chat's later ones are returned unhandled, to keep their order.
/// Other errors were answered and logged inside; retrying them would repeat them.
async fn handle_batch(app: &App, updates: Vec<(Update, Retry)>) -> Vec<Settled> {
    let mut by_chat: BTreeMap<i64, Vec<(Update, Retry)>> = BTreeMap::new();
    for u in updates {
        by_chat.entry(chat_of(&u.0)).or_default().push(u);
    }
    let mut set = tokio::task::JoinSet::new();
    let mut ids_of_task = HashMap::with_capacity(by_chat.len());
    for (_, chat_updates) in by_chat {
        let ids: Vec<i32> = chat_updates.iter().map(|(u, _)| id_of(u)).collect();
        let app = app.clone();
        let task = set.spawn(async move {
            let mut settled = Vec::with_capacity(chat_updates.len());
            let mut stopped = false;
            for (u, retry) in chat_updates {
                let id = id_of(&u);
                if !stopped
                    && let Err(e) = app.handle_update_with(u, retry).await
                    && e.is_transient()
                {
                    stopped = true;
                }
                settled.push(Settled {
                    id,
                    handled: !stopped,
                });
            }
            settled
        });
        ids_of_task.insert(task.id(), ids);
    }
    let mut all = Vec::new();
    while let Some(done) = set.join_next_with_id().await {
        match done {
            Ok((_, settled)) => all.extend(settled),
            Err(e) => {
                // A bug, not an outage: handling the chat's updates again would repeat it, so
                // they count as handled, as an update whose error was answered does.
                tracing::error!(error = %e, "handling a chat's updates panicked");
                let ids = ids_of_task.remove(&e.id()).unwrap_or_default();
                all.extend(ids.into_iter().map(|id| Settled { id, handled: true }));
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settles batches of (update id, handled) as `run` would after receiving them.
    fn window_after(batches: &[&[(i32, bool)]]) -> Window {
        let mut w = Window::default();
        for batch in batches {
            for &(id, _) in batch.iter() {
                w.next = w.next.max(id + 1);
                w.unsettled.entry(id).or_insert(0);
            }
            let settled: Vec<Settled> = batch
                .iter()
                .map(|&(id, handled)| Settled { id, handled })
                .collect();
            w.settle(&settled);
        }
        w
    }

    #[test]
    fn the_offset_stops_at_the_first_unhandled_update() {
        let w = window_after(&[&[(10, true), (11, false), (12, true), (13, false)]]);
        assert_eq!(w.offset(), 11);
        assert!(w.handled.contains(&12), "12 is not handled again");
        assert!(!w.handled.contains(&10), "below the offset: forgotten");
        assert_eq!(w.unsettled.get(&11), Some(&1));

        let w = window_after(&[
            &[(10, true), (11, false), (12, true), (13, false)],
            &[(11, true), (13, true), (14, true)],
        ]);
        assert_eq!(w.offset(), 15);
        assert!(w.handled.is_empty() && w.unsettled.is_empty());
    }

    #[test]
    fn an_update_in_flight_holds_the_offset() {
        let mut w = window_after(&[&[(5, true)]]);
        w.next = 8;
        w.unsettled.insert(6, 0);
        w.settle(&[Settled {
            id: 7,
            handled: true,
        }]);
        assert_eq!(w.offset(), 6, "6 was received and never settled");
    }
}
