//! Group commit. Commands from every caller queue here; whatever queued while the previous batch
//! was being written is decided one after another inside one transaction and committed with one
//! WAL flush. Under load this turns N transactions into one; with a single caller it is the same
//! transaction it would have been anyway. Each command still gets its own outcome: a rule that
//! refuses one command does not touch the others.
//!
//! One batch: BEGIN; an advisory lock per stream (sorted: no deadlocks; advisory locks take no
//! transaction id, so the id is assigned after the locks are held, which keeps the global order
//! consistent with every stream's order); claim the idempotency keys; read the stream heads, the
//! clock, the transaction id and the backend's pid (one round trip). Decide. Then insert events +
//! heads + idempotency results in one statement, COMMIT and NOTIFY (a second round trip).
//!
//! Failures. Before COMMIT is sent, nothing can have been written: the batch fails as a whole and
//! its commands run again one by one (a bad command cannot sink its neighbours; a lost
//! connection gets one more try). Once COMMIT may have reached the server, the batch never runs
//! again: a refused write means the server rolled back; a COMMIT that went unanswered is resolved
//! by asking Postgres what became of the transaction id ([`crate::commit_outcome`]). Committed:
//! every command is answered from what was decided; rolled back: as before COMMIT; no answer in
//! time: each command that appended events gets [`LedgerError::OutcomeUnknown`]. A NOTIFY that
//! fails after a committed COMMIT is logged and counted, never an error (subscribers also poll).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use crate::account::Account;
use crate::aggregate::Aggregate;
use crate::command::{AnyState, Command, Decided, Locked, Outcome, View, decide};
use crate::commit_outcome::{InFlight, Learned, learn};
use crate::error::LedgerError;
use crate::events::Event;
use crate::ids::EventId;
use crate::metadata::CommandContext;
use crate::pricing::LedgerConfig;
use crate::store::{EventStore, Executed, NOTIFY_CHANNEL, fold_any};
use crate::stream::{Position, StreamId, StreamVersion};
use crate::task::TaskState;

/// Most commands decided in one transaction: bounds the transaction's size and lock set.
pub const MAX_BATCH: usize = 64;
/// Batches written at the same time (each holds one connection).
pub const MAX_CONCURRENT_BATCHES: usize = 2;
/// Commands waiting for a batch before callers are slowed down (back-pressure).
pub const QUEUE_CAPACITY: usize = 4096;
/// Attempts at a batch that lost a race to Postgres (deadlock or serialization failure).
const MAX_ATTEMPTS: u32 = 5;

struct Submission {
    command: Command,
    ctx: CommandContext,
    reply: oneshot::Sender<Result<Executed<Outcome>, LedgerError>>,
}

/// The queue into the batch writer. Cheap to clone; the writer stops when every clone is gone.
#[derive(Clone)]
pub(crate) struct Executor {
    queue: mpsc::Sender<Submission>,
}

impl Executor {
    /// Starts the batch writer. Must be called inside a Tokio runtime.
    pub(crate) fn start(store: EventStore, config: Arc<LedgerConfig>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(dispatch(store, config, rx));
        Self { queue }
    }

    pub(crate) async fn submit(
        &self,
        command: Command,
        ctx: CommandContext,
    ) -> Result<Executed<Outcome>, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Submission {
                command,
                ctx,
                reply,
            })
            .await
            .map_err(|_| LedgerError::corrupt("executor", "the batch writer has stopped"))?;
        answer
            .await
            .map_err(|_| LedgerError::corrupt("executor", "the batch writer dropped the command"))?
    }
}

async fn dispatch(
    store: EventStore,
    config: Arc<LedgerConfig>,
    mut rx: mpsc::Receiver<Submission>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_BATCHES));
    while let Some(first) = rx.recv().await {
        // Waiting for a slot is what lets the next batch grow.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(s) => batch.push(s),
                Err(_) => break,
            }
        }
        let (store, config) = (store.clone(), config.clone());
        tokio::spawn(async move {
            run_batch(&store, &config, batch).await;
            drop(slot);
        });
    }
}

