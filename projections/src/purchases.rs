//! Read model "purchases": one row per purchase offer, from the purchase streams only: offered,
//! paid, refunded. Revenue in Stars and paying users are queries over it
//! ([`crate::queries::payments`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokenbot_ledger::{Event, RecordedEvent};
use uuid::Uuid;

use crate::error::ProjectionError;

/// A `projections.purchases` row: what the projector writes, and what `GET /admin/payments` lists
/// (the paid ones).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PurchaseRow {
    /// The purchase id (the invoice's payload names it).
    pub purchase_id: Uuid,
    /// Who was offered it.
    pub telegram_id: i64,
    /// The package.
    pub package: String,
    /// Tokens it grants.
    pub tokens: i64,
    /// Its price in Stars.
    pub stars: i64,
    /// `offered`, `paid` or `refunded`.
    pub status: String,
    /// Telegram's charge id, once paid.
    pub charge_id: Option<String>,
    /// The provider's charge id, once paid.
    pub provider_charge_id: Option<String>,
    /// When it was offered.
    pub offered_at: DateTime<Utc>,
    /// When the offer stops being payable.
    pub expires_at: DateTime<Utc>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// When it was refunded.
    pub refunded_at: Option<DateTime<Utc>>,
    /// Why it was refunded.
    pub refund_reason: Option<String>,
}

/// The columns of [`PurchaseRow::from_row`], in its order.
pub(crate) const COLUMNS: &str = "purchase_id, telegram_id, package, tokens, stars, status, charge_id, \
     provider_charge_id, offered_at, expires_at, paid_at, refunded_at, refund_reason";

impl PurchaseRow {
    /// A row selected as [`COLUMNS`], in that order.
    pub(crate) fn from_row(r: &tokio_postgres::Row) -> Result<PurchaseRow, tokio_postgres::Error> {
        Ok(PurchaseRow {
            purchase_id: r.try_get(0)?,
            telegram_id: r.try_get(1)?,
            package: r.try_get(2)?,
            tokens: r.try_get(3)?,
            stars: r.try_get(4)?,
            status: r.try_get(5)?,
            charge_id: r.try_get(6)?,
            provider_charge_id: r.try_get(7)?,
            offered_at: r.try_get(8)?,
            expires_at: r.try_get(9)?,
            paid_at: r.try_get(10)?,
            refunded_at: r.try_get(11)?,
            refund_reason: r.try_get(12)?,
        })
    }
}

pub(crate) fn key(e: &RecordedEvent) -> Option<Uuid> {
    e.stream_id.purchase_id().map(|p| p.as_uuid())
}

pub(crate) async fn load(
    client: &impl GenericClient,
    schema: &str,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, PurchaseRow>, ProjectionError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM {schema}.purchases WHERE purchase_id = ANY($1)"),
            &[&ids],
        )
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let row = PurchaseRow::from_row(&r)?;
        out.insert(row.purchase_id, row);
    }
    Ok(out)
}

pub(crate) fn apply(
    rows: &mut HashMap<Uuid, PurchaseRow>,
    e: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let Some(id) = key(e) else { return Ok(()) };
    let at = e.recorded_at;
    if let Event::PurchaseOffered(o) = &e.event {
        rows.insert(
            id,
            PurchaseRow {
                purchase_id: id,
                telegram_id: i64::from(o.telegram_id),
                package: o.package.to_string(),
                tokens: i64::from(o.tokens),
                stars: i64::from(o.stars.get()),
                status: "offered".into(),
                charge_id: None,
                provider_charge_id: None,
                offered_at: at,
                expires_at: o.expires_at,
                paid_at: None,
                refunded_at: None,
                refund_reason: None,
            },
        );
        return Ok(());
    }
    let row = rows
        .get_mut(&id)
        .ok_or_else(|| ProjectionError::Inconsistent {
            position: e.position.0,
            detail: format!(
                "{} for purchase {id} which has no row",
                e.event.event_type()
            ),
        })?;
    match &e.event {
        Event::PurchasePaid(p) => {
            row.status = "paid".into();
            row.charge_id = Some(p.telegram_payment_charge_id.to_string());
            row.provider_charge_id = Some(p.provider_payment_charge_id.clone());
            row.paid_at = Some(at);
        }
        Event::PurchaseRefunded(r) => {
            row.status = "refunded".into();
            row.refunded_at = Some(at);
            row.refund_reason = Some(r.reason.clone());
        }
        _ => {}
    }
    Ok(())
}

pub(crate) async fn store(
    client: &impl GenericClient,
    schema: &str,
    rows: &[&PurchaseRow],
) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    macro_rules! col {
        ($f:ident) => {
            rows.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()
        };
    }
    let sql = format!(
        "INSERT INTO {schema}.purchases ({COLUMNS}) \
         SELECT * FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::int8[], $5::int8[], \
                              $6::text[], $7::text[], $8::text[], $9::timestamptz[], \
                              $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::text[]) \
         ON CONFLICT (purchase_id) DO UPDATE SET status = EXCLUDED.status, \
           charge_id = EXCLUDED.charge_id, provider_charge_id = EXCLUDED.provider_charge_id, \
           paid_at = EXCLUDED.paid_at, refunded_at = EXCLUDED.refunded_at, \
           refund_reason = EXCLUDED.refund_reason"
    );
    client
        .execute(
            &sql,
            &[
                &col!(purchase_id),
                &col!(telegram_id),
                &col!(package),
                &col!(tokens),
                &col!(stars),
                &col!(status),
                &col!(charge_id),
                &col!(provider_charge_id),
                &col!(offered_at),
                &col!(expires_at),
                &col!(paid_at),
                &col!(refunded_at),
                &col!(refund_reason),
            ],
        )
        .await?;
    Ok(())
}
