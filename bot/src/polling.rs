//! Long-polling mode (no WEBHOOK_URL): getUpdates in a loop, asking for the next updates while
//! the previous ones are still being handled. Each chat's updates are handled in order, one at
//! a time; chats are independent, so a chat whose replies are slow delays nobody else ([`Chats`]).
//!
//! The offset sent to Telegram confirms every update below it, so it never passes an update that
//! was not handled ([`Window`]). That has a consequence: while an update is in flight, it is
//! above the offset, and getUpdates returns it again at once instead of waiting for new ones. A
//! getUpdates that brings nothing new is therefore followed by the next one only when an update
//! settles and the offset moves, or after [`IDLE_REPOLL`], not immediately, so a slow chat costs
//! a few polls a second, not a busy loop. Nor does every move of the offset ask again: the next
//! getUpdates waits until the offset passed half of the last answer, or for a pause in proportion
//! to that answer's size ([`REPOLL_PAUSE_FULL`]), so that a busy bot does not download each update
//! in hand many times over. A long poll sent before the offset moved may answer with updates
//! handled since: they are below the offset and are not handed out again.
//!
//! Telegram returns at most [`GET_UPDATES_LIMIT`] updates from the offset, so an update in hand
//! at the offset (a chat whose replies are slow, or wait on Telegram's per-chat limit) would hold
//! back every newer update of every chat once that many piled up behind it. When getUpdates has
//! brought only updates in hand for [`PARK_AFTER`] while the offset waited, the updates not
//! handled yet are parked: written to `bot.inbox`, and only then confirmed by moving the offset
//! past them. Their handling goes on; each row goes once its update is handled; a failed one is
//! handed out again from memory (getUpdates will not bring it back); a restarted bot handles what
//! the inbox holds before it polls. At most [`MAX_PARKED`] are parked at once.
//!
//! When an update fails for a reason a retry can fix (Postgres unreachable, a ledger outcome
//! that could not be learned: [`crate::BotError::is_transient`]), it and the later updates of its
//! chat stay unconfirmed and are handled again after a pause that grows up to
//! [`RETRY_PAUSE_MAX`]; other chats go on, and their handled updates are remembered, so the next
//! getUpdates (which returns them again) does not repeat them, and `bot.handled_updates` makes
//! them no-ops should the process restart in between. A crash redelivers whatever was not
//! confirmed.

mod chats;
mod inbox;
mod window;

use std::time::Duration;

use futures::future::BoxFuture;
use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use teloxide::types::Update;
use tokenbot_ledger::backoff::Backoff;
use tokenbot_ledger::shutdown::Shutdown;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::app::{App, Retry};
use crate::storage::StorageError;
use chats::Chats;
use inbox::Inbox;
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
/// The pause after an answer of [`GET_UPDATES_LIMIT`] updates before the next getUpdates, unless
/// the offset passes half of them first; an answer of fewer updates waits in proportion. Every
/// answer carries again each update in hand above the offset, so asking at every move of the
/// offset made a busy bot download (and parse) each update several times (5.6 on average at 1 000
/// users in `bench bot`); a new update waits at most this long to be fetched while others are in
/// hand, and not at all when none are (the getUpdates then is a long poll).
pub const REPOLL_PAUSE_FULL: Duration = Duration::from_millis(20);
/// How long the offset may wait for the update at it, while getUpdates brings only updates in
/// hand, before those are parked in the inbox and confirmed.
pub const PARK_AFTER: Duration = Duration::from_secs(1);
/// The most updates parked at once. Past it nothing more is parked, and the bot takes no more
/// updates than the window holds until some are handled (Telegram keeps them meanwhile).
pub const MAX_PARKED: usize = 10_000;

type Poll = BoxFuture<'static, Result<Vec<Update>, RequestError>>;
/// Updates being stored in the inbox, and how that went.
type Parking = BoxFuture<'static, (Vec<Update>, Result<(), StorageError>)>;

/// Runs until `shutdown`, then finishes the updates being handled.
pub async fn run(app: App, shutdown: Shutdown) -> Result<(), RequestError> {
    let telegram = app.telegram();
    telegram.call(telegram.bot().delete_webhook()).await?;
    let mut poller = Poller::new(app);
    poller.recover(&shutdown).await;
    let mut poll: Option<Poll> = None;
    let mut parking: Option<Parking> = None;
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
                if let Some(updates) = poller.received(r, parking.is_none()) {
                    parking = Some(poller.park(updates));
                }
            }
            stored = in_flight(&mut parking) => {
                parking = None;
                poller.parked(stored);
            }
            Some(settled) = poller.chats.next_settled() => poller.settled(&settled),
            Some(_) = poller.forgetting.join_next() => {}
            _ = tokio::time::sleep_until(wake), if poll.is_none() => {}
        }
    }
    poller.finish().await;
    Ok(())
}

