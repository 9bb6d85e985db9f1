//! Step 4 of a batch: the rows its decisions write (events, stream heads, idempotency results,
//! released keys), then one round trip with the write statement, `COMMIT` and `NOTIFY`, and
//! what became of the transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::decide::Decision;
use super::stored;
use super::submission::Pending;
use super::tx_guard::TxGuard;
use crate::command::view::{Decided, Locked};
use crate::commit_outcome::{InFlight, Learned, learn};
use crate::error::LedgerError;
use crate::events::Event;
use crate::ids::EventId;
use crate::pricing::LedgerConfig;
use crate::store::{EventStore, NOTIFY_CHANNEL};
use crate::stream::{Position, StreamId, StreamVersion};

/// Everything one batch writes, as the columns of its one write statement.
#[derive(Default)]
pub(super) struct Rows {
    events: EventRows,
    heads: HeadRows,
    results_keys: Vec<String>,
    results_values: Vec<serde_json::Value>,
    released_keys: Vec<String>,
    /// Per command: the ids of the events it appends, in append order.
    pub event_ids_of: Vec<Vec<Uuid>>,
}

impl Rows {
    /// Step 4a: the rows of every decided command, numbered from each stream's version before
    /// the batch (`versions`); the heads as `states` stand after all decisions.
    pub fn build(
        batch: &[Box<dyn Pending>],
        decisions: &[Decision],
        mut versions: HashMap<StreamId, StreamVersion>,
        states: &HashMap<StreamId, Locked>,
        now: DateTime<Utc>,
    ) -> Result<Rows, LedgerError> {
        let mut rows = Rows {
            event_ids_of: vec![Vec::new(); batch.len()],
            ..Rows::default()
        };
        let mut touched: Vec<StreamId> = Vec::new();
        for (i, (s, d)) in batch.iter().zip(decisions).enumerate() {
            let key = s
                .ctx()
                .idempotency_key
                .as_ref()
                .map(|k| k.as_str().to_string());
            match d {
                Decision::Decided { appended, stored } => {
                    let metadata = serde_json::to_value(s.ctx().metadata())?;
                    for Decided { stream, events } in appended {
                        let version = versions
                            .entry(stream.clone())
                            .or_insert(StreamVersion::NONE);
                        for event in events {
                            *version = version.after(1)?;
                            let id = EventId::new().as_uuid();
                            rows.event_ids_of[i].push(id);
                            rows.events
                                .push(id, stream, *version, event, &metadata, now)?;
                        }
                        touched.push(stream.clone());
                    }
                    if let (Some(k), Some(outcome)) = (key, stored) {
                        rows.results_keys.push(k);
                        let ids = &rows.event_ids_of[i];
                        rows.results_values
                            .push(stored::result_json(outcome.clone(), ids));
                    }
                }
                // A refused command leaves no key behind, so the caller may try again.
                Decision::Refused(_) => rows.released_keys.extend(key),
                Decision::Replay | Decision::SameKeyAs(_) => {}
            }
        }
        touched.sort();
        touched.dedup();
        rows.heads = HeadRows::of(&touched, states, &versions)?;
        Ok(rows)
    }

    /// Whether the batch appends anything (and so whether subscribers need a NOTIFY).
    pub fn appends(&self) -> bool {
        !self.events.ids.is_empty()
    }
}

/// The columns of the events a batch appends.
#[derive(Default)]
struct EventRows {
    ids: Vec<Uuid>,
    streams: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    schema_versions: Vec<i16>,
    data: Vec<serde_json::Value>,
    metadata: Vec<serde_json::Value>,
    times: Vec<DateTime<Utc>>,
}

impl EventRows {
    /// Versions are converted here, before anything is sent: a conversion failing inside the
    /// pipeline would fail the write while its COMMIT went ahead.
    fn push(
        &mut self,
        id: Uuid,
        stream: &StreamId,
        version: StreamVersion,
        event: &Event,
        metadata: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        debug_assert!(
            self.streams.last().map(String::as_str) != Some(stream.as_str())
                || self.versions.last().map(|v| v + 1) == version.to_int8().ok(),
            "the versions a command appends to one stream are contiguous"
        );
        let event_type = event.event_type();
        self.versions.push(version.to_int8()?);
        self.ids.push(id);
        self.streams.push(stream.as_str().to_string());
        self.types.push(event_type.to_string());
        self.schema_versions
            .push(Event::schema_version(event_type).unwrap_or(1));
        self.data.push(event.data());
        self.metadata.push(metadata.clone());
        self.times.push(at);
        Ok(())
    }
}

/// The stream heads a batch writes: version and snapshot of every stream it appended to.
#[derive(Default)]
struct HeadRows {
    ids: Vec<String>,
    versions: Vec<i64>,
    snapshots: Vec<Option<serde_json::Value>>,
    snapshot_versions: Vec<Option<i32>>,
}

impl HeadRows {
    fn of(
        touched: &[StreamId],
        states: &HashMap<StreamId, Locked>,
        numbered: &HashMap<StreamId, StreamVersion>,
    ) -> Result<Self, LedgerError> {
        let mut heads = HeadRows::default();
        for stream in touched {
            let locked = states
                .get(stream)
                .ok_or_else(|| LedgerError::corrupt("executor", "touched stream without state"))?;
            debug_assert_eq!(
                Some(&locked.version),
                numbered.get(stream),
                "the head's version is its last event's"
            );
            heads.ids.push(stream.as_str().to_string());
            heads.versions.push(locked.version.to_int8()?);
            let snap = locked.state.snapshot();
            heads.snapshot_versions.push(snap.as_ref().map(|(_, v)| *v));
            heads.snapshots.push(snap.map(|(s, _)| s));
        }
        Ok(heads)
    }
}

