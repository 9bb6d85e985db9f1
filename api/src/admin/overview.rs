//! `GET /admin/stats` and `GET /admin/queue`: the whole system at a glance.

use axum::Json;
use axum::extract::State;
use tokenbot_projections::queries::{self, Queue, Stats};
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::state::AdminState;

/// The original's counters, from the read models.
#[utoipa::path(get, path = "/admin/stats", tag = "admin",
    responses((status = 200, body = Stats), (status = 401, body = Problem)),
    security(("admin_key" = [])))]
pub async fn stats(State(state): State<AdminState>) -> Result<Json<Stats>, ApiError> {
    let client = state.inner.pool.get().await?;
    Ok(Json(queries::stats(&client, chrono::Utc::now()).await?))
}

/// The original's queue fields, plus the ledger's finer statuses.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct QueueResponse {
    /// Always `tasks`.
    pub queue_name: &'static str,
    /// Tasks requested and not yet started.
    pub pending_jobs: i64,
    /// Tasks that failed (and were refunded).
    pub failed_jobs: i64,
    /// Tasks delivered to the user.
    pub finished_jobs: i64,
    /// Tasks a worker is on.
    pub processing: i64,
    /// Tasks with a picture not yet delivered.
    pub succeeded: i64,
    /// Seconds the oldest pending task has waited; null when none waits.
    pub oldest_pending_age_s: Option<f64>,
}

impl From<Queue> for QueueResponse {
    fn from(q: Queue) -> Self {
        Self {
            queue_name: "tasks",
            pending_jobs: q.pending,
            failed_jobs: q.failed,
            finished_jobs: q.done,
            processing: q.processing,
            succeeded: q.succeeded,
            oldest_pending_age_s: q.oldest_pending_age_s,
        }
    }
}

/// The task queue by status.
#[utoipa::path(get, path = "/admin/queue", tag = "admin",
    responses((status = 200, body = QueueResponse), (status = 401, body = Problem)),
    security(("admin_key" = [])))]
pub async fn queue(State(state): State<AdminState>) -> Result<Json<QueueResponse>, ApiError> {
    let client = state.inner.pool.get().await?;
    let queue = queries::queue(&client, chrono::Utc::now()).await?;
    Ok(Json(queue.into()))
}
