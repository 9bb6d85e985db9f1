//! The order in which readers see the log, and the guarantee that they never skip an event.
//!
//! Positions come from a sequence, and sequence values commit out of order: a transaction that
//! took position 10 may commit after one that took 11. A reader that followed `position > last`
//! would move past 10 before it was visible and never see it. So readers follow the pair
//! (writing transaction id, position) and only read rows whose transaction id is below
//! `pg_snapshot_xmin(pg_current_snapshot())`: every transaction below that horizon has finished,
//! so no row can appear there later. The price is latency while a long transaction is open
//! anywhere in the cluster, never a lost event.

use std::fmt;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::LedgerError;
use crate::events::Event;
use crate::ids::EventId;
use crate::metadata::EventMetadata;
use crate::stream::{OutOfRange, Position, StreamId, StreamVersion};

/// A place in the global order: after the event written by transaction `tx_id` at `position`.
/// `LogCursor::START` is before everything.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct LogCursor {
    /// The writing transaction's id (`xid8`).
    pub tx_id: u64,
    /// The event's position (0 at the start).
    pub position: i64,
}

impl LogCursor {
    /// Before everything.
    pub const START: LogCursor = LogCursor {
        tx_id: 0,
        position: 0,
    };

    /// A cursor as stored (`tx_id::text`, `position`): a transaction id that is not a number or
    /// a negative position is an error, never a cursor back at the start.
    pub fn from_db(tx_id: &str, position: i64) -> Result<Self, LedgerError> {
        let context = || format!("cursor {tx_id}:{position}");
        Ok(LogCursor {
            tx_id: tx_id
                .parse()
                .map_err(|e| LedgerError::corrupt(context(), e))?,
            position: Position::from_int8(position)?.0,
        })
    }
}

impl fmt::Display for LogCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.tx_id, self.position)
    }
}

/// An event row as stored, JSON still as text: what hashing, replay and relaying need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The row's identity (not dense, not in commit order).
    pub position: Position,
    /// The writing transaction's id.
    pub tx_id: u64,
    /// The event's id (the bus deduplicates on it).
    pub event_id: EventId,
    /// Its stream.
    pub stream_id: StreamId,
    /// Its version in the stream.
    pub version: StreamVersion,
    /// The variant name (`TokensDebited`...).
    pub event_type: String,
    /// Of the payload's shape, per type (see [`Event::decode`]).
    pub schema_version: i16,
    /// `data::text`: Postgres prints jsonb canonically (sorted keys, fixed spacing), which is what
    /// the hash chain covers.
    pub data: String,
    /// `metadata::text`, as stored.
    pub metadata: String,
    /// The writing transaction's clock.
    pub recorded_at: DateTime<Utc>,
}

/// A decoded event.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// See [`RawEvent::position`].
    pub position: Position,
    /// See [`RawEvent::tx_id`].
    pub tx_id: u64,
    /// See [`RawEvent::event_id`].
    pub event_id: EventId,
    /// See [`RawEvent::stream_id`].
    pub stream_id: StreamId,
    /// See [`RawEvent::version`].
    pub version: StreamVersion,
    /// The payload, decoded.
    pub event: Event,
    /// Who caused it, under which key and correlation.
    pub metadata: EventMetadata,
    /// See [`RawEvent::recorded_at`].
    pub recorded_at: DateTime<Utc>,
}

impl RawEvent {
    /// Its place in the global order.
    pub fn cursor(&self) -> LogCursor {
        LogCursor {
            tx_id: self.tx_id,
            position: self.position.0,
        }
    }

    /// Decodes the payload and metadata.
    pub fn decode(&self) -> Result<RecordedEvent, LedgerError> {
        let context = || format!("position {}", self.position);
        let event = Event::decode_text(&self.event_type, self.schema_version, &self.data)
            .map_err(|e| LedgerError::corrupt(context(), e))?;
        let metadata: EventMetadata =
            serde_json::from_str(&self.metadata).map_err(|e| LedgerError::corrupt(context(), e))?;
        Ok(RecordedEvent {
            position: self.position,
            tx_id: self.tx_id,
            event_id: self.event_id,
            stream_id: self.stream_id.clone(),
            version: self.version,
            event,
            metadata,
            recorded_at: self.recorded_at,
        })
    }

    pub(crate) fn from_row(row: &tokio_postgres::Row) -> Result<Self, LedgerError> {
        let position: Position = row.try_get(0)?;
        let tx_text: String = row.try_get(1)?;
        let tx_id = tx_text
            .parse()
            .map_err(|e| LedgerError::corrupt(format!("position {position}"), e))?;
        Ok(RawEvent {
            position,
            tx_id,
            event_id: EventId::from_uuid(row.try_get::<_, Uuid>(2)?),
            stream_id: StreamId::from_db(row.try_get(3)?),
            version: row.try_get(4)?,
            event_type: row.try_get(5)?,
            schema_version: row.try_get(6)?,
            data: row.try_get(7)?,
            metadata: row.try_get(8)?,
            recorded_at: row.try_get(9)?,
        })
    }
}

/// The columns of [`RawEvent::from_row`], in order, for `ledger.events e`.
pub(crate) const EVENT_COLUMNS: &str = "e.position, e.tx_id::text, e.event_id, e.stream_id, \
     e.stream_version, e.event_type, e.schema_version, e.data::text, e.metadata::text, e.recorded_at";

/// Reads up to `limit` events after `after`, in global order, below the horizon.
pub async fn read_log(
    client: &impl GenericClient,
    after: LogCursor,
    limit: i64,
) -> Result<Vec<RawEvent>, LedgerError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM ledger.events e \
         WHERE (e.tx_id, e.position) > ($1::text::xid8, $2) \
           AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY e.tx_id, e.position LIMIT $3"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client
        .query(&stmt, &[&after.tx_id.to_string(), &after.position, &limit])
        .await?;
    rows.iter().map(RawEvent::from_row).collect()
}

