//! The live projector: follows the JetStream stream with a durable pull consumer and applies
//! events as they arrive; falls back to reading Postgres when a message is missing, out of order
//! or NATS is unreachable. Every message says which event precedes it (`Ledger-Prev`), so the
//! projector knows a gap when it sees one instead of trusting delivery order.

use std::time::Duration;

use async_nats::jetstream::{
    self, AckKind, consumer::AckPolicy, consumer::DeliverPolicy, consumer::pull,
};
use deadpool_postgres::Pool;
use futures::StreamExt;
use tokenbot_ledger::backoff::Backoff;
use tokenbot_ledger::bus::{BusConfig, decode};
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{LogCursor, RawEvent};

use crate::error::ProjectionError;
use crate::runtime::{Projection, apply_batch, catch_up, min_checkpoint};

/// How the live projector follows JetStream.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The stream and subjects to follow.
    pub bus: BusConfig,
    /// Durable consumer name; processes sharing it share the work (each checks checkpoints).
    pub consumer: String,
    /// Messages per fetch: bounds memory and the size of one transaction.
    pub batch: usize,
    /// Backoff bounds while NATS is unreachable (Postgres polling meanwhile).
    pub retry_min: Duration,
    /// The longest of those pauses.
    pub retry_max: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            bus: BusConfig::default(),
            consumer: "projector".into(),
            batch: 500,
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_secs(5),
        }
    }
}

/// Told after every applied batch: the cursor all projections have reached, and the events that
/// batch applied from JetStream (empty after a catch-up from Postgres).
pub type Observer = std::sync::Arc<dyn Fn(LogCursor, &[RawEvent]) + Send + Sync>;

/// A projector to run: the read models it keeps, where it reads, and when it stops.
pub struct Projector {
    /// The read models' database.
    pub pool: Pool,
    /// The schema holding them (`LIVE_SCHEMA`, or a rebuild's shadow).
    pub schema: String,
    /// Which read models.
    pub projections: Vec<Projection>,
    /// Where the events come from.
    pub js: jetstream::Context,
    /// The stream, the durable consumer, batching and backoff.
    pub config: LiveConfig,
    /// Stops it.
    pub shutdown: Shutdown,
    /// Told about its progress after every applied batch.
    pub observer: Option<Observer>,
}

/// Runs the projector until `shutdown`, telling `observer` (if any) about its progress.
pub async fn run(projector: Projector) -> Result<(), ProjectionError> {
    let Projector {
        pool,
        schema,
        projections,
        js,
        config,
        shutdown,
        observer,
    } = projector;
    let report = |c: LogCursor, applied: &[RawEvent]| {
        if let Some(o) = &observer {
            o(c, applied);
        }
    };
    let target = Target {
        pool: &pool,
        schema: &schema,
        projections: &projections,
    };
    // The first catch-up, retried like any later one while Postgres is unreachable.
    let mut backoff = Backoff::new(config.retry_min, config.retry_max);
    let mut current = loop {
        match target.resume().await {
            Ok(c) => break c,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %tokenbot_ledger::error::chain(&e), "Postgres unavailable at start; retrying");
                if pause(&mut backoff, &shutdown).await {
                    return Ok(());
                }
            }
            Err(e) => return Err(e),
        }
    };
    report(current, &[]);
    backoff.reset();
    while !shutdown.is_cancelled() {
        let error = match follow(&target, &js, &config, &shutdown, &mut current, &report).await {
            Ok(()) => return Ok(()),
            Err(e) => interruption(e)?,
        };
        tracing::warn!(error = %error, "projector interrupted; catching up from Postgres");
        if pause(&mut backoff, &shutdown).await {
            return Ok(());
        }
        match target.resume().await {
            Ok(c) => {
                current = c;
                report(current, &[]);
                backoff.reset();
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %tokenbot_ledger::error::chain(&e), "Postgres still unavailable");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits the backoff's next pause; true when `shutdown` came first.
async fn pause(backoff: &mut Backoff, shutdown: &Shutdown) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(backoff.next_pause()) => false,
        _ = shutdown.cancelled() => true,
    }
}