/// What became of a batch's transaction once COMMIT was sent.
pub(super) enum Fate {
    /// Committed: positions of its events by event id (`None`: committed, not read back).
    Committed(Option<HashMap<Uuid, Position>>),
    /// It may or may not have committed.
    Unknown { waited_s: u64, cause: String },
}

const WRITE_SQL: &str = "WITH ev AS ( \
       INSERT INTO ledger.events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, recorded_at) \
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::text[], $5::int2[], $6::jsonb[], $7::jsonb[], $8::timestamptz[]) \
       RETURNING event_id, position \
     ), hd AS ( \
       INSERT INTO ledger.streams (stream_id, version, snapshot, snapshot_version) \
       SELECT * FROM unnest($9::text[], $10::int8[], $11::jsonb[], $12::int4[]) \
       ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, \
         snapshot = EXCLUDED.snapshot, snapshot_version = EXCLUDED.snapshot_version \
     ), kept AS ( \
       UPDATE ledger.idempotency_keys k SET result = r.result \
       FROM unnest($13::text[], $14::jsonb[]) AS r(key, result) WHERE k.key = r.key \
     ), released AS ( \
       DELETE FROM ledger.idempotency_keys WHERE key = ANY($15::text[]) \
     ) \
     SELECT event_id, position FROM ev";

/// Step 4b: the write statement, COMMIT and NOTIFY in one round trip. Fails as a whole only
/// when nothing was written; otherwise returns the fate, and the connection when it may serve
/// again (for reading replays).
pub(super) async fn write_and_commit(
    store: &EventStore,
    config: &LedgerConfig,
    guard: TxGuard,
    rows: &Rows,
    in_flight: &InFlight,
) -> Result<(Fate, Option<deadpool_postgres::Object>), LedgerError> {
    let client = guard.client();
    let write_stmt = client.prepare_cached(WRITE_SQL).await?;
    let (ev, hd) = (&rows.events, &rows.heads);
    let write_params: [&(dyn ToSql + Sync); 15] = [
        &ev.ids,
        &ev.streams,
        &ev.versions,
        &ev.types,
        &ev.schema_versions,
        &ev.data,
        &ev.metadata,
        &ev.times,
        &hd.ids,
        &hd.versions,
        &hd.snapshots,
        &hd.snapshot_versions,
        &rows.results_keys,
        &rows.results_values,
        &rows.released_keys,
    ];
    let notify = rows.appends();
    // Once this runs, COMMIT may reach the server: from here on the batch is never run again
    // unless Postgres says that it rolled back.
    let (written, committed, notified) = tokio::join!(
        client.query(&write_stmt, &write_params),
        client.batch_execute("COMMIT"),
        async {
            if notify {
                client
                    .execute("SELECT pg_notify($1, '')", &[&NOTIFY_CHANNEL])
                    .await
                    .map(|_| ())
            } else {
                Ok(())
            }
        }
    );
    let answered = match (written, committed) {
        (Ok(written), Ok(())) => Ok((written, notified)),
        // The server refused the write: it rolled the transaction back, COMMIT only confirmed it.
        (Err(e), _) if e.as_db_error().is_some() => return Err(e.into()),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    };
    let (fate, reader) = match answered {
        Ok((written, notified)) => on_committed(guard, &written, notified, rows),
        Err(e) => unanswered(store, config, guard, rows, in_flight, e).await?,
    };
    if matches!(fate, Fate::Committed(_)) {
        metrics::counter!("tokenbot_ledger_appends_total").increment(rows.events.ids.len() as u64);
    }
    Ok((fate, reader))
}

/// Both the write and COMMIT were answered.
fn on_committed(
    guard: TxGuard,
    written: &[tokio_postgres::Row],
    notified: Result<(), tokio_postgres::Error>,
    rows: &Rows,
) -> (Fate, Option<deadpool_postgres::Object>) {
    let mut positions: HashMap<Uuid, Position> = HashMap::with_capacity(written.len());
    for row in written {
        if let (Ok(id), Ok(position)) = (row.try_get(0), row.try_get(1)) {
            positions.insert(id, position);
        }
    }
    debug_assert_eq!(
        positions.len(),
        rows.events.ids.len(),
        "every event written has its position"
    );
    let client = match notified {
        Ok(()) => guard.finish(),
        Err(e) => {
            // Committed all the same; subscribers also poll, so this costs latency only. The
            // connection is not trusted again.
            tracing::warn!(error = %e, "NOTIFY after a committed batch failed");
            metrics::counter!("tokenbot_ledger_notify_failures_total").increment(1);
            guard.discard();
            None
        }
    };
    (Fate::Committed(Some(positions)), client)
}

/// The connection failed under the pipeline: asks Postgres what became of the transaction.
async fn unanswered(
    store: &EventStore,
    config: &LedgerConfig,
    guard: TxGuard,
    rows: &Rows,
    in_flight: &InFlight,
    e: tokio_postgres::Error,
) -> Result<(Fate, Option<deadpool_postgres::Object>), LedgerError> {
    let size = rows.event_ids_of.len();
    tracing::warn!(error = %e, size, xid = %in_flight.xid, "COMMIT went unanswered; asking Postgres what became of the batch");
    guard.discard();
    let wait = config.commit_outcome_wait;
    match learn(store.database().pool(), in_flight, &rows.events.ids, wait).await {
        Learned::Committed { positions, client } => {
            Ok((Fate::Committed(positions), client.map(|c| *c)))
        }
        Learned::Aborted => Err(e.into()),
        Learned::Unknown => Ok((
            Fate::Unknown {
                waited_s: wait.as_secs(),
                cause: e.to_string(),
            },
            None,
        )),
    }
}
