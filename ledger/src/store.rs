//! The event store: atomic appends to one or more streams with expected versions, idempotent
//! commands, and reads. Domain rules are not here; they run inside [`CommandTx`] between
//! loading the locked stream heads and writing, so they see the state they change.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::db::Database;
use crate::error::LedgerError;
use crate::events::Event;
use crate::global_order::{EVENT_COLUMNS, LogCursor, RawEvent, RecordedEvent, read_log};
use crate::ids::EventId;
use crate::metadata::{CommandContext, EventMetadata};
use crate::stream::{ExpectedVersion, Position, StreamId, StreamVersion};

/// The NOTIFY channel subscribers LISTEN on.
pub const NOTIFY_CHANNEL: &str = "ledger_events";

/// How often a command is retried after losing a race to create the same new stream.
const MAX_CONFLICT_RETRIES: u32 = 5;

/// The events of one stream in one append.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<Event>,
}

/// What an append or a command wrote (or, replayed under its idempotency key, wrote the first
/// time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Executed<R> {
    pub value: R,
    /// Positions of the appended events, in append order.
    pub positions: Vec<Position>,
    /// True when this is the stored result of an earlier call with the same key.
    #[serde(skip)]
    pub replayed: bool,
}

/// The head row of a stream, locked for the rest of the transaction.
#[derive(Debug, Clone)]
struct Head {
    version: StreamVersion,
    snapshot: Option<serde_json::Value>,
    snapshot_version: Option<i32>,
}

struct PendingAppend {
    stream: StreamId,
    expected: ExpectedVersion,
    events: Vec<Event>,
    snapshot: Option<(serde_json::Value, i32)>,
}

/// One command's transaction: the locked heads of the streams it touches, the time it runs at,
/// and the events it decided to append. Owns its pooled connection; dropped without
/// [`CommandTx::commit`], it rolls back (in a spawned task, since Drop cannot await) before the
/// connection goes back to the pool.
pub struct CommandTx {
    client: Option<deadpool_postgres::Object>,
    key: Option<String>,
    metadata: EventMetadata,
    heads: HashMap<StreamId, Head>,
    now: DateTime<Utc>,
    pending: Vec<PendingAppend>,
}

/// The outcome of [`EventStore::begin`].
pub enum Begun<R> {
    /// A new command: decide, append, commit.
    Fresh(Box<CommandTx>),
    /// The idempotency key was used before with the same command: this is its first result.
    Replayed(Executed<R>),
}

impl Drop for CommandTx {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Spawn only inside a runtime; outside one the pool is going away anyway.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(e) = client.batch_execute("ROLLBACK").await {
                        tracing::warn!(error = %e, "rollback failed; discarding the connection");
                        let _ = deadpool_postgres::Object::take(client);
                    }
                });
            }
        }
    }
}

impl CommandTx {
    fn client(&self) -> &deadpool_postgres::Object {
        // Only `commit` and `drop` take the client, and both consume the transaction.
        self.client
            .as_ref()
            .unwrap_or_else(|| unreachable!("CommandTx used after commit"))
    }

    /// The database's clock, read after the stream locks were taken: every event of this command
    /// is recorded at this time, and time-dependent rules use it.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The current version of a locked stream (0 when it does not exist).
    pub fn version(&self, stream: &StreamId) -> StreamVersion {
        self.heads
            .get(stream)
            .map_or(StreamVersion::NONE, |h| h.version)
    }

    /// The aggregate state of a locked stream: its snapshot if current, else a fold of its events.
    pub async fn load<A: Aggregate>(&self, stream: &StreamId) -> Result<A, LedgerError> {
        let Some(head) = self.heads.get(stream) else {
            return Ok(A::default());
        };
        if head.snapshot_version == Some(A::SNAPSHOT_VERSION)
            && let Some(snapshot) = &head.snapshot
            && let Ok(state) = serde_json::from_value::<A>(snapshot.clone())
        {
            return Ok(state);
        }
        fold_stream::<A>(self.client(), stream).await
    }