/// True when events exist after `after` that are not yet below the horizon: a reader that got an
/// empty batch should look again soon rather than wait for the next notification.
pub async fn has_pending_beyond_horizon(
    client: &impl GenericClient,
    after: LogCursor,
) -> Result<bool, LedgerError> {
    let stmt = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM ledger.events e \
             WHERE (e.tx_id, e.position) > ($1::text::xid8, $2))",
        )
        .await?;
    let row = client
        .query_one(&stmt, &[&after.tx_id.to_string(), &after.position])
        .await?;
    Ok(row.try_get(0)?)
}

/// How long a one-shot reader (verify, replay, export) waits for transactions that were open
/// when it started.
pub const HORIZON_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits, within `patience`, until every transaction that was running on the server when this
/// was called has finished, so that a reader starting afterwards sees everything committed
/// before the call (the horizon is cluster-wide: any long transaction, even in another database,
/// holds it). Returns false when the patience ran out.
pub async fn wait_for_horizon(
    client: &tokio_postgres::Client,
    patience: std::time::Duration,
) -> Result<bool, LedgerError> {
    let target: String = client
        .query_one("SELECT pg_snapshot_xmax(pg_current_snapshot())::text", &[])
        .await?
        .try_get(0)?;
    let deadline = tokio::time::Instant::now() + patience;
    let mut backoff = crate::backoff::Backoff::new(
        std::time::Duration::from_millis(2),
        std::time::Duration::from_millis(100),
    );
    loop {
        let passed: bool = client
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::text::xid8",
                &[&target],
            )
            .await?
            .try_get(0)?;
        if passed {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(backoff.next_pause()).await;
    }
}

/// The log as of one moment, for one-shot readers (verify, replay, export): a `REPEATABLE READ
/// READ ONLY` transaction on a connection of its own, opened once the transactions that were
/// running when it was asked for have finished. Read-only, it takes no transaction id, so it
/// holds back no other reader. Dropping it closes the connection (and the transaction).
pub struct LogSnapshot {
    client: tokio_postgres::Client,
    horizon: String,
    covers_start: bool,
    read: tokio_postgres::Statement,
}

impl LogSnapshot {
    /// Opens the snapshot on a connection of its own, once the transactions running now have
    /// finished (or `patience` ran out: see [`LogSnapshot::covers_start`]).
    pub async fn open(
        db: &crate::db::Database,
        patience: std::time::Duration,
    ) -> Result<Self, LedgerError> {
        let client = db.dedicated().await?;
        let covers_start = wait_for_horizon(&client, patience).await?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        // The first statement fixes the snapshot; its horizon is part of it.
        let horizon: String = client
            .query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", &[])
            .await?
            .try_get(0)?;
        let read = client
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM ledger.events e \
                 WHERE (e.tx_id, e.position) > ($1::text::xid8, $2) AND e.tx_id < $3::text::xid8 \
                   AND ($5::timestamptz IS NULL OR e.recorded_at >= $5) \
                   AND ($6::timestamptz IS NULL OR e.recorded_at < $6) \
                 ORDER BY e.tx_id, e.position LIMIT $4"
            ))
            .await?;
        Ok(Self {
            client,
            horizon,
            covers_start,
            read,
        })
    }

    /// For other reads in the same snapshot.
    pub fn client(&self) -> &tokio_postgres::Client {
        &self.client
    }

    /// The transaction-id horizon of the snapshot, as text (`$n::text::xid8`).
    pub fn horizon(&self) -> &str {
        &self.horizon
    }

    /// False when a transaction open at the start was still running after the patience ran out
    /// (what it commits is not in this snapshot).
    pub fn covers_start(&self) -> bool {
        self.covers_start
    }

    /// Events below the horizon.
    pub async fn count(&self) -> Result<u64, LedgerError> {
        let n: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM ledger.events WHERE tx_id < $1::text::xid8",
                &[&self.horizon],
            )
            .await?
            .try_get(0)?;
        Ok(OutOfRange::count("event count", n)?)
    }

    /// Up to `limit` events after `after`, in global order.
    pub async fn read(&self, after: LogCursor, limit: i64) -> Result<Vec<RawEvent>, LedgerError> {
        self.read_recorded(after, limit, None, None).await
    }

    /// [`LogSnapshot::read`], only events recorded at or after `from` and before `to`.
    pub async fn read_recorded(
        &self,
        after: LogCursor,
        limit: i64,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Vec<RawEvent>, LedgerError> {
        let rows = self
            .client
            .query(
                &self.read,
                &[
                    &after.tx_id.to_string(),
                    &after.position,
                    &self.horizon,
                    &limit,
                    &from,
                    &to,
                ],
            )
            .await?;
        rows.iter().map(RawEvent::from_row).collect()
    }

    /// Hands every event recorded at or after `from` and before `to` (each bound optional) to
    /// `f`, in global order, `batch` at a time.
    pub async fn each_batch<E: From<LedgerError>>(
        &self,
        batch: i64,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mut f: impl FnMut(&[RawEvent]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut cursor = LogCursor::START;
        loop {
            let events = self.read_recorded(cursor, batch, from, to).await?;
            let Some(last) = events.last() else {
                return Ok(());
            };
            cursor = last.cursor();
            f(&events)?;
        }
    }

    /// Ends the transaction.
    pub async fn close(self) -> Result<(), LedgerError> {
        self.client.batch_execute("COMMIT").await?;
        Ok(())
    }
}