async fn run_batch(store: &EventStore, config: &LedgerConfig, batch: Vec<Submission>) {
    metrics::histogram!("ledger_batch_size").record(batch.len() as f64);
    match execute_with_retries(store, config, &batch).await {
        Ok(results) => {
            for (s, r) in batch.into_iter().zip(results) {
                let _ = s.reply.send(r);
            }
        }
        // Nothing of the batch was written: `execute` fails as a whole only while that is
        // certain (once COMMIT may have reached the server it answers every command itself).
        Err(e) if batch.len() == 1 && !e.is_transient() => {
            if let Some(s) = batch.into_iter().next() {
                let _ = s.reply.send(Err(e));
            }
        }
        Err(e) => {
            // Run each command alone: one bad command cannot take its neighbours down, and a
            // connection lost on the way gets one more try on a fresh one.
            tracing::warn!(error = %e, size = batch.len(), "batch failed before anything was written; running its commands one by one");
            for s in batch {
                let one = std::slice::from_ref(&s);
                let result = match execute_with_retries(store, config, one).await {
                    Ok(mut r) => r
                        .pop()
                        .unwrap_or_else(|| Err(LedgerError::corrupt("executor", "no result"))),
                    Err(e) => Err(e),
                };
                let _ = s.reply.send(result);
            }
        }
    }
}

async fn execute_with_retries(
    store: &EventStore,
    config: &LedgerConfig,
    batch: &[Submission],
) -> Result<Vec<Result<Executed<Outcome>, LedgerError>>, LedgerError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match execute(store, config, batch).await {
            Err(e) if e.is_retryable_conflict() && attempt < MAX_ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "batch lost a race; retrying");
                metrics::counter!("ledger_conflicts_total").increment(1);
            }
            other => return other,
        }
    }
}

/// Rolls back on drop unless committed, so an error or a cancelled future never returns a
/// connection to the pool in the middle of a transaction.
struct TxGuard(Option<deadpool_postgres::Object>);

impl TxGuard {
    fn client(&self) -> &deadpool_postgres::Object {
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("the guard holds its client until dropped"))
    }

    fn finish(mut self) -> Option<deadpool_postgres::Object> {
        self.0.take()
    }

    /// Closes the connection without a ROLLBACK: after a lost COMMIT the server must see it
    /// gone, and the connection must never serve anyone again.
    fn discard(mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Drop for TxGuard {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                if let Err(e) = client.batch_execute("ROLLBACK").await {
                    tracing::warn!(error = %e, "rollback failed; discarding the connection");
                    let _ = deadpool_postgres::Object::take(client);
                }
            });
        }
    }
}

struct Head {
    version: StreamVersion,
    snapshot: Option<serde_json::Value>,
    snapshot_version: Option<i32>,
}

/// What became of each command of the batch before writing.
enum Decision {
    Decided {
        outcome: Outcome,
        appended: Vec<Decided>,
    },
    Refused(LedgerError),
    /// Its key was used by an earlier transaction: answered from the stored result.
    Replay,
    /// Its key is also used by an earlier command of this batch.
    SameKeyAs(usize),
}

async fn load_states(
    client: &deadpool_postgres::Object,
    heads: HashMap<StreamId, Head>,
    streams: &[StreamId],
) -> Result<HashMap<StreamId, Locked>, LedgerError> {
    let mut out = HashMap::with_capacity(streams.len());
    for stream in streams {
        let empty = AnyState::empty_for(stream);
        let locked = match heads.get(stream) {
            None => Locked {
                version: StreamVersion::NONE,
                state: empty,
            },
            Some(head) => {
                let from_snapshot = match (&empty, &head.snapshot, head.snapshot_version) {
                    (AnyState::Account(_), Some(s), Some(v)) if v == Account::SNAPSHOT_VERSION => {
                        serde_json::from_value(s.clone())
                            .ok()
                            .map(AnyState::Account)
                    }
                    (AnyState::Task(_), Some(s), Some(v)) if v == TaskState::SNAPSHOT_VERSION => {
                        serde_json::from_value(s.clone()).ok().map(AnyState::Task)
                    }
                    (AnyState::Other, _, _) => Some(AnyState::Other),
                    _ => None,
                };
                let state = match from_snapshot {
                    Some(s) => s,
                    None => fold_any(client, stream, empty).await?,
                };
                Locked {
                    version: head.version,
                    state,
                }
            }
        };
        out.insert(stream.clone(), locked);
    }
    Ok(out)
}

