//! Long-polling mode (no WEBHOOK_URL): getUpdates in a loop, asking for the next updates while
//! the previous ones are still being handled. Each chat's updates are handled in order, one at
//! a time; chats are independent, so a chat whose replies are slow delays nobody else ([`Chats`]).
//!
//! The offset sent to Telegram confirms every update below it, so it never passes an update that
//! was not handled ([`Window`]). That has a consequence: while an update is in flight, it is
//! above the offset, and getUpdates returns it again at once instead of waiting for new ones. A
//! getUpdates that brings nothing new is therefore followed by the next one only when an update
//! settles and the offset moves, or after [`IDLE_REPOLL`], not immediately, so a slow chat costs
//! a few polls a second, not a busy loop. A long poll sent before the offset moved may answer
//! with updates handled since: they are below the offset and are not handed out again. Telegram
//! returns at most [`GET_UPDATES_LIMIT`] updates from the offset: a chat slow enough for that
//! many later updates to pile up behind its oldest one does hold the others back until it is
//! done.
//!
//! When an update fails for a reason a retry can fix (Postgres unreachable, a ledger outcome
//! that could not be learned: [`crate::BotError::is_transient`]), it and the later updates of its
//! chat stay unconfirmed and are handled again after a pause that grows up to
//! [`RETRY_PAUSE_MAX`]; other chats go on, and their handled updates are remembered, so the next
//! getUpdates (which returns them again) does not repeat them, and `bot.handled_updates` makes
//! them no-ops should the process restart in between. A crash redelivers whatever was not
//! confirmed.

mod chats;
mod window;

use std::time::Duration;

use futures::future::BoxFuture;
use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::Update;
use tokenbot_ledger::backoff::Backoff;
use tokenbot_ledger::shutdown::Shutdown;
use tokio::time::Instant;

use crate::app::App;
use chats::Chats;
use window::{Settled, Window};

/// Updates asked for at once (Telegram's maximum).
pub const GET_UPDATES_LIMIT: u8 = 100;
/// First pause after an update failed transiently, doubled up to the maximum.
pub const RETRY_PAUSE_FIRST: Duration = Duration::from_millis(200);
/// The longest pause after such a failure.
pub const RETRY_PAUSE_MAX: Duration = Duration::from_secs(10);
/// How soon getUpdates is asked again after it brought only updates already in hand (in flight,
/// or waiting for a retry pause), unless an update settles first.
pub const IDLE_REPOLL: Duration = Duration::from_millis(50);

type Poll = BoxFuture<'static, Result<Vec<Update>, RequestError>>;

/// Runs until `shutdown`, then finishes the updates being handled.
pub async fn run(app: App, shutdown: Shutdown) -> Result<(), RequestError> {
    let telegram = app.telegram();
    telegram.call(telegram.bot().delete_webhook()).await?;
    let mut poller = Poller::new(app);
    let mut poll: Option<Poll> = None;
    loop {
        let now = Instant::now();
        poller.end_retry_pause_if_due(now);
        if poll.is_none() && now >= poller.next_poll {
            poll = Some(poller.get_updates());
        }
        let wake = poller.wake_at();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = in_flight(&mut poll) => {
                poll = None;
                poller.received(r);
            }
            Some(settled) = poller.chats.next_settled() => poller.settled(&settled),
            _ = tokio::time::sleep_until(wake), if poll.is_none() => {}
        }
    }
    poller.chats.finish().await;
    Ok(())
}

/// The poll in flight; never ready when there is none.
async fn in_flight(poll: &mut Option<Poll>) -> Result<Vec<Update>, RequestError> {
    match poll {
        Some(p) => p.await,
        None => std::future::pending().await,
    }
}

struct Poller {
    app: App,
    window: Window,
    chats: Chats,
    /// When the next getUpdates may go out.
    next_poll: Instant,
    fetch_pause: Backoff,
    retry_pause: Backoff,
    /// While set, the chats of failed updates wait; until then.
    retry_at: Option<Instant>,
}

impl Poller {
    fn new(app: App) -> Self {
        Self {
            chats: Chats::new(app.clone()),
            app,
            window: Window::default(),
            next_poll: Instant::now(),
            fetch_pause: Backoff::new(RETRY_PAUSE_FIRST, RETRY_PAUSE_MAX),
            retry_pause: Backoff::new(RETRY_PAUSE_FIRST, RETRY_PAUSE_MAX),
            retry_at: None,
        }
    }

    fn get_updates(&self) -> Poll {
        let telegram = self.app.telegram().clone();
        let request = telegram
            .bot()
            .get_updates()
            .offset(self.window.offset())
            .allowed_updates(crate::app::ALLOWED_UPDATES)
            // Under teloxide's default client timeout (17 s), or every idle poll would fail.
            .timeout(10)
            .limit(GET_UPDATES_LIMIT);
        Box::pin(async move { telegram.call(request).await })
    }

    fn wake_at(&self) -> Instant {
        match self.retry_at {
            Some(at) => at.min(self.next_poll),
            None => self.next_poll,
        }
    }

    fn received(&mut self, result: Result<Vec<Update>, RequestError>) {
        let now = Instant::now();
        let updates = match result {
            Ok(u) => {
                self.fetch_pause.reset();
                u
            }
            Err(e) => {
                let pause = self.fetch_pause.next_pause();
                tracing::warn!(error = %e, ?pause, "getUpdates failed; retrying");
                self.next_poll = now + pause;
                return;
            }
        };
        // Nothing at all: the long poll ran out; ask again.
        if updates.is_empty() {
            self.next_poll = now;
            return;
        }
        let chats = &self.chats;
        let fresh = self.window.receive(updates, |u| chats.is_held(u));
        self.next_poll = if fresh.is_empty() {
            now + IDLE_REPOLL
        } else {
            now
        };
        for (update, retry) in fresh {
            self.chats.push(update, retry);
        }
    }

    fn settled(&mut self, settled: &[Settled]) {
        let offset = self.window.offset();
        let mut failed = false;
        for s in settled {
            self.window.settle(*s);
            failed |= !s.handled;
        }
        if failed {
            if self.retry_at.is_none() {
                let pause = self.retry_pause.next_pause();
                tracing::warn!(
                    ?pause,
                    "an update failed for a reason a retry can fix; its chat waits, then it is handled again"
                );
                self.retry_at = Some(Instant::now() + pause);
            }
            metrics::counter!("tokenbot_bot_update_retries_total").increment(1);
        } else {
            // The offset moved: confirm it (and fetch what came meanwhile) now. While it stays,
            // getUpdates would return the same updates in hand again, so the next one keeps its
            // time (at once after new updates came, IDLE_REPOLL after none did).
            if self.window.offset() != offset {
                self.next_poll = self.next_poll.min(Instant::now());
            }
            if self.retry_at.is_none() {
                self.retry_pause.reset();
            }
        }
    }

    fn end_retry_pause_if_due(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            self.chats.release();
            self.next_poll = now;
        }
    }
}
