//! The low-level door for imports and tools: events appended as given, atomically across
//! streams, each checked against its expected version (and, on account and task streams,
//! against the aggregate's rules).

use serde::{Deserialize, Serialize};

use super::{Command, View, fingerprint};
use crate::error::LedgerError;
use crate::events::Event;
use crate::pricing::LedgerConfig;
use crate::stream::{ExpectedVersion, StreamId};

/// The events of one stream in one low-level append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamAppend {
    /// Where they go.
    pub stream: StreamId,
    /// Where the stream must be.
    pub expected: ExpectedVersion,
    /// In append order.
    pub events: Vec<Event>,
}

/// Appends to one or more streams in one transaction.
#[derive(Debug, Clone)]
pub struct Append(pub Vec<StreamAppend>);

impl Command for Append {
    const NAME: &'static str = "append";
    type Output = ();

    fn streams(&self) -> Vec<StreamId> {
        self.0.iter().map(|a| a.stream.clone()).collect()
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &self.0)
    }

    fn decide(&self, view: &mut View<'_>, _: &LedgerConfig) -> Result<(), LedgerError> {
        if self.0.iter().all(|a| a.events.is_empty()) {
            return Err(LedgerError::EmptyAppend);
        }
        for a in &self.0 {
            view.append_given(&a.stream, a.expected, a.events.clone())?;
        }
        Ok(())
    }
}
