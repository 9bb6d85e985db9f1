//! What must hold after the chaos: each task delivered or refunded exactly once, and in time;
//! no balance ever negative and each the sum of its events; one task per draft; the read side
//! equal to a replay; the hash chain verified.

use std::collections::HashMap;
use std::time::Duration;

use tokenbot_ledger::{
    Event, Ledger, StreamId, StreamVersion, TaskId, TaskStatus, hash_chain, verify,
};
use tokenbot_projections::Projection;
use tokenbot_projections::rebuild::diff;
use tokenbot_testkit::TestDatabase;

use crate::common::pipeline::Pipeline;
use crate::common::{last_cursor, reached, user};

/// How the tasks ended.
#[derive(Default, Debug)]
pub struct Outcomes {
    pub tasks: usize,
    pub delivered: usize,
    pub refunded: usize,
}

/// Waits for every task to end, then checks that it ended once: delivered with no refund, or
/// failed with exactly one.
pub async fn every_task_settled(p: &Pipeline, violations: &mut Vec<String>) -> Outcomes {
    let client = p.t.db.pool().get().await.expect("client");
    let tasks: Vec<uuid::Uuid> = client
        .query(
            "SELECT (data->>'task_id')::uuid FROM ledger.events WHERE event_type = 'TaskRequested'",
            &[],
        )
        .await
        .expect("tasks")
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop(client);
    let mut o = Outcomes {
        tasks: tasks.len(),
        ..Default::default()
    };
    for t in tasks {
        let task = p.final_state(TaskId::from_uuid(t)).await;
        let refunds = p
            .refunds_of(task.request.task_id, task.request.telegram_id)
            .await;
        match (task.status, refunds) {
            (TaskStatus::Delivered, 0) => o.delivered += 1,
            (TaskStatus::Failed, 1) => o.refunded += 1,
            (status, n) => violations.push(format!("task {t}: {status:?} with {n} refunds")),
        }
    }
    o
}

/// How long the tasks took, from the ledger's own timestamps.
#[derive(Debug, Default)]
pub struct Timing {
    /// `TaskRequested` -> first `TaskStarted`.
    pub pickup_p50: Duration,
    pub pickup_worst: Duration,
    /// `TaskRequested` -> `TaskDelivered` or `TaskFailed` (with its refund).
    pub settled_worst: Duration,
}

/// Every task must have settled within `bound` of its request.
pub async fn every_task_in_time(
    db: &TestDatabase,
    bound: Duration,
    violations: &mut Vec<String>,
) -> Timing {
    let client = db.pool().get().await.expect("client");
    let rows = client
        .query(
            "SELECT r.stream_id,
                    extract(epoch FROM (SELECT min(e.recorded_at) FROM ledger.events e
                        WHERE e.stream_id = r.stream_id AND e.event_type = 'TaskStarted')
                        - r.recorded_at)::float8,
                    extract(epoch FROM (SELECT min(e.recorded_at) FROM ledger.events e
                        WHERE e.stream_id = r.stream_id
                          AND e.event_type IN ('TaskDelivered', 'TaskFailed'))
                        - r.recorded_at)::float8
             FROM ledger.events r WHERE r.event_type = 'TaskRequested' ORDER BY r.position",
            &[],
        )
        .await
        .expect("task timings");
    let mut pickups = Vec::new();
    let mut timing = Timing::default();
    for row in rows {
        let stream: String = row.get(0);
        let started: Option<f64> = row.get(1);
        let settled: Option<f64> = row.get(2);
        if std::env::var("CHAOS_DEBUG").is_ok() {
            eprintln!(
                "{stream}: pickup {started:?} s, settled {settled:?} s: {}",
                history(&client, &stream).await
            );
        }
        if let Some(s) = started {
            pickups.push(Duration::from_secs_f64(s.max(0.0)));
        }
        match settled.map(|s| Duration::from_secs_f64(s.max(0.0))) {
            Some(took) if took <= bound => {
                timing.settled_worst = timing.settled_worst.max(took);
            }
            Some(took) => {
                timing.settled_worst = timing.settled_worst.max(took);
                violations.push(format!(
                    "{stream} settled {:.1} s after its request (bound {:.1} s): {}",
                    took.as_secs_f64(),
                    bound.as_secs_f64(),
                    history(&client, &stream).await
                ));
            }
            None => violations.push(format!("{stream} never settled")),
        }
    }
    pickups.sort();
    timing.pickup_worst = pickups.last().copied().unwrap_or_default();
    timing.pickup_p50 = pickups.get(pickups.len() / 2).copied().unwrap_or_default();
    timing
}

