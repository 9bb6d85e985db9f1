//! Signed checkpoints: the hash chain's head (sequence, position, hash, time) signed with an
//! Ed25519 key and published outside the database, on a JetStream stream of its own.
//!
//! The hash chain alone proves that the events match the chain; someone able to rewrite both
//! (a superuser) can make them match again. A checkpoint is a head hash that left the database
//! when it was sealed, signed by a key the database never sees: a rewritten log can be made
//! consistent with itself, but not with a checkpoint signed before the rewrite.
//! `ledger verify --checkpoints` holds the log against every checkpoint; auditors keep their own
//! copy with `ledger checkpoints export`.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, Verifier};
use serde::{Deserialize, Serialize};

use crate::bus::BusConfig;
use crate::error::LedgerError;
use crate::hash_chain::{ChainHead, Hash, chain_head};
use crate::store::EventStore;

/// Checkpoints read per request when paging through the stream.
pub const READ_PAGE: usize = 1000;

/// What can go wrong signing, publishing or checking checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A key that does not parse.
    #[error("{0}")]
    Key(String),
    /// A checkpoint whose signature the auditor's key does not verify.
    #[error(
        "checkpoint at chain seq {seq}: the signature does not verify with the given public key"
    )]
    BadSignature {
        /// The chain seq the checkpoint names.
        seq: u64,
    },
    /// A checkpoint message that does not decode.
    #[error("checkpoint does not decode: {0}")]
    Decode(String),
    /// JetStream failed.
    #[error("NATS: {0}")]
    Nats(String),
    /// Reading the chain failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Hex of exactly `N` bytes, as the JSON form of hashes, keys and signatures.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(&text).map_err(D::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| D::Error::custom(format!("expected {N} bytes of hex")))
    }
}

/// A chain head signed by the sealer. The JSON form is what JetStream carries, what
/// `GET /admin/ledger/checkpoints` serves and what `ledger checkpoints export` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// The chain's `seq` of the head: this many events were sealed.
    pub seq: u64,
    /// `ledger.events.position` of the event at `seq`.
    pub position: i64,
    /// Its writing transaction (with `position`, its place in the global order).
    pub tx_id: u64,
    /// The chain's hash at `seq`.
    #[serde(with = "hex_bytes")]
    pub head_hash: Hash,
    /// When it was signed (microseconds, like every time the ledger records).
    pub signed_at: DateTime<Utc>,
    /// The key that signed it (for telling keys apart; trust comes from the key the auditor
    /// holds, never from this field).
    #[serde(with = "hex_bytes")]
    pub public_key: [u8; 32],
    /// Ed25519 over the fields above.
    #[serde(with = "hex_bytes")]
    pub signature: [u8; 64],
}

impl SignedCheckpoint {
    /// The bytes the signature covers: every field but the key and the signature, fixed width.
    fn message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(b"tokenbot-checkpoint-v1\0");
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.tx_id.to_be_bytes());
        out.extend_from_slice(&self.head_hash);
        out.extend_from_slice(&self.signed_at.timestamp_micros().to_be_bytes());
        out
    }

    /// Checks the signature against the key the auditor trusts.
    pub fn verify(&self, key: &PublicKey) -> Result<(), CheckpointError> {
        let signature = ed25519_dalek::Signature::from_bytes(&self.signature);
        key.0
            .verify(&self.message(), &signature)
            .map_err(|_| CheckpointError::BadSignature { seq: self.seq })
    }

    /// One JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads one JSON line.
    pub fn from_json(text: &str) -> Result<Self, CheckpointError> {
        serde_json::from_str(text).map_err(|e| CheckpointError::Decode(e.to_string()))
    }
}

/// The secret half: signs checkpoints. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointSigner(public key {})", self.public_key())
    }
}

impl CheckpointSigner {
    /// A new random key.
    pub fn generate() -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
        }
    }

    /// From the 64 hex characters of the 32-byte secret seed (what `ledger keygen` writes).
    pub fn from_hex(text: &str) -> Result<Self, CheckpointError> {
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                CheckpointError::Key(
                    "a signing key is 64 hex characters (32 bytes); make one with `tokenbot ledger keygen`"
                        .into(),
                )
            })?;
        Ok(Self {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// The secret seed as hex, for writing a key file.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// The key auditors check with.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    /// Signs `head` as of `at` (kept to the microsecond).
    pub fn sign(&self, head: &ChainHead, at: DateTime<Utc>) -> SignedCheckpoint {
        let signed_at = DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at);
        let mut checkpoint = SignedCheckpoint {
            seq: head.seq,
            position: head.position.0,
            tx_id: head.cursor.tx_id,
            head_hash: head.hash,
            signed_at,
            public_key: self.key.verifying_key().to_bytes(),
            signature: [0; 64],
        };
        checkpoint.signature = self.key.sign(&checkpoint.message()).to_bytes();
        checkpoint
    }
}

