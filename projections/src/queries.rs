//! Typed reads over the read models, shared by the admin HTTP API and the Telegram bot. No SQL
//! lives in handlers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ProjectionError;
use crate::payment_queries::{self, Revenue};
use crate::tasks::{COLUMNS as TASK_COLUMNS, TaskRow};
use crate::users::{self, UserRow};

/// The original's `/admin/stats` fields, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Stats {
    /// Accounts opened.
    pub total_users: i64,
    /// Tasks ever requested.
    pub total_tasks: i64,
    /// Only statuses that occur.
    pub tasks_by_status: BTreeMap<String, i64>,
    /// Tokens actually spent: debits minus refunds (the original also counted refunded tasks).
    pub total_tokens_spent: i64,
    /// Since UTC midnight.
    pub tasks_today: i64,
    /// Accounts opened since UTC midnight.
    pub users_today: i64,
    /// Users who registered, asked for a task or changed settings since UTC midnight.
    pub active_users_today: i64,
    /// Tasks per model, all time.
    pub model_usage: BTreeMap<String, i64>,
    /// What users paid in Telegram Stars (not in the original: it sold nothing).
    pub revenue: Revenue,
}

fn midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |m| m.and_utc())
}

/// The `/admin/stats` counters at `now` ("today" is since UTC midnight).
pub async fn stats(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Stats, ProjectionError> {
    let today = midnight(now);
    let totals = client
        .query_one(
            "SELECT (SELECT count(*) FROM projections.users), \
                    (SELECT count(*) FROM projections.tasks), \
                    (SELECT coalesce(sum(cost - refunded), 0)::int8 FROM projections.tasks), \
                    (SELECT count(*) FROM projections.tasks WHERE created_at >= $1), \
                    (SELECT count(*) FROM projections.users WHERE created_at >= $1), \
                    (SELECT count(*) FROM projections.users WHERE last_seen_at >= $1)",
            &[&today],
        )
        .await?;
    let by_status = client
        .query(
            "SELECT status, count(*) FROM projections.tasks GROUP BY status",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    let model_usage = client
        .query(
            "SELECT model, count(*) FROM projections.tasks GROUP BY model",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(Stats {
        total_users: totals.try_get(0)?,
        total_tasks: totals.try_get(1)?,
        tasks_by_status: by_status,
        total_tokens_spent: totals.try_get(2)?,
        tasks_today: totals.try_get(3)?,
        users_today: totals.try_get(4)?,
        active_users_today: totals.try_get(5)?,
        model_usage,
        revenue: payment_queries::revenue(client, today).await?,
    })
}

/// Tasks by status, for `/admin/queue`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Queue {
    /// Requested, not yet started.
    pub pending: i64,
    /// A worker is on them.
    pub processing: i64,
    /// Generated, delivery to Telegram under way.
    pub succeeded: i64,
    /// Delivered.
    pub done: i64,
    /// Failed and refunded.
    pub failed: i64,
    /// Age of the oldest task still waiting for a worker.
    pub oldest_pending_age_s: Option<f64>,
}

/// The queue at `now`.
pub async fn queue(
    client: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Queue, ProjectionError> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'processing'), \
                    count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'done'), \
                    count(*) FILTER (WHERE status = 'failed'), min(created_at) FILTER (WHERE status = 'pending') \
             FROM projections.tasks",
            &[],
        )
        .await?;
    let oldest: Option<DateTime<Utc>> = row.try_get(5)?;
    Ok(Queue {
        pending: row.try_get(0)?,
        processing: row.try_get(1)?,
        succeeded: row.try_get(2)?,
        done: row.try_get(3)?,
        failed: row.try_get(4)?,
        oldest_pending_age_s: oldest.map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0),
    })
}

/// One user as the read model holds them, with counts over all their tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    /// The user's row (balance, settings, totals).
    pub user: UserRow,
    /// Tasks delivered.
    pub tasks_done: i64,
    /// Tasks failed.
    pub tasks_failed: i64,
}