async fn execute(
    store: &EventStore,
    config: &LedgerConfig,
    batch: &[Submission],
) -> Result<Vec<Result<Executed<Outcome>, LedgerError>>, LedgerError> {
    let client = store.database().pool().get().await?;

    // Keys: the first command with a key owns it in this batch.
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let mut fingerprints: Vec<Option<Vec<u8>>> = Vec::with_capacity(batch.len());
    let mut claim_keys: Vec<String> = Vec::new();
    let mut claim_fps: Vec<Vec<u8>> = Vec::new();
    for (i, s) in batch.iter().enumerate() {
        let fp = s
            .ctx
            .idempotency_key
            .as_ref()
            .map(|_| s.command.fingerprint());
        if let (Some(k), Some(fp)) = (&s.ctx.idempotency_key, &fp)
            && !owner.contains_key(k.as_str())
        {
            owner.insert(k.as_str(), i);
            claim_keys.push(k.as_str().to_string());
            claim_fps.push(fp.clone());
        }
        fingerprints.push(fp);
    }
    let mut streams: Vec<StreamId> = batch.iter().flat_map(|s| s.command.streams()).collect();
    streams.sort();
    streams.dedup();
    let names: Vec<&str> = streams.iter().map(StreamId::as_str).collect();

    // One statement for all locks: unnest yields the sorted names in order, so every batch takes
    // its locks in the same global order.
    let lock_stmt = client
        .prepare_cached("SELECT count(pg_advisory_xact_lock(hashtextextended(s, 0))) FROM unnest($1::text[]) WITH ORDINALITY AS u(s, n)")
        .await?;
    let claim_stmt = client
        .prepare_cached(
            "INSERT INTO ledger.idempotency_keys (key, fingerprint) \
             SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (key) DO NOTHING RETURNING key",
        )
        .await?;
    let heads_stmt = client
        .prepare_cached("SELECT stream_id, version, snapshot, snapshot_version FROM ledger.streams WHERE stream_id = ANY($1)")
        .await?;
    // The transaction id is read here, after the lock statement: taking it earlier would
    // assign it before the locks are held (see the module comment). With it and the backend's
    // pid, an unanswered COMMIT can be resolved later (see crate::commit_outcome).
    let clock_stmt = client
        .prepare_cached("SELECT clock_timestamp(), pg_current_xact_id()::text, pg_backend_pid()")
        .await?;

    let guard = TxGuard(Some(client));
    let client = guard.client();
    let heads_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&names];
    let (_, _, claimed, head_rows, clock) = futures::try_join!(
        client.batch_execute("BEGIN"),
        client.query_one(&lock_stmt, &heads_params),
        async {
            if claim_keys.is_empty() {
                Ok(Vec::new())
            } else {
                client.query(&claim_stmt, &[&claim_keys, &claim_fps]).await
            }
        },
        client.query(&heads_stmt, &heads_params),
        client.query_one(&clock_stmt, &[])
    )?;
    let claimed: HashSet<String> = claimed
        .iter()
        .map(|r| r.try_get::<_, String>(0))
        .collect::<Result<_, _>>()?;
    let now: DateTime<Utc> = clock.try_get(0)?;
    let in_flight = InFlight {
        xid: clock.try_get(1)?,
        pid: clock.try_get(2)?,
    };
    let mut heads = HashMap::with_capacity(head_rows.len());
    for row in head_rows {
        let version: i64 = row.try_get(1)?;
        heads.insert(
            StreamId::from_db(row.try_get(0)?),
            Head {
                version: StreamVersion(u64::try_from(version).unwrap_or(0)),
                snapshot: row.try_get(2)?,
                snapshot_version: row.try_get(3)?,
            },
        );
    }
    let base_versions: HashMap<StreamId, StreamVersion> =
        heads.iter().map(|(s, h)| (s.clone(), h.version)).collect();
    let mut states = load_states(client, heads, &streams).await?;

    // Decide, in arrival order, each on the state the previous ones left.
    let mut decisions = Vec::with_capacity(batch.len());
    for (i, s) in batch.iter().enumerate() {
        let decision = match &s.ctx.idempotency_key {
            Some(k) if owner.get(k.as_str()) != Some(&i) => {
                Decision::SameKeyAs(owner.get(k.as_str()).copied().unwrap_or(i))
            }
            Some(k) if !claimed.contains(k.as_str()) => Decision::Replay,
            _ => {
                let mut view = View::new(&mut states, now);
                match decide(&s.command, &mut view, config) {
                    Ok(outcome) => Decision::Decided {
                        outcome,
                        appended: view.keep(),
                    },
                    Err(e) => Decision::Refused(e),
                }
            }
        };
        decisions.push(decision);
    }

    // Rows to write.
    let mut rows = EventRows::default();
    let mut versions = base_versions;
    let mut event_ids_of: Vec<Vec<Uuid>> = vec![Vec::new(); batch.len()];
    let mut touched: Vec<StreamId> = Vec::new();
    let mut results_keys: Vec<String> = Vec::new();
    let mut results_values: Vec<serde_json::Value> = Vec::new();
    let mut released_keys: Vec<String> = Vec::new();
    for (i, (s, d)) in batch.iter().zip(&decisions).enumerate() {
        match d {
            Decision::Decided { outcome, appended } => {
                let metadata = serde_json::to_value(s.ctx.metadata())?;
                for Decided { stream, events } in appended {
                    let version = versions
                        .entry(stream.clone())
                        .or_insert(StreamVersion::NONE);
                    for event in events {
                        *version = version.next();
                        let id = EventId::new().as_uuid();
                        event_ids_of[i].push(id);
                        rows.push(id, stream, *version, event, &metadata, now);
                    }
                    touched.push(stream.clone());
                }
                if let Some(k) = &s.ctx.idempotency_key {
                    results_keys.push(k.as_str().to_string());
                    results_values.push(
                        serde_json::json!({ "value": outcome, "event_ids": event_ids_of[i] }),
                    );
                }
            }
            Decision::Refused(_) => {
                // A refused command leaves no key behind, so the caller may try again.
                if let Some(k) = &s.ctx.idempotency_key {
                    released_keys.push(k.as_str().to_string());
                }
            }
            Decision::Replay | Decision::SameKeyAs(_) => {}
        }
    }
    touched.sort();
    touched.dedup();
    let mut head_ids = Vec::with_capacity(touched.len());
    let mut head_versions = Vec::with_capacity(touched.len());
    let mut head_snapshots: Vec<Option<serde_json::Value>> = Vec::with_capacity(touched.len());
    let mut head_snapshot_versions: Vec<Option<i32>> = Vec::with_capacity(touched.len());
    for stream in &touched {
        let locked = states
            .get(stream)
            .ok_or_else(|| LedgerError::corrupt("executor", "touched stream without state"))?;
        debug_assert_eq!(
            Some(&locked.version),
            versions.get(stream),
            "versions agree with the decided state"
        );
        head_ids.push(stream.as_str().to_string());
        head_versions.push(i64::try_from(locked.version.0).unwrap_or(i64::MAX));
        let snap = locked.state.snapshot();
        head_snapshot_versions.push(snap.as_ref().map(|(_, v)| *v));
        head_snapshots.push(snap.map(|(s, _)| s));
    }

    let write_stmt = client
        .prepare_cached(
            "WITH ev AS ( \
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
             SELECT event_id, position FROM ev",
        )
        .await?;
    let notify = !rows.ids.is_empty();
    let write_params: [&(dyn tokio_postgres::types::ToSql + Sync); 15] = [
        &rows.ids,
        &rows.streams,
        &rows.versions,
        &rows.types,
        &rows.schema_versions,
        &rows.data,
        &rows.metadata,
        &rows.times,
        &head_ids,
        &head_versions,
        &head_snapshots,
        &head_snapshot_versions,
        &results_keys,
        &results_values,
        &released_keys,
    ];
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
    let (fate, reader) = match (written, committed) {
        (Ok(written), Ok(())) => {
            let mut positions: HashMap<Uuid, i64> = HashMap::with_capacity(written.len());
            for row in &written {
                if let (Ok(id), Ok(position)) = (row.try_get(0), row.try_get(1)) {
                    positions.insert(id, position);
                }
            }
            let client = match notified {
                Ok(()) => guard.finish(),
                Err(e) => {
                    // Committed all the same; subscribers also poll, so this costs latency
                    // only. The connection is not trusted again.
                    tracing::warn!(error = %e, "NOTIFY after a committed batch failed");
                    metrics::counter!("ledger_notify_failures_total").increment(1);
                    guard.discard();
                    None
                }
            };
            (Fate::Committed(Some(positions)), client)
        }
        // The server refused the write: it rolled the transaction back, COMMIT only confirmed it.
        (Err(e), _) if e.as_db_error().is_some() => return Err(e.into()),
        (Err(e), _) | (Ok(_), Err(e)) => {
            tracing::warn!(error = %e, size = batch.len(), xid = %in_flight.xid, "COMMIT went unanswered; asking Postgres what became of the batch");
            guard.discard();
            let wait = config.commit_outcome_wait;
            match learn(store.database().pool(), &in_flight, &rows.ids, wait).await {
                Learned::Committed { positions, client } => {
                    (Fate::Committed(positions), client.map(|c| *c))
                }
                Learned::Aborted => return Err(e.into()),
                Learned::Unknown => (
                    Fate::Unknown {
                        waited_s: wait.as_secs(),
                        cause: e.to_string(),
                    },
                    None,
                ),
            }
        }
    };
    if matches!(fate, Fate::Committed(_)) {
        metrics::counter!("ledger_appends_total").increment(rows.ids.len() as u64);
    }
    Ok(answer(
        store,
        batch,
        decisions,
        &fingerprints,
        &event_ids_of,
        &fate,
        reader,
    )
    .await)
}

