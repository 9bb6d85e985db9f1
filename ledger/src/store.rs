//! The event store's read side: reading streams and the global log, and folding a stream into
//! its aggregate. Writes go through [`crate::executor`].

use deadpool_postgres::GenericClient;
use serde::Serialize;

use crate::aggregate::Aggregate;
use crate::db::Database;
use crate::error::LedgerError;
use crate::events::Event;
use crate::global_order::{EVENT_COLUMNS, LogCursor, RawEvent, RecordedEvent, read_log};
use crate::stream::{Position, StreamId, StreamVersion};

/// The NOTIFY channel subscribers LISTEN on.
pub const NOTIFY_CHANNEL: &str = "ledger_events";

/// What an append or a command wrote (or, replayed under its idempotency key, wrote the first
/// time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Executed<R> {
    /// The command's answer.
    pub value: R,
    /// Positions of the appended events, in append order. Empty in one rare case besides "none
    /// appended": the batch's connection broke at COMMIT, Postgres then said it committed, but
    /// its events could not be read back before the ledger stopped waiting.
    pub positions: Vec<Position>,
    /// True when this is the stored result of an earlier call with the same key.
    #[serde(skip)]
    pub replayed: bool,
}

/// Folds a stream's events into its aggregate; returns it with the stream's version. The
/// versions must run 1, 2, 3, ... without a hole (the table's constraints say so; this says it
/// again on the way out).
pub(crate) async fn fold_stream<A: Aggregate>(
    client: &impl GenericClient,
    stream: &StreamId,
) -> Result<(A, StreamVersion), LedgerError> {
    let stmt = client
        .prepare_cached(
            "SELECT event_type, schema_version, data::text, recorded_at, position, stream_version \
             FROM ledger.events WHERE stream_id = $1 ORDER BY stream_version",
        )
        .await?;
    let rows = client.query(&stmt, &[&stream.as_str()]).await?;
    let mut state = A::default();
    let mut version = StreamVersion::NONE;
    for row in rows {
        let position: Position = row.try_get(4)?;
        let context = || format!("position {position} in {stream}");
        let stored: StreamVersion = row.try_get(5)?;
        if stored != version.next() {
            return Err(LedgerError::corrupt(
                context(),
                format!("version {stored} follows version {version}"),
            ));
        }
        version = stored;
        let data: serde_json::Value = serde_json::from_str(row.try_get::<_, &str>(2)?)
            .map_err(|e| LedgerError::corrupt(context(), e))?;
        let event = Event::decode(row.try_get(0)?, row.try_get(1)?, data)
            .map_err(|e| LedgerError::corrupt(context(), e))?;
        state
            .apply(&event, row.try_get(3)?)
            .map_err(|e| LedgerError::corrupt(context(), e))?;
    }
    Ok((state, version))
}

/// Reads and folds the log (writes go through [`crate::Ledger`]).
#[derive(Clone)]
pub struct EventStore {
    db: Database,
}

impl EventStore {
    /// A store on the ledger's database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The database underneath.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The events of one stream from version `from` (1 = the first), at most `limit`, with
    /// their versions checked to run on from `from` without a hole.
    pub async fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, LedgerError> {
        let client = self.db.pool().get().await?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM ledger.events e \
             WHERE e.stream_id = $1 AND e.stream_version >= $2 ORDER BY e.stream_version LIMIT $3"
        );
        let stmt = client.prepare_cached(&sql).await?;
        let rows = client
            .query(&stmt, &[&stream.as_str(), &from, &limit])
            .await?;
        let events = rows
            .iter()
            .map(|r| RawEvent::from_row(r).and_then(|e| e.decode()))
            .collect::<Result<Vec<_>, _>>()?;
        let first = from.max(StreamVersion(1));
        for (e, expected) in events.iter().zip(first.0..) {
            if e.version != StreamVersion(expected) {
                return Err(LedgerError::corrupt(
                    format!("position {} in {stream}", e.position),
                    format!("version {} where {expected} was due", e.version),
                ));
            }
        }
        Ok(events)
    }

    /// Up to `limit` events after `after` in global order (see [`crate::global_order`]).
    pub async fn read_log(
        &self,
        after: LogCursor,
        limit: i64,
    ) -> Result<Vec<RawEvent>, LedgerError> {
        let client = self.db.pool().get().await?;
        read_log(&client, after, limit).await
    }

    /// The current state of an aggregate without locking it (for reads that may be stale).
    pub async fn load<A: Aggregate>(
        &self,
        stream: &StreamId,
    ) -> Result<(A, StreamVersion), LedgerError> {
        let client = self.db.pool().get().await?;
        let stmt = client
            .prepare_cached(
                "SELECT version, snapshot, snapshot_version FROM ledger.streams WHERE stream_id = $1",
            )
            .await?;
        let row = client.query_opt(&stmt, &[&stream.as_str()]).await?;
        let Some(row) = row else {
            return Ok((A::default(), StreamVersion::NONE));
        };
        let version: StreamVersion = row.try_get(0)?;
        let snapshot: Option<serde_json::Value> = row.try_get(1)?;
        let snapshot_version: Option<i32> = row.try_get(2)?;
        if snapshot_version == Some(A::SNAPSHOT_VERSION)
            && let Some(s) = snapshot
            && let Ok(state) = serde_json::from_value::<A>(s)
        {
            return Ok((state, version));
        }
        // Fold under REPEATABLE READ so the head version and the events agree.
        let mut client = client;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let head: StreamVersion = tx
            .query_opt(
                "SELECT version FROM ledger.streams WHERE stream_id = $1",
                &[&stream.as_str()],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(StreamVersion::NONE);
        let (state, folded) = fold_stream::<A>(&tx, stream).await?;
        tx.commit().await?;
        if folded != head {
            return Err(LedgerError::corrupt(
                stream.as_str(),
                format!("the head says version {head} but the stream has {folded} events"),
            ));
        }
        Ok((state, head))
    }
}
