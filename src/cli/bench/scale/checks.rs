//! What must hold after the scenario, each failure a line in the report's violations: the
//! stream carries every event once, in the global order; every paid task ended once (delivered,
//! or failed with one refund) within the bound; no balance was ever negative; the projections
//! equal a replay; `ledger verify` finds nothing.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokenbot_ledger::bus::{BusConfig, decode};
use tokenbot_ledger::{Ledger, LogCursor, hash_chain, verify};
use tokenbot_projections::rebuild::diff;
use tokenbot_projections::runtime::checkpoints;
use tokenbot_projections::{LIVE_SCHEMA, Projection};

/// The stream against the log.
#[derive(Debug, Default, Clone, Serialize)]
pub struct StreamCheck {
    /// Messages on the stream.
    pub messages: u64,
    /// Events in the log.
    pub events: u64,
    /// Messages whose `Ledger-Prev` is not the message before them.
    pub gaps: u64,
    /// Events on the stream more than once.
    pub duplicates: u64,
    /// Copies JetStream keeps (its leader and replicas) of the stream and of the durable
    /// consumers `worker` and `projector`, which inherit the stream's replicas.
    pub copies: Vec<(String, usize)>,
}

/// How the paid tasks ended.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TaskCheck {
    /// `TaskRequested` events.
    pub requested: u64,
    /// Delivered, with no refund.
    pub delivered: u64,
    /// Failed, with one refund.
    pub refunded: u64,
    /// From `TaskRequested` to `TaskDelivered` or `TaskFailed`, the slowest, in seconds.
    pub slowest_settle_s: f64,
}

