//! The shape every aggregate shares: state rebuilt by applying events, with the database only
//! around it. `decide` functions live with each aggregate ([`crate::account`], [`crate::task`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::events::Event;

/// An event that does not fit the state it is applied to. Never produced by our own `decide`
/// functions (asserted in debug builds, by [`crate::command::View::append`]); found by `ledger
/// verify` if the log was tampered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ApplyError(pub String);

/// State rebuilt from the events of one stream (an account, a task), kept as a snapshot in
/// the stream's head row.
pub trait Aggregate:
    Default + Clone + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned
{
    /// Bumped whenever the serialized state changes shape; a stored snapshot of another version
    /// is ignored and the state is refolded from the events.
    const SNAPSHOT_VERSION: i32;

    /// Applies one event. `recorded_at` is the event's time in the log, so that time-dependent
    /// rules (the hourly limit) give the same answer on replay as they did live.
    fn apply(&mut self, event: &Event, recorded_at: DateTime<Utc>) -> Result<(), ApplyError>;

    /// Applies events that `decide` just produced. They fit by construction.
    fn apply_all(
        &mut self,
        events: &[Event],
        recorded_at: DateTime<Utc>,
    ) -> Result<(), ApplyError> {
        events.iter().try_for_each(|e| self.apply(e, recorded_at))
    }
}