/// What became of a batch's transaction once COMMIT was sent.
enum Fate {
    /// Committed: positions of its events by event id (`None`: committed, not read back).
    Committed(Option<HashMap<Uuid, i64>>),
    /// It may or may not have committed.
    Unknown { waited_s: u64, cause: String },
}

/// Answers every command of a batch whose COMMIT was sent. Never fails as a whole: a command
/// whose answer cannot be given gets its own error, one that says whether it may have been
/// written.
async fn answer(
    store: &EventStore,
    batch: &[Submission],
    decisions: Vec<Decision>,
    fingerprints: &[Option<Vec<u8>>],
    event_ids_of: &[Vec<Uuid>],
    fate: &Fate,
    reader: Option<deadpool_postgres::Object>,
) -> Vec<Result<Executed<Outcome>, LedgerError>> {
    let key_of = |i: usize| {
        batch[i]
            .ctx
            .idempotency_key
            .as_ref()
            .map(|k| k.as_str().to_string())
            .unwrap_or_default()
    };
    let replay_keys: Vec<String> = decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| matches!(d, Decision::Replay))
        .map(|(i, _)| key_of(i))
        .collect();
    // Replays wrote nothing here, so their answers come from the database whatever the fate.
    let mut reader = reader;
    if !replay_keys.is_empty() && reader.is_none() {
        reader = store.database().pool().get().await.ok();
    }
    let stored = match &reader {
        Some(client) => stored_results(client, &replay_keys).await.ok(),
        None => None,
    };

    let mut answers: Vec<Result<Executed<Outcome>, LedgerError>> = Vec::with_capacity(batch.len());
    for (i, d) in decisions.into_iter().enumerate() {
        let answer = match d {
            Decision::Decided { outcome, .. } => match fate {
                Fate::Committed(positions) => {
                    let mut found: Vec<Position> = event_ids_of[i]
                        .iter()
                        .filter_map(|id| positions.as_ref()?.get(id).copied().map(Position))
                        .collect();
                    found.sort_unstable();
                    Ok(Executed {
                        value: outcome,
                        positions: found,
                        replayed: false,
                    })
                }
                // A command that appended nothing has the same answer either way.
                Fate::Unknown { .. } if event_ids_of[i].is_empty() => Ok(Executed {
                    value: outcome,
                    positions: Vec::new(),
                    replayed: false,
                }),
                Fate::Unknown { waited_s, cause } => Err(LedgerError::OutcomeUnknown {
                    waited_s: *waited_s,
                    cause: cause.clone(),
                }),
            },
            Decision::Refused(e) => Err(e),
            Decision::Replay => {
                let key = key_of(i);
                let found = match &stored {
                    Some(all) => Ok(all.get(&key).cloned()),
                    // Reading them together failed: each asks alone and gets its own error.
                    None => stored_result(store, &key).await,
                };
                match found {
                    Err(e) => Err(e),
                    Ok(found) => {
                        let fingerprint = fingerprints[i].as_ref();
                        replay_answer(store, reader.as_ref(), key, fingerprint, found).await
                    }
                }
            }
            Decision::SameKeyAs(first) => {
                let key = key_of(i);
                if fingerprints[i] != fingerprints[first] {
                    Err(LedgerError::IdempotencyConflict { key })
                } else {
                    match answers.get(first) {
                        Some(Ok(done)) => Ok(Executed {
                            replayed: true,
                            ..done.clone()
                        }),
                        Some(Err(LedgerError::Domain(e))) => Err(LedgerError::Domain(e.clone())),
                        Some(Err(LedgerError::IdempotencyConflict { key })) => {
                            Err(LedgerError::IdempotencyConflict { key: key.clone() })
                        }
                        Some(Err(LedgerError::OutcomeUnknown { waited_s, cause })) => {
                            Err(LedgerError::OutcomeUnknown {
                                waited_s: *waited_s,
                                cause: cause.clone(),
                            })
                        }
                        _ => Err(LedgerError::corrupt(
                            format!("idempotency key {key:?}"),
                            "its first use in this batch failed",
                        )),
                    }
                }
            }
        };
        answers.push(answer);
    }
    answers
}

