//! How fresh a read of the read models is: the projections' checkpoint (the last event applied)
//! and when that event was recorded, read in the same snapshot as the data. On a replica the
//! data can be behind the primary by the projector's lag plus the replica's replay lag; the
//! checkpoint bounds both, because the replica replays the rows and their checkpoint together.
//! Also the primary's head, to say how far behind a checkpoint is.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use tokenbot_ledger::LogCursor;
use utoipa::ToSchema;

use crate::error::ProjectionError;
use crate::runtime::{LIVE_SCHEMA, Projection, checkpoints};

/// The event a read of the read models is as of: everything up to it, nothing after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct AsOf {
    /// `ledger.events.position` of the last event applied (0: none yet).
    pub position: i64,
    /// The transaction id of that event (the global order is `(tx_id, position)`).
    pub tx_id: u64,
    /// When that event was recorded on the primary; null when none was applied yet.
    pub recorded_at: Option<DateTime<Utc>>,
}

impl AsOf {
    /// The place in the global order.
    pub fn cursor(&self) -> LogCursor {
        LogCursor {
            tx_id: self.tx_id,
            position: self.position,
        }
    }
}

/// The oldest checkpoint among `projections` (a projection that never ran counts as the start)
/// and its event's time. Run it in the transaction that read the data: then the data is exactly
/// as of this event for the oldest projection, and at least as new for the others.
pub async fn as_of(
    client: &impl GenericClient,
    projections: &[Projection],
) -> Result<AsOf, ProjectionError> {
    let all = checkpoints(client, LIVE_SCHEMA).await?;
    let oldest = projections
        .iter()
        .filter_map(|p| all.get(p))
        .copied()
        .min()
        .unwrap_or(LogCursor::START);
    at(client, oldest).await
}

/// The newest committed event: what the primary's read models will reach (`None`: no events).
pub async fn head(client: &impl GenericClient) -> Result<Option<AsOf>, ProjectionError> {
    let row = client
        .query_opt(
            "SELECT tx_id::text, position, recorded_at FROM ledger.events \
             ORDER BY tx_id DESC, position DESC LIMIT 1",
            &[],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let cursor = LogCursor::from_db(&row.try_get::<_, String>(0)?, row.try_get(1)?)?;
    Ok(Some(AsOf {
        position: cursor.position,
        tx_id: cursor.tx_id,
        recorded_at: Some(row.try_get(2)?),
    }))
}

/// Events committed after `cursor` (the index on the global order serves it).
pub async fn events_after(
    client: &impl GenericClient,
    cursor: LogCursor,
) -> Result<i64, ProjectionError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM ledger.events WHERE (tx_id, position) > ($1::text::xid8, $2)",
            &[&cursor.tx_id.to_string(), &cursor.position],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// `cursor` with its event's time (none for the start).
pub async fn at(client: &impl GenericClient, cursor: LogCursor) -> Result<AsOf, ProjectionError> {
    let recorded_at = if cursor == LogCursor::START {
        None
    } else {
        client
            .query_opt(
                "SELECT recorded_at FROM ledger.events WHERE position = $1",
                &[&cursor.position],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
    };
    Ok(AsOf {
        position: cursor.position,
        tx_id: cursor.tx_id,
        recorded_at,
    })
}
