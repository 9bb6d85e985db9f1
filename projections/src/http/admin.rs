//! `/admin/*` handlers: extract, call the ledger or a query, map to JSON. Nothing else.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokenbot_ledger::{Actor, CommandContext, GrantKind, IdempotencyKey, TelegramId, Tokens};
use utoipa::ToSchema;

use super::AdminState;
use super::error::ApiError;
use crate::queries::{self, LedgerEntry, Stats};

/// Longest grant reason kept.
const MAX_REASON_CHARS: usize = 500;
/// Largest page of ledger history.
const MAX_PAGE: i64 = 1000;

fn telegram_id(raw: &str) -> Result<TelegramId, ApiError> {
    raw.parse::<TelegramId>()
        .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "telegram_id", e.to_string()))
}

#[utoipa::path(get, path = "/admin/stats", tag = "admin",
    responses((status = 200, body = Stats), (status = 401, body = super::error::Problem)),
    security(("admin_key" = [])))]
pub async fn stats(State(state): State<AdminState>) -> Result<Json<Stats>, ApiError> {
    let client = state.inner.pool.get().await?;
    Ok(Json(queries::stats(&client, chrono::Utc::now()).await?))
}

/// The original's queue fields, plus the ledger's finer statuses.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueResponse {
    pub queue_name: &'static str,
    pub pending_jobs: i64,
    pub failed_jobs: i64,
    pub finished_jobs: i64,
    pub processing: i64,
    pub succeeded: i64,
    pub oldest_pending_age_s: Option<f64>,
}

#[utoipa::path(get, path = "/admin/queue", tag = "admin",
    responses((status = 200, body = QueueResponse), (status = 401, body = super::error::Problem)),
    security(("admin_key" = [])))]
pub async fn queue(State(state): State<AdminState>) -> Result<Json<QueueResponse>, ApiError> {
    let client = state.inner.pool.get().await?;
    let q = queries::queue(&client, chrono::Utc::now()).await?;
    Ok(Json(QueueResponse {
        queue_name: "tasks",
        pending_jobs: q.pending,
        failed_jobs: q.failed,
        finished_jobs: q.done,
        processing: q.processing,
        succeeded: q.succeeded,
        oldest_pending_age_s: q.oldest_pending_age_s,
    }))
}

/// The original's user fields (counts over all tasks, not the last 100).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: i64,
    pub telegram_id: i64,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub tokens: i64,
    pub selected_model: String,
    pub image_quality: String,
    pub image_size: String,
    pub created_at: Option<String>,
    pub tasks_count: i64,
    pub tasks_done: i64,
    pub tasks_failed: i64,
}

#[utoipa::path(get, path = "/admin/users/{telegram_id}", tag = "admin",
    params(("telegram_id" = i64, Path, description = "Telegram user id")),
    responses((status = 200, body = UserResponse), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)),
    security(("admin_key" = [])))]
pub async fn user(
    State(state): State<AdminState>,
    Path(raw): Path<String>,
) -> Result<Json<UserResponse>, ApiError> {
    let id = telegram_id(&raw)?;
    let client = state.inner.pool.get().await?;
    let u = queries::user(&client, id.get())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))?;
    let default_model = state
        .inner
        .ledger
        .config()
        .default_model()
        .map(|m| m.to_string())
        .unwrap_or_default();
    Ok(Json(UserResponse {
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
        tasks_done: u.tasks_done,
        tasks_failed: u.tasks_failed,
    }))
}

/// Documentation of the grant body; the handler parses it by hand to name the bad field.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantRequest {
    /// A positive whole number of tokens.
    pub amount: u64,
    /// Why (kept in the ledger; at most 500 characters).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantResponse {
    pub telegram_id: i64,
    pub old_balance: u64,
    pub added: u64,
    pub new_balance: u64,
}

fn parse_grant(body: &[u8]) -> Result<(Tokens, Option<String>), ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let object = value.as_object().ok_or_else(|| {
        ApiError::bad_request("the body must be a JSON object like {\"amount\": 1000}")
    })?;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let amount = match object.get("amount") {
        None => return Err(ApiError::field(unprocessable, "amount", "is required")),
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(0) => return Err(ApiError::field(unprocessable, "amount", "must be positive")),
            Some(a) => Tokens::new(a)
                .map_err(|e| ApiError::field(unprocessable, "amount", e.to_string()))?,
            None if n.as_i64().is_some() => {
                return Err(ApiError::field(unprocessable, "amount", "must be positive"));
            }
            None => {
                return Err(ApiError::field(
                    unprocessable,
                    "amount",
                    "must be a whole number",
                ));
            }
        },
        Some(_) => {
            return Err(ApiError::field(
                unprocessable,
                "amount",
                "must be a whole number, not a string or other value",
            ));
        }
    };
    let reason = match object.get("reason") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.chars().count() <= MAX_REASON_CHARS => {
            Some(s.trim().to_string()).filter(|s| !s.is_empty())
        }
        Some(serde_json::Value::String(_)) => {
            return Err(ApiError::field(
                unprocessable,
                "reason",
                format!("at most {MAX_REASON_CHARS} characters"),
            ));
        }
        Some(_) => return Err(ApiError::field(unprocessable, "reason", "must be a string")),
    };
    Ok((amount, reason))
}