/// An idempotency key's fingerprint and stored result.
type StoredResult = (Vec<u8>, Option<serde_json::Value>);

async fn stored_results(
    client: &deadpool_postgres::Object,
    keys: &[String],
) -> Result<HashMap<String, StoredResult>, LedgerError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query(
            "SELECT key, fingerprint, result FROM ledger.idempotency_keys WHERE key = ANY($1)",
            &[&keys],
        )
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?));
    }
    Ok(out)
}

/// The stored result of one key, on a connection of its own.
async fn stored_result(store: &EventStore, key: &str) -> Result<Option<StoredResult>, LedgerError> {
    let client = store.database().pool().get().await?;
    Ok(stored_results(&client, &[key.to_string()])
        .await?
        .remove(key))
}

/// Answers a command whose key an earlier transaction used, from that transaction's result.
async fn replay_answer(
    store: &EventStore,
    reader: Option<&deadpool_postgres::Object>,
    key: String,
    fingerprint: Option<&Vec<u8>>,
    found: Option<StoredResult>,
) -> Result<Executed<Outcome>, LedgerError> {
    match found {
        None => Err(LedgerError::corrupt(
            format!("idempotency key {key:?}"),
            "claimed but not found",
        )),
        Some((fp, _)) if Some(&fp) != fingerprint => Err(LedgerError::IdempotencyConflict { key }),
        Some((_, None)) => Err(LedgerError::corrupt(
            format!("idempotency key {key:?}"),
            "no stored result",
        )),
        Some((_, Some(result))) => match reader {
            Some(client) => replayed(client, &result).await,
            None => replayed(&store.database().pool().get().await?, &result).await,
        },
    }
}

