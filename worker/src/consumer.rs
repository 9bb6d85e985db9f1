//! The JetStream side: a durable pull consumer on `ledger.task.TaskRequested`, at most
//! `concurrency` tasks in flight per process, explicit acks. A message is acknowledged only when
//! its task is final, so a worker that dies mid-task leaves the message to be redelivered (after
//! `ack_wait`) to another worker; while a task runs, progress signals keep the message ours.
//! Messages are pulled by [`crate::pull`]: one request at a time for exactly as many messages as
//! there are free slots, read so that no wake-up can be lost (why the client's own batch and
//! stream helpers are not used is explained there).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, Message, consumer::AckPolicy, consumer::pull};
use tokenbot_ledger::backoff::Backoff;
use tokenbot_ledger::bus::decode;
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{Actor, CommandContext, Event};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::WorkerConfig;
use crate::pull::Puller;
use crate::runner::{Disposition, Runner};

/// Why the worker cannot run at all (as opposed to a failed task, which the ledger records).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The configuration is out of bounds (e.g. a concurrency of 0); nothing was started.
    #[error("worker configuration: {0}")]
    Config(String),
}

/// Runs the worker until `shutdown`; then takes no new message and waits for the ones in flight.
pub async fn run(
    runner: Arc<Runner>,
    js: jetstream::Context,
    config: Arc<WorkerConfig>,
    shutdown: Shutdown,
) -> Result<(), WorkerError> {
    if config.concurrency == 0 || config.concurrency > 10_000 {
        return Err(WorkerError::Config(format!(
            "concurrency {} is outside 1..=10000",
            config.concurrency
        )));
    }
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let mut in_flight = JoinSet::new();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    while !shutdown.is_cancelled() {
        match pull(&runner, &js, &config, &permits, &mut in_flight, &shutdown).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "NATS unavailable; the worker waits and reconnects");
                metrics::counter!("tokenbot_worker_nats_errors_total").increment(1);
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_pause()) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
        // Reap finished handlers so the set stays bounded by `concurrency`.
        while in_flight.try_join_next().is_some() {}
    }
    tracing::info!(
        in_flight = in_flight.len(),
        "worker stopping: finishing tasks in flight"
    );
    while in_flight.join_next().await.is_some() {}
    Ok(())
}

async fn consumer(
    js: &jetstream::Context,
    config: &WorkerConfig,
) -> Result<jetstream::consumer::PullConsumer, String> {
    config
        .bus
        .ensure_stream(js)
        .await
        .map_err(|e| e.to_string())?;
    let stream = js
        .get_stream(&config.bus.stream)
        .await
        .map_err(|e| e.to_string())?;
    stream
        .get_or_create_consumer(
            &config.consumer,
            pull::Config {
                durable_name: Some(config.consumer.clone()),
                filter_subject: config.bus.subject("task", "TaskRequested"),
                ack_policy: AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                // Redelivery is how backoff and crash recovery work, so there is no cap here;
                // the ledger bounds attempts, and undecodable messages are terminated.
                max_deliver: -1,
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())
}

/// Pulls while permits are free: each pull request asks for exactly as many messages as this
/// process can start at once, so none waits in a buffer while its ack timer runs (see
/// [`crate::pull`] for why the client's own pull helpers are not used).
async fn pull(
    runner: &Arc<Runner>,
    js: &jetstream::Context,
    config: &Arc<WorkerConfig>,
    permits: &Arc<Semaphore>,
    in_flight: &mut JoinSet<()>,
    shutdown: &Shutdown,
) -> Result<(), String> {
    let consumer = consumer(js, config).await?;
    let mut puller = Puller::new(js, consumer).await.map_err(|e| e.to_string())?;
    loop {
        // Wait for at least one free slot, then take every slot that is free.
        let mut held = tokio::select! {
            p = permits.clone().acquire_owned() => p.map_err(|e| e.to_string())?,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let free = u32::try_from(permits.available_permits()).unwrap_or(u32::MAX);
        if free > 0
            && let Ok(more) = permits.clone().try_acquire_many_owned(free)
        {
            held.merge(more);
        }
        let start = |message: Message, permit| {
            let runner = runner.clone();
            let config = config.clone();
            in_flight.spawn(async move {
                handle(&runner, &config, message).await;
                drop(permit);
            });
        };
        tokio::select! {
            pulled = puller.pull(held, start) => pulled.map_err(|e| e.to_string())?,
            _ = shutdown.cancelled() => return Ok(()),
        }
        while in_flight.try_join_next().is_some() {}
    }
}

/// Handles one message: decode, run the task with progress signals, then ack, nak or terminate.
async fn handle(runner: &Runner, config: &WorkerConfig, message: Message) {
    let (task_id, ctx) = match task_of(&message) {
        Ok(v) => v,
        Err(reason) => {
            // Parked, never retried: a message that does not decode now never will.
            tracing::error!(subject = %message.subject, %reason, "undecodable task message parked");
            metrics::counter!("tokenbot_worker_parked_total").increment(1);
            let _ = message.ack_with(AckKind::Term).await;
            return;
        }
    };
    let span = tracing::info_span!("task", %task_id, correlation_id = %ctx.correlation_id);
    let work = async {
        let progress = async {
            let mut tick = tokio::time::interval(config.ack_wait / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::debug!(error = %e, "progress signal not sent");
                }
            }
        };
        tokio::select! {
            d = runner.handle(task_id, &ctx) => d,
            // The progress loop never ends; if it somehow did, the message simply comes back.
            () = progress => Disposition::RetryIn(config.ack_wait),
        }
    };
    let disposition = tracing::Instrument::instrument(work, span).await;
    let ack = match &disposition {
        Disposition::Done => message.double_ack().await,
        Disposition::RetryIn(delay) => message.ack_with(AckKind::Nak(Some(*delay))).await,
        Disposition::Park(reason) => {
            tracing::error!(%task_id, %reason, "task message parked");
            metrics::counter!("tokenbot_worker_parked_total").increment(1);
            message.ack_with(AckKind::Term).await
        }
    };
    if let Err(e) = ack {
        // The message comes back after ack_wait; the ledger makes the second pass a no-op.
        tracing::warn!(%task_id, error = %e, "ack not confirmed");
    }
}

fn task_of(message: &Message) -> Result<(tokenbot_ledger::TaskId, CommandContext), String> {
    let bus = decode(message.headers.as_ref(), &message.payload).map_err(|e| e.to_string())?;
    let recorded = bus.event.decode().map_err(|e| e.to_string())?;
    let Event::TaskRequested(request) = recorded.event else {
        return Err(format!(
            "expected TaskRequested, got {}",
            recorded.event.event_type()
        ));
    };
    let ctx = CommandContext::new(Actor::system("worker"))
        .with_correlation(recorded.metadata.correlation_id)
        .caused_by(recorded.event_id);
    Ok((request.task_id, ctx))
}