#[utoipa::path(post, path = "/admin/users/{telegram_id}/tokens", tag = "admin",
    params(("telegram_id" = i64, Path, description = "Telegram user id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key: a repeat returns the first result")),
    request_body = GrantRequest,
    responses((status = 200, body = GrantResponse), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem),
              (status = 422, body = super::error::Problem),
              (status = 503, description = "Postgres unavailable (nothing written), or the outcome could not be learned (`outcome-unknown`: retry with the same Idempotency-Key)", body = super::error::Problem)),
    security(("admin_key" = [])))]
pub async fn grant(
    State(state): State<AdminState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = telegram_id(&raw)?;
    let (amount, reason) = parse_grant(&body)?;
    let mut ctx = CommandContext::new(Actor::Admin {
        telegram_id: None,
        via: "http".into(),
    });
    if let Some(key) = headers.get("idempotency-key") {
        let key = key
            .to_str()
            .ok()
            .and_then(|k| IdempotencyKey::derived("admin-http", k).ok())
            .ok_or_else(|| {
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "Idempotency-Key",
                    "1 to 180 printable ASCII characters",
                )
            })?;
        ctx = ctx.with_key(key);
    }
    let done = state
        .inner
        .ledger
        .grant(&ctx, id, amount, GrantKind::Admin, reason)
        .await?;
    let body = GrantResponse {
        telegram_id: id.get(),
        old_balance: done.value.balance_before.get(),
        added: done.value.amount.get(),
        new_balance: done.value.balance_after.get(),
    };
    let mut response = Json(body).into_response();
    if done.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerPage {
    pub telegram_id: i64,
    pub events: Vec<LedgerEntry>,
    /// Pass as `from_version` for the next page; null on the last page.
    pub next_from_version: Option<i64>,
}

fn page_param(
    params: &HashMap<String, String>,
    name: &str,
    default: i64,
    max: i64,
) -> Result<i64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|v| (1..=max).contains(v))
            .ok_or_else(|| {
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    name,
                    format!("a whole number from 1 to {max}"),
                )
            }),
    }
}

#[utoipa::path(get, path = "/admin/users/{telegram_id}/ledger", tag = "admin",
    params(("telegram_id" = i64, Path, description = "Telegram user id"),
           ("from_version" = Option<i64>, Query, description = "First stream version (default 1)"),
           ("limit" = Option<i64>, Query, description = "Page size, 1..=1000 (default 100)")),
    responses((status = 200, body = LedgerPage), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)),
    security(("admin_key" = [])))]
pub async fn ledger(
    State(state): State<AdminState>,
    Path(raw): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<LedgerPage>, ApiError> {
    let id = telegram_id(&raw)?;
    let from = page_param(&params, "from_version", 1, i64::MAX)?;
    let limit = page_param(&params, "limit", 100, MAX_PAGE)?;
    let client = state.inner.pool.get().await?;
    let (events, next) = queries::ledger_page(&client, id.get(), from, limit).await?;
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

/// One signed checkpoint of the hash chain's head (see `docs/auditing.md`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointEntry {
    /// Its place on the checkpoint stream: pass the last one + 1 as `from`.
    pub stream_seq: u64,
    /// Chain `seq` of the head: this many events were sealed.
    pub seq: u64,
    /// `ledger.events.position` of the event at `seq`.
    pub position: i64,
    pub tx_id: u64,
    /// Hex of the chain's hash at `seq`.
    pub head_hash: String,
    /// RFC 3339, microseconds.
    pub signed_at: String,
    /// Hex of the Ed25519 key that signed it.
    pub public_key: String,
    /// Hex of the Ed25519 signature.
    pub signature: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointPage {
    pub checkpoints: Vec<CheckpointEntry>,
    /// Pass as `from` for the next page; null on the last page.
    pub next_from: Option<u64>,
}

#[utoipa::path(get, path = "/admin/ledger/checkpoints", tag = "admin",
    params(("from" = Option<u64>, Query, description = "First checkpoint stream sequence (default 1)"),
           ("limit" = Option<i64>, Query, description = "Page size, 1..=1000 (default 100)")),
    responses((status = 200, body = CheckpointPage), (status = 400, body = super::error::Problem),
              (status = 503, body = super::error::Problem)),
    security(("admin_key" = [])))]
pub async fn checkpoints(
    State(state): State<AdminState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<CheckpointPage>, ApiError> {
    let from = page_param(&params, "from", 1, i64::MAX)?;
    let limit = page_param(&params, "limit", 100, MAX_PAGE)?;
    let Some((js, bus)) = state.inner.checkpoints.get() else {
        return Err(ApiError::unavailable(
            "this process serves no checkpoints (it has no NATS connection)",
        ));
    };
    let (page, next) = tokenbot_ledger::checkpoint::read_page(
        js,
        bus,
        u64::try_from(from).unwrap_or(1),
        usize::try_from(limit).unwrap_or(100),
    )
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let checkpoints = page
        .into_iter()
        .map(|(stream_seq, c)| CheckpointEntry {
            stream_seq,
            seq: c.seq,
            position: c.position,
            tx_id: c.tx_id,
            head_hash: hex::encode(c.head_hash),
            signed_at: c
                .signed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            public_key: hex::encode(c.public_key),
            signature: hex::encode(c.signature),
        })
        .collect();
    Ok(Json(CheckpointPage {
        checkpoints,
        next_from: next,
    }))
}