async fn replayed(
    client: &deadpool_postgres::Object,
    stored: &serde_json::Value,
) -> Result<Executed<Outcome>, LedgerError> {
    let value: Outcome = serde_json::from_value(stored.get("value").cloned().unwrap_or_default())?;
    let ids: Vec<Uuid> =
        serde_json::from_value(stored.get("event_ids").cloned().unwrap_or_default())?;
    let rows = client
        .query(
            "SELECT position FROM ledger.events WHERE event_id = ANY($1) ORDER BY position",
            &[&ids],
        )
        .await?;
    let positions = rows
        .iter()
        .map(|r| r.try_get(0).map(Position))
        .collect::<Result<_, _>>()?;
    Ok(Executed {
        value,
        positions,
        replayed: true,
    })
}

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
    fn push(
        &mut self,
        id: Uuid,
        stream: &StreamId,
        version: StreamVersion,
        event: &Event,
        metadata: &serde_json::Value,
        at: DateTime<Utc>,
    ) {
        let event_type = event.event_type();
        self.ids.push(id);
        self.streams.push(stream.as_str().to_string());
        self.versions
            .push(i64::try_from(version.0).unwrap_or(i64::MAX));
        self.types.push(event_type.to_string());
        self.schema_versions
            .push(Event::schema_version(event_type).unwrap_or(1));
        self.data.push(event.data());
        self.metadata.push(metadata.clone());
        self.times.push(at);
    }
}
