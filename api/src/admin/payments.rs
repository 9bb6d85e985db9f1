//! `GET /admin/payments` (paid purchases, newest first, paged, from the read pool with the event
//! they are as of) and
//! `POST /admin/payments/{charge_id}/refund`: the purchase paid with that charge refunded in the
//! ledger (its tokens taken back; refused when they are spent), then its Stars returned through
//! Telegram. Repeating a refund is safe.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tokenbot_ledger::{Actor, CommandContext, DomainError, LedgerError};
use tokenbot_projections::as_of::AsOf;
use tokenbot_projections::payment_queries::{self, DayRevenue};
use tokenbot_projections::purchases::PurchaseRow;
use utoipa::{IntoParams, ToSchema};

use crate::auth::AdminName;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, ChargePath};
use crate::params::{PageLimit, Start};
use crate::snapshot::ReadClient;
use crate::state::AdminState;

/// `?page=&limit=&telegram_id=` of the payments list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentsQuery {
    /// Page number, from 1 (default 1).
    #[serde(default)]
    #[param(value_type = Option<i64>, minimum = 1)]
    pub page: Start,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: PageLimit,
    /// Only this user's payments.
    #[serde(default)]
    pub telegram_id: Option<i64>,
}

/// A page of payments, and the purchases of the last days.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentsPage {
    /// Paid purchases, newest first (`charge_id` and `paid_at` are set on each).
    pub payments: Vec<PurchaseRow>,
    /// Pass as `page` for the next page; null on the last page.
    pub next_page: Option<i64>,
    /// The last 30 days with purchases, newest first.
    pub by_day: Vec<DayRevenue>,
    /// The read models' checkpoint this page is as of (a refund decides on the primary).
    pub as_of: AsOf,
}

/// Payments in Telegram Stars, newest first.
#[utoipa::path(get, path = "/admin/payments", tag = "admin",
    params(PaymentsQuery),
    responses((status = 200, body = PaymentsPage), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("admin_key" = [])))]
pub async fn payments(
    ApiQuery(q): ApiQuery<PaymentsQuery>,
    mut read: ReadClient,
) -> Result<Json<PaymentsPage>, ApiError> {
    let limit = q.limit.get_i64();
    let page = q.page.get_i64();
    let offset = (page - 1).saturating_mul(limit);
    let snapshot = read.snapshot().await?;
    let (payments, more) =
        payment_queries::payments_page(snapshot.client(), q.telegram_id, offset, limit).await?;
    let by_day = payment_queries::purchases_by_day(snapshot.client(), 30).await?;
    let as_of = snapshot.as_of().await?;
    Ok(Json(PaymentsPage {
        payments,
        next_page: more.then_some(page + 1),
        by_day,
        as_of,
    }))
}

/// What a refund did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundResponse {
    /// The charge refunded.
    pub charge_id: String,
    /// Whose.
    pub telegram_id: i64,
    /// Stars returned.
    pub stars: u32,
    /// Tokens taken back.
    pub tokens: u64,
    /// The user's balance after.
    pub balance_after: u64,
    /// True when it had been refunded before (nothing was taken this time).
    pub already_refunded: bool,
}

/// Refunds a payment: takes its tokens back and returns its Stars. Refused (409) when the tokens
/// are spent; a repeat answers the first refund.
#[utoipa::path(post, path = "/admin/payments/{charge_id}/refund", tag = "admin",
    params(("charge_id" = String, Path, description = "telegram_payment_charge_id")),
    responses((status = 200, body = RefundResponse), (status = 400, body = Problem),
              (status = 404, body = Problem),
              (status = 409, description = "the tokens are spent: nothing was refunded", body = Problem),
              (status = 502, description = "the tokens were taken back but Telegram did not return the Stars: repeat the request", body = Problem),
              (status = 503, description = "no BOT_TOKEN to return Stars with (nothing written), or Postgres unavailable", body = Problem)),
    security(("admin_key" = [])))]
pub async fn refund(
    State(state): State<AdminState>,
    Extension(admin): Extension<AdminName>,
    ChargePath(charge): ChargePath,
) -> Result<Json<RefundResponse>, ApiError> {
    let Some(return_stars) = state.inner.return_stars.get().cloned() else {
        return Err(ApiError::unavailable(
            "this process has no BOT_TOKEN, so it cannot return Stars; nothing was refunded",
        ));
    };
    let ctx = CommandContext::new(Actor::Admin {
        telegram_id: None,
        via: "http".into(),
        name: Some(admin.as_str().to_string()),
    });
    let reason = format!("refund by admin {} through the API", admin.as_str());
    let refund = match state
        .inner
        .ledger
        .refund_purchase(&ctx, &charge, reason)
        .await
    {
        Ok(done) => done.value,
        Err(LedgerError::Domain(DomainError::PaymentNotFound(_))) => {
            return Err(ApiError::not_found(format!(
                "no payment with charge id {charge}"
            )));
        }
        Err(e @ LedgerError::Domain(DomainError::PurchaseTokensSpent { .. })) => {
            return Err(ApiError::conflict(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = return_stars(refund.clone()).await {
        tracing::error!(error = %e, %charge, "refunded in the ledger, Stars not returned");
        return Err(ApiError::bad_gateway(
            "stars-not-returned",
            "Stars not returned",
            format!(
                "the tokens were taken back but Telegram did not return the Stars: {e}; repeat \
                 the request (the tokens are not taken twice)"
            ),
        ));
    }
    Ok(Json(RefundResponse {
        charge_id: refund.charge.to_string(),
        telegram_id: refund.telegram_id.get(),
        stars: refund.stars.get(),
        tokens: refund.tokens.get(),
        balance_after: refund.balance_after.get(),
        already_refunded: refund.already,
    }))
}
