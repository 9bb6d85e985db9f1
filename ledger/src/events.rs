//! The catalogue of events. Every token that moves and every status a task passes through is one
//! of these. Payloads are stored as JSON in `ledger.events.data`, the variant name in
//! `event_type`, and a per-type schema version in `schema_version` so that events written by an
//! older release still decode after a payload changes (see [`Event::decode`]).

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::ids::{PurchaseId, TaskId, TelegramId};
use crate::image::{ImageSize, ModelId, Prompt, Quality, TaskKind};
use crate::payment::{ChargeId, PackageId, Stars};
use crate::tokens::Tokens;

/// Longest error text kept in an event: an OpenAI error can be arbitrarily long, and the original
/// lost refunds when one overflowed its column (W9).
pub const MAX_ERROR_CHARS: usize = 500;

/// Why tokens were granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// The welcome grant at registration (INITIAL_TOKENS x 1056).
    Initial,
    /// An admin's top-up (Telegram `/addtokens` or the HTTP admin API).
    Admin,
    /// A balance carried over from the original bot's database.
    Import,
    /// A package paid in Telegram Stars; the grant carries the payment ([`PurchasePayment`]).
    Purchase,
}

/// A user registered (`/start`): the first event of every account stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOpened {
    /// Whose account.
    pub telegram_id: TelegramId,
    /// Telegram `@username`, if set.
    pub username: Option<String>,
    /// As Telegram gave it.
    pub first_name: Option<String>,
    /// The Telegram client's language (`ru`, `en`...), for texts.
    pub language_code: Option<String>,
}

/// Tokens came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensGranted {
    /// How many (never zero).
    pub amount: Tokens,
    /// Why.
    pub kind: GrantKind,
    /// Free text from whoever granted them.
    pub reason: Option<String>,
    /// The account's balance after this event.
    pub balance_after: Tokens,
    /// For a [`GrantKind::Purchase`]: the payment it grants for (absent on every other kind,
    /// and on events written before payments, which decode unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchasePayment>,
}

/// The payment behind a purchase grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchasePayment {
    /// The offer paid (its `purchase-` stream).
    pub purchase_id: PurchaseId,
    /// The package bought.
    pub package: PackageId,
    /// What was paid.
    pub stars: Stars,
    /// Telegram's id of the payment: the key the grant is made once under.
    pub telegram_payment_charge_id: ChargeId,
    /// The provider's id of the payment (empty for Stars as of today, kept as Telegram sends it).
    pub provider_payment_charge_id: String,
}

/// Tokens taken back from an account because their purchase was refunded in Stars (with
/// [`PurchaseRefunded`] on the purchase stream, in the same transaction). Never more than the
/// balance: a refund of tokens already spent is refused, not recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensReclaimed {
    /// The purchase refunded.
    pub purchase_id: PurchaseId,
    /// Telegram's id of the payment refunded.
    pub telegram_payment_charge_id: ChargeId,
    /// Tokens taken back: exactly what the purchase granted.
    pub amount: Tokens,
    /// Why (bounded to [`MAX_ERROR_CHARS`]).
    pub reason: String,
    /// The account's balance after this event (never negative).
    pub balance_after: Tokens,
}

/// A user asked for a package: the offer an invoice's payload names. The first event of every
/// `purchase-` stream; pre-checkout accepts a payment only against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseOffered {
    /// Who may pay it.
    pub telegram_id: TelegramId,
    /// The package.
    pub package: PackageId,
    /// Tokens granted when paid.
    pub tokens: Tokens,
    /// Its price.
    pub stars: Stars,
    /// Always `XTR` today; kept so that a payment in another currency is refused by rule.
    pub currency: String,
    /// After this, pre-checkout refuses it (the user asks for a new invoice).
    pub expires_at: DateTime<Utc>,
}

/// The offer was paid: the purchase-side mark that makes "one payment per offer" a rule checked
/// under the purchase's lock. The tokens come in [`TokensGranted`] on the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchasePaid {
    /// Telegram's id of the payment.
    pub telegram_payment_charge_id: ChargeId,
    /// The provider's id of the payment.
    pub provider_payment_charge_id: String,
    /// What was paid.
    pub stars: Stars,
    /// Tokens granted.
    pub tokens: Tokens,
}

