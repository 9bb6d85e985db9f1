//! Streams, versions and positions: the coordinates of an event in the log.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{TaskId, TelegramId};

/// The id of one stream: `account-<telegram id>` for a user's tokens and settings,
/// `task-<uuid>` for one task. The category (the part before the first `-`) names the NATS
/// subject the relay publishes its events on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    pub const ACCOUNT: &'static str = "account";
    pub const TASK: &'static str = "task";

    pub fn account(id: TelegramId) -> Self {
        Self(format!("{}-{}", Self::ACCOUNT, id))
    }

    pub fn task(id: TaskId) -> Self {
        Self(format!("{}-{}", Self::TASK, id))
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

    pub fn as_str(&self) -> &str {
        &self.0
    }

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
}

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
    pub const NONE: StreamVersion = StreamVersion(0);

    pub fn next(self) -> StreamVersion {
        StreamVersion(self.0 + 1)
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
#[serde(transparent)]
pub struct Position(pub i64);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

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
}