/// Reads the whole stream in order (an ordered consumer) and holds it against the log.
pub async fn stream(
    js: &async_nats::jetstream::Context,
    bus: &BusConfig,
    ledger: &Ledger,
    violations: &mut Vec<String>,
) -> anyhow::Result<StreamCheck> {
    let client = ledger.store().database().pool().get().await?;
    let events: i64 = client
        .query_one("SELECT count(*) FROM ledger.events", &[])
        .await?
        .try_get(0)?;
    drop(client);
    let stream = js.get_stream(&bus.stream).await?;
    let info = stream.get_info().await?;
    let messages = info.state.messages;
    let copies_of = |c: &Option<async_nats::jetstream::stream::ClusterInfo>| {
        c.as_ref().map_or(1, |c| 1 + c.replicas.len())
    };
    let mut copies = vec![(bus.stream.clone(), copies_of(&info.cluster))];
    for name in ["worker", "projector"] {
        let consumer = stream.consumer_info(name).await?;
        copies.push((name.to_string(), copies_of(&consumer.cluster)));
    }
    for (name, n) in &copies {
        if *n != bus.replicas {
            violations.push(format!("{name} has {n} copies, not {}", bus.replicas));
        }
    }
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut feed = consumer.messages().await?;
    let mut check = StreamCheck {
        messages,
        events: events as u64,
        copies,
        ..Default::default()
    };
    let mut prev = LogCursor::START;
    let mut seen = HashSet::new();
    for _ in 0..messages {
        let m = tokio::time::timeout(Duration::from_secs(30), feed.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the stream ended early"))??;
        let e = decode(m.headers.as_ref(), &m.payload)?;
        if e.prev != prev {
            check.gaps += 1;
        }
        prev = e.event.cursor();
        if !seen.insert(e.event.event_id) {
            check.duplicates += 1;
        }
    }
    if check.gaps > 0 || check.duplicates > 0 || check.messages != check.events {
        violations.push(format!(
            "stream: {} messages for {} events, {} gaps, {} duplicates",
            check.messages, check.events, check.gaps, check.duplicates
        ));
    }
    Ok(check)
}

/// Each task ended once, within `bound` of its request.
pub async fn tasks(
    ledger: &Ledger,
    bound: Duration,
    violations: &mut Vec<String>,
) -> anyhow::Result<TaskCheck> {
    let client = ledger.store().database().pool().get().await?;
    let rows = client
        .query(
            "SELECT r.stream_id,
                    count(*) FILTER (WHERE e.event_type = 'TaskDelivered'),
                    count(*) FILTER (WHERE e.event_type = 'TaskFailed'),
                    (SELECT count(*) FROM ledger.events f WHERE f.event_type = 'TokensRefunded'
                        AND f.data->>'task_id' = r.data->>'task_id'),
                    extract(epoch FROM min(e.recorded_at) FILTER (WHERE e.event_type IN
                        ('TaskDelivered', 'TaskFailed')) - r.recorded_at)::float8
             FROM ledger.events r JOIN ledger.events e ON e.stream_id = r.stream_id
             WHERE r.event_type = 'TaskRequested'
             GROUP BY r.stream_id, r.data, r.recorded_at",
            &[],
        )
        .await?;
    let mut check = TaskCheck::default();
    for row in rows {
        let stream: String = row.try_get(0)?;
        let (delivered, failed, refunds): (i64, i64, i64) =
            (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let settled: Option<f64> = row.try_get(4)?;
        check.requested += 1;
        match (delivered, failed, refunds) {
            (1, 0, 0) => check.delivered += 1,
            (0, 1, 1) => check.refunded += 1,
            _ => violations.push(format!(
                "{stream}: {delivered} deliveries, {failed} failures, {refunds} refunds"
            )),
        }
        match settled {
            Some(s) => {
                check.slowest_settle_s = check.slowest_settle_s.max(s);
                if s > bound.as_secs_f64() {
                    violations.push(format!(
                        "{stream} settled {s:.1} s after its request (bound {:.1} s)",
                        bound.as_secs_f64()
                    ));
                }
            }
            None => violations.push(format!("{stream} never settled")),
        }
    }
    Ok(check)
}

/// Accounts whose balance went below zero at some event; returns how many.
pub async fn balances(ledger: &Ledger, violations: &mut Vec<String>) -> anyhow::Result<u64> {
    let client = ledger.store().database().pool().get().await?;
    let rows = client
        .query(
            "SELECT stream_id, min(running) FROM (
                 SELECT stream_id, sum(CASE event_type
                            WHEN 'TokensDebited' THEN -(data->>'amount')::bigint
                            ELSE (data->>'amount')::bigint END)
                        OVER (PARTITION BY stream_id ORDER BY stream_version) AS running
                 FROM ledger.events
                 WHERE stream_id LIKE 'account-%'
                   AND event_type IN ('TokensGranted', 'TokensDebited', 'TokensRefunded')
             ) r GROUP BY stream_id HAVING min(running) < 0",
            &[],
        )
        .await?;
    for row in &rows {
        let (stream, low): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
        violations.push(format!("{stream} went down to {low} tokens"));
    }
    Ok(rows.len() as u64)
}

/// Waits until every projection's checkpoint reached `target`; how long it took. The
/// projectors are other processes: their checkpoints are polled, with `limit` as the deadline.
pub async fn projections_reach(
    ledger: &Ledger,
    target: LogCursor,
    limit: Duration,
) -> anyhow::Result<Duration> {
    let started = std::time::Instant::now();
    let pool = ledger.store().database().pool().clone();
    tokio::time::timeout(limit, async {
        loop {
            let all = checkpoints(&pool.get().await?, LIVE_SCHEMA).await?;
            if Projection::ALL
                .iter()
                .all(|p| all.get(p).is_some_and(|c| *c >= target))
            {
                return anyhow::Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("the projections did not reach {target} within {limit:?}"))?
}

/// Rows in which the projections differ from a replay.
pub async fn projections(ledger: &Ledger, violations: &mut Vec<String>) -> anyhow::Result<u64> {
    let mut rows = 0;
    for projection in Projection::ALL {
        let report = diff(ledger.store().database(), projection, |_| {}).await?;
        if !report.differences.is_empty() {
            rows += report.differences.len() as u64;
            violations.push(format!(
                "projection {} differs from a replay in {} rows",
                projection.name(),
                report.differences.len()
            ));
        }
    }
    Ok(rows)
}

/// Seals what the relay has not sealed yet and runs `ledger verify`; the events it read.
pub async fn verify_ledger(ledger: &Ledger, violations: &mut Vec<String>) -> anyhow::Result<u64> {
    hash_chain::seal_all(ledger.store()).await?;
    let report = verify::verify(ledger.store(), |_| {}).await?;
    if let Some(v) = report.violation {
        violations.push(format!("ledger verify: {v:?}"));
    }
    Ok(report.events)
}
