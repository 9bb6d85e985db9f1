//! Who and what caused an event. Stored in `ledger.events.metadata`.

use serde::{Deserialize, Serialize};

use crate::ids::{CorrelationId, EventId, TelegramId};

/// Who asked for a change. Kept on every event so that an auditor can tell a user's own debit
/// from an admin's grant (the original's grants left no trace, W12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A Telegram user acting for themselves.
    User { telegram_id: TelegramId },
    /// An admin: by Telegram id (bot commands) or by the HTTP admin API.
    Admin {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        telegram_id: Option<TelegramId>,
        via: String,
    },
    /// A process of ours: worker, importer, demo.
    System { component: String },
}

impl Actor {
    pub fn system(component: impl Into<String>) -> Self {
        Actor::System {
            component: component.into(),
        }
    }
}

/// Metadata of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub correlation_id: CorrelationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<EventId>,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// The context a command runs in; every event it appends carries it as metadata.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    pub correlation_id: CorrelationId,
    pub causation_id: Option<EventId>,
    pub idempotency_key: Option<IdempotencyKey>,
}

impl CommandContext {
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            correlation_id: CorrelationId::new(),
            causation_id: None,
            idempotency_key: None,
        }
    }

    pub fn with_key(mut self, key: IdempotencyKey) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    pub fn with_correlation(mut self, id: CorrelationId) -> Self {
        self.correlation_id = id;
        self
    }

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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key is 1 to 200 printable ASCII characters, got {0:?}")]
pub struct InvalidIdempotencyKey(pub String);

impl IdempotencyKey {
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
