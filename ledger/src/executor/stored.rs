//! What an idempotency key keeps (`ledger.idempotency_keys.result`), and answers read back
//! from it. The format is the one the ledger has always written, so keys stored by any earlier
//! build replay unchanged:
//!
//! ```json
//! {"value": {"outcome": "Balance", "value": {"telegram_id": 42, ...}}, "event_ids": ["…"]}
//! {"value": {"outcome": "Done"}, "event_ids": ["…"]}
//! ```
//!
//! `outcome` is the output's [`Output::STORED_AS`]; a unit output has no inner `value`.

use std::collections::HashMap;

use uuid::Uuid;

use crate::command::Output;
use crate::error::LedgerError;
use crate::store::{EventStore, Executed};
use crate::stream::Position;

/// An output as stored: `{"outcome": STORED_AS, "value": output}`.
pub(super) fn outcome_json<O: Output>(output: &O) -> Result<serde_json::Value, LedgerError> {
    let mut outcome = serde_json::Map::with_capacity(2);
    outcome.insert("outcome".into(), O::STORED_AS.into());
    let value = serde_json::to_value(output)?;
    if !value.is_null() {
        outcome.insert("value".into(), value);
    }
    Ok(serde_json::Value::Object(outcome))
}

/// The row stored with a key: the outcome and the ids of the events the command appended.
pub(super) fn result_json(outcome: serde_json::Value, event_ids: &[Uuid]) -> serde_json::Value {
    serde_json::json!({ "value": outcome, "event_ids": event_ids })
}

/// A stored outcome as the output of the command that reads it.
pub(super) fn decode<O: Output>(outcome: &serde_json::Value) -> Result<O, LedgerError> {
    let name = outcome.get("outcome").and_then(serde_json::Value::as_str);
    if name != Some(O::STORED_AS) {
        return Err(LedgerError::corrupt(
            "command result",
            format!(
                "an outcome of another command ({name:?}, not {:?})",
                O::STORED_AS
            ),
        ));
    }
    let value = outcome.get("value").cloned().unwrap_or_default();
    Ok(serde_json::from_value(value)?)
}

/// An idempotency key's fingerprint and stored result.
pub(super) type StoredResult = (Vec<u8>, Option<serde_json::Value>);

/// The fingerprints and results of `keys`, on one connection.
pub(super) async fn stored_results(
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
pub(super) async fn stored_result(
    store: &EventStore,
    key: &str,
) -> Result<Option<StoredResult>, LedgerError> {
    let client = store.database().pool().get().await?;
    Ok(stored_results(&client, &[key.to_string()])
        .await?
        .remove(key))
}

/// Answers a command whose key an earlier transaction used, from that transaction's result.
pub(super) async fn replay_answer(
    store: &EventStore,
    reader: Option<&deadpool_postgres::Object>,
    key: String,
    fingerprint: Option<&Vec<u8>>,
    found: Option<StoredResult>,
) -> Result<Executed<serde_json::Value>, LedgerError> {
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

/// A stored result with the positions of its events, read now.
async fn replayed(
    client: &deadpool_postgres::Object,
    stored: &serde_json::Value,
) -> Result<Executed<serde_json::Value>, LedgerError> {
    let value = stored.get("value").cloned().unwrap_or_default();
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
        .map(|r| r.try_get::<_, Position>(0))
        .collect::<Result<_, _>>()?;
    Ok(Executed {
        value,
        positions,
        replayed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Settings;
    use crate::command::fail_task::FailOutcome;
    use crate::command::grant::BalanceChange;
    use crate::command::open_account::OpenOutcome;
    use crate::command::request_task::TaskReceipt;
    use crate::ids::{TaskId, TelegramId};
    use crate::image::ModelId;
    use crate::tokens::Tokens;

    /// Rows as the build before typed outputs wrote them (its `Outcome` enum, serialized).
    const OLD_ROWS: [&str; 6] = [
        r#"{"event_ids":["00000000-0000-0000-0000-000000000007"],"value":{"outcome":"Opened","value":{"balance":100,"newly_opened":true}}}"#,
        r#"{"event_ids":["00000000-0000-0000-0000-000000000007"],"value":{"outcome":"Balance","value":{"amount":2,"balance_after":3,"balance_before":1,"telegram_id":4242}}}"#,
        r#"{"event_ids":["00000000-0000-0000-0000-000000000007"],"value":{"outcome":"Task","value":{"balance_after":900,"cost":100,"model":"gpt-image-1","task_id":"01234567-89ab-cdef-0123-456789abcdef"}}}"#,
        r#"{"event_ids":["00000000-0000-0000-0000-000000000007"],"value":{"outcome":"Settings","value":{"model":null,"quality":"medium","size":"1024x1024"}}}"#,
        r#"{"event_ids":["00000000-0000-0000-0000-000000000007"],"value":{"outcome":"Failed","value":{"balance_after":200,"refunded":100}}}"#,
        r#"{"event_ids":["00000000-0000-0000-0000-000000000007"],"value":{"outcome":"Done"}}"#,
    ];

    /// Decodes an old row as `O`, checks the value, and checks that writing `expected` today
    /// gives the very same row.
    fn round_trip<O: Output + PartialEq + std::fmt::Debug>(row: &str, expected: O) {
        let row: serde_json::Value = serde_json::from_str(row).expect("json");
        let outcome = row.get("value").cloned().unwrap_or_default();
        assert_eq!(decode::<O>(&outcome).expect("decodes"), expected);
        let ids = [Uuid::from_u128(7)];
        let written = result_json(outcome_json(&expected).expect("encodes"), &ids);
        assert_eq!(written, row);
    }

    #[test]
    fn rows_written_before_typed_outputs_replay_and_new_rows_look_the_same() {
        let tg = TelegramId::new(4242).expect("valid");
        let task = TaskId::from_uuid(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef));
        round_trip(
            OLD_ROWS[0],
            OpenOutcome {
                newly_opened: true,
                balance: Tokens::from_const(100),
            },
        );
        round_trip(
            OLD_ROWS[1],
            BalanceChange {
                telegram_id: tg,
                balance_before: Tokens::from_const(1),
                amount: Tokens::from_const(2),
                balance_after: Tokens::from_const(3),
            },
        );
        round_trip(
            OLD_ROWS[2],
            TaskReceipt {
                task_id: task,
                cost: Tokens::from_const(100),
                balance_after: Tokens::from_const(900),
                model: ModelId::parse("gpt-image-1").expect("valid"),
            },
        );
        round_trip(OLD_ROWS[3], Settings::default());
        round_trip(
            OLD_ROWS[4],
            FailOutcome {
                refunded: Tokens::from_const(100),
                balance_after: Tokens::from_const(200),
            },
        );
        round_trip(OLD_ROWS[5], ());
    }

    #[test]
    fn an_outcome_of_another_type_is_refused() {
        let row: serde_json::Value = serde_json::from_str(OLD_ROWS[0]).expect("json");
        let outcome = row.get("value").cloned().unwrap_or_default();
        assert!(matches!(
            decode::<BalanceChange>(&outcome),
            Err(LedgerError::Corrupt { .. })
        ));
        assert!(decode::<()>(&outcome).is_err());
    }
}
