//! Read model "tasks": one row per task, from the task streams only. Status names are the
//! original's (pending, processing, done, failed) plus `succeeded` (generated, being delivered).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokenbot_ledger::{Event, RecordedEvent};
use uuid::Uuid;

use crate::error::ProjectionError;

/// A `projections.tasks` row: what the projector writes, and what the bot's profile and the
/// read queries show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// The task id.
    pub task_id: Uuid,
    /// Whose task.
    pub telegram_id: i64,
    /// `generate` or `edit`.
    pub kind: String,
    /// `pending`, `processing`, `succeeded`, `done` or `failed`.
    pub status: String,
    /// What the user asked for.
    pub prompt: String,
    /// The image model.
    pub model: String,
    /// Image quality.
    pub quality: String,
    /// Image size.
    pub size: String,
    /// Tokens debited for it.
    pub cost: i64,
    /// Tokens refunded for it.
    pub refunded: i64,
    /// Attempts started.
    pub attempts: i32,
    /// The last attempt's error, if any.
    pub last_error: Option<String>,
    /// The template it came from, if any.
    pub template_id: Option<String>,
    /// Telegram's file id of the photo to edit, for edits.
    pub source_file_id: Option<String>,
    /// Telegram's file id of the result, once delivered.
    pub result_file_id: Option<String>,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
    /// When it reached `done` or `failed`.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The columns of [`TaskRow::from_row`], in its order.
pub(crate) const COLUMNS: &str = "task_id, telegram_id, kind, status, prompt, model, quality, size, cost, refunded, attempts, \
     last_error, template_id, source_file_id, result_file_id, created_at, updated_at, finished_at";

impl TaskRow {
    /// A row selected as [`COLUMNS`], in that order.
    pub(crate) fn from_row(r: &tokio_postgres::Row) -> Result<TaskRow, tokio_postgres::Error> {
        Ok(TaskRow {
            task_id: r.try_get(0)?,
            telegram_id: r.try_get(1)?,
            kind: r.try_get(2)?,
            status: r.try_get(3)?,
            prompt: r.try_get(4)?,
            model: r.try_get(5)?,
            quality: r.try_get(6)?,
            size: r.try_get(7)?,
            cost: r.try_get(8)?,
            refunded: r.try_get(9)?,
            attempts: r.try_get(10)?,
            last_error: r.try_get(11)?,
            template_id: r.try_get(12)?,
            source_file_id: r.try_get(13)?,
            result_file_id: r.try_get(14)?,
            created_at: r.try_get(15)?,
            updated_at: r.try_get(16)?,
            finished_at: r.try_get(17)?,
        })
    }
}

pub(crate) fn key(e: &RecordedEvent) -> Option<Uuid> {
    e.stream_id.task_id().map(|t| t.as_uuid())
}

pub(crate) async fn load(
    client: &impl GenericClient,
    schema: &str,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, TaskRow>, ProjectionError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM {schema}.tasks WHERE task_id = ANY($1)"),
            &[&ids],
        )
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let row = TaskRow::from_row(&r)?;
        out.insert(row.task_id, row);
    }
    Ok(out)
}

pub(crate) fn apply(
    rows: &mut HashMap<Uuid, TaskRow>,
    e: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let Some(id) = key(e) else { return Ok(()) };
    let at = e.recorded_at;
    if let Event::TaskRequested(r) = &e.event {
        rows.insert(
            id,
            TaskRow {
                task_id: id,
                telegram_id: i64::from(r.telegram_id),
                kind: r.kind.as_str().into(),
                status: "pending".into(),
                prompt: r.prompt.as_str().into(),
                model: r.model.as_str().into(),
                quality: r.quality.as_str().into(),
                size: r.size.as_str().into(),
                cost: i64::from(r.cost),
                refunded: 0,
                attempts: 0,
                last_error: None,
                template_id: r.template_id.clone(),
                source_file_id: r.source_file_id.clone(),
                result_file_id: None,
                created_at: at,
                updated_at: at,
                finished_at: None,
            },
        );
        return Ok(());
    }
    let row = rows
        .get_mut(&id)
        .ok_or_else(|| ProjectionError::Inconsistent {
            position: e.position.0,
            detail: format!("{} for task {id} which has no row", e.event.event_type()),
        })?;
    row.updated_at = at;
    match &e.event {
        Event::TaskStarted(s) => {
            row.status = "processing".into();
            row.attempts = i32::try_from(s.attempt).unwrap_or(i32::MAX);
        }
        Event::TaskAttemptFailed(f) => {
            row.status = "pending".into();
            row.last_error = Some(f.error.clone());
        }
        Event::TaskSucceeded(_) => row.status = "succeeded".into(),
        Event::TaskDelivered(d) => {
            row.status = "done".into();
            row.result_file_id = Some(d.telegram_file_id.clone());
            row.finished_at = Some(at);
        }
        Event::TaskFailed(f) => {
            row.status = "failed".into();
            row.last_error = Some(f.error.clone());
            row.finished_at = Some(at);
        }
        Event::TaskRefunded(r) => row.refunded += i64::from(r.amount),
        _ => {}
    }
    Ok(())
}

pub(crate) async fn store(
    client: &impl GenericClient,
    schema: &str,
    rows: &[&TaskRow],
) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO {schema}.tasks ({COLUMNS}) \
         SELECT * FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                              $8::text[], $9::int8[], $10::int8[], $11::int4[], $12::text[], $13::text[], $14::text[], \
                              $15::text[], $16::timestamptz[], $17::timestamptz[], $18::timestamptz[]) \
         ON CONFLICT (task_id) DO UPDATE SET status = EXCLUDED.status, refunded = EXCLUDED.refunded, \
           attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, \
           result_file_id = EXCLUDED.result_file_id, updated_at = EXCLUDED.updated_at, \
           finished_at = EXCLUDED.finished_at"
    );
    client
        .execute(
            &sql,
            &[
                &column!(rows, task_id),
                &column!(rows, telegram_id),
                &column!(rows, kind),
                &column!(rows, status),
                &column!(rows, prompt),
                &column!(rows, model),
                &column!(rows, quality),
                &column!(rows, size),
                &column!(rows, cost),
                &column!(rows, refunded),
                &column!(rows, attempts),
                &column!(rows, last_error),
                &column!(rows, template_id),
                &column!(rows, source_file_id),
                &column!(rows, result_file_id),
                &column!(rows, created_at),
                &column!(rows, updated_at),
                &column!(rows, finished_at),
            ],
        )
        .await?;
    Ok(())
}
