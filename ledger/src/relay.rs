//! The outbox relay: publishes every committed event, in global order, to JetStream, and seals
//! the hash chain as it goes. One leader at a time (a session advisory lock on a dedicated
//! connection: if the leader dies, its connection closes, the lock is released and a waiting
//! relay takes over). The checkpoint advances only after JetStream acknowledged, so NATS being
//! down means delay, never loss: appends go on, and the relay catches up when NATS is back.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};

use crate::backoff::Backoff;
use crate::bus::{BusConfig, encode};
use crate::error::LedgerError;
use crate::global_order::{LogCursor, RawEvent};
use crate::hash_chain;
use crate::shutdown::Shutdown;
use crate::store::EventStore;
use crate::subscription::{Subscription, SubscriptionOptions};

/// Session advisory lock key of the relay leader ("relay").
const RELAY_LOCK_KEY: i64 = 0x0000_0072_656c_6179;

/// How the relay publishes.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Name of the checkpoint row (one per bus).
    pub name: String,
    /// Events per publish batch (acks awaited per batch): bounds memory and in-flight messages.
    pub batch_size: i64,
    /// Backoff bounds while NATS or Postgres fail.
    pub retry_min: Duration,
    /// See `retry_min`.
    pub retry_max: Duration,
    /// Also run the hash-chain sealer beside the relay (its own loop, never in the publish path).
    pub seal: bool,
    /// Sign the chain head into checkpoints on the checkpoint stream, beside the sealer (`None`:
    /// no signing key).
    pub checkpoints: Option<crate::checkpoint::CheckpointSettings>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            name: "main".into(),
            batch_size: 1000,
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_secs(5),
            seal: true,
            checkpoints: None,
        }
    }
}

/// What stops the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading the log failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Keeping the checkpoint failed.
    #[error("relay checkpoint")]
    Database(#[from] tokio_postgres::Error),
}

/// The relay's checkpoint: the last event JetStream acknowledged.
pub async fn checkpoint(store: &EventStore, name: &str) -> Result<LogCursor, LedgerError> {
    let client = store.database().pool().get().await?;
    let row = client
        .query_opt(
            "SELECT tx_id::text, position FROM ledger.relay_checkpoint WHERE name = $1",
            &[&name],
        )
        .await?;
    Ok(match row {
        None => LogCursor::START,
        Some(r) => LogCursor {
            tx_id: r
                .try_get::<_, String>(0)?
                .parse()
                .map_err(|e| LedgerError::corrupt("relay checkpoint", e))?,
            position: r.try_get(1)?,
        },
    })
}

async fn save_checkpoint(
    store: &EventStore,
    name: &str,
    last: &RawEvent,
) -> Result<(), LedgerError> {
    let client = store.database().pool().get().await?;
    client
        .execute(
            "INSERT INTO ledger.relay_checkpoint (name, tx_id, position, event_id) \
             VALUES ($1, $2::text::xid8, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, \
               event_id = EXCLUDED.event_id, updated_at = clock_timestamp()",
            &[&name, &last.tx_id.to_string(), &last.position.0, &last.event_id.as_uuid()],
        )
        .await?;
    Ok(())
}

/// Publishes one batch in order; returns how many were acknowledged before the first failure.
async fn publish(
    js: &jetstream::Context,
    bus: &BusConfig,
    batch: &[RawEvent],
    mut prev: LogCursor,
) -> (usize, Option<String>) {
    let mut acks = Vec::with_capacity(batch.len());
    for event in batch {
        let (subject, headers, payload) = match encode(bus, event, prev) {
            Ok(parts) => parts,
            Err(e) => return (0, Some(e.to_string())),
        };
        let message = PublishMessage::build()
            .payload(payload)
            .headers(headers)
            .message_id(event.event_id.to_string());
        match js.send_publish(subject, message).await {
            Ok(ack) => acks.push(ack),
            Err(e) => return (await_acks(acks).await.0, Some(e.to_string())),
        }
        prev = event.cursor();
    }
    await_acks(acks).await
}

async fn await_acks(acks: Vec<jetstream::context::PublishAckFuture>) -> (usize, Option<String>) {
    // Acks are checked in publish order: everything before the first failure is stored in order.
    let mut done = 0;
    for ack in acks {
        match ack.await {
            Ok(_) => done += 1,
            Err(e) => return (done, Some(e.to_string())),
        }
    }
    (done, None)
}