/// The payment was refunded: the purchase-side mark (at most once per purchase); the tokens go
/// back in [`TokensReclaimed`] on the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRefunded {
    /// Telegram's id of the payment refunded.
    pub telegram_payment_charge_id: ChargeId,
    /// Stars given back: what was paid.
    pub stars: Stars,
    /// Tokens taken back: what was granted.
    pub tokens: Tokens,
    /// Why (bounded to [`MAX_ERROR_CHARS`]).
    pub reason: String,
}

/// Tokens paid for a task (the same transaction records [`TaskRequested`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensDebited {
    /// The task paid for.
    pub task_id: TaskId,
    /// Its cost (never zero).
    pub amount: Tokens,
    /// The account's balance after this event (never negative).
    pub balance_after: Tokens,
}

/// Tokens given back for a task (with [`TaskRefunded`] on the task's stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensRefunded {
    /// The task refunded.
    pub task_id: TaskId,
    /// How many (at most the task's cost).
    pub amount: Tokens,
    /// Why (bounded to [`MAX_ERROR_CHARS`]).
    pub reason: String,
    /// The account's balance after this event.
    pub balance_after: Tokens,
}

/// Only the settings that changed are present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SettingsChanged {
    /// A new default model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelId>,
    /// A new default quality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Quality>,
    /// A new default size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ImageSize>,
}

/// A task was asked for and paid: the first event of every task stream, and what the worker
/// waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRequested {
    /// The task.
    pub task_id: TaskId,
    /// Who asked and paid.
    pub telegram_id: TelegramId,
    /// Generate or edit.
    pub kind: TaskKind,
    /// What to draw.
    pub prompt: Prompt,
    /// The model it runs on (resolved when requested).
    pub model: ModelId,
    /// Priced by quality and size.
    pub quality: Quality,
    /// Priced by quality and size.
    pub size: ImageSize,
    /// What was debited for it.
    pub cost: Tokens,
    /// The "Идеи и тренды" template the prompt came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// For edits: the Telegram file id of the source image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file_id: Option<String>,
}

/// A worker took the task (or took over a silent worker's attempt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStarted {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Which worker process took it, for operators reading a stuck task's history.
    pub worker: String,
}

/// An attempt failed; the task waits for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAttemptFailed {
    /// Which attempt.
    pub attempt: u32,
    /// What went wrong (bounded to [`MAX_ERROR_CHARS`]).
    pub error: String,
    /// Whether another attempt may help.
    pub retryable: bool,
}

/// The provider returned the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSucceeded {
    /// Which attempt.
    pub attempt: u32,
    /// What the provider reported it used (OpenAI's `usage`), kept for cost audits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_usage: Option<serde_json::Value>,
}

/// The user has the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDelivered {
    /// Telegram's id of the document, to send it again from the profile.
    pub telegram_file_id: String,
}

/// Given up: the task is final, and its cost is refunded in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailed {
    /// Why (bounded to [`MAX_ERROR_CHARS`]).
    pub error: String,
    /// Attempts started.
    pub attempts: u32,
}

/// The task-side mark of a refund: the task stream is what makes "at most once per task" a rule
/// checked under the task's lock. The money itself moves in [`TokensRefunded`] on the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRefunded {
    /// How many (at most the task's cost).
    pub amount: Tokens,
    /// Why (bounded to [`MAX_ERROR_CHARS`]).
    pub reason: String,
}