/// What stopped following the stream, in words, when the projector can carry on from Postgres;
/// the error itself when it cannot.
fn interruption(e: FollowError) -> Result<String, ProjectionError> {
    match e {
        // Behind: the stream and the checkpoints disagree about where this process is (a
        // batch cut off mid-commit, a rebuild); Postgres knows, so catch up from there.
        FollowError::Projection(e @ ProjectionError::Behind { .. }) => {
            metrics::counter!("tokenbot_projector_resyncs_total").increment(1);
            Ok(format!("resynchronising: {e}"))
        }
        FollowError::Projection(e) if !e.is_transient() => Err(e),
        FollowError::Projection(e) => {
            metrics::counter!("tokenbot_projector_database_errors_total").increment(1);
            Ok(format!("Postgres unavailable: {e}"))
        }
        FollowError::Nats(e) => {
            metrics::counter!("tokenbot_projector_nats_errors_total").increment(1);
            Ok(format!("NATS unavailable: {e}"))
        }
    }
}

enum FollowError {
    Nats(String),
    Projection(ProjectionError),
}

impl From<ProjectionError> for FollowError {
    fn from(e: ProjectionError) -> Self {
        FollowError::Projection(e)
    }
}

async fn consumer(
    js: &jetstream::Context,
    config: &LiveConfig,
) -> Result<jetstream::consumer::PullConsumer, FollowError> {
    // Either side may start first; both create the stream with the same configuration.
    config
        .bus
        .ensure_stream(js)
        .await
        .map_err(|e| FollowError::Nats(e.to_string()))?;
    let stream = js
        .get_stream(&config.bus.stream)
        .await
        .map_err(|e| FollowError::Nats(e.to_string()))?;
    stream
        .get_or_create_consumer(
            &config.consumer,
            pull::Config {
                durable_name: Some(config.consumer.clone()),
                // History comes from Postgres; the consumer only needs what is new.
                deliver_policy: DeliverPolicy::New,
                ack_policy: AckPolicy::Explicit,
                filter_subject: config.bus.all_subjects(),
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| FollowError::Nats(e.to_string()))
}

/// Where events go: the pool, the schema and the projections fed.
struct Target<'a> {
    pool: &'a Pool,
    schema: &'a str,
    projections: &'a [Projection],
}

impl Target<'_> {
    /// Catches up from the projections' committed checkpoints. What is committed is the truth:
    /// a batch cut off mid-way left the in-memory cursor ahead of it.
    async fn resume(&self) -> Result<LogCursor, ProjectionError> {
        let from = min_checkpoint(self.pool, self.schema, self.projections).await?;
        self.catch_up(from).await
    }

    /// Reads Postgres after `from` until nothing more is visible.
    async fn catch_up(&self, from: LogCursor) -> Result<LogCursor, ProjectionError> {
        catch_up(self.pool, self.schema, self.projections, from, None, |_| {}).await
    }
}

/// Follows the stream, from `current`, until `shutdown` (`Ok`) or until something interrupts it.
async fn follow(
    target: &Target<'_>,
    js: &jetstream::Context,
    config: &LiveConfig,
    shutdown: &Shutdown,
    current: &mut LogCursor,
    report: &impl Fn(LogCursor, &[RawEvent]),
) -> Result<(), FollowError> {
    let consumer = consumer(js, config).await?;
    // A continuous pull: the first message is taken as soon as it arrives, then whatever is
    // already buffered joins it (up to a batch), so latency is one round trip, not a fetch window.
    let mut stream = consumer
        .stream()
        .max_messages_per_batch(config.batch)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(|e| FollowError::Nats(e.to_string()))?;
    loop {
        let Some(received) = receive(&mut stream, config.batch, shutdown).await? else {
            return Ok(());
        };
        project(target, &received, current, report).await?;
        // Acknowledge only after the checkpoint committed: a crash before this redelivers, and
        // the checkpoint makes the redelivery a no-op.
        for message in &received {
            if let Err(e) = message.ack().await {
                tracing::debug!(error = %e, "ack failed; the message will be redelivered and skipped");
            }
        }
    }
}

