//! `GET /admin/users/{telegram_id}` and `GET /admin/users/{telegram_id}/ledger`: one user as
//! the read model sees them (from the read pool, a replica when `READ_DATABASE_URL` is set, with
//! the event it is as of), and their account stream as the ledger holds it (the primary: the
//! history an admin checks before repeating a grant must include that grant).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tokenbot_projections::as_of::AsOf;
use tokenbot_projections::queries::{self, LedgerEntry, UserView};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, UserId};
use crate::params::{PageLimit, Start};
use crate::snapshot::ReadClient;
use crate::state::AdminState;

/// The original's user fields (counts over all tasks, not the last 100).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// The Telegram user id (the original's primary key was this too).
    pub id: i64,
    /// The Telegram user id.
    pub telegram_id: i64,
    /// Telegram `@username`, if any.
    pub username: Option<String>,
    /// Telegram first name, if any.
    pub first_name: Option<String>,
    /// The balance.
    pub tokens: i64,
    /// The chosen model, else the configured default.
    pub selected_model: String,
    /// `low`, `medium` or `high`.
    pub image_quality: String,
    /// `1024x1024`, `1024x1536` or `1536x1024`.
    pub image_size: String,
    /// When the account was opened (RFC 3339).
    pub created_at: Option<String>,
    /// Tasks ever requested.
    pub tasks_count: i64,
    /// Tasks delivered.
    pub tasks_done: i64,
    /// Tasks failed and refunded.
    pub tasks_failed: i64,
    /// The read models' checkpoint this user is as of.
    pub as_of: AsOf,
}

impl UserResponse {
    fn new(view: UserView, default_model: String, as_of: AsOf) -> Self {
        let u = view.user;
        Self {
            id: u.telegram_id,
            telegram_id: u.telegram_id,
            username: u.username,
            first_name: u.first_name,
            tokens: u.balance,
            selected_model: u.model.unwrap_or(default_model),
            image_quality: u.quality,
            image_size: u.size,
            created_at: Some(u.created_at.to_rfc3339()),
            tasks_count: u.tasks_total,
            tasks_done: view.tasks_done,
            tasks_failed: view.tasks_failed,
            as_of,
        }
    }
}

/// One user, from the read model.
#[utoipa::path(get, path = "/admin/users/{telegram_id}", tag = "admin",
    params(("telegram_id" = i64, Path, description = "Telegram user id")),
    responses((status = 200, body = UserResponse), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("admin_key" = [])))]
pub async fn user(
    State(state): State<AdminState>,
    UserId(id): UserId,
    mut read: ReadClient,
) -> Result<Json<UserResponse>, ApiError> {
    let snapshot = read.snapshot().await?;
    let user = queries::user(snapshot.client(), id.get()).await?;
    let as_of = snapshot.as_of().await?;
    // A user opened after the checkpoint is not there yet: the 404 says as of when.
    let user = user.ok_or_else(|| {
        ApiError::not_found(format!(
            "user {id} not found in the read models as of event {}",
            as_of.position
        ))
    })?;
    let config = state.inner.ledger.config();
    let default_model = config.default_model().map(|m| m.to_string());
    Ok(Json(UserResponse::new(
        user,
        default_model.unwrap_or_default(),
        as_of,
    )))
}

/// `?from_version=&limit=` of a ledger page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// First stream version (default 1).
    #[serde(default)]
    #[param(value_type = Option<i64>, minimum = 1)]
    pub from_version: Start,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: PageLimit,
}

/// A page of a user's account stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerPage {
    /// Whose stream.
    pub telegram_id: i64,
    /// The events, by stream version.
    pub events: Vec<LedgerEntry>,
    /// Pass as `from_version` for the next page; null on the last page.
    pub next_from_version: Option<i64>,
}

/// A user's ledger history, page by page.
#[utoipa::path(get, path = "/admin/users/{telegram_id}/ledger", tag = "admin",
    params(("telegram_id" = i64, Path, description = "Telegram user id"), LedgerQuery),
    responses((status = 200, body = LedgerPage), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("admin_key" = [])))]
pub async fn ledger(
    State(state): State<AdminState>,
    UserId(id): UserId,
    ApiQuery(page): ApiQuery<LedgerQuery>,
) -> Result<Json<LedgerPage>, ApiError> {
    let from = page.from_version.get_i64();
    let client = state.inner.pool.get().await?;
    let (events, next) =
        queries::ledger_page(&client, id.get(), from, page.limit.get_i64()).await?;
    if events.is_empty() && from == 1 {
        return Err(ApiError::not_found(format!(
            "user {id} has no ledger history"
        )));
    }
    Ok(Json(LedgerPage {
        telegram_id: id.get(),
        events,
        next_from_version: next,
    }))
}