/// Every event the ledger knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// See [`AccountOpened`].
    AccountOpened(AccountOpened),
    /// See [`TokensGranted`].
    TokensGranted(TokensGranted),
    /// See [`TokensDebited`].
    TokensDebited(TokensDebited),
    /// See [`TokensRefunded`].
    TokensRefunded(TokensRefunded),
    /// See [`SettingsChanged`].
    SettingsChanged(SettingsChanged),
    /// See [`TaskRequested`].
    TaskRequested(TaskRequested),
    /// See [`TaskStarted`].
    TaskStarted(TaskStarted),
    /// See [`TaskAttemptFailed`].
    TaskAttemptFailed(TaskAttemptFailed),
    /// See [`TaskSucceeded`].
    TaskSucceeded(TaskSucceeded),
    /// See [`TaskDelivered`].
    TaskDelivered(TaskDelivered),
    /// See [`TaskFailed`].
    TaskFailed(TaskFailed),
    /// See [`TaskRefunded`].
    TaskRefunded(TaskRefunded),
    /// See [`TokensReclaimed`].
    TokensReclaimed(TokensReclaimed),
    /// See [`PurchaseOffered`].
    PurchaseOffered(PurchaseOffered),
    /// See [`PurchasePaid`].
    PurchasePaid(PurchasePaid),
    /// See [`PurchaseRefunded`].
    PurchaseRefunded(PurchaseRefunded),
}

/// A stored event that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A type this build does not know.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// A payload written by a newer build.
    #[error(
        "{event_type} schema version {found} is newer than this build understands (up to {known})"
    )]
    FutureSchema {
        /// The event's type.
        event_type: String,
        /// The schema version stored with it.
        found: i16,
        /// The newest this build reads.
        known: i16,
    },
    /// A payload that does not fit its type.
    #[error("{event_type} payload does not decode")]
    Payload {
        /// The event's type.
        event_type: String,
        /// Why it does not decode.
        source: serde_json::Error,
    },
}

impl Event {
    /// The name stored in `event_type` and used in NATS subjects.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::AccountOpened(_) => "AccountOpened",
            Event::TokensGranted(_) => "TokensGranted",
            Event::TokensDebited(_) => "TokensDebited",
            Event::TokensRefunded(_) => "TokensRefunded",
            Event::SettingsChanged(_) => "SettingsChanged",
            Event::TaskRequested(_) => "TaskRequested",
            Event::TaskStarted(_) => "TaskStarted",
            Event::TaskAttemptFailed(_) => "TaskAttemptFailed",
            Event::TaskSucceeded(_) => "TaskSucceeded",
            Event::TaskDelivered(_) => "TaskDelivered",
            Event::TaskFailed(_) => "TaskFailed",
            Event::TaskRefunded(_) => "TaskRefunded",
            Event::TokensReclaimed(_) => "TokensReclaimed",
            Event::PurchaseOffered(_) => "PurchaseOffered",
            Event::PurchasePaid(_) => "PurchasePaid",
            Event::PurchaseRefunded(_) => "PurchaseRefunded",
        }
    }

    /// The schema version written for each type today. Bump it when a payload changes shape and
    /// teach [`upcast`] to turn the old shape into the new one.
    pub fn schema_version(event_type: &str) -> Option<i16> {
        match event_type {
            "AccountOpened" | "TokensGranted" | "TokensDebited" | "TokensRefunded"
            | "SettingsChanged" | "TaskRequested" | "TaskStarted" | "TaskAttemptFailed"
            | "TaskSucceeded" | "TaskDelivered" | "TaskFailed" | "TaskRefunded"
            | "TokensReclaimed" | "PurchaseOffered" | "PurchasePaid" | "PurchaseRefunded" => {
                Some(1)
            }
            _ => None,
        }
    }

    /// The payload as stored in `data`.
    pub fn data(&self) -> serde_json::Value {
        // Serializing plain structs of strings and numbers cannot fail.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("data").unwrap_or(serde_json::Value::Null)
            }
            _ => serde_json::Value::Null,
        }
    }

    /// Decodes a stored event, upcasting older schema versions.
    pub fn decode(
        event_type: &str,
        schema_version: i16,
        data: serde_json::Value,
    ) -> Result<Event, DecodeError> {
        let known = Self::schema_version(event_type)
            .ok_or_else(|| DecodeError::UnknownType(event_type.to_string()))?;
        if schema_version > known {
            return Err(DecodeError::FutureSchema {
                event_type: event_type.to_string(),
                found: schema_version,
                known,
            });
        }
        let data = upcast(event_type, schema_version, data);
        let tagged = serde_json::json!({ "type": event_type, "data": data });
        serde_json::from_value(tagged).map_err(|source| DecodeError::Payload {
            event_type: event_type.to_string(),
            source,
        })
    }

    /// Decodes a stored event from its JSON text. Events at today's schema version are parsed
    /// straight from the text (the replay hot path); older ones go through [`Event::decode`].
    pub fn decode_text(
        event_type: &str,
        schema_version: i16,
        data: &str,
    ) -> Result<Event, DecodeError> {
        let known = Self::schema_version(event_type)
            .ok_or_else(|| DecodeError::UnknownType(event_type.to_string()))?;
        let payload_error = |source| DecodeError::Payload {
            event_type: event_type.to_string(),
            source,
        };
        if schema_version != known {
            let value: serde_json::Value = serde_json::from_str(data).map_err(payload_error)?;
            return Self::decode(event_type, schema_version, value);
        }
        // Event types are plain identifiers (checked above), so no escaping is needed.
        let tagged = format!("{{\"type\":\"{event_type}\",\"data\":{data}}}");
        serde_json::from_str(&tagged).map_err(payload_error)
    }

    /// The task this event concerns, if any.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            Event::TokensDebited(e) => Some(e.task_id),
            Event::TokensRefunded(e) => Some(e.task_id),
            Event::TaskRequested(e) => Some(e.task_id),
            _ => None,
        }
    }
}