/// The public half: what an auditor holds to check checkpoints.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, CheckpointError> {
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                CheckpointError::Key("a public key is 64 hex characters (32 bytes)".into())
            })?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| CheckpointError::Key("not a valid Ed25519 public key".into()))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0.to_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// When the sealer signs: whenever the chain grew by `every_events`, or `every` has passed
/// since the last checkpoint and the chain grew at all (an idle ledger publishes nothing).
#[derive(Debug, Clone)]
pub struct CheckpointPolicy {
    /// Sign when the chain grew by this many events.
    pub every_events: u64,
    /// Sign when this much time passed and the chain grew at all.
    pub every: Duration,
    /// How long JetStream keeps a checkpoint; `None`: for ever.
    pub max_age: Option<Duration>,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            every_events: 10_000,
            every: Duration::from_secs(60),
            max_age: None,
        }
    }
}

/// What the sealer needs to sign and publish checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointSettings {
    /// The key.
    pub signer: CheckpointSigner,
    /// When to sign.
    pub policy: CheckpointPolicy,
}

/// Creates the checkpoint stream, or updates it to this configuration: file storage, its own
/// retention (independent of the event stream's), one subject.
pub async fn ensure_stream(
    js: &jetstream::Context,
    bus: &BusConfig,
    max_age: Option<Duration>,
) -> Result<(), CheckpointError> {
    js.create_or_update_stream(stream::Config {
        name: bus.checkpoint_stream(),
        subjects: vec![bus.checkpoint_subject()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: max_age.unwrap_or_default(),
        duplicate_window: bus.duplicate_window,
        num_replicas: bus.replicas,
        ..Default::default()
    })
    .await
    .map(|_| ())
    .map_err(|e| CheckpointError::Nats(format!("cannot create the checkpoint stream: {e}")))
}

/// Publishes one checkpoint and waits for JetStream to store it. The message id makes a repeat
/// (a retry, or two sealers signing the same head) one message.
pub async fn publish(
    js: &jetstream::Context,
    bus: &BusConfig,
    checkpoint: &SignedCheckpoint,
) -> Result<(), CheckpointError> {
    let message = jetstream::message::PublishMessage::build()
        .payload(checkpoint.to_json().into())
        .message_id(format!("checkpoint-{}", checkpoint.seq));
    let nats = |e: &dyn fmt::Display| CheckpointError::Nats(format!("cannot publish: {e}"));
    js.send_publish(bus.checkpoint_subject(), message)
        .await
        .map_err(|e| nats(&e))?
        .await
        .map_err(|e| nats(&e))?;
    Ok(())
}

/// One page of the checkpoint stream: up to `limit` checkpoints from stream sequence `from`
/// (1 = the first), each with its stream sequence, and where the next page starts (`None` at
/// the end). An absent stream is an empty one.
pub async fn read_page(
    js: &jetstream::Context,
    bus: &BusConfig,
    from: u64,
    limit: usize,
) -> Result<(Vec<(u64, SignedCheckpoint)>, Option<u64>), CheckpointError> {
    let stream = js
        .get_stream_no_info(bus.checkpoint_stream())
        .await
        .map_err(|e| CheckpointError::Nats(e.to_string()))?;
    let subject = bus.checkpoint_subject();
    let mut out = Vec::with_capacity(limit.min(READ_PAGE));
    let mut next = from.max(1);
    while out.len() < limit {
        let message = match stream
            .get_first_raw_message_by_subject(&subject, next)
            .await
        {
            Ok(m) => m,
            Err(e) if is_absent(&e) => return Ok((out, None)),
            Err(e) => return Err(CheckpointError::Nats(e.to_string())),
        };
        let text = std::str::from_utf8(&message.payload)
            .map_err(|e| CheckpointError::Decode(e.to_string()))?;
        out.push((message.sequence, SignedCheckpoint::from_json(text)?));
        next = message.sequence + 1;
    }
    Ok((out, Some(next)))
}

/// Every checkpoint on the stream, oldest first.
pub async fn read_all(
    js: &jetstream::Context,
    bus: &BusConfig,
) -> Result<Vec<SignedCheckpoint>, CheckpointError> {
    let mut all = Vec::new();
    let mut next = Some(1);
    while let Some(from) = next {
        let (page, after) = read_page(js, bus, from, READ_PAGE).await?;
        all.extend(page.into_iter().map(|(_, c)| c));
        next = after;
    }
    Ok(all)
}

/// No such message, or no checkpoint stream at all (nothing was ever published).
fn is_absent(e: &async_nats::jetstream::stream::RawMessageError) -> bool {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::stream::RawMessageErrorKind;
    match e.kind() {
        RawMessageErrorKind::NoMessageFound => true,
        RawMessageErrorKind::JetStream(j) => j.error_code() == ErrorCode::STREAM_NOT_FOUND,
        _ => false,
    }
}

/// Advisory lock key of the checkpoint signer ("checkpt"): with several relay processes, one
/// signs at a time.
const SIGNER_LOCK_KEY: i64 = 0x0063_6865_636b_7074;

/// How often the signer looks whether a checkpoint is due.
const TICK: Duration = Duration::from_millis(500);

/// Longest pause after a failure (NATS down, say) before trying again.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// The newest checkpoint on the stream (its seq and when it was signed).
async fn latest_published(
    js: &jetstream::Context,
    bus: &BusConfig,
) -> Result<Option<(u64, DateTime<Utc>)>, CheckpointError> {
    let stream = js
        .get_stream_no_info(bus.checkpoint_stream())
        .await
        .map_err(|e| CheckpointError::Nats(e.to_string()))?;
    let message = match stream
        .get_last_raw_message_by_subject(&bus.checkpoint_subject())
        .await
    {
        Ok(m) => m,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(CheckpointError::Nats(e.to_string())),
    };
    let text = std::str::from_utf8(&message.payload)
        .map_err(|e| CheckpointError::Decode(e.to_string()))?;
    let last = SignedCheckpoint::from_json(text)?;
    Ok(Some((last.seq, last.signed_at)))
}

/// Publishes a checkpoint of the current chain head if one is due; returns it. Whether it is
/// due is read from the stream itself, so a restarted relay, or several relays, keep one pace;
/// the signer's advisory lock keeps two of them from signing at the same moment.
pub async fn publish_if_due(
    store: &EventStore,
    js: &jetstream::Context,
    bus: &BusConfig,
    settings: &CheckpointSettings,
) -> Result<Option<SignedCheckpoint>, CheckpointError> {
    let mut client = store
        .database()
        .pool()
        .get()
        .await
        .map_err(LedgerError::from)?;
    let tx = client.transaction().await.map_err(LedgerError::from)?;
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&SIGNER_LOCK_KEY])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(LedgerError::from)?;
    if !locked {
        return Ok(None);
    }
    let Some(head) = chain_head(&tx).await? else {
        return Ok(None);
    };
    let policy = &settings.policy;
    let due = match latest_published(js, bus).await? {
        None => true,
        Some((seq, signed_at)) => {
            let age = (Utc::now() - signed_at).to_std().unwrap_or_default();
            head.seq > seq && (head.seq - seq >= policy.every_events || age >= policy.every)
        }
    };
    if !due {
        return Ok(None);
    }
    let checkpoint = settings.signer.sign(&head, Utc::now());
    publish(js, bus, &checkpoint).await?;
    // Read-only: the lock is all this transaction was for.
    tx.commit().await.map_err(LedgerError::from)?;
    metrics::counter!("tokenbot_ledger_checkpoints_published_total").increment(1);
    Ok(Some(checkpoint))
}

/// Signs and publishes checkpoints until `shutdown`, beside the sealer and never in its way (a
/// NATS outage delays checkpoints, not sealing). Creates the checkpoint stream first.
pub async fn run_signer(
    store: EventStore,
    js: jetstream::Context,
    bus: BusConfig,
    settings: CheckpointSettings,
    shutdown: crate::shutdown::Shutdown,
) {
    let mut ready = false;
    let mut backoff = crate::backoff::Backoff::new(TICK, RETRY_MAX);
    while !shutdown.is_cancelled() {
        let round = async {
            if !ready {
                ensure_stream(&js, &bus, settings.policy.max_age).await?;
                ready = true;
            }
            publish_if_due(&store, &js, &bus, &settings).await
        };
        let wait = match round.await {
            Ok(_) => {
                backoff.reset();
                TICK
            }
            Err(e) => {
                let wait = backoff.next_pause();
                tracing::warn!(error = %crate::error::chain(&e), retry_in_s = wait.as_secs_f64(), "publishing a checkpoint failed");
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
