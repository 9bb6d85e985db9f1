//! Streams, versions and positions: the coordinates of an event in the log.
//!
//! Versions and positions are `int8` in Postgres and never negative. They cross that edge only
//! through the checked conversions here (`ToSql`/`FromSql`, `to_int8`/`from_int8`, serde for
//! positions): a value out of range is an [`OutOfRange`] error, never clamped to a wrong number.

use std::error::Error;
use std::fmt;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::ids::{PurchaseId, TaskId, TelegramId};

/// The id of one stream: `account-<telegram id>` for a user's tokens and settings,
/// `task-<uuid>` for one task. The category (the part before the first `-`) names the NATS
/// subject the relay publishes its events on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    /// The category of account streams.
    pub const ACCOUNT: &'static str = "account";
    /// The category of task streams.
    pub const TASK: &'static str = "task";
    /// The category of purchase streams.
    pub const PURCHASE: &'static str = "purchase";

    /// A user's account stream.
    pub fn account(id: TelegramId) -> Self {
        Self(format!("{}-{}", Self::ACCOUNT, id))
    }

    /// One task's stream.
    pub fn task(id: TaskId) -> Self {
        Self(format!("{}-{}", Self::TASK, id))
    }

    /// One purchase's stream.
    pub fn purchase(id: PurchaseId) -> Self {
        Self(format!("{}-{}", Self::PURCHASE, id))
    }

    /// Any other stream (tests, imports). 1..=200 bytes, with a category before a `-`.
    pub fn custom(raw: impl Into<String>) -> Result<Self, InvalidStreamId> {
        let raw = raw.into();
        let has_category = raw
            .split_once('-')
            .is_some_and(|(c, rest)| !c.is_empty() && !rest.is_empty());
        if (1..=200).contains(&raw.len()) && has_category {
            Ok(Self(raw))
        } else {
            Err(InvalidStreamId(raw))
        }
    }

    pub(crate) fn from_db(raw: String) -> Self {
        Self(raw)
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the first `-`.
    pub fn category(&self) -> &str {
        self.0.split_once('-').map_or(self.0.as_str(), |(c, _)| c)
    }

    /// The Telegram id of an `account-` stream.
    pub fn account_owner(&self) -> Option<TelegramId> {
        self.0
            .strip_prefix("account-")
            .and_then(|rest| rest.parse().ok())
    }

    /// The task id of a `task-` stream.
    pub fn task_id(&self) -> Option<TaskId> {
        self.0
            .strip_prefix("task-")
            .and_then(|rest| rest.parse().ok())
    }

    /// The purchase id of a `purchase-` stream.
    pub fn purchase_id(&self) -> Option<PurchaseId> {
        self.0
            .strip_prefix("purchase-")
            .and_then(|rest| rest.parse().ok())
    }
}

/// A string that is not a stream id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stream id is 1..=200 bytes shaped <category>-<id>, got {0:?}")]
pub struct InvalidStreamId(pub String);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Version of a stream: the number of events in it. A stream that does not exist has version 0;
/// its first event has version 1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct StreamVersion(pub u64);

impl StreamVersion {
    /// The version of a stream that does not exist.
    pub const NONE: StreamVersion = StreamVersion(0);

    /// The version of the next event.
    pub fn next(self) -> StreamVersion {
        StreamVersion(self.0 + 1)
    }

    /// The version after `events` more events.
    pub fn after(self, events: usize) -> Result<StreamVersion, OutOfRange> {
        u64::try_from(events)
            .ok()
            .and_then(|n| self.0.checked_add(n))
            .filter(|v| i64::try_from(*v).is_ok())
            .map(StreamVersion)
            .ok_or(OutOfRange {
                what: "stream version",
                value: i128::from(self.0) + events as i128,
            })
    }

    /// As stored (`int8`).
    pub fn to_int8(self) -> Result<i64, OutOfRange> {
        i64::try_from(self.0).map_err(|_| OutOfRange::new("stream version", self.0))
    }

    /// From its stored form; negative is out of range.
    pub fn from_int8(raw: i64) -> Result<Self, OutOfRange> {
        u64::try_from(raw)
            .map(StreamVersion)
            .map_err(|_| OutOfRange::new("stream version", raw))
    }
}

