//! Step 5 of a batch: an answer for every command once COMMIT was sent. Never fails as a whole:
//! a command whose answer cannot be given gets its own error, one that says whether it may have
//! been written.

use super::decide::Decision;
use super::read::Keys;
use super::stored::{self, StoredResult};
use super::submission::{Answer, Pending, Reply};
use super::write::{Fate, Rows};
use crate::error::LedgerError;
use crate::store::{EventStore, Executed};
use crate::stream::Position;

/// The answers, in batch order.
pub(super) async fn answer(
    store: &EventStore,
    batch: &[Box<dyn Pending>],
    decisions: Vec<Decision>,
    keys: &Keys,
    rows: &Rows,
    fate: &Fate,
    reader: Option<deadpool_postgres::Object>,
) -> Vec<Answer> {
    let key_of = |i: usize| {
        batch[i]
            .ctx()
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
        Some(client) => stored::stored_results(client, &replay_keys).await.ok(),
        None => None,
    };

    let mut answers: Vec<Answer> = Vec::with_capacity(batch.len());
    // Per command: its outcome as stored with its key, for later commands with the same key.
    let mut outcomes: Vec<Option<serde_json::Value>> = Vec::with_capacity(batch.len());
    for (i, d) in decisions.into_iter().enumerate() {
        let (answer, outcome) = match d {
            Decision::Decided { stored, .. } => (decided(fate, rows, i), stored),
            Decision::Refused(e) => (Err(e), None),
            Decision::Replay => {
                let key = key_of(i);
                let found = match &stored {
                    Some(all) => Ok(all.get(&key).cloned()),
                    // Reading them together failed: each asks alone and gets its own error.
                    None => stored::stored_result(store, &key).await,
                };
                let fingerprint = keys.fingerprints[i].as_ref();
                let answer = replay(store, reader.as_ref(), key, fingerprint, found).await;
                (answer, None)
            }
            Decision::SameKeyAs(first) => {
                let earlier = Earlier {
                    answer: answers.get(first),
                    outcome: outcomes.get(first).and_then(Option::as_ref),
                    fingerprint: &keys.fingerprints[first],
                };
                (same_key_as(earlier, &keys.fingerprints[i], key_of(i)), None)
            }
        };
        answers.push(answer);
        outcomes.push(outcome);
    }
    answers
}

/// A command decided in this batch: its typed output, with the positions of its events.
fn decided(fate: &Fate, rows: &Rows, i: usize) -> Answer {
    let ids = &rows.event_ids_of[i];
    match fate {
        Fate::Committed(positions) => {
            let mut found: Vec<Position> = ids
                .iter()
                .filter_map(|id| positions.as_ref()?.get(id).copied())
                .collect();
            found.sort_unstable();
            Ok(Executed {
                value: Reply::Decided,
                positions: found,
                replayed: false,
            })
        }
        // A command that appended nothing has the same answer either way.
        Fate::Unknown { .. } if ids.is_empty() => Ok(Executed {
            value: Reply::Decided,
            positions: Vec::new(),
            replayed: false,
        }),
        Fate::Unknown { waited_s, cause } => Err(LedgerError::OutcomeUnknown {
            waited_s: *waited_s,
            cause: cause.clone(),
        }),
    }
}

async fn replay(
    store: &EventStore,
    reader: Option<&deadpool_postgres::Object>,
    key: String,
    fingerprint: Option<&Vec<u8>>,
    found: Result<Option<StoredResult>, LedgerError>,
) -> Answer {
    let done = stored::replay_answer(store, reader, key, fingerprint, found?).await?;
    Ok(Executed {
        value: Reply::Stored(done.value),
        positions: done.positions,
        replayed: true,
    })
}

/// The first command of the batch with a key, as a later one with the same key sees it.
struct Earlier<'a> {
    answer: Option<&'a Answer>,
    /// Its outcome as stored with the key, when it was decided here.
    outcome: Option<&'a serde_json::Value>,
    fingerprint: &'a Option<Vec<u8>>,
}

/// A command whose key an earlier command of this batch used: the first one's answer, marked
/// replayed, if the inputs agree.
fn same_key_as(first: Earlier<'_>, fingerprint: &Option<Vec<u8>>, key: String) -> Answer {
    if fingerprint != first.fingerprint {
        return Err(LedgerError::IdempotencyConflict { key });
    }
    match first.answer {
        Some(Ok(done)) => {
            let outcome = match &done.value {
                Reply::Stored(outcome) => Some(outcome),
                Reply::Decided => first.outcome,
            };
            match outcome {
                Some(outcome) => Ok(Executed {
                    value: Reply::Stored(outcome.clone()),
                    positions: done.positions.clone(),
                    replayed: true,
                }),
                None => Err(first_failed(key)),
            }
        }
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
        _ => Err(first_failed(key)),
    }
}

fn first_failed(key: String) -> LedgerError {
    LedgerError::corrupt(
        format!("idempotency key {key:?}"),
        "its first use in this batch failed",
    )
}
