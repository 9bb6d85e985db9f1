//! Identifiers. Each is its own type so that a Telegram user id can never be passed where a task
//! id is expected, and so that parsing from outside input happens exactly once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A Telegram user id. Telegram documents them as up to 52 significant bits, always positive for
/// users, so anything else is rejected at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct TelegramId(i64);

/// The largest id Telegram can hand out (52 bits).
const TELEGRAM_ID_MAX: i64 = (1 << 52) - 1;

/// A number that is not a Telegram user id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a Telegram user id is a whole number from 1 to {TELEGRAM_ID_MAX}, got {0:?}")]
pub struct InvalidTelegramId(pub String);

impl TelegramId {
    /// A Telegram user id: 1 to 2^52 - 1.
    pub fn new(raw: i64) -> Result<Self, InvalidTelegramId> {
        if (1..=TELEGRAM_ID_MAX).contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(InvalidTelegramId(raw.to_string()))
        }
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for TelegramId {
    type Error = InvalidTelegramId;
    fn try_from(raw: i64) -> Result<Self, Self::Error> {
        Self::new(raw)
    }
}

impl From<TelegramId> for i64 {
    fn from(id: TelegramId) -> i64 {
        id.0
    }
}

impl FromStr for TelegramId {
    type Err = InvalidTelegramId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let raw: i64 = s
            .trim()
            .parse()
            .map_err(|_| InvalidTelegramId(s.to_string()))?;
        Self::new(raw).map_err(|_| InvalidTelegramId(s.to_string()))
    }
}

impl fmt::Display for TelegramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (v7) id, so ids sort roughly by creation time.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// An id read back.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            /// The UUID underneath.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// One image generation or edit, paid for by one debit.
    TaskId
);
uuid_id!(
    /// One offer to buy a token package: the id a Telegram Stars invoice's payload names, and
    /// the `purchase-<id>` stream that records the offer, its payment and its refund.
    PurchaseId
);
uuid_id!(
    /// The id of one event in the log (UUIDv7); also the `Nats-Msg-Id` when it is published.
    EventId
);
uuid_id!(
    /// Ties together everything that one outside request caused: a Telegram update, the task it
    /// created, the OpenAI call and the refund.
    CorrelationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_id_rejects_zero_negative_and_garbage() {
        assert!(TelegramId::new(0).is_err());
        assert!(TelegramId::new(-5).is_err());
        assert!(TelegramId::new(1 << 53).is_err());
        assert!("12x".parse::<TelegramId>().is_err());
        assert_eq!("  42 ".parse::<TelegramId>().map(TelegramId::get), Ok(42));
    }

    #[test]
    fn telegram_id_deserialization_validates() {
        assert!(serde_json::from_str::<TelegramId>("-1").is_err());
        assert_eq!(
            serde_json::from_str::<TelegramId>("7")
                .map(TelegramId::get)
                .ok(),
            Some(7)
        );
    }
}
