//! `GET /admin/stats` and `GET /admin/queue`: the whole system at a glance, from the read pool
//! (a replica when `READ_DATABASE_URL` is set), each answer saying which event it is as of.

use axum::Json;
use tokenbot_projections::as_of::AsOf;
use tokenbot_projections::queries::{self, Queue, Stats};
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::snapshot::ReadClient;

/// The original's counters, plus the event they are as of.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct StatsResponse {
    /// The original's fields, unchanged.
    #[serde(flatten)]
    pub stats: Stats,
    /// The read models' checkpoint these counters are as of.
    pub as_of: AsOf,
}

/// The original's counters, from the read models.
#[utoipa::path(get, path = "/admin/stats", tag = "admin",
    responses((status = 200, body = StatsResponse), (status = 401, body = Problem)),
    security(("admin_key" = [])))]
pub async fn stats(mut read: ReadClient) -> Result<Json<StatsResponse>, ApiError> {
    let snapshot = read.snapshot().await?;
    let stats = queries::stats(snapshot.client(), chrono::Utc::now()).await?;
    let as_of = snapshot.as_of().await?;
    Ok(Json(StatsResponse { stats, as_of }))
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
    /// The read models' checkpoint these counts are as of.
    pub as_of: AsOf,
}

impl QueueResponse {
    fn new(q: Queue, as_of: AsOf) -> Self {
        Self {
            queue_name: "tasks",
            pending_jobs: q.pending,
            failed_jobs: q.failed,
            finished_jobs: q.done,
            processing: q.processing,
            succeeded: q.succeeded,
            oldest_pending_age_s: q.oldest_pending_age_s,
            as_of,
        }
    }
}

/// The task queue by status.
#[utoipa::path(get, path = "/admin/queue", tag = "admin",
    responses((status = 200, body = QueueResponse), (status = 401, body = Problem)),
    security(("admin_key" = [])))]
pub async fn queue(mut read: ReadClient) -> Result<Json<QueueResponse>, ApiError> {
    let snapshot = read.snapshot().await?;
    let queue = queries::queue(snapshot.client(), chrono::Utc::now()).await?;
    let as_of = snapshot.as_of().await?;
    Ok(Json(QueueResponse::new(queue, as_of)))
}
