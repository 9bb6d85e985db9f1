//! Following the global log: poll in [`crate::global_order`] order, woken by LISTEN/NOTIFY.
//! Notifications only shorten the wait; correctness comes from the cursor and the horizon.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;

use crate::backoff::Backoff;
use crate::error::LedgerError;
use crate::global_order::{LogCursor, RawEvent, has_pending_beyond_horizon, read_log};
use crate::store::{EventStore, NOTIFY_CHANNEL};

/// Limits of a subscription; all bounded.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionOptions {
    /// Events per batch.
    pub batch_size: i64,
    /// Longest wait without a notification before looking anyway.
    pub idle_poll: Duration,
    /// First re-check delay while events wait behind an open transaction (doubles up to
    /// `horizon_poll_max`).
    pub horizon_poll: Duration,
    /// Longest re-check delay while events wait behind an open transaction: a short transaction
    /// elsewhere (a batch of a replay, say) then delays a reader by little more than itself.
    pub horizon_poll_max: Duration,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            idle_poll: Duration::from_millis(500),
            horizon_poll: Duration::from_millis(2),
            horizon_poll_max: Duration::from_millis(50),
        }
    }
}

/// Follows the log in global order, each committed event exactly once: woken by NOTIFY, polling
/// as a fallback (see [`crate::global_order`]).
pub struct Subscription {
    store: EventStore,
    cursor: LogCursor,
    options: SubscriptionOptions,
    wake: Arc<Notify>,
    // Kept alive: dropping it closes the LISTEN connection.
    _listener: Option<tokio_postgres::Client>,
}

impl Subscription {
    /// Starts after `cursor`. If the LISTEN connection cannot be opened the subscription still
    /// works, by polling.
    pub async fn new(store: EventStore, cursor: LogCursor, options: SubscriptionOptions) -> Self {
        let wake = Arc::new(Notify::new());
        let listener = match listen(&store, wake.clone()).await {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN unavailable; the subscription will poll");
                None
            }
        };
        Self {
            store,
            cursor,
            options,
            wake,
            _listener: listener,
        }
    }

    /// Where it has got to.
    pub fn cursor(&self) -> LogCursor {
        self.cursor
    }

    /// The next batch of events (at least one), in global order, each exactly once.
    pub async fn next_batch(&mut self) -> Result<Vec<RawEvent>, LedgerError> {
        // Waiting beyond the horizon, never longer than an idle poll.
        let mut backoff = Backoff::new(
            self.options.horizon_poll,
            self.options.horizon_poll_max.min(self.options.idle_poll),
        );
        loop {
            let client = self.store.database().pool().get().await?;
            let batch = read_log(&client, self.cursor, self.options.batch_size).await?;
            if let Some(last) = batch.last() {
                debug_assert!(last.cursor() > self.cursor, "the cursor only moves forward");
                self.cursor = last.cursor();
                return Ok(batch);
            }
            let waiting = has_pending_beyond_horizon(&client, self.cursor).await?;
            drop(client);
            let wait = if waiting {
                backoff.next_pause()
            } else {
                backoff.reset();
                self.options.idle_poll
            };
            // Either a notification or the timeout: both mean "look again".
            let _ = tokio::time::timeout(wait, self.wake.notified()).await;
        }
    }
}

async fn listen(
    store: &EventStore,
    wake: Arc<Notify>,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, mut connection) = store.database().config().connect().await?;
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => wake.notify_one(),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost; polling only");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
        .await?;
    Ok(client)
}
