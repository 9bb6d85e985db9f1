//! The contract between the ledger and its NATS JetStream readers: stream, subjects, headers and
//! payload. The relay ([`crate::relay`]) writes it; the projector and the worker read it.
//!
//! Each message carries, besides the event, the cursor of the event before it in the global
//! order (`Ledger-Prev`). A reader that applied up to cursor C accepts a message whose prev is C,
//! skips one at or below C (a redelivery), and recognises anything else as a gap it must fill
//! from Postgres. So correctness never depends on JetStream's dedup window or delivery order.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use chrono::DateTime;
use serde::Deserialize;

use crate::global_order::{LogCursor, RawEvent};
use crate::ids::EventId;
use crate::replay::ReplayLine;
use crate::stream::{Position, StreamId, StreamVersion};

/// JetStream deduplicates on it: the event id.
pub const HEADER_MSG_ID: &str = "Nats-Msg-Id";
/// The event's `position`.
pub const HEADER_POSITION: &str = "Ledger-Position";
/// The writing transaction's id (with the position, its place in the global order).
pub const HEADER_TX: &str = "Ledger-Tx-Id";
/// The stream id.
pub const HEADER_STREAM: &str = "Ledger-Stream";
/// The event's version in its stream.
pub const HEADER_VERSION: &str = "Ledger-Version";
/// The cursor of the event before it in the global order (`tx:position`), for gap checks.
pub const HEADER_PREV: &str = "Ledger-Prev";
/// The command's correlation id, for following one request across services.
pub const HEADER_CORRELATION: &str = "Correlation-Id";

/// Names on the NATS side. Tests use their own prefix so that they share one server.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// JetStream stream name (`LEDGER`).
    pub stream: String,
    /// Subject prefix (`ledger`): subjects are `<prefix>.<category>.<EventType>`.
    pub subject_prefix: String,
    /// How long JetStream remembers message ids for deduplication.
    pub duplicate_window: Duration,
    /// Copies of the stream (and of the checkpoint stream) a NATS cluster keeps, 1..=5; durable
    /// consumers inherit it. 1 on a single server.
    pub replicas: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            stream: "LEDGER".into(),
            subject_prefix: "ledger".into(),
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
        }
    }
}

impl BusConfig {
    /// A config whose names start with `prefix` (for tests sharing one NATS server).
    pub fn prefixed(prefix: &str) -> Self {
        Self {
            stream: format!("{prefix}_LEDGER"),
            subject_prefix: format!("{prefix}.ledger"),
            ..Self::default()
        }
    }

    /// The subject of an event: `<prefix>.<category>.<EventType>`.
    pub fn subject(&self, category: &str, event_type: &str) -> String {
        format!("{}.{category}.{event_type}", self.subject_prefix)
    }

    /// Every event subject: `<prefix>.>`.
    pub fn all_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }

    /// The stream of signed checkpoints (`LEDGER_CHECKPOINTS`): its own stream, so that its
    /// retention is its own (see [`crate::checkpoint`]).
    pub fn checkpoint_stream(&self) -> String {
        format!("{}_CHECKPOINTS", self.stream)
    }

    /// Its one subject (`ledger_checkpoints`), outside `<prefix>.>` so the event stream does not
    /// capture it.
    pub fn checkpoint_subject(&self) -> String {
        format!("{}_checkpoints", self.subject_prefix)
    }

    /// Creates the stream, or updates it to this configuration.
    pub async fn ensure_stream(&self, js: &jetstream::Context) -> Result<stream::Info, BusError> {
        js.create_or_update_stream(stream::Config {
            name: self.stream.clone(),
            subjects: vec![self.all_subjects()],
            storage: stream::StorageType::File,
            duplicate_window: self.duplicate_window,
            retention: stream::RetentionPolicy::Limits,
            num_replicas: self.replicas,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::Stream(e.to_string()))
    }
}

/// What can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// JetStream refused the stream's configuration.
    #[error("cannot create or update the JetStream stream: {0}")]
    Stream(String),
    /// A message that is not a ledger event.
    #[error("message is not a ledger event: {0}")]
    Decode(String),
}

/// An event as it travels on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    /// The event as stored.
    pub event: RawEvent,
    /// The cursor of the event before this one in the global order.
    pub prev: LogCursor,
}

fn cursor_header(c: LogCursor) -> String {
    format!("{}:{}", c.tx_id, c.position)
}

fn parse_cursor(raw: &str) -> Option<LogCursor> {
    let (tx, pos) = raw.split_once(':')?;
    Some(LogCursor {
        tx_id: tx.parse().ok()?,
        position: pos.parse().ok()?,
    })
}

/// Subject, headers and payload for one event.
pub fn encode(
    bus: &BusConfig,
    event: &RawEvent,
    prev: LogCursor,
) -> Result<(String, HeaderMap, Bytes), BusError> {
    let line = ReplayLine::from_raw(event).map_err(|e| BusError::Decode(e.to_string()))?;
    let payload = serde_json::to_vec(&line).map_err(|e| BusError::Decode(e.to_string()))?;
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_MSG_ID, event.event_id.to_string().as_str());
    headers.insert(HEADER_POSITION, event.position.to_string().as_str());
    headers.insert(HEADER_TX, event.tx_id.to_string().as_str());
    headers.insert(HEADER_STREAM, event.stream_id.as_str());
    headers.insert(HEADER_VERSION, event.version.to_string().as_str());
    headers.insert(HEADER_PREV, cursor_header(prev).as_str());
    if let Some(correlation) = correlation_id(&event.metadata) {
        headers.insert(HEADER_CORRELATION, correlation.as_str());
    }
    let subject = bus.subject(event.stream_id.category(), &event.event_type);
    Ok((subject, headers, Bytes::from(payload)))
}

fn correlation_id(metadata: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Meta {
        correlation_id: Option<String>,
    }
    serde_json::from_str::<Meta>(metadata).ok()?.correlation_id
}

#[derive(Deserialize)]
struct Payload<'a> {
    /// Checked on the way in: a negative position does not decode.
    position: Position,
    tx_id: u64,
    event_id: &'a str,
    stream_id: String,
    version: u64,
    event_type: String,
    schema_version: i16,
    recorded_at: &'a str,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
    #[serde(borrow)]
    metadata: &'a serde_json::value::RawValue,
}

/// Reads an event back from a bus message.
pub fn decode(headers: Option<&HeaderMap>, payload: &[u8]) -> Result<BusEvent, BusError> {
    let bad = |what: &str| BusError::Decode(what.to_string());
    let p: Payload<'_> =
        serde_json::from_slice(payload).map_err(|e| BusError::Decode(e.to_string()))?;
    let prev = headers
        .and_then(|h| h.get(HEADER_PREV))
        .and_then(|v| parse_cursor(v.as_str()))
        .ok_or_else(|| bad("missing or malformed Ledger-Prev header"))?;
    let event = RawEvent {
        position: p.position,
        tx_id: p.tx_id,
        event_id: p
            .event_id
            .parse::<EventId>()
            .map_err(|_| bad("bad event_id"))?,
        stream_id: StreamId::from_db(p.stream_id),
        version: StreamVersion(p.version),
        event_type: p.event_type,
        schema_version: p.schema_version,
        data: p.data.get().to_string(),
        metadata: p.metadata.get().to_string(),
        recorded_at: DateTime::parse_from_rfc3339(p.recorded_at)
            .map_err(|_| bad("bad recorded_at"))?
            .to_utc(),
    };
    Ok(BusEvent { event, prev })
}
