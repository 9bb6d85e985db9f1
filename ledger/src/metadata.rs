//! Who and what caused an event. Stored in `ledger.events.metadata`.

use serde::{Deserialize, Serialize};

use crate::ids::{CorrelationId, EventId, TelegramId};
use crate::payment::ChargeId;

/// Who asked for a change. Kept on every event so that an auditor can tell a user's own debit
/// from an admin's grant (the original's grants left no trace, W12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A Telegram user acting for themselves.
    User {
        /// Who.
        telegram_id: TelegramId,
    },
    /// An admin: by Telegram id (bot commands) or by the HTTP admin API.
    Admin {
        /// The admin's Telegram id, when acting through the bot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        telegram_id: Option<TelegramId>,
        /// Which door (`telegram`, `http`...).
        via: String,
        /// The name of the admin key used (`ADMIN_API_KEYS`), through the HTTP API.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A process of ours: worker, importer, demo.
    System {
        /// Which (`worker`, `import`...).
        component: String,
    },
}

impl Actor {
    /// One of our processes, by name.
    pub fn system(component: impl Into<String>) -> Self {
        Actor::System {
            component: component.into(),
        }
    }
}

/// Metadata of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Shared by every event one request caused.
    pub correlation_id: CorrelationId,
    /// The event that caused this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<EventId>,
    /// Who.
    pub actor: Actor,
    /// The key the command ran under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// The context a command runs in; every event it appends carries it as metadata.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// Who.
    pub actor: Actor,
    /// Shared by every event of one request (new by default).
    pub correlation_id: CorrelationId,
    /// The event that caused the command, if any.
    pub causation_id: Option<EventId>,
    /// Commands under the same key run once (see [`crate::Ledger::execute`]).
    pub idempotency_key: Option<IdempotencyKey>,
}

impl CommandContext {
    /// A fresh context for `actor`, without a key.
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            correlation_id: CorrelationId::new(),
            causation_id: None,
            idempotency_key: None,
        }
    }

    /// Runs under `key`.
    pub fn with_key(mut self, key: IdempotencyKey) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    /// Joins an existing correlation.
    pub fn with_correlation(mut self, id: CorrelationId) -> Self {
        self.correlation_id = id;
        self
    }

    /// Records the event that caused the command.
    pub fn caused_by(mut self, event: EventId) -> Self {
        self.causation_id = Some(event);
        self
    }

    pub(crate) fn metadata(&self) -> EventMetadata {
        EventMetadata {
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            actor: self.actor.clone(),
            idempotency_key: self
                .idempotency_key
                .as_ref()
                .map(|k| k.as_str().to_string()),
        }
    }
}

/// A command's idempotency key: the Telegram update id, a confirm button's draft id, an admin
/// request's `Idempotency-Key` header, or a task id for its refund. 1 to 200 printable ASCII
/// characters, namespaced by the caller (`draft:…`, `admin-http:…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

/// A string that is not an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key is 1 to 200 printable ASCII characters, got {0:?}")]
pub struct InvalidIdempotencyKey(pub String);

impl IdempotencyKey {
    /// 1 to 200 printable ASCII characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidIdempotencyKey> {
        let ok = (1..=200).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(InvalidIdempotencyKey(raw.to_string()))
        }
    }

    /// `namespace:value`, for keys we derive ourselves.
    pub fn derived(
        namespace: &str,
        value: impl std::fmt::Display,
    ) -> Result<Self, InvalidIdempotencyKey> {
        Self::parse(&format!("{namespace}:{value}"))
    }

    /// `payment:<telegram_payment_charge_id>`: the key a purchase is granted under. A charge id
    /// is at most 180 printable characters, so the key always fits.
    pub fn payment(charge: &ChargeId) -> Self {
        Self(format!("payment:{charge}"))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = InvalidIdempotencyKey;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}