/// A relay to run: the log it reads, where and how it publishes, and when it stops.
pub struct Relay {
    /// The log.
    pub store: EventStore,
    /// Where it publishes.
    pub js: jetstream::Context,
    /// The stream and subjects.
    pub bus: BusConfig,
    /// Batching, backoff, sealing and signing.
    pub config: RelayConfig,
    /// Stops it.
    pub shutdown: Shutdown,
    /// When given, receives the checkpoint after every acknowledged batch.
    pub progress: Option<tokio::sync::watch::Sender<LogCursor>>,
}

/// Runs until `shutdown`: waits for leadership, then relays. Returns when shut down.
pub async fn run(relay: Relay) -> Result<(), RelayError> {
    let Relay {
        store,
        js,
        bus,
        config,
        shutdown,
        progress,
    } = relay;
    let sealer = config.seal.then(|| {
        tokio::spawn(hash_chain::run_sealer(
            store.clone(),
            Duration::from_millis(200),
            shutdown.clone(),
        ))
    });
    let signer = config
        .checkpoints
        .clone()
        .filter(|_| config.seal)
        .map(|settings| {
            tokio::spawn(crate::checkpoint::run_signer(
                store.clone(),
                js.clone(),
                bus.clone(),
                settings,
                shutdown.clone(),
            ))
        });
    let mut backoff = Backoff::new(config.retry_min, config.retry_max);
    while !shutdown.is_cancelled() {
        match lead(&store, &js, &bus, &config, &shutdown, progress.as_ref()).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %crate::error::chain(&e), "relay interrupted; retrying");
                metrics::counter!("tokenbot_relay_errors_total").increment(1);
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_pause()) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
    }
    for task in [sealer, signer].into_iter().flatten() {
        let _ = task.await;
    }
    Ok(())
}

/// One term as leader: take the lock, then publish until shutdown or until the lock is lost.
async fn lead(
    store: &EventStore,
    js: &jetstream::Context,
    bus: &BusConfig,
    config: &RelayConfig,
    shutdown: &Shutdown,
    progress: Option<&tokio::sync::watch::Sender<LogCursor>>,
) -> Result<(), RelayError> {
    let leader = store.database().dedicated().await?;
    tokio::select! {
        r = leader.execute("SELECT pg_advisory_lock($1)", &[&RELAY_LOCK_KEY]) => { r?; }
        _ = shutdown.cancelled() => return Ok(()),
    }
    tracing::info!("relay is the leader");
    metrics::gauge!("tokenbot_relay_leader").set(1.0);

    let mut backoff = Backoff::new(config.retry_min, config.retry_max);
    while let Err(e) = bus.ensure_stream(js).await {
        tracing::warn!(error = %e, "JetStream not ready; retrying");
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_pause()) => {}
            _ = shutdown.cancelled() => return Ok(()),
        }
    }

    let mut prev = checkpoint(store, &config.name).await?;
    let options = SubscriptionOptions {
        batch_size: config.batch_size,
        ..Default::default()
    };
    let mut subscription = Subscription::new(store.clone(), prev, options).await;
    loop {
        let batch = tokio::select! {
            b = subscription.next_batch() => b?,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let mut pending: &[RawEvent] = &batch;
        let mut backoff = Backoff::new(config.retry_min, config.retry_max);
        while !pending.is_empty() {
            if leader.is_closed() {
                metrics::gauge!("tokenbot_relay_leader").set(0.0);
                return Err(LedgerError::corrupt("relay", "lost the leader connection").into());
            }
            let (done, error) = publish(js, bus, pending, prev).await;
            if done > 0 {
                let last = &pending[done - 1];
                save_checkpoint(store, &config.name, last).await?;
                prev = last.cursor();
                if let Some(p) = progress {
                    p.send_replace(prev);
                }
                metrics::counter!("tokenbot_relay_published_total").increment(done as u64);
                let lag = (chrono::Utc::now() - last.recorded_at)
                    .num_milliseconds()
                    .max(0) as f64
                    / 1000.0;
                metrics::gauge!("tokenbot_relay_lag_seconds").set(lag);
                pending = &pending[done..];
                backoff.reset();
            }
            if let Some(e) = error {
                tracing::warn!(error = %e, remaining = pending.len(), "publish failed; retrying");
                metrics::counter!("tokenbot_relay_publish_failures_total").increment(1);
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_pause()) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
            }
        }
    }
}
