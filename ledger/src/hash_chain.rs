//! Tamper evidence: a SHA-256 chain over the global order. Each link covers the previous hash and
//! the event's canonical bytes, so changing, removing or inserting any sealed event changes every
//! hash after it. Sealing happens after commit, by one sealer at a time, so appends never wait.
//!
//! An attacker with superuser rights could rewrite the chain as well; what defeats that is a head
//! hash kept somewhere else: the sealer signs the head into checkpoints published outside the
//! database ([`crate::checkpoint`]), and `ledger verify` prints it for anyone to keep.

use deadpool_postgres::GenericClient;
use sha2::{Digest, Sha256};

use crate::error::LedgerError;
use crate::global_order::{LogCursor, RawEvent, read_log};
use crate::store::EventStore;
use crate::stream::{OutOfRange, Position};

/// SHA-256.
pub type Hash = [u8; 32];

/// The hash before the first event.
pub const GENESIS: Hash = [0; 32];

/// Advisory lock key of the sealer ("sealer").
const SEALER_LOCK_KEY: i64 = 0x0000_7365_616c_6572;

/// Bounds one sealing transaction.
pub const SEAL_BATCH: i64 = 5_000;

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The bytes an event's hash covers: every column, length-prefixed, in a fixed order.
pub fn canonical_bytes(e: &RawEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + e.data.len() + e.metadata.len());
    out.extend_from_slice(b"tokenbot-event-v1");
    out.extend_from_slice(&e.position.0.to_be_bytes());
    out.extend_from_slice(&e.tx_id.to_be_bytes());
    out.extend_from_slice(e.event_id.as_uuid().as_bytes());
    put_bytes(&mut out, e.stream_id.as_str().as_bytes());
    out.extend_from_slice(&e.version.0.to_be_bytes());
    put_bytes(&mut out, e.event_type.as_bytes());
    out.extend_from_slice(&e.schema_version.to_be_bytes());
    put_bytes(&mut out, e.data.as_bytes());
    put_bytes(&mut out, e.metadata.as_bytes());
    out.extend_from_slice(&e.recorded_at.timestamp_micros().to_be_bytes());
    out
}

/// The hash of `event` chained after `previous`.
pub fn link(previous: &Hash, event: &RawEvent) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(canonical_bytes(event));
    h.finalize().into()
}

/// The newest sealed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Events sealed (1 = the first).
    pub seq: u64,
    /// The position of the last one.
    pub position: Position,
    /// Its place in the global order (where sealing carries on).
    pub cursor: LogCursor,
    /// The chain's hash there.
    pub hash: Hash,
}

/// The newest sealed link, if any.
pub async fn chain_head(client: &impl GenericClient) -> Result<Option<ChainHead>, LedgerError> {
    let row = client
        .query_opt(
            "SELECT seq, position, tx_id::text, hash FROM ledger.chain ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let seq: i64 = row.try_get(0)?;
    let position: Position = row.try_get(1)?;
    let tx: String = row.try_get(2)?;
    let hash: Vec<u8> = row.try_get(3)?;
    let corrupt = |d: &str| LedgerError::corrupt(format!("chain seq {seq}"), d);
    Ok(Some(ChainHead {
        seq: u64::try_from(seq).map_err(|_| corrupt("negative seq"))?,
        position,
        cursor: LogCursor {
            tx_id: tx.parse().map_err(|_| corrupt("bad tx id"))?,
            position: position.0,
        },
        hash: hash
            .try_into()
            .map_err(|_| corrupt("hash is not 32 bytes"))?,
    }))
}

/// Seals up to `max_events` committed events. Returns how many were sealed (0 when another
/// sealer holds the lock or nothing is new).
pub async fn seal(store: &EventStore, max_events: i64) -> Result<u64, LedgerError> {
    let mut client = store.database().pool().get().await?;
    let tx = client.transaction().await?;
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&SEALER_LOCK_KEY])
        .await?
        .try_get(0)?;
    if !locked {
        return Ok(0);
    }
    let head = chain_head(&tx).await?;
    let (mut seq, mut hash, after) = match &head {
        Some(h) => (h.seq, h.hash, h.cursor),
        None => (0, GENESIS, LogCursor::START),
    };
    let events = read_log(&tx, after, max_events).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let mut seqs = Vec::with_capacity(events.len());
    let mut positions = Vec::with_capacity(events.len());
    let mut txs = Vec::with_capacity(events.len());
    let mut hashes: Vec<Vec<u8>> = Vec::with_capacity(events.len());
    for e in &events {
        seq += 1;
        hash = link(&hash, e);
        seqs.push(i64::try_from(seq).map_err(|_| OutOfRange::new("chain seq", seq))?);
        positions.push(e.position.to_int8()?);
        txs.push(e.tx_id.to_string());
        hashes.push(hash.to_vec());
    }
    tx.execute(
        "INSERT INTO ledger.chain (seq, position, tx_id, hash) \
         SELECT s, p, t::xid8, h FROM unnest($1::int8[], $2::int8[], $3::text[], $4::bytea[]) AS u(s, p, t, h)",
        &[&seqs, &positions, &txs, &hashes],
    )
    .await?;
    tx.commit().await?;
    Ok(events.len() as u64)
}

/// Longest `seal_all` waits for transactions that were open when it was called.
const SEAL_ALL_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Seals everything committed before the call. Events become sealable once every older
/// transaction on the server has finished (see [`crate::global_order`]), so this waits, within
/// a bound, for the horizon to pass what was committed when it was called.
pub async fn seal_all(store: &EventStore) -> Result<u64, LedgerError> {
    let client = store.database().pool().get().await?;
    let started: String = client
        .query_one("SELECT pg_snapshot_xmax(pg_current_snapshot())::text", &[])
        .await?
        .try_get(0)?;
    drop(client);
    let deadline = tokio::time::Instant::now() + SEAL_ALL_PATIENCE;
    let mut backoff = crate::backoff::Backoff::new(
        std::time::Duration::from_millis(2),
        std::time::Duration::from_millis(100),
    );
    let mut total = 0;
    loop {
        let n = seal(store, SEAL_BATCH).await?;
        total += n;
        if n > 0 {
            continue;
        }
        let client = store.database().pool().get().await?;
        let head = chain_head(&client).await?;
        let after = head.map_or(LogCursor::START, |h| h.cursor);
        let waiting: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM ledger.events e \
                 WHERE (e.tx_id, e.position) > ($1::text::xid8, $2) AND e.tx_id < $3::text::xid8)",
                &[&after.tx_id.to_string(), &after.position, &started],
            )
            .await?
            .try_get(0)?;
        if !waiting || tokio::time::Instant::now() >= deadline {
            return Ok(total);
        }
        tokio::time::sleep(backoff.next_pause()).await;
    }
}

/// Seals continuously until `shutdown`: a background loop beside the relay, so a sealing backlog
/// (a fresh deployment over an old log, say) never delays publishing. Safe to run in several
/// processes: one seals at a time, the others find the lock taken and wait. (Signing the head
/// into checkpoints is a loop of its own: [`crate::checkpoint::run_signer`].)
pub async fn run_sealer(
    store: EventStore,
    idle: std::time::Duration,
    shutdown: crate::shutdown::Shutdown,
) {
    while !shutdown.is_cancelled() {
        let wait = match seal(&store, SEAL_BATCH).await {
            Ok(n) if n > 0 => {
                metrics::counter!("tokenbot_chain_sealed_total").increment(n);
                continue;
            }
            Ok(_) => idle,
            Err(e) => {
                tracing::warn!(error = %crate::error::chain(&e), "sealing failed; retrying");
                idle * 4
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
