//! Pull requests to the worker's durable consumer, read from our own subscription so that no
//! wake-up can be lost, and sized to the slots the worker holds so that no message waits in a
//! buffer while its ack timer runs.
//!
//! Why not the client's helpers (async-nats 0.51; `docs/architecture.md`, "Pulling from
//! JetStream", has the whole review):
//! - `consumer.batch()`: `Batch::poll_next` answers an idle heartbeat (status 100) with
//!   `Poll::Pending` without polling its receiver again, so no waker is registered; a message
//!   that arrives after a heartbeat sits in the buffer until the batch's own timer (expiry + 5 s)
//!   ends the batch and drops it, and JetStream redelivers it only after `ack_wait`, possibly into
//!   a batch that starves the same way. Without a heartbeat it polls correctly, but then whether a
//!   wake-up can be lost depends on no status 100 ever reaching it, and its timer still drops
//!   whatever is buffered when it fires.
//! - `consumer.stream()` (`pull::Stream`) skips heartbeats and polls again, so it cannot lose a
//!   wake-up, but it cannot keep "never more in hand than free slots": it asks for another batch
//!   as soon as half of one has arrived (up to 1.5 x `max_messages_per_batch` requested), and its
//!   background task re-sends a pull request whenever one expires whether or not its reader has a
//!   free slot. Even with batches of one, a message can arrive while every slot is busy and wait,
//!   its ack timer running, until one frees up.
//!
//! Here: one subscription on `<inbox>.*` for the consumer's lifetime and one pull request at a
//! time, for exactly as many messages as the permits it holds, answered on `<inbox>.<n>`. Every
//! item the subscription yields (message or status) is acted on and the subscription is polled
//! again, so a pending wait is always the subscription's own channel with this task's waker
//! registered. A message is handed over with a permit taken from the request's own, so the
//! messages in hand never outnumber the slots; one that arrives with none left (a request given up
//! as lost was still alive) is given back at once. No heartbeat is asked for; a dead connection
//! shows as a request that neither fills nor reports its expiry (status 408) within
//! [`PULL_EXPIRES`] + [`LOST_AFTER`]: the next request replaces it, and a run of lost ones ends
//! the session so the consumer is looked up again.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::BatchConfig;
use async_nats::jetstream::{self, AckKind, Message};
use async_nats::{StatusCode, Subscriber};
use futures::StreamExt;
use tokio::sync::OwnedSemaphorePermit;

/// How long the server keeps one pull request waiting for messages. Idle workers ask again this
/// often, which is also how soon a request lost with a dropped connection is replaced.
pub const PULL_EXPIRES: Duration = Duration::from_secs(5);

/// How late the server's "request expired" status may be before the request counts as lost.
pub const LOST_AFTER: Duration = Duration::from_secs(3);

/// Lost requests in a row after which the session ends (the consumer is looked up again).
const MAX_LOST_IN_A_ROW: u32 = 3;

/// Why a pull session ended; the consumer loop backs off and starts a new one.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The reply inbox could not be subscribed to (NATS unreachable).
    #[error("cannot subscribe to the pull inbox: {0}")]
    Subscribe(String),
    /// A pull request could not be published.
    #[error("cannot send a pull request: {0}")]
    Request(String),
    /// The subscription ended, which happens only when the client is closed.
    #[error("the pull subscription closed (the NATS client was closed)")]
    Closed,
    /// Pull requests went unanswered (see [`LOST_AFTER`]) this many times in a row.
    #[error(
        "{0} pull requests in a row got no answer (the connection is down or the consumer gone)"
    )]
    Unanswered(u32),
    /// The server answered a pull request with a status that ends the session (e.g. the
    /// consumer was deleted).
    #[error("the server ended a pull request: {0}")]
    Status(String),
}

/// A pull session on one consumer.
pub struct Puller {
    consumer: PullConsumer,
    context: jetstream::Context,
    subscriber: Subscriber,
    inbox: String,
    request_id: u64,
    lost_in_a_row: u32,
}

impl Puller {
    /// Opens a session: subscribes to a fresh reply inbox on `js`'s connection for `consumer`.
    pub async fn new(js: &jetstream::Context, consumer: PullConsumer) -> Result<Self, PullError> {
        let client = js.client();
        let inbox = client.new_inbox();
        let subscriber = client
            .subscribe(format!("{inbox}.*"))
            .await
            .map_err(|e| PullError::Subscribe(e.to_string()))?;
        Ok(Self {
            consumer,
            context: js.clone(),
            subscriber,
            inbox,
            request_id: 0,
            lost_in_a_row: 0,
        })
    }

    /// Asks for as many messages as `held` has permits and hands each one over with one of them,
    /// until the request is filled, expires or is lost; unused permits are released on return.
    pub async fn pull(
        &mut self,
        mut held: OwnedSemaphorePermit,
        mut deliver: impl FnMut(Message, OwnedSemaphorePermit),
    ) -> Result<(), PullError> {
        self.request_id += 1;
        let reply = format!("{}.{}", self.inbox, self.request_id);
        let request = BatchConfig {
            batch: held.num_permits(),
            expires: Some(PULL_EXPIRES),
            ..Default::default()
        };
        self.consumer
            .request_batch(request, reply.clone().into())
            .await
            .map_err(|e| PullError::Request(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + PULL_EXPIRES + LOST_AFTER;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.subscriber.next()).await {
                Ok(Some(m)) => m,
                Ok(None) => return Err(PullError::Closed),
                Err(_) => return self.lost(),
            };
            // Statuses come on the request's own reply subject; messages carry their stream
            // subject, so a message always belongs to the one open request.
            let ours = message.subject.as_str() == reply;
            match message.status {
                None | Some(StatusCode::OK) => {
                    self.lost_in_a_row = 0;
                    let message = Message {
                        message,
                        context: self.context.clone(),
                    };
                    match held.split(1) {
                        Some(permit) => deliver(message, permit),
                        None => give_back(&message).await,
                    }
                    if held.num_permits() == 0 {
                        return Ok(());
                    }
                }
                // Never asked for (no heartbeat is requested); skipping it keeps polling.
                Some(StatusCode::IDLE_HEARTBEAT) => {}
                Some(StatusCode::TIMEOUT | StatusCode::NOT_FOUND) if ours => {
                    self.lost_in_a_row = 0;
                    return Ok(());
                }
                // The end of a request already given up as lost.
                Some(_) if !ours => {}
                Some(status) => {
                    let why = message.description.unwrap_or_default();
                    return Err(PullError::Status(format!("{status} {why}")));
                }
            }
        }
    }

    fn lost(&mut self) -> Result<(), PullError> {
        self.lost_in_a_row += 1;
        metrics::counter!("tokenbot_worker_pull_requests_lost_total").increment(1);
        tracing::debug!(
            lost_in_a_row = self.lost_in_a_row,
            "pull request unanswered"
        );
        if self.lost_in_a_row >= MAX_LOST_IN_A_ROW {
            return Err(PullError::Unanswered(self.lost_in_a_row));
        }
        Ok(())
    }
}

/// A message that arrived with no slot reserved for it (a request thought lost was still alive):
/// back to the stream at once rather than held while its ack timer runs.
async fn give_back(message: &Message) {
    metrics::counter!("tokenbot_worker_messages_given_back_total").increment(1);
    if let Err(e) = message.ack_with(AckKind::Nak(None)).await {
        tracing::debug!(error = %e, "could not give a message back; it returns after ack_wait");
    }
}