/// The next message as soon as it arrives, with whatever is already buffered behind it (up to
/// `batch`); `None` at shutdown.
async fn receive(
    stream: &mut pull::Stream,
    batch: usize,
    shutdown: &Shutdown,
) -> Result<Option<Vec<jetstream::Message>>, FollowError> {
    let first = tokio::select! {
        m = stream.next() => m,
        _ = shutdown.cancelled() => return Ok(None),
    };
    let Some(first) = first else {
        return Err(FollowError::Nats("the consumer stream ended".into()));
    };
    let mut received = vec![first.map_err(|e| FollowError::Nats(e.to_string()))?];
    while received.len() < batch {
        match futures::FutureExt::now_or_never(stream.next()) {
            Some(Some(m)) => received.push(m.map_err(|e| FollowError::Nats(e.to_string()))?),
            _ => break,
        }
    }
    Ok(Some(received))
}

/// Applies the events of `received` that follow `current`, in runs without gaps; a gap is
/// filled from Postgres.
async fn project(
    target: &Target<'_>,
    received: &[jetstream::Message],
    current: &mut LogCursor,
    report: &impl Fn(LogCursor, &[RawEvent]),
) -> Result<(), FollowError> {
    let mut run: Vec<RawEvent> = Vec::new();
    let mut run_after = *current;
    for message in received {
        let bus_event = match decode(message.headers.as_ref(), &message.payload) {
            Ok(e) => e,
            Err(e) => {
                // Never retried forever: park it; the next message's prev exposes the gap and
                // Postgres fills it.
                tracing::error!(error = %e, subject = %message.subject, "undecodable message parked");
                metrics::counter!("tokenbot_projector_parked_total").increment(1);
                let _ = message.ack_with(AckKind::Term).await;
                continue;
            }
        };
        let cursor = bus_event.event.cursor();
        if cursor <= *current {
            continue; // Redelivered or already read from Postgres.
        }
        if bus_event.prev != *current {
            // A gap: apply what we have, then read the missing events from Postgres.
            apply_run(target, run_after, &mut run, current, report).await?;
            *current = target.catch_up(*current).await?;
            report(*current, &[]);
            run_after = *current;
            metrics::counter!("tokenbot_projector_gaps_total").increment(1);
            if cursor <= *current {
                continue;
            }
            if bus_event.prev != *current {
                return Err(FollowError::Nats(format!(
                    "message {cursor} follows {} but Postgres only reaches {current}",
                    bus_event.prev
                )));
            }
        }
        *current = cursor;
        run.push(bus_event.event);
    }
    apply_run(target, run_after, &mut run, current, report).await?;
    Ok(())
}

/// Applies a contiguous run. If a projection turns out to be behind the run (a rebuild moved its
/// checkpoint back), reads the missing events from Postgres instead; the run's events are then
/// among them.
async fn apply_run(
    target: &Target<'_>,
    after: LogCursor,
    run: &mut Vec<RawEvent>,
    current: &mut LogCursor,
    report: &impl Fn(LogCursor, &[RawEvent]),
) -> Result<(), ProjectionError> {
    if run.is_empty() {
        return Ok(());
    }
    match apply_batch(target.pool, target.schema, target.projections, after, run).await {
        Ok(applied) => {
            if let Some(c) = applied.cursor {
                *current = (*current).max(c);
            }
            report(*current, run);
        }
        Err(ProjectionError::Behind { .. }) => {
            *current = target.resume().await?;
            report(*current, &[]);
        }
        Err(e) => return Err(e),
    }
    run.clear();
    Ok(())
}