/// A user with task counts over all their tasks (the original counted only the last 10 or 100).
pub async fn user(
    client: &impl GenericClient,
    telegram_id: i64,
) -> Result<Option<UserView>, ProjectionError> {
    let columns = users::COLUMNS.split(',').count();
    let row = client
        .query_opt(
            &format!(
                "SELECT {}, \
                    (SELECT count(*) FROM projections.tasks t WHERE t.telegram_id = u.telegram_id AND t.status = 'done'), \
                    (SELECT count(*) FROM projections.tasks t WHERE t.telegram_id = u.telegram_id AND t.status = 'failed') \
                 FROM projections.users u WHERE u.telegram_id = $1",
                users::COLUMNS
            ),
            &[&telegram_id],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(UserView {
        user: UserRow::from_row(&r)?,
        tasks_done: r.try_get(columns)?,
        tasks_failed: r.try_get(columns + 1)?,
    }))
}

/// A user among those with the most tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TopUser {
    /// first_name, else username, else the Telegram id (the original's rule).
    pub name: String,
    /// The Telegram user id.
    pub telegram_id: i64,
    /// Tasks ever requested.
    pub tasks: i64,
}

/// The users with the most tasks, most first (`limit` clamped to 1..=100).
pub async fn top_users(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<TopUser>, ProjectionError> {
    let rows = client
        .query(
            "SELECT coalesce(first_name, username, telegram_id::text), telegram_id, tasks_total \
             FROM projections.users WHERE tasks_total > 0 ORDER BY tasks_total DESC, telegram_id LIMIT $1",
            &[&limit.clamp(1, 100)],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TopUser {
                name: r.try_get(0)?,
                telegram_id: r.try_get(1)?,
                tasks: r.try_get(2)?,
            })
        })
        .collect()
}

/// A user's newest tasks first.
pub async fn recent_tasks(
    client: &impl GenericClient,
    telegram_id: i64,
    limit: i64,
) -> Result<Vec<TaskRow>, ProjectionError> {
    let rows = client
        .query(
            &format!("SELECT {TASK_COLUMNS} FROM projections.tasks WHERE telegram_id = $1 ORDER BY created_at DESC LIMIT $2"),
            &[&telegram_id, &limit.clamp(1, 1000)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(TaskRow::from_row)
        .collect::<Result<_, _>>()?)
}

/// One task, only if it belongs to `telegram_id` (the original let anyone re-send anyone's, W25).
pub async fn owned_task(
    client: &impl GenericClient,
    telegram_id: i64,
    task_id: Uuid,
) -> Result<Option<TaskRow>, ProjectionError> {
    let row = client
        .query_opt(
            &format!("SELECT {TASK_COLUMNS} FROM projections.tasks WHERE task_id = $1 AND telegram_id = $2"),
            &[&task_id, &telegram_id],
        )
        .await?;
    Ok(row.as_ref().map(TaskRow::from_row).transpose()?)
}

/// One event of a user's ledger history, with its place in the hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LedgerEntry {
    /// Place in the global log (`ledger.events.position`).
    pub position: i64,
    /// Version in the account stream.
    pub version: i64,
    /// Place in the hash chain; null until sealed.
    pub seq: Option<i64>,
    /// Hex SHA-256 chain hash; null until sealed.
    pub hash: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The event type (`TokensGranted`, ...).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's payload.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Who caused it, correlation, idempotency key.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
}

/// A page of a user's account stream from `from_version`, plus where the next page starts.
pub async fn ledger_page(
    client: &impl GenericClient,
    telegram_id: i64,
    from_version: i64,
    limit: i64,
) -> Result<(Vec<LedgerEntry>, Option<i64>), ProjectionError> {
    let stream = format!("account-{telegram_id}");
    let rows = client
        .query(
            "SELECT e.position, e.stream_version, c.seq, c.hash, e.recorded_at, e.event_type, e.data, e.metadata \
             FROM ledger.events e LEFT JOIN ledger.chain c ON c.position = e.position \
             WHERE e.stream_id = $1 AND e.stream_version >= $2 ORDER BY e.stream_version LIMIT $3",
            &[&stream, &from_version, &(limit + 1)],
        )
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for r in &rows {
        let hash: Option<Vec<u8>> = r.try_get(3)?;
        entries.push(LedgerEntry {
            position: r.try_get(0)?,
            version: r.try_get(1)?,
            seq: r.try_get(2)?,
            hash: hash.map(hex::encode),
            recorded_at: r.try_get(4)?,
            event_type: r.try_get(5)?,
            data: r.try_get(6)?,
            metadata: r.try_get(7)?,
        });
    }
    let next = if entries.len() as i64 > limit {
        entries.pop().map(|e| e.version)
    } else {
        None
    };
    Ok((entries, next))
}