/// For a bot started with a webhook: handles the updates a long-polling run left in the inbox
/// (Telegram does not deliver them again), one at a time, oldest first, each tried again after
/// a transient failure (keeping its chat's order); returns when they are done, or at `shutdown`
/// (what is left stays for the next start).
pub async fn drain_inbox(app: App, shutdown: Shutdown) {
    let inbox = Inbox::new(app.pool().clone(), app.bot_id());
    let Some(updates) = leftovers(&inbox, &shutdown).await else {
        return;
    };
    let mut pause = Backoff::new(RETRY_PAUSE_FIRST, RETRY_PAUSE_MAX);
    for update in updates {
        let id = window::id_of(&update);
        let mut retry = Retry::First;
        while let Err(e) = app.handle_update_with(update.clone(), retry).await {
            if !e.is_transient() {
                break; // Answered with the error message, as any update.
            }
            retry = Retry::Again;
            let pause = tokio::time::sleep(pause.next_pause());
            if shutdown.run_until_cancelled(pause).await.is_none() {
                return;
            }
        }
        pause.reset();
        inbox.forget(id).await;
    }
}

/// What a previous run left in the inbox; None at `shutdown`. Postgres unreachable: asked again
/// until it answers.
async fn leftovers(inbox: &Inbox, shutdown: &Shutdown) -> Option<Vec<Update>> {
    let mut pause = Backoff::new(RETRY_PAUSE_FIRST, RETRY_PAUSE_MAX);
    loop {
        match inbox.load().await {
            Ok(updates) => {
                if !updates.is_empty() {
                    tracing::info!(
                        count = updates.len(),
                        "handling the updates a previous run left in the inbox"
                    );
                }
                return Some(updates);
            }
            Err(e) => {
                let pause = pause.next_pause();
                tracing::warn!(error = %tokenbot_ledger::error::chain(&e), ?pause, "cannot read the inbox; trying again");
                shutdown
                    .run_until_cancelled(tokio::time::sleep(pause))
                    .await?;
            }
        }
    }
}

/// The request in flight; never ready when there is none.
async fn in_flight<T>(request: &mut Option<BoxFuture<'static, T>>) -> T {
    match request {
        Some(r) => r.await,
        None => std::future::pending().await,
    }
}

/// A getUpdates answer that held updates, as the next getUpdates is timed from it.
#[derive(Debug, Clone, Copy)]
struct Answer {
    at: Instant,
    size: usize,
    /// The offset once the answer was taken in.
    offset: i32,
}

impl Answer {
    /// When to ask again if the offset does not pass half of the answer first.
    fn repoll_at(&self) -> Instant {
        let size = self.size.min(usize::from(GET_UPDATES_LIMIT)) as u32;
        self.at + REPOLL_PAUSE_FULL * size / u32::from(GET_UPDATES_LIMIT)
    }

    /// Whether the offset has passed half of the updates the answer held.
    fn half_passed(&self, offset: i32) -> bool {
        let passed = i64::from(offset) - i64::from(self.offset);
        passed * 2 >= self.size as i64
    }
}

struct Poller {
    app: App,
    window: Window,
    chats: Chats,
    inbox: Inbox,
    /// Deletions of inbox rows under way.
    forgetting: JoinSet<()>,
    /// The offset, and since when it waits for the update at it (None: no update to wait for).
    stall: Option<(i32, Instant)>,
    /// When the next getUpdates may go out.
    next_poll: Instant,
    /// The last getUpdates answer that held updates: when, how many, and the offset then.
    answer: Option<Answer>,
    fetch_pause: Backoff,
    retry_pause: Backoff,
    /// While set, the chats of failed updates wait; until then.
    retry_at: Option<Instant>,
}

impl Poller {
    fn new(app: App) -> Self {
        Self {
            chats: Chats::new(app.clone()),
            inbox: Inbox::new(app.pool().clone(), app.bot_id()),
            forgetting: JoinSet::new(),
            stall: None,
            app,
            window: Window::default(),
            next_poll: Instant::now(),
            answer: None,
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

    /// Handles the updates of a getUpdates answer; returns those to park, if the offset has
    /// waited long enough for an update while getUpdates brings nothing new (and `may_park`:
    /// no parking is under way).
    fn received(
        &mut self,
        result: Result<Vec<Update>, RequestError>,
        may_park: bool,
    ) -> Option<Vec<Update>> {
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
                return None;
            }
        };
        // Nothing at all: the long poll ran out; ask again.
        if updates.is_empty() {
            self.next_poll = now;
            return None;
        }
        // Telegram has more than it sent only when it sent as many as asked for.
        let full = updates.len() >= usize::from(GET_UPDATES_LIMIT);
        let stalled = self
            .stall
            .is_some_and(|(_, since)| now >= since + PARK_AFTER);
        let room = MAX_PARKED.saturating_sub(self.window.parked());
        let parkable = (full && stalled && may_park && room > 0).then(|| updates.clone());
        let answered = updates.len();
        let chats = &self.chats;
        let fresh = self.window.receive(updates, |u| chats.is_held(u));
        let nothing_new = fresh.is_empty();
        let taken = Answer {
            at: now,
            size: answered,
            offset: self.window.offset(),
        };
        self.next_poll = if nothing_new {
            now + IDLE_REPOLL
        } else {
            taken.repoll_at()
        };
        self.answer = Some(taken);
        for (update, retry) in fresh {
            self.chats.push(update, retry);
        }
        self.note_offset(now);
        let mut park = self.window.unsettled_in(&parkable.filter(|_| nothing_new)?);
        park.truncate(room);
        (!park.is_empty()).then_some(park)
    }