    /// Queues events for `stream` with the state they lead to (stored as its snapshot).
    pub fn append<A: Aggregate>(
        &mut self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<Event>,
        new_state: &A,
    ) {
        if events.is_empty() {
            return;
        }
        let snapshot = serde_json::to_value(new_state)
            .ok()
            .map(|v| (v, A::SNAPSHOT_VERSION));
        self.pending.push(PendingAppend {
            stream,
            expected,
            events,
            snapshot,
        });
    }

    /// Queues events without a snapshot (the next command on the stream refolds it).
    pub fn append_raw(&mut self, stream: StreamId, expected: ExpectedVersion, events: Vec<Event>) {
        self.pending.push(PendingAppend {
            stream,
            expected,
            events,
            snapshot: None,
        });
    }

    /// Writes the queued events, the stream heads and the command's result (for repeats of its
    /// idempotency key), and commits.
    pub async fn commit<R: Serialize>(mut self, value: R) -> Result<Executed<R>, LedgerError> {
        let result = serde_json::to_value(&value)?;
        let pending = std::mem::take(&mut self.pending);
        let positions = write(
            self.client(),
            &self.heads,
            pending,
            &self.metadata,
            self.now,
            self.key.as_deref(),
            &result,
        )
        .await?;
        self.client().batch_execute("COMMIT").await?;
        let client = self.client.take();
        if let Some(client) = client
            && !positions.is_empty()
        {
            notify(&client).await;
        }
        Ok(Executed {
            value,
            positions,
            replayed: false,
        })
    }
}