impl fmt::Display for StreamVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the writer believes about a stream before appending to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version (0 means "does not exist").
    Exact(StreamVersion),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` meets the expectation.
    pub fn admits(self, actual: StreamVersion) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == StreamVersion::NONE,
            ExpectedVersion::Exact(v) => v == actual,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// The identity of an event row. Unique, but not dense and not in commit order: see
/// [`crate::global_order::LogCursor`] for the order readers follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Position(pub i64);

impl Position {
    /// As stored (`int8`); negative is out of range.
    pub fn to_int8(self) -> Result<i64, OutOfRange> {
        Self::from_int8(self.0).map(|p| p.0)
    }

    /// From its stored form; negative is out of range.
    pub fn from_int8(raw: i64) -> Result<Self, OutOfRange> {
        if raw < 0 {
            Err(OutOfRange::new("position", raw))
        } else {
            Ok(Position(raw))
        }
    }
}

impl TryFrom<i64> for Position {
    type Error = OutOfRange;
    fn try_from(raw: i64) -> Result<Self, Self::Error> {
        Position::from_int8(raw)
    }
}

impl From<Position> for i64 {
    fn from(p: Position) -> i64 {
        p.0
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A version, position or counter that does not fit `0..=i64::MAX`: read negative from the
/// database (or a message), or too large to store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value} is out of range (0..=9223372036854775807)")]
pub struct OutOfRange {
    /// What the number was meant to be.
    pub what: &'static str,
    /// The number.
    pub value: i128,
}

impl OutOfRange {
    /// `value` as a `what`, refused.
    pub fn new(what: &'static str, value: impl Into<i128>) -> Self {
        Self {
            what,
            value: value.into(),
        }
    }

    /// A count read as `int8` (e.g. `count(*)`), refused if negative.
    pub fn count(what: &'static str, raw: i64) -> Result<u64, OutOfRange> {
        u64::try_from(raw).map_err(|_| OutOfRange::new(what, raw))
    }
}

/// Implements `ToSql`/`FromSql` as `int8` through the type's checked `to_int8`/`from_int8`.
macro_rules! int8_column {
    ($ty:ty) => {
        impl ToSql for $ty {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut BytesMut,
            ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
                self.to_int8()?.to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <i64 as ToSql>::accepts(ty)
            }

            to_sql_checked!();
        }

        impl<'a> FromSql<'a> for $ty {
            fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
                Ok(<$ty>::from_int8(i64::from_sql(ty, raw)?)?)
            }

            fn accepts(ty: &Type) -> bool {
                <i64 as FromSql>::accepts(ty)
            }
        }
    };
}

int8_column!(StreamVersion);
int8_column!(Position);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_and_owners() {
        let tg = TelegramId::new(42).expect("valid");
        let s = StreamId::account(tg);
        assert_eq!(s.as_str(), "account-42");
        assert_eq!(s.category(), "account");
        assert_eq!(s.account_owner(), Some(tg));
        let t = TaskId::new();
        assert_eq!(StreamId::task(t).task_id(), Some(t));
        assert!(StreamId::custom("nodash").is_err());
        assert!(StreamId::custom("-x").is_err());
    }

    #[test]
    fn expected_versions() {
        assert!(ExpectedVersion::NoStream.admits(StreamVersion(0)));
        assert!(!ExpectedVersion::NoStream.admits(StreamVersion(1)));
        assert!(ExpectedVersion::Exact(StreamVersion(3)).admits(StreamVersion(3)));
        assert!(ExpectedVersion::Any.admits(StreamVersion(9)));
    }

    #[test]
    fn versions_and_positions_refuse_what_int8_cannot_hold() {
        assert_eq!(StreamVersion::from_int8(7), Ok(StreamVersion(7)));
        assert!(StreamVersion::from_int8(-1).is_err());
        assert!(StreamVersion(u64::MAX).to_int8().is_err());
        assert_eq!(StreamVersion(3).after(2), Ok(StreamVersion(5)));
        assert!(StreamVersion(i64::MAX as u64).after(1).is_err());
        assert!(Position::from_int8(-5).is_err());
        assert!(Position(-5).to_int8().is_err());
        assert_eq!(Position(9).to_int8(), Ok(9));
        assert!(serde_json::from_str::<Position>("-1").is_err());
        assert_eq!(
            serde_json::from_str::<Position>("12").ok(),
            Some(Position(12))
        );
        assert_eq!(
            OutOfRange::count("events", -2),
            Err(OutOfRange::new("events", -2))
        );
    }

    #[test]
    fn sql_conversions_check_the_range() {
        let mut out = BytesMut::new();
        assert!(
            StreamVersion(u64::MAX)
                .to_sql(&Type::INT8, &mut out)
                .is_err()
        );
        assert!(Position(-1).to_sql(&Type::INT8, &mut out).is_err());
        let minus_one = (-1i64).to_be_bytes();
        assert!(StreamVersion::from_sql(&Type::INT8, &minus_one).is_err());
        assert!(Position::from_sql(&Type::INT8, &minus_one).is_err());
        let four = 4i64.to_be_bytes();
        assert_eq!(
            StreamVersion::from_sql(&Type::INT8, &four).ok(),
            Some(StreamVersion(4))
        );
        assert_eq!(
            Position::from_sql(&Type::INT8, &four).ok(),
            Some(Position(4))
        );
    }
}
