//! The event store's read side and shared pieces: reading streams and the global log, folding a
//! stream into its aggregate, fingerprints. Writes go through [`crate::executor`].

use deadpool_postgres::GenericClient;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;

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
    pub value: R,
    /// Positions of the appended events, in append order. Empty in one rare case besides "none
    /// appended": the batch's connection broke at COMMIT, Postgres then said it committed, but
    /// its events could not be read back before the ledger stopped waiting.
    pub positions: Vec<Position>,
    /// True when this is the stored result of an earlier call with the same key.
    #[serde(skip)]
    pub replayed: bool,
}

async fn fold_stream<A: Aggregate>(
    client: &impl GenericClient,
    stream: &StreamId,
) -> Result<A, LedgerError> {
    let stmt = client
        .prepare_cached(
            "SELECT event_type, schema_version, data::text, recorded_at, position \
             FROM ledger.events WHERE stream_id = $1 ORDER BY stream_version",
        )
        .await?;
    let rows = client.query(&stmt, &[&stream.as_str()]).await?;
    let mut state = A::default();
    for row in rows {
        let position: i64 = row.try_get(4)?;
        let context = || format!("position {position} in {stream}");
        let data: serde_json::Value = serde_json::from_str(row.try_get::<_, &str>(2)?)
            .map_err(|e| LedgerError::corrupt(context(), e))?;
        let event = Event::decode(row.try_get(0)?, row.try_get(1)?, data)
            .map_err(|e| LedgerError::corrupt(context(), e))?;
        state
            .apply(&event, row.try_get(3)?)
            .map_err(|e| LedgerError::corrupt(context(), e))?;
    }
    Ok(state)
}

/// Folds a stream into the aggregate its category implies.
pub(crate) async fn fold_any(
    client: &impl GenericClient,
    stream: &StreamId,
    empty: crate::command::AnyState,
) -> Result<crate::command::AnyState, LedgerError> {
    use crate::command::AnyState;
    Ok(match empty {
        AnyState::Account(_) => AnyState::Account(fold_stream(client, stream).await?),
        AnyState::Task(_) => AnyState::Task(fold_stream(client, stream).await?),
        AnyState::Other => AnyState::Other,
    })
}

/// The fingerprint stored with an idempotency key: the command's name and its input.
pub fn fingerprint(command: &str, input: &impl Serialize) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(command.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(input).unwrap_or_default());
    h.finalize().to_vec()
}

#[derive(Clone)]
pub struct EventStore {
    db: Database,
}

impl EventStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The events of one stream from version `from` (1 = the first), at most `limit`.
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
        let from = i64::try_from(from.0).unwrap_or(i64::MAX);
        let rows = client
            .query(&stmt, &[&stream.as_str(), &from, &limit])
            .await?;
        rows.iter()
            .map(|r| RawEvent::from_row(r).and_then(|e| e.decode()))
            .collect()
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
        let row = client
            .query_opt(
                "SELECT version, snapshot, snapshot_version FROM ledger.streams WHERE stream_id = $1",
                &[&stream.as_str()],
            )
            .await?;
        let Some(row) = row else {
            return Ok((A::default(), StreamVersion::NONE));
        };
        let version = StreamVersion(u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0));
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
        let version: Option<i64> = tx
            .query_opt(
                "SELECT version FROM ledger.streams WHERE stream_id = $1",
                &[&stream.as_str()],
            )
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let state = fold_stream::<A>(&tx, stream).await?;
        tx.commit().await?;
        Ok((
            state,
            StreamVersion(version.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)),
        ))
    }
}

pub(crate) fn is_stream_clash(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error()
            .and_then(|d| d.constraint())
            .is_some_and(|c| c == "events_stream_id_stream_version_key" || c == "streams_pkey")
}