/// A task's events with their time after the request, and the errors they carry.
async fn history(client: &tokio_postgres::Client, stream: &str) -> String {
    let rows = client
        .query(
            "SELECT event_type, coalesce(data->>'error', ''),
                    extract(epoch FROM recorded_at - min(recorded_at) OVER ())::float8
             FROM ledger.events WHERE stream_id = $1 ORDER BY stream_version",
            &[&stream],
        )
        .await
        .expect("task history");
    rows.iter()
        .map(|r| {
            let (kind, error, at): (String, String, f64) = (r.get(0), r.get(1), r.get(2));
            format!("{at:.2} {kind} {error}").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// No negative balance, and each balance is what its events say.
pub async fn balances_add_up(ledger: &Ledger, users: &[i64], violations: &mut Vec<String>) {
    for &id in users {
        let Some((account, _)) = ledger.account(user(id)).await.expect("read") else {
            continue;
        };
        let events = ledger
            .store()
            .read_stream(&StreamId::account(user(id)), StreamVersion(1), 100_000)
            .await
            .expect("stream");
        let mut sum: i64 = 0;
        for e in events {
            match e.event {
                Event::TokensGranted(g) => sum += g.amount.get() as i64,
                Event::TokensDebited(d) => sum -= d.amount.get() as i64,
                Event::TokensRefunded(r) => sum += r.amount.get() as i64,
                _ => {}
            }
            if sum < 0 {
                violations.push(format!("user {id} went negative"));
            }
        }
        if sum != account.balance.get() as i64 {
            violations.push(format!(
                "user {id}: balance {} but events sum to {sum}",
                account.balance
            ));
        }
    }
}

/// One task per draft, however often its confirm arrived; one refund per task at most.
pub async fn nothing_twice(db: &TestDatabase, violations: &mut Vec<String>) {
    let client = db.pool().get().await.expect("client");
    let dup_drafts: i64 = client
        .query_one(
            "SELECT count(*) FROM (SELECT metadata->>'idempotency_key' FROM ledger.events
             WHERE event_type = 'TaskRequested' GROUP BY 1 HAVING count(*) > 1) d",
            &[],
        )
        .await
        .expect("drafts")
        .get(0);
    if dup_drafts > 0 {
        violations.push(format!("{dup_drafts} drafts created more than one task"));
    }
    let by_task: HashMap<String, i64> = client
        .query(
            "SELECT data->>'task_id', count(*) FROM ledger.events
             WHERE event_type = 'TokensRefunded' GROUP BY 1",
            &[],
        )
        .await
        .expect("refunds")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    violations.extend(
        by_task
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(t, n)| format!("task {t} refunded {n} times")),
    );
}

/// The read side equals a replay, and the chain verifies; returns the number of events.
pub async fn read_side_and_chain(
    p: &Pipeline,
    ledger: &Ledger,
    violations: &mut Vec<String>,
) -> u64 {
    let target = last_cursor(&p.t.db).await;
    let mut projected = p.projected.clone();
    reached(&mut projected, target, "projector").await;
    for projection in Projection::ALL {
        let report = diff(ledger.store().database(), projection, |_| {})
            .await
            .expect("diff");
        if !report.differences.is_empty() {
            violations.push(format!(
                "projection {} differs from replay in {} rows",
                projection.name(),
                report.differences.len()
            ));
        }
    }
    hash_chain::seal_all(ledger.store()).await.expect("seal");
    let report = verify::verify(ledger.store(), |_| {})
        .await
        .expect("verify");
    if let Some(v) = report.violation {
        violations.push(format!("ledger verify: {v:?}"));
    }
    report.events
}