/// Turns a payload written under an older schema version into today's shape. Every type is at
/// version 1 so far; when one moves on, its old shape is rewritten here (never in the table:
/// the log is append-only), e.g. `("TokensGranted", 1) => add "kind": "admin"`.
fn upcast(_event_type: &str, _schema_version: i16, data: serde_json::Value) -> serde_json::Value {
    data
}

/// Cuts an error text to [`MAX_ERROR_CHARS`].
pub fn bounded_error(text: &str) -> String {
    crate::image::preview(text, MAX_ERROR_CHARS - 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event::TokensGranted(TokensGranted {
            amount: Tokens::from_const(5),
            kind: GrantKind::Admin,
            reason: Some("bonus".into()),
            balance_after: Tokens::from_const(15),
            purchase: None,
        })
    }

    #[test]
    fn round_trips_through_type_version_and_data() {
        let e = sample();
        let decoded = Event::decode(e.event_type(), 1, e.data()).expect("decodes");
        assert_eq!(decoded, e);
    }

    #[test]
    fn text_and_value_decoding_agree() {
        let e = sample();
        let text = serde_json::to_string(&e.data()).expect("json");
        assert_eq!(
            Event::decode_text(e.event_type(), 1, &text).expect("decodes"),
            e
        );
        assert!(Event::decode_text(e.event_type(), 1, "{\"amount\": -1}").is_err());
        assert!(Event::decode_text("Nope", 1, &text).is_err());
    }

    #[test]
    fn rejects_unknown_types_future_versions_and_bad_payloads() {
        let e = sample();
        assert!(matches!(
            Event::decode("Nope", 1, e.data()),
            Err(DecodeError::UnknownType(_))
        ));
        assert!(matches!(
            Event::decode(e.event_type(), 2, e.data()),
            Err(DecodeError::FutureSchema { .. })
        ));
        let negative =
            serde_json::json!({"amount": -1, "kind": "admin", "reason": null, "balance_after": 0});
        assert!(matches!(
            Event::decode("TokensGranted", 1, negative),
            Err(DecodeError::Payload { .. })
        ));
    }

    #[test]
    fn every_type_has_a_schema_version() {
        let names = [
            "AccountOpened",
            "TokensGranted",
            "TokensDebited",
            "TokensRefunded",
            "SettingsChanged",
            "TaskRequested",
            "TaskStarted",
            "TaskAttemptFailed",
            "TaskSucceeded",
            "TaskDelivered",
            "TaskFailed",
            "TaskRefunded",
            "TokensReclaimed",
            "PurchaseOffered",
            "PurchasePaid",
            "PurchaseRefunded",
        ];
        for n in names {
            assert_eq!(Event::schema_version(n), Some(1), "{n}");
        }
    }

    #[test]
    fn errors_are_bounded() {
        let long = "x".repeat(10_000);
        assert_eq!(bounded_error(&long).chars().count(), MAX_ERROR_CHARS);
    }
}