/// Runs `attempt` again when it lost a race (another writer created the same new stream first,
/// or Postgres broke a deadlock), a bounded number of times. Each attempt is a fresh
/// transaction that re-reads the state, so the retry decides on what the winner wrote.
pub async fn retrying<R, F, Fut>(
    streams: &[StreamId],
    mut attempt: F,
) -> Result<Executed<R>, LedgerError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Executed<R>, LedgerError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(e) if e.is_retryable_conflict() && tries < MAX_CONFLICT_RETRIES => {
                tracing::debug!(error = %e, tries, "command lost a race; retrying");
            }
            Err(e) => return Err(map_conflict(e, streams)),
            ok => return ok,
        }
    }
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

    /// Starts a command: in one round trip opens a transaction, claims the idempotency key,
    /// locks the heads of `streams` (sorted, so two commands never deadlock) and reads the clock.
    /// A repeat of the key with the same `fingerprint` gets the first result back; with another
    /// fingerprint it is an `IdempotencyConflict`. Use inside [`retrying`].
    pub async fn begin<R: DeserializeOwned>(
        &self,
        ctx: &CommandContext,
        fingerprint: &[u8],
        streams: &[StreamId],
    ) -> Result<Begun<R>, LedgerError> {
        let client = self.db.pool().get().await?;
        let key = ctx.idempotency_key.as_ref().map(|k| k.as_str().to_string());

        let lock_stmt = client
            .prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .await?;
        let claim_stmt = client
            .prepare_cached(
                "INSERT INTO ledger.idempotency_keys (key, fingerprint) VALUES ($1, $2) \
                 ON CONFLICT (key) DO NOTHING RETURNING true",
            )
            .await?;
        let heads_stmt = client
            .prepare_cached(
                "SELECT stream_id, version, snapshot, snapshot_version FROM ledger.streams \
                 WHERE stream_id = ANY($1)",
            )
            .await?;
        let clock_stmt = client.prepare_cached("SELECT clock_timestamp()").await?;
        let mut names: Vec<&str> = streams.iter().map(StreamId::as_str).collect();
        names.sort_unstable();
        names.dedup();

        let mut cx = CommandTx {
            client: None,
            key: key.clone(),
            metadata: ctx.metadata(),
            heads: HashMap::new(),
            now: Utc::now(),
            pending: Vec::new(),
        };
        // One round trip, executed in this order by the server:
        // 1. BEGIN;
        // 2. a transaction-scoped advisory lock per stream, in sorted order (no deadlocks).
        //    Advisory locks assign no transaction id, so this transaction's id is assigned by its
        //    first write below, after it holds the locks. Hence for any stream, the writer that
        //    locked it later has the larger transaction id, and the global order
        //    (tx_id, position) agrees with every stream's version order;
        // 3. claim the idempotency key (a repeat blocks here until the first commits or aborts);
        // 4. read the heads (READ COMMITTED: a snapshot taken after the locks were granted);
        // 5. read the clock.
        let begun = {
            let lock_params: Vec<[&(dyn tokio_postgres::types::ToSql + Sync); 1]> = names
                .iter()
                .map(|n| [n as &(dyn tokio_postgres::types::ToSql + Sync)])
                .collect();
            let locks = futures::future::try_join_all(
                lock_params.iter().map(|p| client.query_one(&lock_stmt, p)),
            );
            let claim = async {
                match &key {
                    Some(k) => client
                        .query_opt(&claim_stmt, &[k, &fingerprint])
                        .await
                        .map(|r| r.is_some()),
                    None => Ok(true),
                }
            };
            let heads_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&names];
            futures::try_join!(
                client.batch_execute("BEGIN"),
                locks,
                claim,
                client.query(&heads_stmt, &heads_params),
                client.query_one(&clock_stmt, &[])
            )
        };
        cx.client = Some(client);
        let ((), _, claimed, rows, clock) = begun?;

        if !claimed {
            let client = cx.client.take();
            if let Some(client) = client {
                client.batch_execute("ROLLBACK").await?;
                let key = key.unwrap_or_default();
                return self
                    .replay_result(&client, &key, fingerprint)
                    .await
                    .map(Begun::Replayed);
            }
        }

        for row in rows {
            let version: i64 = row.try_get(1)?;
            cx.heads.insert(
                StreamId::from_db(row.try_get(0)?),
                Head {
                    version: StreamVersion(u64::try_from(version).unwrap_or(0)),
                    snapshot: row.try_get(2)?,
                    snapshot_version: row.try_get(3)?,
                },
            );
        }
        cx.now = clock.try_get(0)?;
        Ok(Begun::Fresh(Box::new(cx)))
    }

    async fn replay_result<R: DeserializeOwned>(
        &self,
        client: &impl GenericClient,
        key: &str,
        fingerprint: &[u8],
    ) -> Result<Executed<R>, LedgerError> {
        let row = client
            .query_one(
                "SELECT fingerprint, result FROM ledger.idempotency_keys WHERE key = $1",
                &[&key],
            )
            .await?;
        let stored: Vec<u8> = row.try_get(0)?;
        if stored != fingerprint {
            return Err(LedgerError::IdempotencyConflict {
                key: key.to_string(),
            });
        }
        let result: Option<serde_json::Value> = row.try_get(1)?;
        let result = result.ok_or_else(|| {
            LedgerError::corrupt(format!("idempotency key {key:?}"), "no stored result")
        })?;
        let mut executed: Executed<R> = serde_json::from_value(result)?;
        executed.replayed = true;
        Ok(executed)
    }

    /// Appends events to one or more streams atomically, each checked against its expected
    /// version. The low-level door (imports, tests, tools); domain commands go through
    /// [`crate::Ledger`], which checks the token rules.
    pub async fn append(
        &self,
        ctx: &CommandContext,
        appends: Vec<StreamAppend>,
    ) -> Result<Executed<()>, LedgerError> {
        if appends.iter().all(|a| a.events.is_empty()) {
            return Err(LedgerError::EmptyAppend);
        }
        let streams: Vec<StreamId> = appends.iter().map(|a| a.stream.clone()).collect();
        let input: Vec<(&str, String, Vec<serde_json::Value>)> = appends
            .iter()
            .map(|a| {
                let events = a
                    .events
                    .iter()
                    .map(|e| serde_json::json!([e.event_type(), e.data()]))
                    .collect();
                (a.stream.as_str(), a.expected.to_string(), events)
            })
            .collect();
        let fp = fingerprint("append", &input);
        let (appends, streams, fp) = (&appends, &streams, &fp);
        retrying(streams, move || async move {
            let mut cx = match self.begin(ctx, fp, streams).await? {
                Begun::Replayed(done) => return Ok(done),
                Begun::Fresh(cx) => *cx,
            };
            for a in appends {
                cx.append_raw(a.stream.clone(), a.expected, a.events.clone());
            }
            cx.commit(()).await
        })
        .await
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

/// Wakes subscribers. Sent after COMMIT, outside the transaction: a NOTIFY inside it would take
/// the cluster-wide notify lock across the commit's WAL flush and serialize every append.
/// Best effort: subscribers also poll, so a lost notification only costs latency.
async fn notify(client: &impl GenericClient) {
    if let Err(e) = client
        .execute("SELECT pg_notify($1, '')", &[&NOTIFY_CHANNEL])
        .await
    {
        tracing::debug!(error = %e, "notify failed; subscribers will poll");
    }
}

/// Checks expected versions against the locked heads, then writes events, heads and the
/// idempotency result in one statement.
async fn write(
    tx: &deadpool_postgres::Object,
    heads: &HashMap<StreamId, Head>,
    pending: Vec<PendingAppend>,
    metadata: &EventMetadata,
    now: DateTime<Utc>,
    key: Option<&str>,
    result: &serde_json::Value,
) -> Result<Vec<Position>, LedgerError> {
    let metadata = serde_json::to_value(metadata)?;
    let mut event_ids = Vec::new();
    let mut stream_ids = Vec::new();
    let mut versions = Vec::new();
    let mut types = Vec::new();
    let mut schema_versions = Vec::new();
    let mut data = Vec::new();
    let mut metas = Vec::new();
    let mut times = Vec::new();
    let mut head_ids = Vec::new();
    let mut head_versions = Vec::new();
    let mut head_snapshots: Vec<Option<serde_json::Value>> = Vec::new();
    let mut head_snapshot_versions: Vec<Option<i32>> = Vec::new();
    // A stream may appear in several appends of one command; versions continue across them.
    let mut current: HashMap<&StreamId, StreamVersion> = HashMap::new();

    for append in &pending {
        let actual = *current.entry(&append.stream).or_insert_with(|| {
            heads
                .get(&append.stream)
                .map_or(StreamVersion::NONE, |h| h.version)
        });
        if !append.expected.admits(actual) {
            return Err(LedgerError::WrongExpectedVersion {
                stream: append.stream.clone(),
                expected: append.expected,
                actual,
            });
        }
        let mut version = actual;
        for event in &append.events {
            version = version.next();
            let event_type = event.event_type();
            event_ids.push(EventId::new().as_uuid());
            stream_ids.push(append.stream.as_str().to_string());
            versions.push(i64::try_from(version.0).unwrap_or(i64::MAX));
            types.push(event_type.to_string());
            schema_versions.push(Event::schema_version(event_type).unwrap_or(1));
            data.push(event.data());
            metas.push(metadata.clone());
            times.push(now);
        }
        current.insert(&append.stream, version);
        head_ids.push(append.stream.as_str().to_string());
        head_versions.push(i64::try_from(version.0).unwrap_or(i64::MAX));
        let (snap, snap_version) = match &append.snapshot {
            Some((v, n)) => (Some(v.clone()), Some(*n)),
            None => (None, None),
        };
        head_snapshots.push(snap);
        head_snapshot_versions.push(snap_version);
    }

    if event_ids.is_empty() {
        if let Some(k) = key {
            let stored = serde_json::json!({ "value": result, "positions": [] });
            tx.execute(
                "UPDATE ledger.idempotency_keys SET result = $2 WHERE key = $1",
                &[&k, &stored],
            )
            .await?;
        }
        return Ok(Vec::new());
    }

    // When a stream is appended to twice in one command, only its last head row may be written
    // (ON CONFLICT cannot touch the same row twice in one statement).
    let mut last_head: HashMap<&str, usize> = HashMap::new();
    for (i, id) in head_ids.iter().enumerate() {
        last_head.insert(id.as_str(), i);
    }
    let keep: Vec<usize> = {
        let mut k: Vec<usize> = last_head.into_values().collect();
        k.sort_unstable();
        k
    };
    let head_ids: Vec<String> = keep.iter().map(|&i| head_ids[i].clone()).collect();
    let head_versions: Vec<i64> = keep.iter().map(|&i| head_versions[i]).collect();
    let head_snapshots: Vec<Option<serde_json::Value>> =
        keep.iter().map(|&i| head_snapshots[i].clone()).collect();
    let head_snapshot_versions: Vec<Option<i32>> =
        keep.iter().map(|&i| head_snapshot_versions[i]).collect();

    let stmt = tx
        .prepare_cached(
            "WITH ev AS ( \
               INSERT INTO ledger.events (event_id, stream_id, stream_version, event_type, \
                                          schema_version, data, metadata, recorded_at) \
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::text[], $5::int2[], \
                                    $6::jsonb[], $7::jsonb[], $8::timestamptz[]) \
               RETURNING event_id, position \
             ), hd AS ( \
               INSERT INTO ledger.streams (stream_id, version, snapshot, snapshot_version) \
               SELECT * FROM unnest($9::text[], $10::int8[], $11::jsonb[], $12::int4[]) \
               ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, \
                 snapshot = EXCLUDED.snapshot, snapshot_version = EXCLUDED.snapshot_version \
             ), idem AS ( \
               UPDATE ledger.idempotency_keys SET result = jsonb_build_object( \
                 'value', $14::jsonb, \
                 'positions', (SELECT jsonb_agg(position ORDER BY position) FROM ev)) \
               WHERE key = $13 \
             ) \
             SELECT event_id, position FROM ev",
        )
        .await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &event_ids,
                &stream_ids,
                &versions,
                &types,
                &schema_versions,
                &data,
                &metas,
                &times,
                &head_ids,
                &head_versions,
                &head_snapshots,
                &head_snapshot_versions,
                &key,
                result,
            ],
        )
        .await?;

    let mut by_id: HashMap<Uuid, i64> = HashMap::with_capacity(rows.len());
    for row in rows {
        by_id.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let mut positions: Vec<Position> = event_ids
        .iter()
        .filter_map(|id| by_id.get(id).copied().map(Position))
        .collect();
    if positions.len() != event_ids.len() {
        return Err(LedgerError::corrupt(
            "append",
            "not every event got a position",
        ));
    }
    positions.sort_unstable();
    Ok(positions)
}

/// A unique violation on a stream's version or head means another writer created the same new
/// stream first: once retries are used up, that is a version conflict, not a database failure.
fn map_conflict(e: LedgerError, streams: &[StreamId]) -> LedgerError {
    let LedgerError::Database(db) = &e else {
        return e;
    };
    if !is_stream_clash(db) {
        return e;
    }
    let detail = db
        .as_db_error()
        .and_then(|d| d.detail())
        .unwrap_or_default();
    let stream = streams
        .iter()
        .find(|s| detail.contains(s.as_str()))
        .or(streams.first())
        .cloned();
    match stream {
        Some(stream) => LedgerError::WrongExpectedVersion {
            stream,
            expected: ExpectedVersion::NoStream,
            actual: StreamVersion(1),
        },
        None => e,
    }
}

pub(crate) fn is_stream_clash(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error()
            .and_then(|d| d.constraint())
            .is_some_and(|c| c == "events_stream_id_stream_version_key" || c == "streams_pkey")
}
