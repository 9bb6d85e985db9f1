//! Replaying the log: every event in global order, decoded, as the auditor and the projections
//! see it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::account::Account;
use crate::aggregate::Aggregate;
use crate::error::LedgerError;
use crate::global_order::{HORIZON_PATIENCE, LogSnapshot, RawEvent, RecordedEvent};
use crate::ids::TelegramId;
use crate::store::EventStore;
use crate::tokens::{InvalidTokens, Tokens};

/// Events per read while replaying.
pub const REPLAY_BATCH: i64 = 10_000;

/// One line of `tokenbot ledger replay`.
#[derive(Debug, Serialize)]
pub struct ReplayLine<'a> {
    /// See [`RawEvent::position`].
    pub position: i64,
    /// See [`RawEvent::tx_id`].
    pub tx_id: u64,
    /// See [`RawEvent::event_id`].
    pub event_id: String,
    /// See [`RawEvent::stream_id`].
    pub stream_id: &'a str,
    /// See [`RawEvent::version`].
    pub version: u64,
    /// See [`RawEvent::event_type`].
    pub event_type: &'a str,
    /// See [`RawEvent::schema_version`].
    pub schema_version: i16,
    /// RFC 3339.
    pub recorded_at: String,
    /// The payload as stored.
    pub data: &'a serde_json::value::RawValue,
    /// The metadata as stored.
    pub metadata: &'a serde_json::value::RawValue,
}

impl<'a> ReplayLine<'a> {
    /// The line of one stored event.
    pub fn from_raw(e: &'a RawEvent) -> Result<Self, LedgerError> {
        let context = || format!("position {}", e.position);
        Ok(Self {
            position: e.position.0,
            tx_id: e.tx_id,
            event_id: e.event_id.to_string(),
            stream_id: e.stream_id.as_str(),
            version: e.version.0,
            event_type: &e.event_type,
            schema_version: e.schema_version,
            recorded_at: e.recorded_at.to_rfc3339(),
            data: serde_json::from_str(&e.data)
                .map_err(|err| LedgerError::corrupt(context(), err))?,
            metadata: serde_json::from_str(&e.metadata)
                .map_err(|err| LedgerError::corrupt(context(), err))?,
        })
    }
}

/// Folds every account from the log: what every balance projection must equal.
pub async fn replay_balances(
    store: &EventStore,
    mut progress: impl FnMut(u64),
) -> Result<BTreeMap<TelegramId, Account>, LedgerError> {
    let mut accounts: BTreeMap<TelegramId, Account> = BTreeMap::new();
    let mut seen = 0u64;
    let snapshot = LogSnapshot::open(store.database(), HORIZON_PATIENCE).await?;
    snapshot
        .each_batch(REPLAY_BATCH, None, None, |batch| {
            for raw in batch {
                seen += 1;
                let Some(owner) = raw.stream_id.account_owner() else {
                    continue;
                };
                let e: RecordedEvent = raw.decode()?;
                accounts
                    .entry(owner)
                    .or_default()
                    .apply(&e.event, e.recorded_at)
                    .map_err(|err| LedgerError::corrupt(format!("position {}", e.position), err))?;
            }
            progress(seen);
            Ok::<_, LedgerError>(())
        })
        .await?;
    snapshot.close().await?;
    Ok(accounts)
}

/// Sum of balances (for summaries); an error rather than a wrong sum if it overflows.
pub fn total(accounts: &BTreeMap<TelegramId, Account>) -> Result<Tokens, InvalidTokens> {
    accounts
        .values()
        .try_fold(Tokens::ZERO, |acc, a| acc.checked_add(a.balance))
}
