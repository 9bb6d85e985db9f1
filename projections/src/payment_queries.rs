//! Reads over `projections.purchases`: revenue in Stars and paying users (in `/admin/stats` and
//! the bot's `/stats`), purchases by day, and the payments page of `GET /admin/payments`.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ProjectionError;
use crate::purchases::{COLUMNS as PURCHASE_COLUMNS, PurchaseRow};

/// Money in: what users paid in Telegram Stars, net of refunds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Revenue {
    /// Stars of purchases paid and not refunded.
    pub stars: i64,
    /// Stars given back by refunds.
    pub stars_refunded: i64,
    /// Purchases paid (refunded ones included).
    pub purchases: i64,
    /// Purchases refunded.
    pub refunds: i64,
    /// Users with at least one purchase paid and not refunded.
    pub paying_users: i64,
    /// Stars of purchases paid since `today` and not refunded.
    pub stars_today: i64,
}

/// Revenue as of now; "today" starts at `today`.
pub async fn revenue(
    client: &impl GenericClient,
    today: DateTime<Utc>,
) -> Result<Revenue, ProjectionError> {
    let r = client
        .query_one(
            "SELECT coalesce(sum(stars) FILTER (WHERE status = 'paid'), 0)::int8, \
                    coalesce(sum(stars) FILTER (WHERE status = 'refunded'), 0)::int8, \
                    count(*) FILTER (WHERE paid_at IS NOT NULL), \
                    count(*) FILTER (WHERE status = 'refunded'), \
                    count(DISTINCT telegram_id) FILTER (WHERE status = 'paid'), \
                    coalesce(sum(stars) FILTER (WHERE status = 'paid' AND paid_at >= $1), 0)::int8 \
             FROM projections.purchases WHERE paid_at IS NOT NULL",
            &[&today],
        )
        .await?;
    Ok(Revenue {
        stars: r.try_get(0)?,
        stars_refunded: r.try_get(1)?,
        purchases: r.try_get(2)?,
        refunds: r.try_get(3)?,
        paying_users: r.try_get(4)?,
        stars_today: r.try_get(5)?,
    })
}

/// Paid purchases, newest first, `limit` from `offset`; only `telegram_id`'s when given. Also
/// whether more follow.
pub async fn payments_page(
    client: &impl GenericClient,
    telegram_id: Option<i64>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<PurchaseRow>, bool), ProjectionError> {
    let rows = client
        .query(
            &format!(
                "SELECT {PURCHASE_COLUMNS} FROM projections.purchases \
                 WHERE paid_at IS NOT NULL AND ($1::int8 IS NULL OR telegram_id = $1) \
                 ORDER BY paid_at DESC, purchase_id DESC OFFSET $2 LIMIT $3"
            ),
            &[&telegram_id, &offset, &(limit + 1)],
        )
        .await?;
    let mut out = rows
        .iter()
        .map(PurchaseRow::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let more = out.len() as i64 > limit;
    out.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((out, more))
}

/// Purchases paid on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayRevenue {
    /// The day (UTC).
    pub day: NaiveDate,
    /// Purchases paid that day (refunded later or not).
    pub purchases: i64,
    /// Their Stars, net of the ones refunded since.
    pub stars: i64,
}

/// The last `days` days that had purchases, newest first.
pub async fn purchases_by_day(
    client: &impl GenericClient,
    days: i64,
) -> Result<Vec<DayRevenue>, ProjectionError> {
    let rows = client
        .query(
            "SELECT (paid_at AT TIME ZONE 'UTC')::date AS day, count(*), \
                    coalesce(sum(stars) FILTER (WHERE status = 'paid'), 0)::int8 \
             FROM projections.purchases WHERE paid_at IS NOT NULL \
             GROUP BY day ORDER BY day DESC LIMIT $1",
            &[&days],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DayRevenue {
                day: r.try_get(0)?,
                purchases: r.try_get(1)?,
                stars: r.try_get(2)?,
            })
        })
        .collect()
}
