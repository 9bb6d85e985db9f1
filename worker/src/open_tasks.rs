//! Paid tasks that are not finished, as the ledger shows them: the stalled ones the sweeper takes
//! up, and the age of the oldest one (the `tokenbot_tasks_oldest_open_age_seconds` gauge, and what
//! `/health` compares with its bound).
//!
//! Read from the stream heads, through the partial index of open tasks (`sql/V5__open_tasks.sql`),
//! joined with the task's first and last events by their unique (stream, version) index: the cost
//! follows the number of open tasks, not the size of the log. Times are the database's, like every
//! `recorded_at`, so no clock of ours is compared with the ledger's.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokenbot_ledger::shutdown::Shutdown;
use tokenbot_ledger::{Actor, CommandContext, EventId, EventMetadata, StreamId, TaskId};

use crate::config::WorkerConfig;

/// Why the open tasks could not be read; the sweeper tries again on its next round.
#[derive(Debug, thiserror::Error)]
pub enum OpenTasksError {
    /// No connection could be taken from the pool (Postgres down or the pool exhausted).
    #[error("no database connection")]
    Pool(#[source] tokenbot_ledger::db::PoolFailure),
    /// The query failed.
    #[error("database")]
    Database(#[from] tokio_postgres::Error),
}

tokenbot_ledger::pool_failure_from!(OpenTasksError::Pool);

/// A paid task nobody has worked on for longer than the stall time.
#[derive(Debug, Clone)]
pub struct StalledTask {
    /// The task to drive to its end.
    pub task_id: TaskId,
    /// `pending`, `processing` (its lease ran out) or `succeeded` (not delivered).
    pub status: String,
    /// Since its last event (for a running attempt: since its lease ran out, plus the lease).
    pub idle: Duration,
    /// The context commands about it run in: the request's correlation id, caused by it.
    pub ctx: CommandContext,
}

const STALLED: &str = "\
    SELECT s.stream_id, s.task_status, r.event_id::text, r.metadata, \
           extract(epoch FROM clock_timestamp() - l.recorded_at)::float8 \
    FROM ledger.streams s \
    JOIN ledger.events l ON l.stream_id = s.stream_id AND l.stream_version = s.version \
    JOIN ledger.events r ON r.stream_id = s.stream_id AND r.stream_version = 1 \
    WHERE s.task_status IN ('pending', 'processing', 'succeeded') \
      AND l.recorded_at < clock_timestamp() - make_interval(secs => CASE s.task_status \
            WHEN 'processing' THEN $1::float8 WHEN 'succeeded' THEN $2::float8 ELSE $3::float8 END) \
      AND NOT (s.stream_id = ANY($4::text[])) \
    ORDER BY l.recorded_at \
    LIMIT $5";

const OLDEST_OPEN_AGE: &str = "\
    SELECT extract(epoch FROM clock_timestamp() - min(r.recorded_at))::float8 \
    FROM ledger.streams s \
    JOIN ledger.events r ON r.stream_id = s.stream_id AND r.stream_version = 1 \
    WHERE s.task_status IN ('pending', 'processing', 'succeeded')";

/// Up to `limit` stalled tasks, longest idle first, leaving out `skip` (tasks already in hand).
/// A task is stalled when, for longer than the stall time, it has been pending, or processing
/// after its lease ran out, or succeeded without a delivery for longer than the delivery budget.
pub async fn stalled(
    pool: &Pool,
    config: &WorkerConfig,
    skip: &[TaskId],
    limit: usize,
) -> Result<Vec<StalledTask>, OpenTasksError> {
    let stall = config.task_stall.as_secs_f64();
    let processing = stall + config.lease.as_secs_f64();
    let succeeded = stall + config.delivery_budget().as_secs_f64();
    let skip: Vec<String> = skip
        .iter()
        .map(|t| StreamId::task(*t).as_str().to_string())
        .collect();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let client = pool.get().await?;
    let stmt = client.prepare_cached(STALLED).await?;
    let rows = client
        .query(&stmt, &[&processing, &succeeded, &stall, &skip, &limit])
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let stream: String = row.try_get(0)?;
        let Some(task_id) = stream.strip_prefix("task-").and_then(|t| t.parse().ok()) else {
            tracing::warn!(%stream, "an open task stream without a task id; skipped");
            continue;
        };
        let requested: String = row.try_get(2)?;
        let metadata: serde_json::Value = row.try_get(3)?;
        let idle: f64 = row.try_get(4)?;
        found.push(StalledTask {
            task_id,
            status: row.try_get(1)?,
            idle: Duration::try_from_secs_f64(idle).unwrap_or_default(),
            ctx: context(&requested, metadata),
        });
    }
    Ok(found)
}

/// The sweeper's commands carry the request's correlation id and name it as their cause, as the
/// consumer's do.
fn context(requested: &str, metadata: serde_json::Value) -> CommandContext {
    let mut ctx = CommandContext::new(Actor::system("sweeper"));
    if let Ok(m) = serde_json::from_value::<EventMetadata>(metadata) {
        ctx = ctx.with_correlation(m.correlation_id);
    }
    if let Ok(id) = requested.parse::<EventId>() {
        ctx = ctx.caused_by(id);
    }
    ctx
}

/// How long ago the oldest open task was requested; zero when every task is finished.
pub async fn oldest_open_age(pool: &Pool) -> Result<Duration, OpenTasksError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(OLDEST_OPEN_AGE).await?;
    let age: Option<f64> = client.query_one(&stmt, &[]).await?.try_get(0)?;
    Ok(age
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or_default())
}

/// Measures the oldest open task's age every `interval` until `shutdown`: sets the
/// `tokenbot_tasks_oldest_open_age_seconds` gauge and sends the age to `age` (None while the database
/// cannot be read, which the Postgres health check reports on its own).
pub async fn monitor(
    pool: Pool,
    interval: Duration,
    age: tokio::sync::watch::Sender<Option<Duration>>,
    shutdown: Shutdown,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if shutdown.run_until_cancelled(tick.tick()).await.is_none() {
            return;
        }
        match oldest_open_age(&pool).await {
            Ok(a) => {
                metrics::gauge!("tokenbot_tasks_oldest_open_age_seconds").set(a.as_secs_f64());
                age.send_replace(Some(a));
            }
            Err(e) => {
                tracing::debug!(error = %tokenbot_ledger::error::chain(&e), "open-task age not measured");
                age.send_replace(None);
            }
        }
    }
}