    /// Stores `updates` in the inbox.
    fn park(&self, updates: Vec<Update>) -> Parking {
        let inbox = self.inbox.clone();
        Box::pin(async move {
            let stored = inbox.park(&updates).await;
            (updates, stored)
        })
    }

    /// Once updates are in the inbox, the offset passes them.
    fn parked(&mut self, (updates, stored): (Vec<Update>, Result<(), StorageError>)) {
        let now = Instant::now();
        if let Err(e) = stored {
            // The offset keeps waiting for them; parking is tried again after PARK_AFTER.
            tracing::warn!(error = %tokenbot_ledger::error::chain(&e), "could not park the updates in hand");
            self.stall = Some((self.window.offset(), now));
            return;
        }
        let count = updates.len();
        for id in self.window.park(updates) {
            self.forget(id);
        }
        tracing::info!(
            count,
            offset = self.window.offset(),
            "updates in hand parked in the inbox: the offset no longer waits for them"
        );
        metrics::counter!("tokenbot_bot_updates_parked_total").increment(count as u64);
        self.note_offset(now);
        self.next_poll = self.next_poll.min(now);
    }

    /// Handles what a previous run left in the inbox (before the first getUpdates, whose offset
    /// then passes it).
    async fn recover(&mut self, shutdown: &Shutdown) {
        let Some(updates) = leftovers(&self.inbox, shutdown).await else {
            return;
        };
        for id in self.window.park(updates) {
            self.forget(id);
        }
        for (update, retry) in self.window.parked_to_hand_out() {
            self.chats.push(update, retry);
        }
    }

    /// Deletes the inbox row of a parked update now handled, beside the loop.
    fn forget(&mut self, update_id: i32) {
        let inbox = self.inbox.clone();
        self.forgetting
            .spawn(async move { inbox.forget(update_id).await });
    }

    /// Starts the stall clock when the offset moves to an update not handled yet.
    fn note_offset(&mut self, now: Instant) {
        let offset = self.window.offset();
        self.stall = match self.stall {
            _ if !self.window.has_unsettled() => None,
            Some((at, since)) if at == offset => Some((at, since)),
            _ => Some((offset, now)),
        };
    }

    fn settled(&mut self, settled: &[Settled]) {
        let offset = self.window.offset();
        let mut failed = false;
        for s in settled {
            if self.window.settle(*s) {
                self.forget(s.id);
            }
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
            // The offset moved: confirm it and fetch what came meanwhile, once it passed half of
            // the last answer (or that answer's pause ran out). While it stays, getUpdates would
            // return the same updates in hand again, so the next one keeps its time.
            if self.window.offset() != offset {
                let due = match self.answer {
                    Some(a) if !a.half_passed(self.window.offset()) => a.repoll_at(),
                    _ => Instant::now(),
                };
                self.next_poll = self.next_poll.min(due);
            }
            if self.retry_at.is_none() {
                self.retry_pause.reset();
            }
        }
        self.note_offset(Instant::now());
    }

    /// Drops the updates waiting behind others (not confirmed to Telegram, or parked: they come
    /// again), lets those being handled finish and settle, and the inbox rows of the parked ones
    /// go.
    async fn finish(mut self) {
        self.chats.drop_waiting();
        while let Some(settled) = self.chats.next_settled().await {
            self.settled(&settled);
        }
        while self.forgetting.join_next().await.is_some() {}
    }

    fn end_retry_pause_if_due(&mut self, now: Instant) {
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            self.chats.release();
            // The parked ones first: getUpdates brings the chats' later updates.
            for (update, retry) in self.window.parked_to_hand_out() {
                self.chats.push(update, retry);
            }
            self.next_poll = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_answer_waits_the_whole_pause_a_small_one_hardly_any() {
        let at = Instant::now();
        let answer = |size| Answer {
            at,
            size,
            offset: 10,
        };
        assert_eq!(answer(100).repoll_at(), at + REPOLL_PAUSE_FULL);
        assert_eq!(answer(50).repoll_at(), at + REPOLL_PAUSE_FULL / 2);
        assert!(answer(1).repoll_at() <= at + Duration::from_millis(1));
    }

    #[test]
    fn the_offset_passing_half_of_the_answer_asks_again_at_once() {
        let answer = Answer {
            at: Instant::now(),
            size: 100,
            offset: 10,
        };
        assert!(!answer.half_passed(10));
        assert!(!answer.half_passed(59));
        assert!(answer.half_passed(60));
        let lone = Answer { size: 1, ..answer };
        assert!(lone.half_passed(11), "one update handled is half of one");
    }
}
