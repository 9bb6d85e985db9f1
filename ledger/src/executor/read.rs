//! The first steps of a batch: which command owns which idempotency key ([`Keys`]), then one
//! round trip that opens the transaction, locks every stream, claims the keys and reads the
//! stream heads, the clock, the transaction id and the backend's pid ([`lock_and_read`]), then
//! the aggregates of the locked streams ([`load_states`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;

use super::submission::Pending;
use super::tx_guard::TxGuard;
use crate::account::Account;
use crate::aggregate::Aggregate;
use crate::command::view::{AnyState, Locked};
use crate::commit_outcome::InFlight;
use crate::error::LedgerError;
use crate::purchase::PurchaseState;
use crate::store::fold_stream;
use crate::stream::{StreamId, StreamVersion};
use crate::task::TaskState;

/// The idempotency keys of a batch. The first command with a key owns it in this batch.
pub(super) struct Keys {
    /// Per command: the index of the command that owns its key (itself, or an earlier one).
    pub owner: Vec<Option<usize>>,
    /// Per command with a key: its fingerprint.
    pub fingerprints: Vec<Option<Vec<u8>>>,
    claim: Vec<String>,
    claim_fingerprints: Vec<Vec<u8>>,
}

impl Keys {
    /// Step 1: who owns which key, and the keys to claim.
    pub fn of(batch: &[Box<dyn Pending>]) -> Self {
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut keys = Keys {
            owner: Vec::with_capacity(batch.len()),
            fingerprints: Vec::with_capacity(batch.len()),
            claim: Vec::new(),
            claim_fingerprints: Vec::new(),
        };
        for (i, s) in batch.iter().enumerate() {
            let Some(key) = &s.ctx().idempotency_key else {
                keys.owner.push(None);
                keys.fingerprints.push(None);
                continue;
            };
            let fingerprint = s.fingerprint();
            let owner = *first.entry(key.as_str()).or_insert_with(|| {
                keys.claim.push(key.as_str().to_string());
                keys.claim_fingerprints.push(fingerprint.clone());
                i
            });
            keys.owner.push(Some(owner));
            keys.fingerprints.push(Some(fingerprint));
        }
        keys
    }
}

/// A stream head as the first round trip read it.
pub(super) struct Head {
    version: StreamVersion,
    snapshot: Option<serde_json::Value>,
    snapshot_version: Option<i32>,
}

/// What the first round trip read.
pub(super) struct Read {
    /// The keys this transaction claimed (the others were used by earlier transactions).
    pub claimed: HashSet<String>,
    /// The batch's clock.
    pub now: DateTime<Utc>,
    /// The transaction, for resolving an unanswered COMMIT.
    pub in_flight: InFlight,
    /// The heads of the streams that exist.
    pub heads: HashMap<StreamId, Head>,
}

impl Read {
    /// Each existing stream's version before the batch.
    pub fn versions(&self) -> HashMap<StreamId, StreamVersion> {
        self.heads
            .iter()
            .map(|(s, h)| (s.clone(), h.version))
            .collect()
    }
}

/// Every stream the batch touches, sorted (the order its locks are taken in).
pub(super) fn streams_of(batch: &[Box<dyn Pending>]) -> Vec<StreamId> {
    let mut streams: Vec<StreamId> = batch.iter().flat_map(|s| s.streams()).collect();
    streams.sort();
    streams.dedup();
    streams
}

/// Step 2: BEGIN, the locks, the key claims, the heads and the clock, in one round trip.
pub(super) async fn lock_and_read(
    client: deadpool_postgres::Object,
    keys: &Keys,
    streams: &[StreamId],
) -> Result<(TxGuard, Read), LedgerError> {
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

    let guard = TxGuard::new(client);
    let client = guard.client();
    let heads_params: [&(dyn ToSql + Sync); 1] = [&names];
    let (_, _, claimed, head_rows, clock) = futures::try_join!(
        client.batch_execute("BEGIN"),
        client.query_one(&lock_stmt, &heads_params),
        async {
            if keys.claim.is_empty() {
                Ok(Vec::new())
            } else {
                let claim_params: [&(dyn ToSql + Sync); 2] =
                    [&keys.claim, &keys.claim_fingerprints];
                client.query(&claim_stmt, &claim_params).await
            }
        },
        client.query(&heads_stmt, &heads_params),
        client.query_one(&clock_stmt, &[])
    )?;
    let mut heads = HashMap::with_capacity(head_rows.len());
    for row in head_rows {
        heads.insert(
            StreamId::from_db(row.try_get(0)?),
            Head {
                version: row.try_get(1)?,
                snapshot: row.try_get(2)?,
                snapshot_version: row.try_get(3)?,
            },
        );
    }
    let read = Read {
        claimed: claimed
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<_, _>>()?,
        now: clock.try_get(0)?,
        in_flight: InFlight {
            xid: clock.try_get(1)?,
            pid: clock.try_get(2)?,
        },
        heads,
    };
    Ok((guard, read))
}

/// The aggregates of the locked streams: from each head's snapshot, or folded from the events
/// when the snapshot is missing or of another shape.
pub(super) async fn load_states(
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
            Some(head) => Locked {
                version: head.version,
                state: match from_snapshot(&empty, head) {
                    Some(s) => s,
                    None => fold_any(client, stream, empty, head.version).await?,
                },
            },
        };
        out.insert(stream.clone(), locked);
    }
    Ok(out)
}

fn from_snapshot(empty: &AnyState, head: &Head) -> Option<AnyState> {
    match (empty, &head.snapshot, head.snapshot_version) {
        (AnyState::Account(_), Some(s), Some(v)) if v == Account::SNAPSHOT_VERSION => {
            serde_json::from_value(s.clone())
                .ok()
                .map(AnyState::Account)
        }
        (AnyState::Task(_), Some(s), Some(v)) if v == TaskState::SNAPSHOT_VERSION => {
            serde_json::from_value(s.clone()).ok().map(AnyState::Task)
        }
        (AnyState::Purchase(_), Some(s), Some(v)) if v == PurchaseState::SNAPSHOT_VERSION => {
            serde_json::from_value(s.clone())
                .ok()
                .map(AnyState::Purchase)
        }
        (AnyState::Other, _, _) => Some(AnyState::Other),
        _ => None,
    }
}

/// Folds a stream into the aggregate its category implies; its events must number exactly the
/// head's version (both read under the batch's lock).
async fn fold_any(
    client: &deadpool_postgres::Object,
    stream: &StreamId,
    empty: AnyState,
    head: StreamVersion,
) -> Result<AnyState, LedgerError> {
    let (state, folded) = match empty {
        AnyState::Account(_) => {
            let (a, v) = fold_stream(client, stream).await?;
            (AnyState::Account(a), v)
        }
        AnyState::Task(_) => {
            let (t, v) = fold_stream(client, stream).await?;
            (AnyState::Task(t), v)
        }
        AnyState::Purchase(_) => {
            let (p, v) = fold_stream(client, stream).await?;
            (AnyState::Purchase(p), v)
        }
        AnyState::Other => return Ok(AnyState::Other),
    };
    if folded != head {
        return Err(LedgerError::corrupt(
            stream.as_str(),
            format!("the head says version {head} but the stream has {folded} events"),
        ));
    }
    Ok(state)
}
